/* Private to the runtime: the broadcasting walk shared by the binary elementwise kernels
 * (qc_add.c, qc_mul.c).
 *
 * Why: each op has a vectorisable row function over contiguous int8 operands; this walks
 * the QC_MAX_RANK output shape and hands it rows that are as long as possible:
 * - adjacent axes are merged when both inputs' strides allow it (equal shapes become one
 *   row of the whole tensor; a per-channel operand becomes rows of the channel count);
 * - a row whose operand is broadcast (stride 0) or strided is gathered, a chunk at a time,
 *   into a small local buffer first, so the row function only ever sees stride 1.
 * The output is written in order, each element after its inputs were read: out may be
 * exactly an input of the output's shape (in place).
 */
#ifndef QC_BROADCAST_H
#define QC_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "qc_kernels.h"

/* Gather chunk: two local int8 buffers of this size. */
#define QC_BCAST_CHUNK 64

/* out[i] = op(in1[i], in2[i]) for i < n, every pointer contiguous. */
typedef void (*qc_bcast_row_fn)(const void *params, const int8_t *in1, const int8_t *in2, size_t n, int8_t *out);

/* Nonzero when every extent of `shape` is >= 0. */
static inline int qc_bcast_shape_ok(const int32_t shape[QC_MAX_RANK]) {
    for (int32_t k = 0; k < QC_MAX_RANK; ++k) {
        if (shape[k] < 0) {
            return 0;
        }
    }
    return 1;
}

/* dst[i] = src[i * stride] for i < n. */
static inline void qc_bcast_gather(int8_t *dst, const int8_t *src, ptrdiff_t stride, int32_t n) {
    if (stride == 0) {
        for (int32_t i = 0; i < n; ++i) {
            dst[i] = src[0];
        }
    } else {
        for (int32_t i = 0; i < n; ++i) {
            dst[i] = src[(ptrdiff_t)i * stride];
        }
    }
}

/* One row of n elements, operand strides s1 and s2 (in elements). */
static inline void qc_bcast_row(qc_bcast_row_fn row, const void *params, const int8_t *a, ptrdiff_t s1,
                                const int8_t *b, ptrdiff_t s2, int32_t n, int8_t *out) {
    int8_t ga[QC_BCAST_CHUNK], gb[QC_BCAST_CHUNK];
    if (s1 == 1 && s2 == 1) {
        row(params, a, b, (size_t)n, out);
        return;
    }
    for (int32_t i = 0; i < n; i += QC_BCAST_CHUNK) {
        const int32_t len = n - i < QC_BCAST_CHUNK ? n - i : QC_BCAST_CHUNK;
        const int8_t *pa = a + (ptrdiff_t)i * s1;
        const int8_t *pb = b + (ptrdiff_t)i * s2;
        if (s1 != 1) {
            qc_bcast_gather(ga, pa, s1, len);
            pa = ga;
        }
        if (s2 != 1) {
            qc_bcast_gather(gb, pb, s2, len);
            pb = gb;
        }
        row(params, pa, pb, (size_t)len, out + i);
    }
}

/* Walks out_shape (right-aligned to QC_MAX_RANK; strides in elements, 0 on broadcast
 * axes) calling row() on maximal rows. The shape must pass qc_bcast_shape_ok. */
static inline void qc_bcast_walk(const int32_t shape[QC_MAX_RANK], const int32_t t1[QC_MAX_RANK],
                                 const int32_t t2[QC_MAX_RANK], const int8_t *in1, const int8_t *in2, int8_t *out,
                                 qc_bcast_row_fn row, const void *params) {
    /* Merged axes, innermost last; extents of 1 are dropped (their strides never matter). */
    int32_t s[QC_MAX_RANK], a[QC_MAX_RANK], b[QC_MAX_RANK];
    int32_t rank = 0;
    for (int32_t k = 0; k < QC_MAX_RANK; ++k) {
        if (shape[k] == 0) {
            return; /* empty output */
        }
        if (shape[k] == 1) {
            continue;
        }
        if (rank > 0 && (int64_t)a[rank - 1] == (int64_t)t1[k] * shape[k] &&
            (int64_t)b[rank - 1] == (int64_t)t2[k] * shape[k]) {
            /* the previous (outer) axis steps exactly over this one in both inputs */
            s[rank - 1] *= shape[k];
            a[rank - 1] = t1[k];
            b[rank - 1] = t2[k];
        } else {
            s[rank] = shape[k];
            a[rank] = t1[k];
            b[rank] = t2[k];
            ++rank;
        }
    }
    if (rank == 0) {
        row(params, in1, in2, 1, out);
        return;
    }
    /* Outer axes padded to four with extent 1: a fixed loop nest over the rows. */
    int32_t os[4] = {1, 1, 1, 1}, oa[4] = {0, 0, 0, 0}, ob[4] = {0, 0, 0, 0};
    for (int32_t k = 0; k + 1 < rank; ++k) {
        os[4 - (rank - 1) + k] = s[k];
        oa[4 - (rank - 1) + k] = a[k];
        ob[4 - (rank - 1) + k] = b[k];
    }
    const int32_t n = s[rank - 1];
    const ptrdiff_t r1 = a[rank - 1], r2 = b[rank - 1];
    for (int32_t i0 = 0; i0 < os[0]; ++i0) {
        for (int32_t i1 = 0; i1 < os[1]; ++i1) {
            for (int32_t i2 = 0; i2 < os[2]; ++i2) {
                for (int32_t i3 = 0; i3 < os[3]; ++i3) {
                    const ptrdiff_t o1 = (ptrdiff_t)i0 * oa[0] + (ptrdiff_t)i1 * oa[1] + (ptrdiff_t)i2 * oa[2] +
                                         (ptrdiff_t)i3 * oa[3];
                    const ptrdiff_t o2 = (ptrdiff_t)i0 * ob[0] + (ptrdiff_t)i1 * ob[1] + (ptrdiff_t)i2 * ob[2] +
                                         (ptrdiff_t)i3 * ob[3];
                    qc_bcast_row(row, params, in1 + o1, r1, in2 + o2, r2, n, out);
                    out += n;
                }
            }
        }
    }
}

#endif /* QC_BROADCAST_H */
