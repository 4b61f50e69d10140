"""Helpers for batched arrays."""

from __future__ import annotations

import numpy as np


def compact(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column indices (B, n) of the True entries of mask (B, N), left-packed in order, and their
    validity (B, n); n = the largest count in any row (at least 1). Lets pairwise tests run over
    the few relevant actors instead of all of them."""
    n = max(int(mask.sum(axis=1).max(initial=0)), 1)
    idx = np.argsort(~mask, axis=1, kind="stable")[:, :n]
    return idx, take(mask, idx)


_ROWS: dict[tuple[int, int], np.ndarray] = {}


def take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`np.take_along_axis(a, idx, axis=1)` for a (B, N, ...) and idx (B, n), without its
    per-call overhead (the row index is cached)."""
    key = (a.shape[0], idx.ndim)
    rows = _ROWS.get(key)
    if rows is None:
        rows = _ROWS[key] = np.arange(a.shape[0]).reshape((-1,) + (1,) * (idx.ndim - 1))
    return a[rows, idx]
