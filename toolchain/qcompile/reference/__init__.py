"""numpy reference: the int8 kernels that define qcompile's arithmetic, and graph executors."""
