"""How the simulator's kernels are compiled (numba, cached on disk, no fastmath: results must be
bit-identical for any batch).

- `kernel`: a function called from Python (an entry point: step, reset, sensors, batch helpers);
- `parallel_kernel`: an entry point whose outer loop is `prange` over worlds;
- `inner`: called only from other kernels. It has no CPython wrapper (a third of the compile time
  of a small function) and no reference counting (`_nrt=False`): numba's atomic incref/decref
  on every array a function touches cost ~0.25 us per call, more than most of these functions
  do. So an inner kernel must not allocate: temporaries live in the World's `Workspace`.
"""

from __future__ import annotations

from numba import njit

_OPTIONS = {"cache": True, "error_model": "numpy"}  # numpy semantics for x / 0 (inf, nan): no exception paths
kernel = njit(**_OPTIONS)
parallel_kernel = njit(parallel=True, **_OPTIONS)
inner = njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, error_model="numpy")
part = njit(inline="always", no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, error_model="numpy")
