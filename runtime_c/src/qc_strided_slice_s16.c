/* int16 strided slice (TFLite STRIDED_SLICE, SLICE, SPLIT, SPLIT_V on 16x8 tensors): the int8
 * kernel's walk on 2-byte elements. Twin of qcompile.reference.kernels.slicing.strided_slice. */
#include "qc_kernels_s16.h"

int qc_strided_slice_s16(const qc_strided_slice_params *p, const int16_t *input, int16_t *output) {
    return qc_strided_slice_elems(p, input, output, sizeof(int16_t));
}
