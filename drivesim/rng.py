"""Counter-based random numbers: a pure function of (world seed, episode, step, stream, index).

Each world draws from its own keyed stream, so a world's trajectory does not depend on which other
worlds share its batch: a single env seeded `s + i` is bit-identical to row `i` of a batch seeded `s`.
The mixer is SplitMix64 (Steele et al., 2014) applied to a combined 64-bit key. `uniform` and
`integers` are the vectorised numpy forms (used at the Python level); `uniform3`..`uniform6` are
the same function compiled for the kernels (one per number of keys), bit-identical to them.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


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
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


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
    return (hash_u64(*keys) >> _S11).astype(np.float64) * _TO_UNIT


def integers(n: np.ndarray | int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform integers in [0, n) (n >= 1, broadcastable), int64."""
    return np.minimum((uniform(*keys) * n).astype(np.int64), np.asarray(n) - 1)


# ------------------------------------------------------------------------------ compiled forms
@njit(cache=True)
def _fold(acc: np.uint64, key: int) -> np.uint64:
    z = acc * _GOLDEN + np.uint64(key) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _unit(h: np.uint64) -> float:
    return float(h >> _S11) * _TO_UNIT


@njit(cache=True)
def uniform3(k0: int, k1: int, k2: int) -> float:
    """uniform(k0, k1, k2) for scalar keys."""
    return _unit(_fold(_fold(_fold(np.uint64(0), k0), k1), k2))


@njit(cache=True)
def uniform4(k0: int, k1: int, k2: int, k3: int) -> float:
    return _unit(_fold(_fold(_fold(_fold(np.uint64(0), k0), k1), k2), k3))


@njit(cache=True)
def uniform5(k0: int, k1: int, k2: int, k3: int, k4: int) -> float:
    return _unit(_fold(_fold(_fold(_fold(_fold(np.uint64(0), k0), k1), k2), k3), k4))


@njit(cache=True)
def uniform6(k0: int, k1: int, k2: int, k3: int, k4: int, k5: int) -> float:
    return _unit(_fold(_fold(_fold(_fold(_fold(_fold(np.uint64(0), k0), k1), k2), k3), k4), k5))


@njit(cache=True)
def pick(n: int, u: float) -> int:
    """Integer in [0, n) from a uniform u (n >= 1), as `integers` does."""
    return min(int(u * n), n - 1)
