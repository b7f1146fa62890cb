/* Transpose of a right-aligned rank-5 tensor: out axis i is in axis perm[i]. Twin of
 * qcompile.reference.ops.transpose; the struct comes from qcompile.op_params.transpose_layout.
 * Walks the output in order, gathering from the input through permuted strides. */
#include "qc_kernels.h"

int qc_transpose_s8(const qc_transpose_params *p, const int8_t *input, int8_t *output) {
    size_t in_stride[QC_MAX_RANK];
    size_t s[QC_MAX_RANK]; /* input stride of each output axis */
    int32_t n[QC_MAX_RANK];  /* output shape */
    size_t step = 1;
    int32_t k, i0, i1, i2, i3, i4;
    uint32_t seen = 0;
    if (p == NULL || input == NULL || output == NULL) {
        return QC_ERROR;
    }
    for (k = 0; k < QC_MAX_RANK; ++k) { /* perm must be a permutation, shapes non-negative */
        if (p->perm[k] < 0 || p->perm[k] >= QC_MAX_RANK || (seen & (1u << p->perm[k])) || p->in_shape[k] < 0) {
            return QC_ERROR;
        }
        seen |= 1u << p->perm[k];
    }
    for (k = QC_MAX_RANK - 1; k >= 0; --k) {
        in_stride[k] = step;
        step *= (size_t)p->in_shape[k];
    }
    for (k = 0; k < QC_MAX_RANK; ++k) {
        n[k] = p->in_shape[p->perm[k]];
        s[k] = in_stride[p->perm[k]];
    }
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    const int8_t *src = input + (size_t)i0 * s[0] + (size_t)i1 * s[1] + (size_t)i2 * s[2] +
                                        (size_t)i3 * s[3];
                    if (s[4] == 1) {
                        for (i4 = 0; i4 < n[4]; ++i4) {
                            *output++ = src[i4];
                        }
                    } else {
                        for (i4 = 0; i4 < n[4]; ++i4) {
                            *output++ = src[(size_t)i4 * s[4]];
                        }
                    }
                }
            }
        }
    }
    return QC_OK;
}
