"""Intelligent Driver Model (Treiber, Hennecke & Helbing, 2000)."""

from __future__ import annotations

import math

import numpy as np

from drivesim.jit import inner, kernel

MAX_DECEL = 8.0  # [m/s^2] physical braking limit of NPC cars


@inner
def idm(v: float, v0: float, gap: float, v_lead: float, a: float, b: float, time_headway: float,
        min_gap: float) -> float:
    """IDM acceleration [m/s^2], clipped to [-MAX_DECEL, a]. gap [m] bumper-to-bumper (inf = free
    road), v_lead [m/s] leader speed, v0 [m/s] desired speed."""
    ratio = v / max(v0, 0.1)
    free = 1.0 - ratio * ratio * ratio * ratio
    interaction = 0.0
    if math.isfinite(gap):
        s_star = min_gap + max(0.0, v * time_headway + v * (v - v_lead) / (2.0 * math.sqrt(a * b)))
        q = s_star / max(gap, 0.1)
        interaction = q * q
    return min(max(a * (free - interaction), -MAX_DECEL), a)


@kernel
def _idm_many(v: np.ndarray, v0: np.ndarray, gap: np.ndarray, v_lead: np.ndarray, a: float, b: float,
              time_headway: float, min_gap: float) -> np.ndarray:
    out = np.empty(len(v))
    for i in range(len(v)):
        out[i] = idm(v[i], v0[i], gap[i], v_lead[i], a, b, time_headway, min_gap)
    return out


def idm_accel(v: np.ndarray, v0: np.ndarray, gap: np.ndarray, v_lead: np.ndarray, *, a: float, b: float,
              time_headway: float, min_gap: float) -> np.ndarray:
    """`idm` over broadcast arrays."""
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (v, v0, gap, v_lead)))
    flat = [np.ascontiguousarray(x).reshape(-1) for x in arrays]
    return _idm_many(*flat, float(a), float(b), float(time_headway), float(min_gap)).reshape(arrays[0].shape)
