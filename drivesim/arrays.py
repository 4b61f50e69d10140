"""Helpers for batched arrays."""

from __future__ import annotations

import numpy as np


def compact(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column indices (B, n) of the True entries of mask (B, N), left-packed in order, and their
    validity (B, n); n = the largest count in any row (at least 1). Lets pairwise tests run over
    the few relevant actors instead of all of them."""
    n = max(int(mask.sum(axis=1).max(initial=0)), 1)
    idx = np.argsort(~mask, axis=1, kind="stable")[:, :n]
    return idx, np.take_along_axis(mask, idx, axis=1)
