"""Counter-based random numbers: a pure function of (world seed, episode, step, stream, index).

Each world draws from its own keyed stream, so a world's trajectory does not depend on which other
worlds share its batch: a single env seeded `s + i` is bit-identical to row `i` of a batch seeded `s`.
The mixer is SplitMix64 (Steele et al., 2014) applied to a combined 64-bit key, vectorised in numpy.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


class Stream(IntEnum):
    """Independent random streams, one per purpose."""

    MAP_CHOICE = 1
    EGO_SPAWN = 2
    ROUTE_GOAL = 3
    CAR_SPAWN = 4
    CAR_TURN = 5
    CAR_SPEED = 6
    PED_SPAWN = 7
    PED_TURN = 8
    PED_SPEED = 9
    PED_JAYWALK = 10
    SIGNAL_OFFSET = 11
    SCENARIO = 12


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash_u64(*keys: np.ndarray | int) -> np.ndarray:
    """Hash broadcastable integer key arrays into uint64 (B, ...)."""
    with np.errstate(over="ignore"):
        acc = np.zeros((), dtype=np.uint64)
        for key in keys:
            k = np.asarray(key).astype(np.uint64)
            acc = _mix(acc * _GOLDEN + k + _GOLDEN)
    return acc


def uniform(*keys: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1) with 53 random bits, shape = broadcast of the keys (float64)."""
    return (hash_u64(*keys) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def integers(n: np.ndarray | int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform integers in [0, n) (n >= 1, broadcastable), int64."""
    return np.minimum((uniform(*keys) * n).astype(np.int64), np.asarray(n) - 1)
