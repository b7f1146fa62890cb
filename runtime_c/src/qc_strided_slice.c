/* Strided slice of a right-aligned rank-5 tensor: output element (i0..i4) is input element
 * (begin[k] + i_k * strides[k]). Twin of qcompile.reference.kernels.slicing.strided_slice; the
 * struct comes from qcompile.op_params.strided_slice_layout. Checks that every index it reads
 * lies inside the input before reading anything. qc_strided_slice_elems moves elements of any
 * size (qc_strided_slice_s16 in qc_strided_slice_s16.c uses it for int16). */
#include <string.h>

#include "qc_kernels.h"

int qc_strided_slice_elems(const qc_strided_slice_params *p, const void *input, void *output, size_t elem_size) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    ptrdiff_t step[QC_MAX_RANK]; /* input elements per output step of each axis */
    ptrdiff_t base = 0;
    ptrdiff_t stride = 1;
    int32_t k, i0, i1, i2, i3, i4;
    if (p == NULL || input == NULL || output == NULL || elem_size < 1) {
        return QC_ERROR;
    }
    for (k = QC_MAX_RANK - 1; k >= 0; --k) {
        const int32_t n = p->out_shape[k];
        const int64_t last = (int64_t)p->begin[k] + (int64_t)(n - 1) * (int64_t)p->strides[k];
        if (n < 0 || p->in_shape[k] < 0 || p->strides[k] == 0) {
            return QC_ERROR;
        }
        if (n > 0 && (p->begin[k] < 0 || p->begin[k] >= p->in_shape[k] || last < 0 || last >= p->in_shape[k])) {
            return QC_ERROR;
        }
        step[k] = stride * (ptrdiff_t)p->strides[k];
        base += stride * (ptrdiff_t)p->begin[k];
        stride *= (ptrdiff_t)p->in_shape[k];
    }
    for (i0 = 0; i0 < p->out_shape[0]; ++i0) {
        for (i1 = 0; i1 < p->out_shape[1]; ++i1) {
            for (i2 = 0; i2 < p->out_shape[2]; ++i2) {
                for (i3 = 0; i3 < p->out_shape[3]; ++i3) {
                    const ptrdiff_t at = base + (ptrdiff_t)i0 * step[0] + (ptrdiff_t)i1 * step[1] +
                                         (ptrdiff_t)i2 * step[2] + (ptrdiff_t)i3 * step[3];
                    const uint8_t *src = in + at * (ptrdiff_t)elem_size;
                    if (step[4] == 1) { /* a contiguous run (whole inner axes are merged at compile time) */
                        memcpy(out, src, (size_t)p->out_shape[4] * elem_size);
                        out += (size_t)p->out_shape[4] * elem_size;
                    } else {
                        for (i4 = 0; i4 < p->out_shape[4]; ++i4) {
                            memcpy(out, src + (ptrdiff_t)i4 * step[4] * (ptrdiff_t)elem_size, elem_size);
                            out += elem_size;
                        }
                    }
                }
            }
        }
    }
    return QC_OK;
}

int qc_strided_slice_s8(const qc_strided_slice_params *p, const int8_t *input, int8_t *output) {
    return qc_strided_slice_elems(p, input, output, 1);
}
