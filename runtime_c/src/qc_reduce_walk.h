/* The odometer walk shared by the reductions over any axes (qc_reduce.c, qc_reduce_s16.c):
 * the input's right-aligned rank-5 shape split into kept and reduced axes, with strides. */
#ifndef QC_REDUCE_WALK_H
#define QC_REDUCE_WALK_H

#include "qc_kernels.h"

/* Strides of the input; kept axes and reduced axes split into two odometers. */
typedef struct {
    int32_t keep_n, red_n;
    int32_t keep_dim[QC_MAX_RANK], red_dim[QC_MAX_RANK];
    size_t keep_stride[QC_MAX_RANK], red_stride[QC_MAX_RANK];
    int32_t count;
} qc_reduce_walk;

static inline int qc_reduce_walk_make(const qc_reduce_params *p, qc_reduce_walk *w) {
    size_t stride = 1, total = 1;
    int32_t k;
    w->keep_n = 0;
    w->red_n = 0;
    w->count = 1;
    for (k = QC_MAX_RANK - 1; k >= 0; --k) {
        const int32_t d = p->in_shape[k];
        if (d < 1 || (p->reduce[k] != 0 && p->reduce[k] != 1)) {
            return QC_ERROR;
        }
        total *= (size_t)d;
        if (total > ((size_t)1 << 31)) {
            return QC_ERROR;
        }
        if (p->reduce[k]) {
            w->red_dim[w->red_n] = d;
            w->red_stride[w->red_n++] = stride;
            if ((int64_t)w->count * d > ((int64_t)1 << 23)) {
                return QC_ERROR;
            }
            w->count *= d;
        } else {
            w->keep_dim[w->keep_n] = d;
            w->keep_stride[w->keep_n++] = stride;
        }
        stride *= (size_t)d;
    }
    return QC_OK;
}

/* Advance an odometer (index 0 is the innermost axis); returns 0 when it wrapped around. */
static inline int qc_reduce_next(int32_t *idx, const int32_t *dim, int32_t n) {
    int32_t k;
    for (k = 0; k < n; ++k) {
        if (++idx[k] < dim[k]) {
            return 1;
        }
        idx[k] = 0;
    }
    return 0;
}

static inline size_t qc_reduce_offset(const int32_t *idx, const size_t *stride, int32_t n) {
    size_t off = 0;
    int32_t k;
    for (k = 0; k < n; ++k) {
        off += (size_t)idx[k] * stride[k];
    }
    return off;
}

/* The output stride of each kept axis (innermost first): outputs are row-major over them. */
static inline void qc_reduce_out_strides(const qc_reduce_walk *w, size_t out_stride[QC_MAX_RANK]) {
    size_t step = 1;
    int32_t k;
    for (k = 0; k < w->keep_n; ++k) {
        out_stride[k] = step;
        step *= (size_t)w->keep_dim[k];
    }
}

#endif /* QC_REDUCE_WALK_H */
