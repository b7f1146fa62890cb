/* Test driver: runs a generated model (built from its output folder with the sanitizers)
 * on samples read from stdin, with every input, output and the arena at the very end of
 * its own guarded mapping (a PROT_NONE page right after it), so that any byte read or
 * written past a buffer the model was given faults. Compiled by tests/c_driver.py with
 * -DQC_MODEL=<c_name>.
 *
 * stdin: n_in size..., n_out size..., then per sample the int8 values of every input.
 * stdout: per sample, one line per output; exit status 3 if the model returns non-zero.
 */
#include "qc_guard.h"

#define QC_CAT(a, b) a##b
#define QC_XCAT(a, b) QC_CAT(a, b)

extern const uint32_t QC_XCAT(QC_MODEL, _arena_size);
int QC_XCAT(QC_MODEL, _run_io)(const int8_t *const *inputs, int8_t *const *outputs, void *arena);

#define MAX_IO 16

/* A guarded buffer that lives until exit. */
static void *guarded(size_t bytes, size_t align) {
    void *map;
    size_t span;
    return qc_guarded(bytes, align, &map, &span);
}

static int read_sizes(size_t *sizes) {
    int n;
    if (scanf("%d", &n) != 1 || n < 0 || n > MAX_IO) {
        exit(2);
    }
    for (int i = 0; i < n; ++i) {
        if (scanf("%zu", &sizes[i]) != 1) {
            exit(2);
        }
    }
    return n;
}

int main(void) {
    size_t in_sizes[MAX_IO], out_sizes[MAX_IO];
    const int n_in = read_sizes(in_sizes);
    const int n_out = read_sizes(out_sizes);
    int8_t *inputs[MAX_IO], *outputs[MAX_IO];
    for (int i = 0; i < n_in; ++i) {
        inputs[i] = guarded(in_sizes[i], 1);
    }
    for (int i = 0; i < n_out; ++i) {
        outputs[i] = guarded(out_sizes[i], 1);
    }
    const size_t arena_bytes = QC_XCAT(QC_MODEL, _arena_size);
    void *arena = guarded(arena_bytes ? arena_bytes : 1, 64);
    for (;;) {
        for (int i = 0; i < n_in; ++i) {
            for (size_t j = 0; j < in_sizes[i]; ++j) {
                int v;
                if (scanf("%d", &v) != 1) {
                    return 0; /* end of the samples */
                }
                inputs[i][j] = (int8_t)v;
            }
        }
        const int status = QC_XCAT(QC_MODEL, _run_io)((const int8_t *const *)inputs, outputs, arena);
        if (status != 0) {
            fprintf(stderr, "driver: the model returned %d\n", status);
            return 3;
        }
        for (int i = 0; i < n_out; ++i) {
            for (size_t j = 0; j < out_sizes[i]; ++j) {
                printf("%d ", outputs[i][j]);
            }
            printf("\n");
        }
    }
}
