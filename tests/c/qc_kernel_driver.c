/* Test driver: runs one portable runtime kernel per case with every array at the very end
 * of its own guarded allocation, so that reading or writing one byte past any buffer
 * faults (a PROT_NONE page follows each array; under AddressSanitizer the alignment slack
 * of scratch is poisoned too). Built with the sanitizers by tests/c_driver.py.
 *
 * Input on stdin, whitespace-separated, any number of cases:
 *   <kernel> then blocks until "end":
 *     b N v...   int8 array        w N v...   int32 array (structs too: all-int32 fields)
 *     n          NULL pointer      o N        int8 output of N bytes (printed)
 *     a K        output aliasing block K (in-place: the block's bytes are the output)
 * Output: one line per output block of each case, then "ok <status>" per case.
 */
#include "qc_guard.h"
#include "qc_kernels.h"
#include "qc_kernels_s16.h"

#define MAX_BLOCKS 24

typedef struct {
    char kind;
    size_t n;     /* elements */
    void *data;   /* at the end of its mapping */
    void *map;    /* start of the mapping */
    size_t span;  /* mapping bytes including the guard page */
} block;

static block blocks[MAX_BLOCKS];
static int nblocks;

static void die(const char *what) {
    fprintf(stderr, "driver: %s\n", what);
    exit(2);
}

static void release(void) {
    for (int i = 0; i < nblocks; ++i) {
        if (blocks[i].map != NULL) {
            QC_UNPOISON(blocks[i].map, blocks[i].span - (size_t)sysconf(_SC_PAGESIZE));
            munmap(blocks[i].map, blocks[i].span);
        }
    }
    nblocks = 0;
}

