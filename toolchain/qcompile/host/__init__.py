"""Host side of the runtime: the Cython binding (``_runtime``) and host builds of generated folders."""
