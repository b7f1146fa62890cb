# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython binding to the C runtime.

Two uses, both through the very same C sources that generated models ship with:
per-kernel calls on numpy arrays (property tests compare them with the numpy
reference) and loading a host build of a generated model to run whole batches with
no per-layer Python.
"""

from libc.stdint cimport int8_t, int32_t, uint8_t

import numpy as np

cdef extern from "qc_sources_hash.h":
    const char *QC_SOURCES_HASH

#: digest of the C and Cython sources this module was built from (qcompile.host.source_hash)
SOURCES_HASH = QC_SOURCES_HASH.decode("ascii")

include "_kernels_conv.pxi"
include "_kernels_misc.pxi"
include "_kernels_fused.pxi"
include "_kernels_tflite.pxi"
include "_kernels_s16.pxi"
include "_kernels_eltwise.pxi"
include "_kernels_div.pxi"
include "_kernels_transformer.pxi"
include "_kernels_stream.pxi"
include "_kernels_datamove.pxi"
include "_kernels_recurrent.pxi"
include "_kernels_lstm.pxi"
include "_kernels_eltwise_s16.pxi"
include "_model_loader.pxi"
