"""Small compiled array helpers."""

from __future__ import annotations

import numpy as np

from drivesim.jit import inner


def batch_rows(batch_size: int, rows: np.ndarray | None) -> np.ndarray:
    """World indices (R,) int64 for the kernels that compute some worlds of a batch: `rows`, or all."""
    return np.arange(batch_size, dtype=np.int64) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)


@inner
def smallest(keys: np.ndarray, n: int, k: int) -> int:
    """Put the indices of the (at most) k smallest finite `keys[:n].key` into `keys[:k].order`, in
    increasing order (ties: the lower index first); returns how many. keys (>= n,) KEY records
    (workspace). A selection in k passes, for the small k of actor counts."""
    for i in range(n):
        keys[i].taken = False
    count = 0
    for j in range(min(k, n)):
        best, pick = np.inf, -1
        for i in range(n):
            if not keys[i].taken and keys[i].key < best:
                best, pick = keys[i].key, i
        if pick < 0:
            break
        keys[pick].taken = True
        keys[j].order = pick
        count += 1
    return count
