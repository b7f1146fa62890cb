# Included by _runtime.pyx: load a host build of a generated model and run whole batches.
#
# The generated library exports `int <name>_run_io(const int8_t *const *inputs,
# int8_t *const *outputs, void *arena)`. ModelLibrary dlopens it, looks that symbol up and
# runs a batch in one C loop with the GIL released: no Python work per sample or per
# layer, so verifying thousands of samples costs what the C costs.

from libc.stdint cimport uint32_t, uintptr_t
from libc.stdlib cimport free, malloc

import os as _qc_os
import threading as _qc_threading


cdef extern from "<dlfcn.h>" nogil:
    void *dlopen(const char *filename, int flag)
    void *dlsym(void *handle, const char *symbol)
    int dlclose(void *handle)
    char *dlerror()
    int RTLD_NOW
    int RTLD_LOCAL


ctypedef int (*_qc_run_io_fn)(const int8_t * const *inputs, int8_t * const *outputs, void *arena) noexcept nogil
ctypedef void (*_qc_reset_fn)() noexcept nogil


cdef int _qc_run_batch(
    _qc_run_io_fn fn,
    Py_ssize_t batch,
    int n_in,
    int n_out,
    const int8_t **in_base,
    const Py_ssize_t *in_size,
    int8_t **out_base,
    const Py_ssize_t *out_size,
    const int8_t **in_ptrs,
    int8_t **out_ptrs,
    void *arena,
    Py_ssize_t *failed,
) noexcept nogil:
    cdef Py_ssize_t b
    cdef int i, rc
    for b in range(batch):
        for i in range(n_in):
            in_ptrs[i] = in_base[i] + b * in_size[i]
        for i in range(n_out):
            out_ptrs[i] = out_base[i] + b * out_size[i]
        rc = fn(in_ptrs, out_ptrs, arena)
        if rc != 0:
            failed[0] = b
            return rc
    return 0


def _qc_canaries(guard):
    """The canary bytes before and after a guarded buffer (templates/baremetal/main.c.j2's pattern)."""
    i = np.arange(guard, dtype=np.uint32)
    return (0x3C ^ i).astype(np.uint8), (0xC3 ^ i).astype(np.uint8)


def _qc_guarded_rows(data, guard):
    """``data`` (batch, nbytes) copied into rows with ``guard`` canary bytes on each side."""
    before, after = _qc_canaries(guard)
    rows = np.empty((data.shape[0], data.shape[1] + 2 * guard), np.uint8)
    rows[:, :guard] = before
    rows[:, guard:guard + data.shape[1]] = data
    rows[:, guard + data.shape[1]:] = after
    return rows


def _qc_first_tripped(rows, guard):
    """The first sample whose canaries in ``rows`` changed, or -1."""
    if guard == 0:
        return -1
    before, after = _qc_canaries(guard)
    bad = (rows[:, :guard] != before).any(axis=1) | (rows[:, rows.shape[1] - guard:] != after).any(axis=1)
    found = np.nonzero(bad)[0]
    return int(found[0]) if len(found) else -1


