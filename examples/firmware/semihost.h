/* semihost.h: the two Arm semihosting calls this firmware needs, to print text and to end the
 * run with an exit code. QEMU (`-semihosting-config enable=on,target=native`) and debug probes
 * implement semihosting; on a board without a debugger attached, replace them with your UART
 * output and a reset or a wait loop (a BKPT with no debugger attached stops the core).
 *
 * A semihosting call is `BKPT 0xAB` on M-profile cores with the operation in r0 and a pointer
 * to its argument block in r1.
 */
#ifndef FIRMWARE_SEMIHOST_H
#define FIRMWARE_SEMIHOST_H

#include <stdint.h>

#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026

static inline int32_t sh_call(int32_t op, const void *arg) {
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt #0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Print a NUL-terminated string on the host's console. */
static inline void sh_puts(const char *text) {
    (void)sh_call(SH_SYS_WRITE0, text);
}

/* End the run: QEMU exits with `code` as its exit status. */
static inline void sh_exit(int32_t code) {
    uint32_t block[2];
    block[0] = SH_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    for (;;) {
        (void)sh_call(SH_SYS_EXIT_EXTENDED, block);
    }
}

#endif /* FIRMWARE_SEMIHOST_H */
