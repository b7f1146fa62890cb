/* qc_layer_dump.h: per-layer snapshots for host debug builds (qcompile.testing).
 *
 * Force-included (-include) into a host build of a generated model. The model calls
 * QC_LAYER_END(i) after every layer, inside its invoke function where `arena` and
 * `outputs` are in scope; here that copies the whole arena and every output buffer into
 * the snapshot buffer registered with qc_layer_dump_setup, so a test can compare each
 * layer's output with the reference and name the first layer that differs. Never part
 * of a firmware build.
 */
#ifndef QC_LAYER_DUMP_H
#define QC_LAYER_DUMP_H

#include <stdint.h>

void qc_layer_dump_setup(uint8_t *buffer, uint32_t arena_size, uint32_t n_outputs, const uint32_t *output_sizes,
                         int32_t layers);
void qc_layer_dump(int32_t layer, const uint8_t *arena, int8_t *const *outputs);

#define QC_LAYER_END(i) qc_layer_dump((i), arena, outputs)

#endif /* QC_LAYER_DUMP_H */
