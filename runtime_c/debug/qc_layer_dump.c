/* qc_layer_dump.c: see qc_layer_dump.h. Layer i's snapshot is at buffer + i * stride:
 * the arena, then each output buffer, stride = arena_size + sum(output_sizes). */
#include "qc_layer_dump.h"

#include <stddef.h>
#include <string.h>

#define QC_DUMP_MAX_OUTPUTS 64

static uint8_t *qc_dump_buffer;
static uint32_t qc_dump_arena_size;
static uint32_t qc_dump_n_outputs;
static uint32_t qc_dump_output_sizes[QC_DUMP_MAX_OUTPUTS];
static size_t qc_dump_stride;
static int32_t qc_dump_layers;

void qc_layer_dump_setup(uint8_t *buffer, uint32_t arena_size, uint32_t n_outputs, const uint32_t *output_sizes,
                         int32_t layers) {
    uint32_t k;
    qc_dump_buffer = NULL;
    if (n_outputs > QC_DUMP_MAX_OUTPUTS) {
        return;
    }
    qc_dump_arena_size = arena_size;
    qc_dump_n_outputs = n_outputs;
    qc_dump_stride = arena_size;
    for (k = 0; k < n_outputs; ++k) {
        qc_dump_output_sizes[k] = output_sizes[k];
        qc_dump_stride += output_sizes[k];
    }
    qc_dump_layers = layers;
    qc_dump_buffer = buffer;
}

void qc_layer_dump(int32_t layer, const uint8_t *arena, int8_t *const *outputs) {
    uint8_t *dst;
    uint32_t k;
    if (qc_dump_buffer == NULL || layer < 0 || layer >= qc_dump_layers) {
        return;
    }
    dst = qc_dump_buffer + (size_t)layer * qc_dump_stride;
    memcpy(dst, arena, qc_dump_arena_size);
    dst += qc_dump_arena_size;
    for (k = 0; k < qc_dump_n_outputs; ++k) {
        if (outputs == NULL || outputs[k] == NULL) { /* in-arena I/O: the output lives in the arena */
            break;
        }
        memcpy(dst, outputs[k], qc_dump_output_sizes[k]);
        dst += qc_dump_output_sizes[k];
    }
}
