/* Table lookup: every elementwise unary int8 op. Twin of qcompile.reference.ops.lut. */
#include "qc_kernels.h"

int qc_lut_s8(const int8_t table[256], const int8_t *input, int8_t *output, int32_t size) {
    int32_t i;
    if (size < 0 || (size > 0 && (table == NULL || input == NULL || output == NULL))) {
        return QC_ERROR;
    }
    for (i = 0; i < size; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
    return QC_OK;
}