static block *add_block(char kind, size_t n, size_t elem, size_t align) {
    if (nblocks == MAX_BLOCKS) {
        die("too many blocks");
    }
    block *b = &blocks[nblocks++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->n = n;
    if (kind != 'n') {
        b->data = qc_guarded(n * elem, align, &b->map, &b->span);
    }
    return b;
}

/* width: element bytes (1, 2, 4 or 8) */
static void read_values(block *b, int width) {
    for (size_t i = 0; i < b->n; ++i) {
        long long v;
        if (scanf("%lld", &v) != 1) {
            die("short array");
        }
        if (width == 8) {
            ((int64_t *)b->data)[i] = (int64_t)v;
        } else if (width == 4) {
            ((int32_t *)b->data)[i] = (int32_t)v;
        } else if (width == 2) {
            ((int16_t *)b->data)[i] = (int16_t)v;
        } else {
            ((int8_t *)b->data)[i] = (int8_t)v;
        }
    }
}

/* Reads blocks up to "end"; returns 0 at end of input. */
static int read_case(char *kernel, size_t len) {
    char tok[64];
    if (scanf("%63s", tok) != 1) {
        return 0;
    }
    strncpy(kernel, tok, len - 1);
    kernel[len - 1] = '\0';
    while (scanf("%63s", tok) == 1 && strcmp(tok, "end") != 0) {
        unsigned long n = 0;
        if (tok[0] != 'n' && scanf("%lu", &n) != 1) {
            die("missing size");
        }
        if (tok[0] == 'b') {
            read_values(add_block('b', n, 1, 1), 1);
        } else if (tok[0] == 'w') {
            read_values(add_block('w', n, 4, 4), 4);
        } else if (tok[0] == 'h') {
            read_values(add_block('h', n, 2, 2), 2);
        } else if (tok[0] == 'q') {
            read_values(add_block('q', n, 8, 8), 8);
        } else if (tok[0] == 'O') {
            add_block('O', n, 2, 2);
        } else if (tok[0] == 'n') {
            add_block('n', 0, 1, 1);
        } else if (tok[0] == 'o') {
            add_block('o', n, 1, 1);
        } else if (tok[0] == 'a') {
            if ((int)n >= nblocks) {
                die("alias of a later block");
            }
            block *b = add_block('n', blocks[n].n, 1, 1);
            b->kind = 'a';
            b->data = blocks[n].data;
        } else {
            die("unknown block");
        }
    }
    return 1;
}

static void *ptr(int i) {
    if (i >= nblocks) {
        die("kernel needs more blocks");
    }
    return blocks[i].data;
}

static const int8_t *s8(int i) {
    return (const int8_t *)ptr(i);
}

static int8_t *o8(int i) {
    return (int8_t *)ptr(i);
}

static const int32_t *s32(int i) {
    return (const int32_t *)ptr(i);
}

static const int16_t *s16(int i) {
    return (const int16_t *)ptr(i);
}

static int16_t *o16(int i) {
    return (int16_t *)ptr(i);
}

static const int64_t *s64(int i) {
    return (const int64_t *)ptr(i);
}

static int32_t scalar(int i) {
    return s32(i)[0];
}

/* A struct from an int32 block: the block must have exactly the struct's fields. */
#define STRUCT(type, var, i)                                                                                     \
    type var;                                                                                                    \
    if (blocks[i].kind != 'w' || blocks[i].n * 4 != sizeof(type)) {                                             \
        die("struct " #type " has the wrong number of fields");                                                 \
    }                                                                                                            \
    memcpy(&var, blocks[i].data, sizeof var)

/* Scratch of the reported size at the end of its own guarded mapping (16-aligned, as the
 * memory planner aligns arena offsets). */
static void *scratch_of(size_t bytes) {
    block *b = add_block('s', bytes, 1, 16);
    return b->data;
}

static int run_conv(const char *k) {
    STRUCT(qc_conv_params, p, 0);
    if (strcmp(k, "qc_conv2d_s8") == 0) {
        return qc_conv2d_s8(&p, s8(1), s8(2), s32(3), s32(4), s32(5), o8(6), scratch_of(qc_conv2d_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_depthwise_conv2d_s8") == 0) {
        return qc_depthwise_conv2d_s8(&p, s8(1), s8(2), s32(3), s32(4), s32(5), o8(6),
                                      scratch_of(qc_depthwise_conv2d_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_conv2d_rows_s8") == 0) { /* blocks: p, band[2], x, w, b, m, s, out */
        const int32_t *band = s32(1);
        void *scratch = band[0] < band[1] ? scratch_of(qc_conv2d_s8_scratch_size(&p)) : NULL;
        return qc_conv2d_rows_s8(&p, band[0], band[1], s8(2), s8(3), s32(4), s32(5), s32(6), o8(7), scratch);
    }
    STRUCT(qc_add_params, a, 1);
    if (strcmp(k, "qc_conv2d_add_s8") == 0) { /* blocks: conv, add, operand, x, w, b, m, s, residual, out */
        return qc_conv2d_add_s8(&p, &a, scalar(2), s8(3), s8(4), s32(5), s32(6), s32(7), s8(8), o8(9),
                                scratch_of(qc_conv2d_add_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_conv2d_add_rows_s8") == 0) { /* blocks: conv, add, operand, band[2], x, ... */
        const int32_t *band = s32(3);
        void *scratch = band[0] < band[1] ? scratch_of(qc_conv2d_add_s8_scratch_size(&p)) : NULL;
        return qc_conv2d_add_rows_s8(&p, &a, scalar(2), band[0], band[1], s8(4), s8(5), s32(6), s32(7), s32(8),
                                     s8(9), o8(10), scratch);
    }
    die("unknown conv kernel");
    return 1;
}

/* reductions, gather, resize, transposed conv (qc_reduce.c, qc_gather.c, qc_resize.c,
 * qc_transpose_conv2d.c); anything else goes on to the conv kernels */
static int run_datamove(const char *k) {
    if (strcmp(k, "qc_reduce_sum_s8") == 0 || strcmp(k, "qc_reduce_max_s8") == 0) {
        STRUCT(qc_reduce_params, p, 0);
        return k[10] == 's' ? qc_reduce_sum_s8(&p, s8(1), o8(2)) : qc_reduce_max_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_gather_s8") == 0) { /* blocks: p, indices, x, out */
        STRUCT(qc_gather_params, p, 0);
        return qc_gather_s8(&p, s32(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_resize_nearest_s8") == 0) { /* blocks: p, y_index, x_index, x, out */
        STRUCT(qc_resize_params, p, 0);
        return qc_resize_nearest_s8(&p, s32(1), s32(2), s8(3), o8(4));
    }
    if (strcmp(k, "qc_resize_bilinear_s8") == 0) {
        STRUCT(qc_resize_params, p, 0);
        return qc_resize_bilinear_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_transpose_conv2d_s8") == 0) { /* blocks: p, x, w, b, m, s, out */
        STRUCT(qc_conv_params, p, 0);
        return qc_transpose_conv2d_s8(&p, s8(1), s8(2), s32(3), s32(4), s32(5), o8(6));
    }
    return run_conv(k);
}

/* The 16x8 kernels (qc_kernels_s16.h): int16 activations ('h'/'O' blocks), int64 bias ('q');
 * anything else goes on to the data-movement kernels */
static int run_datamove(const char *k);

static int run_s16(const char *k) {
    if (strcmp(k, "qc_conv2d_s16") == 0 || strcmp(k, "qc_depthwise_conv2d_s16") == 0) {
        STRUCT(qc_conv_params, p, 0);
        if (k[3] == 'c') {
            return qc_conv2d_s16(&p, s16(1), s8(2), s64(3), s32(4), s32(5), o16(6));
        }
        return qc_depthwise_conv2d_s16(&p, s16(1), s8(2), s64(3), s32(4), s32(5), o16(6));
    }
    if (strcmp(k, "qc_fully_connected_s16") == 0) {
        STRUCT(qc_fc_params, p, 0);
        return qc_fully_connected_s16(&p, s16(1), s8(2), s64(3), s32(4), s32(5), o16(6));
    }
    if (strcmp(k, "qc_conv2d_b32_s16") == 0) {
        STRUCT(qc_conv_params, p, 0);
        return qc_conv2d_b32_s16(&p, s16(1), s8(2), s32(3), s32(4), s32(5), o16(6));
    }
    if (strcmp(k, "qc_fully_connected_b32_s16") == 0) {
        STRUCT(qc_fc_params, p, 0);
        return qc_fully_connected_b32_s16(&p, s16(1), s8(2), s32(3), s32(4), s32(5), o16(6));
    }
    if (strcmp(k, "qc_add_s16") == 0) {
        STRUCT(qc_add_params, p, 0);
        return qc_add_s16(&p, s16(1), s16(2), o16(3));
    }
    if (strcmp(k, "qc_mul_s16") == 0) {
        STRUCT(qc_mul_params, p, 0);
        return qc_mul_s16(&p, s16(1), s16(2), o16(3));
    }
    if (strcmp(k, "qc_max_pool2d_s16") == 0 || strcmp(k, "qc_avg_pool2d_s16") == 0) {
        STRUCT(qc_pool_params, p, 0);
        return k[3] == 'm' ? qc_max_pool2d_s16(&p, s16(1), o16(2)) : qc_avg_pool2d_s16(&p, s16(1), o16(2));
    }
    if (strcmp(k, "qc_softmax_s16") == 0) {
        STRUCT(qc_softmax_params, p, 0);
        return qc_softmax_s16(&p, s16(1), o16(2));
    }
    if (strcmp(k, "qc_reduce_sum_s16") == 0) {
        STRUCT(qc_reduce_params, p, 0);
        return qc_reduce_sum_s16(&p, s16(1), o16(2));
    }
    if (strcmp(k, "qc_strided_slice_s16") == 0) {
        STRUCT(qc_strided_slice_params, p, 0);
        return qc_strided_slice_s16(&p, s16(1), o16(2));
    }
    if (strcmp(k, "qc_pad_s16") == 0) {
        STRUCT(qc_pad_params, p, 0);
        return qc_pad_s16(&p, s16(1), o16(2));
    }
    if (strcmp(k, "qc_transpose_s16") == 0) {
        STRUCT(qc_transpose_params, p, 0);
        return qc_transpose_s16(&p, s16(1), o16(2));
    }
    if (strcmp(k, "qc_lstm_unidirectional_s8") == 0) {
        STRUCT(qc_lstm_params, p, 0);
        return qc_lstm_unidirectional_s8(&p, s8(1), s8(2), s8(3), s32(4), s32(5), s8(6), s16(7), o8(8), o8(9),
                                         o16(10));
    }
    if (strcmp(k, "qc_lstm_unidirectional_per_row_s8") == 0) {
        STRUCT(qc_lstm_params, p, 0);
        return qc_lstm_unidirectional_per_row_s8(&p, s8(1), s8(2), s8(3), s32(4), s32(5), s32(6), s8(7), s16(8),
                                                 o8(9), o8(10), o16(11));
    }
    if (strcmp(k, "qc_logistic_s16") == 0 || strcmp(k, "qc_tanh_s16") == 0) {
        /* blocks: x, output, (size, multiplier, shift) as one int32 block */
        const int32_t *a = s32(2);
        return k[3] == 'l' ? qc_logistic_s16(s16(0), o16(1), a[0], a[1], a[2]) : qc_tanh_s16(s16(0), o16(1), a[0], a[1], a[2]);
    }
    if (strcmp(k, "qc_lut_s16") == 0) {
        /* blocks: table[513], x, output, size as one int32 block */
        return qc_lut_s16(s16(0), s16(1), o16(2), s32(3)[0]);
    }
    if (strcmp(k, "qc_leaky_relu_s16") == 0) {
        /* blocks: x, output, (size, m_identity, s_identity, m_alpha, s_alpha) as one int32 block */
        const int32_t *a = s32(2);
        return qc_leaky_relu_s16(s16(0), o16(1), a[0], a[1], a[2], a[3], a[4]);
    }
    if (strcmp(k, "qc_prelu_s16") == 0) {
        STRUCT(qc_prelu_params, p, 0);
        return qc_prelu_s16(&p, s16(1), s8(2), o16(3));
    }
    if (strcmp(k, "qc_batch_matmul_s16") == 0) {
        STRUCT(qc_batch_matmul_params, p, 0);
        return qc_batch_matmul_s16(&p, s16(1), s16(2), o16(3));
    }
    if (strcmp(k, "qc_maximum_s16") == 0 || strcmp(k, "qc_minimum_s16") == 0) {
        STRUCT(qc_broadcast_params, p, 0);
        return k[4] == 'a' ? qc_maximum_s16(&p, s16(1), s16(2), o16(3)) : qc_minimum_s16(&p, s16(1), s16(2), o16(3));
    }
    return run_datamove(k);
}

static int run_other(const char *k) {
    if (strcmp(k, "qc_fully_connected_s8") == 0) {
        STRUCT(qc_fc_params, p, 0);
        return qc_fully_connected_s8(&p, s8(1), s8(2), s32(3), s32(4), s32(5), o8(6),
                                     scratch_of(qc_fully_connected_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_avg_pool_fc_s8") == 0) {
        STRUCT(qc_pool_params, pool, 0);
        STRUCT(qc_fc_params, fc, 1);
        return qc_avg_pool_fc_s8(&pool, &fc, s8(2), s8(3), s32(4), s32(5), s32(6), o8(7),
                                 scratch_of(qc_avg_pool_fc_s8_scratch_size(&pool, &fc)));
    }
    if (strcmp(k, "qc_add_s8") == 0) {
        STRUCT(qc_add_params, p, 0);
        return qc_add_s8(&p, s8(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_mul_s8") == 0) {
        STRUCT(qc_mul_params, p, 0);
        return qc_mul_s8(&p, s8(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_maximum_s8") == 0 || strcmp(k, "qc_minimum_s8") == 0) {
        STRUCT(qc_broadcast_params, p, 0);
        return k[3] == 'm' && k[4] == 'a' ? qc_maximum_s8(&p, s8(1), s8(2), o8(3)) : qc_minimum_s8(&p, s8(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_div_s8") == 0) {
        STRUCT(qc_mul_params, p, 0);
        return qc_div_s8(&p, s8(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_prelu_s8") == 0) {
        STRUCT(qc_prelu_params, p, 0);
        return qc_prelu_s8(&p, s8(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_max_pool2d_s8") == 0) {
        STRUCT(qc_pool_params, p, 0);
        return qc_max_pool2d_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_avg_pool2d_s8") == 0) {
        STRUCT(qc_pool_params, p, 0);
        return qc_avg_pool2d_s8(&p, s8(1), o8(2), scratch_of(qc_avg_pool2d_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_softmax_s8") == 0) {
        STRUCT(qc_softmax_params, p, 0);
        return qc_softmax_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_batch_matmul_s8") == 0) {
        STRUCT(qc_batch_matmul_params, p, 0);
        return qc_batch_matmul_s8(&p, s8(1), s8(2), o8(3));
    }
    if (strcmp(k, "qc_layer_norm_s8") == 0) {
        STRUCT(qc_layer_norm_params, p, 0);
        return qc_layer_norm_s8(&p, s8(1), s32(2), s32(3), o8(4));
    }
    if (strcmp(k, "qc_gru_s8") == 0) { /* blocks: p, x, w, r, wb, rb, requant, h0 (or n), y */
        STRUCT(qc_gru_params, p, 0);
        return qc_gru_s8(&p, s8(1), s8(2), s8(3), s64(4), s64(5), s32(6), s8(7), o8(8),
                         scratch_of(qc_gru_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_gru_state16_s8") == 0) { /* blocks: p, x, w, r, wb, rb, requant, int16 h0, y, h_last */
        STRUCT(qc_gru_params, p, 0);
        return qc_gru_state16_s8(&p, s8(1), s8(2), s8(3), s64(4), s64(5), s32(6), s16(7), o8(8), o16(9),
                                 scratch_of(qc_gru_s8_scratch_size(&p)));
    }
    if (strcmp(k, "qc_mean_s8") == 0) {
        STRUCT(qc_mean_params, p, 0);
        return qc_mean_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_pad_s8") == 0) {
        STRUCT(qc_pad_params, p, 0);
        return qc_pad_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_transpose_s8") == 0) {
        STRUCT(qc_transpose_params, p, 0);
        return qc_transpose_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_strided_slice_s8") == 0) {
        STRUCT(qc_strided_slice_params, p, 0);
        return qc_strided_slice_s8(&p, s8(1), o8(2));
    }
    if (strcmp(k, "qc_lut_s8") == 0) { /* blocks: table, x, out */
        return qc_lut_s8(s8(0), s8(1), o8(2), (int32_t)blocks[1].n);
    }
    if (strcmp(k, "qc_copy_s8") == 0) {
        return qc_copy_s8(s8(0), o8(1), (int32_t)blocks[0].n);
    }
    if (strcmp(k, "qc_concat_s8") == 0) { /* blocks: outer, inner sizes, x0 .. x(n-1), out */
        const int32_t num = (int32_t)blocks[1].n;
        const int8_t *inputs[MAX_BLOCKS];
        for (int32_t i = 0; i < num; ++i) {
            inputs[i] = s8(2 + i);
        }
        return qc_concat_s8(scalar(0), num, inputs, s32(1), o8(2 + num));
    }
    return run_s16(k);
}

int main(void) {
    char kernel[64];
    while (read_case(kernel, sizeof kernel)) {
        const int status = run_other(kernel);
        for (int i = 0; i < nblocks; ++i) {
            if (blocks[i].kind == 'O') {
                printf("h:");
                for (size_t j = 0; j < blocks[i].n; ++j) {
                    printf(" %d", ((const int16_t *)blocks[i].data)[j]);
                }
                printf("\n");
            } else if (blocks[i].kind == 'o' || blocks[i].kind == 'a') {
                const int8_t *o = (const int8_t *)blocks[i].data;
                for (size_t j = 0; j < blocks[i].n; ++j) {
                    printf("%d ", o[j]);
                }
                printf("\n");
            }
        }
        printf("ok %d\n", status);
        release();
    }
    return 0;
}
