/* Resizes of an NHWC int8 tensor (TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, ONNX
 * Resize). Twins of qcompile.reference.kernels.resize.
 * Nearest: the source row and column of every output come from compile-time tables (TFLM
 * computes them in float; the generator does, so this kernel has no float).
 * Bilinear: TFLM's ResizeBilinearInteger, all integer with 10 fractional bits. */
#include <string.h>

#include "qc_kernels.h"

static int qc_resize_check(const qc_resize_params *p, const int8_t *input, const int8_t *output) {
    if (p == NULL || input == NULL || output == NULL || p->batches < 1 || p->in_h < 1 || p->in_w < 1 ||
        p->channels < 1 || p->out_h < 1 || p->out_w < 1 || p->out_h > 65536 || p->out_w > 65536 ||
        p->in_h > 65536 || p->in_w > 65536) {
        return QC_ERROR;
    }
    return QC_OK;
}

int qc_resize_nearest_s8(const qc_resize_params *p, const int32_t *y_index, const int32_t *x_index,
                         const int8_t *input, int8_t *output) {
    int32_t b, y, x;
    if (qc_resize_check(p, input, output) != QC_OK || y_index == NULL || x_index == NULL) {
        return QC_ERROR;
    }
    for (y = 0; y < p->out_h; ++y) {
        if (y_index[y] < 0 || y_index[y] >= p->in_h) {
            return QC_ERROR;
        }
    }
    for (x = 0; x < p->out_w; ++x) {
        if (x_index[x] < 0 || x_index[x] >= p->in_w) {
            return QC_ERROR;
        }
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->channels;
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *row = in + (size_t)y_index[y] * (size_t)p->in_w * (size_t)p->channels;
            for (x = 0; x < p->out_w; ++x) {
                memcpy(output, row + (size_t)x_index[x] * (size_t)p->channels, (size_t)p->channels);
                output += p->channels;
            }
        }
    }
    return QC_OK;
}

/* TFLM's ComputeInterpolationValuesInteger; i0 is also kept inside the input. */
static void qc_bilinear_axis(int32_t i, int32_t scale, int32_t half_pixel, int32_t size, int32_t *i0,
                             int32_t *i1, int32_t *d) {
    const int32_t v = half_pixel ? i * scale + scale / 2 - (1 << 9) : i * scale;
    int32_t lo = v / (1 << 10);
    int32_t hi = (v + (1 << 10) - 1) / (1 << 10);
    lo = lo < 0 ? 0 : (lo > size - 1 ? size - 1 : lo);
    hi = hi > size - 1 ? size - 1 : (hi < 0 ? 0 : hi);
    *i0 = lo;
    *i1 = hi;
    *d = v - (1 << 10) * lo;
}

static int32_t qc_bilinear_scale(int32_t in, int32_t out, int32_t align_corners) {
    if (align_corners && out > 1) {
        return ((1 << 10) * (in - 1) + (out - 1) / 2) / (out - 1);
    }
    return ((1 << 10) * in + out / 2) / out;
}

int qc_resize_bilinear_s8(const qc_resize_params *p, const int8_t *input, int8_t *output) {
    int32_t b, y, x, c, sy, sx;
    if (qc_resize_check(p, input, output) != QC_OK || (p->align_corners && p->half_pixel_centers) ||
        p->in_h > 32768 || p->in_w > 32768) {
        return QC_ERROR;
    }
    sy = qc_bilinear_scale(p->in_h, p->out_h, p->align_corners);
    sx = qc_bilinear_scale(p->in_w, p->out_w, p->align_corners);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->channels;
        for (y = 0; y < p->out_h; ++y) {
            int32_t y0, y1, dy;
            qc_bilinear_axis(y, sy, p->half_pixel_centers, p->in_h, &y0, &y1, &dy);
            for (x = 0; x < p->out_w; ++x) {
                int32_t x0, x1, dx;
                const int8_t *r0, *r1;
                qc_bilinear_axis(x, sx, p->half_pixel_centers, p->in_w, &x0, &x1, &dx);
                r0 = in + (size_t)y0 * (size_t)p->in_w * (size_t)p->channels;
                r1 = in + (size_t)y1 * (size_t)p->in_w * (size_t)p->channels;
                for (c = 0; c < p->channels; ++c) {
                    const size_t c0 = (size_t)x0 * (size_t)p->channels + (size_t)c;
                    const size_t c1 = (size_t)x1 * (size_t)p->channels + (size_t)c;
                    const int64_t acc = (int64_t)r0[c0] * ((1 << 10) - dy) * ((1 << 10) - dx) +
                                        (int64_t)r1[c0] * dy * ((1 << 10) - dx) +
                                        (int64_t)r0[c1] * ((1 << 10) - dy) * dx + (int64_t)r1[c1] * dy * dx;
                    const int64_t q = (acc + (acc > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20);
                    *output++ = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
                }
            }
        }
    }
    return QC_OK;
}
