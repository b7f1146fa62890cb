"""Float-IR reference kernels as plug-ins: a module here defines functions named after the
float ops it computes (``def reduce_mean(x, *, axes, keep_dims)``), with exactly the node's
attributes as keyword arguments. ``reference.executor.run_float`` finds them after
``reference/float_ops.py``; calibration runs them for tensors only the IR has."""
