"""Quantized-IR passes: rewrites of the int8 graph that cut RAM, run after quantization.

They fuse ops whose fused kernel never stores an intermediate tensor whole
(``fuse_residual``: conv + residual add; ``fuse_head``: global average pool + fully
connected). Each keeps the integer parameters of the ops it fuses verbatim, so the fused
node means exactly the unfused chain (``qcompile.reference.fused``). They run before the
schedule (:mod:`qcompile.memory.schedule`), through the same fixed-point driver as the
float passes (``compiler.optimize_memory``).
"""
