/* Gather with constant indices along one axis (TFLite GATHER, ONNX Gather): the input is
 * [outer, axis_size, inner]; out[o, j, :] = in[o, indices[j], :]. Twin of
 * qcompile.reference.kernels.gather. Every index is checked before anything is copied. */
#include <string.h>

#include "qc_kernels.h"

int qc_gather_s8(const qc_gather_params *p, const int32_t *indices, const int8_t *input, int8_t *output) {
    int32_t o, j;
    if (p == NULL || indices == NULL || input == NULL || output == NULL || p->outer < 1 || p->axis_size < 1 ||
        p->inner < 1 || p->num_indices < 1) {
        return QC_ERROR;
    }
    for (j = 0; j < p->num_indices; ++j) {
        if (indices[j] < 0 || indices[j] >= p->axis_size) {
            return QC_ERROR;
        }
    }
    for (o = 0; o < p->outer; ++o) {
        const int8_t *src = input + (size_t)o * (size_t)p->axis_size * (size_t)p->inner;
        for (j = 0; j < p->num_indices; ++j) {
            memcpy(output, src + (size_t)indices[j] * (size_t)p->inner, (size_t)p->inner);
            output += p->inner;
        }
    }
    return QC_OK;
}
