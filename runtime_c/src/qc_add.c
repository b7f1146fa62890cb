/* int8 ADD / SUB with broadcasting: TFLM's reference_integer_ops::Add arithmetic.
 * Twin of qcompile.reference.ops.add (docs/QUANTIZATION.md).
 *
 * The arithmetic is qc_add_elem.h's vectorisable row (shared with the fused conv2d_add
 * epilogue); qc_broadcast.h turns the broadcast shape into rows. out may be in1 or in2
 * when that input has the output's shape (in place). */
#include "qc_add_elem.h"
#include "qc_broadcast.h"
#include "qc_kernels.h"

static void qc_add_row_fn(const void *params, const int8_t *in1, const int8_t *in2, size_t n, int8_t *out) {
    qc_add_row_s8((const qc_add_params *)params, in1, in2, n, out);
}

int qc_add_s8(const qc_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || !qc_add_elem_params_ok(p) ||
        !qc_bcast_shape_ok(p->out_shape)) {
        return QC_ERROR;
    }
    qc_bcast_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_add_row_fn, p);
    return QC_OK;
}
