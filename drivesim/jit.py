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

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numba import njit

PACKAGE = Path(__file__).resolve().parent
NO_KERNELS = ("agents", "apps")  # subpackages that define no kernels: editing them keeps the cache


def source_key(package: Path = PACKAGE) -> str:
    """A hash of the sources the kernels are compiled from (every module of the package outside
    NO_KERNELS: kernels also bake in other modules' constants)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] not in NO_KERNELS:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_stale_cache(package: Path = PACKAGE) -> bool:
    """Delete the package's in-tree numba cache (`__pycache__/*.nbi, *.nbc`) when its sources changed
    since it was written; True if it did.

    numba checks a cached kernel against its own file only, not against the inner kernels it
    inlines from other files (numba issue #1833): after an edit of events.py the step kernel of
    step.py kept the old reward. A key of all kernel sources next to the cache catches that. An
    install nobody edits (site-packages, or the user-wide cache of a read-only one) never changes,
    so only the in-tree cache of a checkout needs it."""
    marker = package / "__pycache__" / "kernel_sources.sha256"
    key = source_key(package)
    try:
        if marker.read_text() == key:
            return False
    except OSError:
        pass
    stale = [p for pattern in ("*.nbi", "*.nbc") for p in package.rglob(f"__pycache__/{pattern}")]
    try:
        for path in stale:
            path.unlink(missing_ok=True)
        marker.parent.mkdir(exist_ok=True)
        marker.write_text(key)
    except OSError:  # a read-only install: nothing of it changes
        return False
    return bool(stale)


drop_stale_cache()  # before any kernel below is decorated (and its cache index read)

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
