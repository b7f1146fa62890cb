/* Constant padding of a right-aligned rank-5 tensor. Twin of qcompile.reference.ops.pad;
 * the struct comes from qcompile.op_params.pad_layout. Innermost rows are memcpy'd. */
#include <string.h>

#include "qc_kernels.h"

int qc_pad_s8(const qc_pad_params *p, const int8_t *input, int8_t *output) {
    int32_t out_shape[QC_MAX_RANK];
    size_t out_stride[QC_MAX_RANK];
    size_t total = 1;
    int32_t k, i0, i1, i2, i3;
    if (p == NULL || input == NULL || output == NULL || p->pad_value < -128 || p->pad_value > 127) {
        return QC_ERROR;
    }
    for (k = 0; k < QC_MAX_RANK; ++k) {
        if (p->in_shape[k] < 0 || p->pad_before[k] < 0 || p->pad_after[k] < 0) {
            return QC_ERROR;
        }
    }
    const int8_t value = (int8_t)p->pad_value;
    const size_t row = (size_t)p->in_shape[4];
    for (k = QC_MAX_RANK - 1; k >= 0; --k) {
        out_shape[k] = p->pad_before[k] + p->in_shape[k] + p->pad_after[k];
        out_stride[k] = total;
        total *= (size_t)out_shape[k];
    }
    if (total == 0) {
        return QC_OK;
    }
    memset(output, (unsigned char)value, total);
    for (k = 0; k < QC_MAX_RANK; ++k) {
        if (p->in_shape[k] == 0) {
            return QC_OK;
        }
    }
    for (i0 = 0; i0 < p->in_shape[0]; ++i0) {
        for (i1 = 0; i1 < p->in_shape[1]; ++i1) {
            for (i2 = 0; i2 < p->in_shape[2]; ++i2) {
                for (i3 = 0; i3 < p->in_shape[3]; ++i3) {
                    int8_t *dst = output + (size_t)(i0 + p->pad_before[0]) * out_stride[0] +
                                  (size_t)(i1 + p->pad_before[1]) * out_stride[1] +
                                  (size_t)(i2 + p->pad_before[2]) * out_stride[2] +
                                  (size_t)(i3 + p->pad_before[3]) * out_stride[3] + (size_t)p->pad_before[4];
                    memcpy(dst, input, row);
                    input += row;
                }
            }
        }
    }
    return QC_OK;
}
