/* int8 max / average pooling (NHWC): TFLM's reference_integer_ops pooling arithmetic.
 * Twin of qcompile.reference.ops.max_pool2d / avg_pool2d (docs/QUANTIZATION.md).
 * Padded positions are excluded; average rounds half away from zero. */
#include "qc_kernels.h"

static int qc_pool_params_ok(const qc_pool_params *p) {
    return p->batches >= 0 && p->in_h >= 1 && p->in_w >= 1 && p->channels >= 0 && p->out_h >= 0 &&
           p->out_w >= 0 && p->kernel_h >= 1 && p->kernel_w >= 1 && p->stride_h >= 1 && p->stride_w >= 1 &&
           p->pad_top >= 0 && p->pad_left >= 0;
}

/* Both pools walk the same windows, clipped to the input; only the reduction differs.
 * `average` selects it once per output pixel (the inner loops stay branch-free). */
static int qc_pool_s8(const qc_pool_params *p, const int8_t *input, int8_t *output, int average) {
    int32_t b, oy, ox, c, ky, kx;
    if (!qc_pool_params_ok(p)) {
        return QC_ERROR;
    }
    /* the window sum of int8 values must fit int32 */
    if (average && (int64_t)p->kernel_h * (int64_t)p->kernel_w > (int64_t)(INT32_MAX / 128)) {
        return QC_ERROR;
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ky0 = QC_MAX(0, -y0);
            const int32_t ky1 = QC_MIN(p->kernel_h, p->in_h - y0);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t kx0 = QC_MAX(0, -x0);
                const int32_t kx1 = QC_MIN(p->kernel_w, p->in_w - x0);
                const int32_t count = (ky1 - ky0) * (kx1 - kx0);
                if (average && (ky1 <= ky0 || kx1 <= kx0)) {
                    return QC_ERROR; /* window covers only padding (TFLM fails too) */
                }
                for (c = 0; c < p->channels; ++c) {
                    int32_t acc = average ? 0 : -128; /* TFLM's running maximum starts at -128 */
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int8_t *row = in_b + ((size_t)(y0 + ky) * (size_t)p->in_w) * (size_t)p->channels;
                        if (average) {
                            for (kx = kx0; kx < kx1; ++kx) {
                                acc += row[(size_t)(x0 + kx) * (size_t)p->channels + (size_t)c];
                            }
                        } else {
                            for (kx = kx0; kx < kx1; ++kx) {
                                const int32_t v = row[(size_t)(x0 + kx) * (size_t)p->channels + (size_t)c];
                                acc = v > acc ? v : acc;
                            }
                        }
                    }
                    if (average) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *output++ = qc_clamp_s8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return QC_OK;
}

int qc_max_pool2d_s8(const qc_pool_params *p, const int8_t *input, int8_t *output) {
    return qc_pool_s8(p, input, output, 0);
}

size_t qc_avg_pool2d_s8_scratch_size(const qc_pool_params *p) {
    (void)p;
    return 0;
}

int qc_avg_pool2d_s8(const qc_pool_params *p, const int8_t *input, int8_t *output, void *scratch) {
    (void)scratch;
    return qc_pool_s8(p, input, output, 1);
}
