/* Concatenation along an axis as `outer` rounds of contiguous copies. Twin of
 * qcompile.reference.ops.concat; outer/inner_sizes from qcompile.op_params.concat_layout. */
#include <string.h>

#include "qc_kernels.h"

int qc_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs, const int32_t *inner_sizes,
                 int8_t *output) {
    int32_t o, i;
    if (outer < 0 || num_inputs < 0 || (num_inputs > 0 && (inputs == NULL || inner_sizes == NULL))) {
        return QC_ERROR;
    }
    for (i = 0; i < num_inputs; ++i) {
        if (inner_sizes[i] < 0 || (outer > 0 && inner_sizes[i] > 0 && (inputs[i] == NULL || output == NULL))) {
            return QC_ERROR;
        }
    }
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < num_inputs; ++i) {
            const size_t n = (size_t)inner_sizes[i];
            if (n > 0) {
                memcpy(output, inputs[i] + (size_t)o * n, n);
                output += n;
            }
        }
    }
    return QC_OK;
}
