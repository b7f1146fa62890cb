/* Table lookup: every elementwise unary int8 op. Twin of qcompile.reference.ops.lut. */
#include "qc_kernels.h"

void qc_lut_s8(const int8_t table[256], const int8_t *input, int8_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
}
