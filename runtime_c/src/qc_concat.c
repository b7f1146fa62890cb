/* Concatenation along an axis as `outer` rounds of contiguous copies. Twin of
 * qcompile.reference.ops.concat; outer/inner_sizes from qcompile.op_params.concat_layout. */
#include <string.h>

#include "qc_kernels.h"

void qc_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs,
                  const int32_t *inner_sizes, int8_t *output) {
    int32_t o, i;
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < num_inputs; ++i) {
            const size_t n = (size_t)inner_sizes[i];
            if (n > 0) {
                memcpy(output, inputs[i] + (size_t)o * n, n);
                output += n;
            }
        }
    }
}