cdef class ModelLibrary:
    """A host build of a generated model (``qcompile.host.build.build_host_library``).

    ``ModelLibrary(path, name, input_sizes, output_sizes, arena_size)``: ``name`` is the
    model's C name, sizes are per-sample int8 element counts in graph order. With
    ``arena_size > 0`` every ``run`` call gets its own arena of that many bytes; with 0 the
    library's static arena is used. Calls on one instance are serialised by a lock (which
    also keeps ``close`` from unloading a running library). ``output_shapes`` (optional)
    gives per-sample output shapes. ``input_dtypes`` / ``output_dtypes`` (optional, default
    int8 for every tensor) name each tensor's element type: ``"int16"`` for 16x8 I/O, whose
    buffers go to ``<name>_run_io`` as byte pointers.
    """

    cdef void *_handle
    cdef _qc_run_io_fn _fn
    cdef _qc_reset_fn _reset
    cdef readonly str path
    cdef readonly str name
    cdef readonly tuple input_sizes
    cdef readonly tuple output_sizes
    cdef readonly Py_ssize_t arena_size
    cdef readonly object output_shapes
    cdef readonly object required_arena_size
    cdef readonly tuple input_dtypes
    cdef readonly tuple output_dtypes
    cdef object _lock

    def __cinit__(self):
        self._handle = NULL
        self._fn = NULL
        self._reset = NULL

    def __init__(self, path, name, input_sizes, output_sizes, arena_size=0, *, output_shapes=None,
                 input_dtypes=None, output_dtypes=None):
        cdef bytes path_b = _qc_os.fsencode(str(path))
        cdef bytes symbol = (str(name) + "_run_io").encode("ascii")
        cdef void *handle
        cdef void *sym
        cdef const char *err
        self.path = str(path)
        self.name = str(name)
        self.input_sizes = tuple(int(s) for s in input_sizes)
        self.output_sizes = tuple(int(s) for s in output_sizes)
        self.arena_size = int(arena_size)
        self.input_dtypes = tuple(np.dtype(d) for d in (input_dtypes or ("int8",) * len(self.input_sizes)))
        self.output_dtypes = tuple(np.dtype(d) for d in (output_dtypes or ("int8",) * len(self.output_sizes)))
        if len(self.input_dtypes) != len(self.input_sizes) or len(self.output_dtypes) != len(self.output_sizes):
            raise ValueError("one dtype per input and output")
        if any(d not in (np.int8, np.uint8, np.int16) for d in self.input_dtypes + self.output_dtypes):
            raise ValueError("tensor dtypes must be int8, uint8 or int16")
        if not self.input_sizes or not self.output_sizes:
            raise ValueError("a model has at least one input and one output")
        if any(s < 1 for s in self.input_sizes + self.output_sizes) or self.arena_size < 0:
            raise ValueError("tensor sizes must be positive and arena_size non-negative")
        if output_shapes is not None:
            output_shapes = tuple(tuple(int(d) for d in s) for s in output_shapes)
            if len(output_shapes) != len(self.output_sizes) or any(
                int(np.prod(s)) != n for s, n in zip(output_shapes, self.output_sizes)
            ):
                raise ValueError("output_shapes do not match output_sizes")
        self.output_shapes = output_shapes
        self._lock = _qc_threading.Lock()
        if self._handle != NULL:
            dlclose(self._handle)
            self._handle = NULL
            self._fn = NULL
        handle = dlopen(path_b, RTLD_NOW | RTLD_LOCAL)
        if handle == NULL:
            err = dlerror()
            raise OSError(f"cannot load {self.path}: {err.decode(errors='replace') if err != NULL else 'unknown error'}")
        dlerror()
        sym = dlsym(handle, symbol)
        if sym == NULL:
            err = dlerror()
            dlclose(handle)
            raise OSError(
                f"{self.path} has no symbol {symbol.decode()}: "
                f"{err.decode(errors='replace') if err != NULL else 'null symbol'}"
            )
        self._handle = handle
        self._fn = <_qc_run_io_fn>sym
        # A streaming model (persistent state) exports <name>_reset: every batch is one stream
        # from the model's initial state, as the reference runs it.
        self._reset = <_qc_reset_fn>dlsym(handle, (str(name) + "_reset").encode("ascii"))
        # Generated libraries also export their arena size: refuse an arena that is too small
        # (the C would write past it).
        size_sym = dlsym(handle, (str(name) + "_arena_size").encode("ascii"))
        self.required_arena_size = None if size_sym == NULL else int((<const uint32_t *>size_sym)[0])
        if self.required_arena_size is not None and 0 < self.arena_size < self.required_arena_size:
            raise ValueError(
                f"arena_size {self.arena_size} is smaller than the {self.required_arena_size} bytes {self.name} needs"
            )

    def __dealloc__(self):
        if self._handle != NULL:
            dlclose(self._handle)
            self._handle = NULL

    def close(self):
        """Unload the library (``run`` raises afterwards)."""
        with self._lock:
            if self._handle != NULL:
                dlclose(self._handle)
                self._handle = NULL
                self._fn = NULL
                self._reset = NULL

    def run(self, inputs, io_guard=0):
        """Run every sample of a batch: ``inputs[i]`` is int8 of shape (batch, ...) holding
        ``input_sizes[i]`` values per sample. A model with persistent state is reset first and
        then runs the samples in order, one call per step. Returns one int8 array per output, shaped
        (batch, output_sizes[j]) or (batch, *output_shapes[j]). Raises RuntimeError naming the
        sample and layer if the model returns a non-zero code. ``io_guard`` > 0: every sample's
        input and output buffer gets that many canary bytes on each side, checked after the batch
        (a RuntimeError names the first sample and buffer whose canaries changed)."""
        cdef int n_in = len(self.input_sizes)
        cdef int n_out = len(self.output_sizes)
        cdef Py_ssize_t batch, b_failed = -1
        cdef int i, rc = 0
        cdef const int8_t **in_base = NULL
        cdef int8_t **out_base = NULL
        cdef const int8_t **in_ptrs = NULL
        cdef int8_t **out_ptrs = NULL
        cdef Py_ssize_t *in_size = NULL
        cdef Py_ssize_t *out_size = NULL
        cdef void *arena = NULL
        cdef uintptr_t address
        cdef _qc_run_io_fn fn

        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        inputs = list(inputs)
        if len(inputs) != n_in:
            raise ValueError(f"model {self.name} takes {n_in} inputs, got {len(inputs)}")
        arrays = []
        for i in range(n_in):
            a = inputs[i]
            if not isinstance(a, np.ndarray) or a.dtype != self.input_dtypes[i]:
                raise TypeError(f"input {i} must be an {self.input_dtypes[i]} numpy array")
            if a.ndim < 1:
                raise ValueError(f"input {i} needs a leading batch axis")
            arrays.append(np.ascontiguousarray(a))
        batch = arrays[0].shape[0]
        for i in range(n_in):
            if arrays[i].shape[0] != batch:
                raise ValueError(f"input {i} has batch {arrays[i].shape[0]}, input 0 has {batch}")
            if arrays[i].size != batch * self.input_sizes[i]:
                raise ValueError(
                    f"input {i}: {arrays[i].size // max(batch, 1)} values per sample, expected {self.input_sizes[i]}"
                )
        if self.output_shapes is not None:
            outputs = [np.empty((batch, *s), dtype=d) for s, d in zip(self.output_shapes, self.output_dtypes)]
        else:
            outputs = [np.empty((batch, n), dtype=d) for n, d in zip(self.output_sizes, self.output_dtypes)]
        if batch == 0:
            return outputs
        guard = int(io_guard)
        if guard < 0:
            raise ValueError("io_guard must be non-negative")
        # byte rows of each sample's buffer, with `guard` canary bytes on each side
        in_rows = [_qc_guarded_rows(a.view(np.uint8).reshape(batch, -1), guard) for a in arrays]
        out_rows = [_qc_guarded_rows(np.zeros((batch, o[0].nbytes), np.uint8), guard) for o in outputs]
        arena_buffer = None
        if self.arena_size > 0:
            arena_buffer = np.empty(self.arena_size + 64, dtype=np.uint8)
            address = <uintptr_t>arena_buffer.ctypes.data
            arena = <void *>((address + 63) & ~(<uintptr_t>63))

        in_base = <const int8_t **>malloc(n_in * sizeof(int8_t *))
        in_ptrs = <const int8_t **>malloc(n_in * sizeof(int8_t *))
        out_base = <int8_t **>malloc(n_out * sizeof(int8_t *))
        out_ptrs = <int8_t **>malloc(n_out * sizeof(int8_t *))
        in_size = <Py_ssize_t *>malloc(n_in * sizeof(Py_ssize_t))
        out_size = <Py_ssize_t *>malloc(n_out * sizeof(Py_ssize_t))
        try:
            if in_base == NULL or in_ptrs == NULL or out_base == NULL or out_ptrs == NULL or in_size == NULL or out_size == NULL:
                raise MemoryError()
            for i in range(n_in):
                in_base[i] = <const int8_t *><uintptr_t>(in_rows[i].ctypes.data + guard)
                in_size[i] = in_rows[i].shape[1]  # bytes from one sample's buffer to the next
            for i in range(n_out):
                out_base[i] = <int8_t *><uintptr_t>(out_rows[i].ctypes.data + guard)
                out_size[i] = out_rows[i].shape[1]
            with self._lock:
                fn = self._fn
                if fn == NULL:
                    raise RuntimeError(f"model library {self.path} is closed")
                with nogil:
                    if self._reset != NULL:
                        self._reset()
                    rc = _qc_run_batch(fn, batch, n_in, n_out, in_base, in_size, out_base, out_size,
                                       in_ptrs, out_ptrs, arena, &b_failed)
        finally:
            free(in_base)
            free(in_ptrs)
            free(out_base)
            free(out_ptrs)
            free(in_size)
            free(out_size)
        if rc != 0:
            raise RuntimeError(
                f"model {self.name}: sample {b_failed} failed in layer {rc - 1} (return code {rc})"
            )
        names = [f"input {i}" for i in range(n_in)] + [f"output {i}" for i in range(n_out)]
        tripped = [(_qc_first_tripped(rows, guard), name) for rows, name in zip(in_rows + out_rows, names)]
        tripped = sorted(t for t in tripped if t[0] >= 0)
        if tripped:
            raise RuntimeError(
                f"model {self.name}: sample {tripped[0][0]}: the canary bytes around {tripped[0][1]} changed (I/O guard)"
            )
        for o, rows in zip(outputs, out_rows):
            o.reshape(batch, -1).view(np.uint8)[...] = rows[:, guard:rows.shape[1] - guard]
        return outputs

