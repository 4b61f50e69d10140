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

from collections.abc import Callable
from typing import Any

from numba import njit

_OPTIONS = {"cache": True, "error_model": "numpy"}  # numpy semantics for x / 0 (inf, nan): no exception paths
inner = njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, error_model="numpy")
part = njit(inline="always", no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, error_model="numpy")
ENTRY_POINTS: list[Any] = []  # every kernel / parallel_kernel dispatcher, for `cache_report`


def kernel(fn: Callable) -> Any:
    ENTRY_POINTS.append(njit(**_OPTIONS)(fn))
    return ENTRY_POINTS[-1]


def parallel_kernel(fn: Callable) -> Any:
    ENTRY_POINTS.append(njit(parallel=True, **_OPTIONS)(fn))
    return ENTRY_POINTS[-1]


def cache_report() -> dict[str, dict[str, Any]]:
    """For every entry kernel compiled or loaded in this process: where its cache lives and how
    many of its signatures came from the cache (hits) or had to be compiled (misses)."""
    report = {}
    for dispatcher in ENTRY_POINTS:
        if dispatcher.signatures:
            stats = dispatcher.stats
            report[f"{dispatcher.py_func.__module__}.{dispatcher.__name__}"] = {
                "path": stats.cache_path, "hits": sum(stats.cache_hits.values()),
                "misses": sum(stats.cache_misses.values())}
    return report
