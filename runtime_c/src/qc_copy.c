#include <string.h>

#include "qc_kernels.h"

int qc_copy_s8(const int8_t *input, int8_t *output, int32_t size) {
    if (size < 0 || (size > 0 && (input == NULL || output == NULL))) {
        return QC_ERROR;
    }
    if (input != output && size > 0) {
        memmove(output, input, (size_t)size);
    }
    return QC_OK;
}
