/* int8 transposed convolution (TFLite TRANSPOSE_CONV, ONNX ConvTranspose). Twin of
 * qcompile.reference.kernels.transpose_conv. TFLM scatters each input pixel into an int32
 * buffer of the whole output; this kernel gathers instead, per output pixel, the input
 * pixels whose scatter reaches it (iy * stride_h - pad_top + fy = oy): the same exact
 * integer sums, with no scratch. Filter [out_c][kh][kw][in_c]. */
#include "qc_fixedpoint.h"
#include "qc_kernels.h"

static int qc_tconv_check(const qc_conv_params *p) {
    if (p->batches < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_h < 1 || p->out_w < 1 ||
        p->out_c < 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
        p->pad_top < 0 || p->pad_left < 0 || p->dilation_h != 1 || p->dilation_w != 1 || p->groups != 1 ||
        p->depth_multiplier != 1 || p->pad_top >= p->kernel_h || p->pad_left >= p->kernel_w ||
        p->input_offset < -127 || p->input_offset > 128 || p->act_min < -128 || p->act_max > 127 ||
        p->act_min > p->act_max) {
        return QC_ERROR;
    }
    if ((int64_t)p->in_h * p->stride_h > (1 << 24) || (int64_t)p->in_w * p->stride_w > (1 << 24) ||
        (int64_t)p->out_h > (1 << 24) || (int64_t)p->out_w > (1 << 24)) {
        return QC_ERROR;
    }
    return QC_OK;
}

/* Sum over the taps of one output pixel and channel oc. */
static int32_t qc_tconv_acc(const qc_conv_params *p, const int8_t *in, const int8_t *filter, int32_t oy,
                            int32_t ox, int32_t oc) {
    uint32_t acc = 0;
    int32_t fy, fx, ic;
    for (fy = 0; fy < p->kernel_h; ++fy) {
        const int32_t ty = oy + p->pad_top - fy;
        int32_t iy;
        if (ty < 0 || ty % p->stride_h != 0) {
            continue;
        }
        iy = ty / p->stride_h;
        if (iy >= p->in_h) {
            continue;
        }
        for (fx = 0; fx < p->kernel_w; ++fx) {
            const int32_t tx = ox + p->pad_left - fx;
            int32_t ix;
            const int8_t *xp, *wp;
            if (tx < 0 || tx % p->stride_w != 0) {
                continue;
            }
            ix = tx / p->stride_w;
            if (ix >= p->in_w) {
                continue;
            }
            xp = in + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c;
            wp = filter + (((size_t)oc * (size_t)p->kernel_h + (size_t)fy) * (size_t)p->kernel_w + (size_t)fx) *
                              (size_t)p->in_c;
            for (ic = 0; ic < p->in_c; ++ic) {
                acc += (uint32_t)((xp[ic] + p->input_offset) * wp[ic]);
            }
        }
    }
    return qc_u32_to_s32(acc);
}

int qc_transpose_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *multiplier, const int32_t *shift, int8_t *output) {
    int32_t b, oy, ox, oc;
    if (p == NULL || input == NULL || filter == NULL || bias == NULL || multiplier == NULL || shift == NULL ||
        output == NULL || qc_tconv_check(p) != QC_OK) {
        return QC_ERROR;
    }
    for (oc = 0; oc < p->out_c; ++oc) {
        if (shift[oc] < -31 || shift[oc] > 31) {
            return QC_ERROR;
        }
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t acc = qc_tconv_acc(p, in, filter, oy, ox, oc);
                    *output++ = (int8_t)qc_requant_one(acc, bias[oc], multiplier[oc], shift[oc], p->output_offset,
                                                       p->act_min, p->act_max);
                }
            }
        }
    }
    return QC_OK;
}
