#include <string.h>

#include "qc_kernels.h"

void qc_copy_s8(const int8_t *input, int8_t *output, int32_t size) {
    if (input != output && size > 0) {
        memmove(output, input, (size_t)size);
    }
}
