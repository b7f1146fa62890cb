/* Guarded allocations for the C test drivers: an array at the very end of fresh pages
 * with an inaccessible page right after it, so that reading or writing one byte past it
 * faults; under AddressSanitizer the alignment slack after it is poisoned too. */
#ifndef QC_GUARD_H
#define QC_GUARD_H

#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define QC_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define QC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define QC_POISON(p, n) ((void)(p), (void)(n))
#define QC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* `bytes` ending at most `align - 1` bytes before an inaccessible page, start aligned down
 * to `align` (a power of two); the mapping (guard page included) in *map and *span. */
static void *qc_guarded(size_t bytes, size_t align, void **map, size_t *span) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t body = (bytes + align + page - 1) / page * page;
    uint8_t *base = mmap(NULL, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + body, page, PROT_NONE) != 0) {
        fprintf(stderr, "driver: mmap failed\n");
        exit(2);
    }
    uint8_t *end = base + body;
    uint8_t *start = (uint8_t *)((uintptr_t)(end - bytes) & ~(uintptr_t)(align - 1));
    memset(base, 0xA5, body);
    if (end > start + bytes) {
        QC_POISON(start + bytes, (size_t)(end - (start + bytes)));
    }
    *map = base;
    *span = body + page;
    return start;
}

#endif /* QC_GUARD_H */
