"""Intelligent Driver Model (Treiber, Hennecke & Helbing, 2000)."""

from __future__ import annotations

import numpy as np

MAX_DECEL = 8.0  # [m/s^2] physical braking limit of NPC cars


def idm_accel(v: np.ndarray, v0: np.ndarray, gap: np.ndarray, v_lead: np.ndarray, *, a: float, b: float,
              time_headway: float, min_gap: float) -> np.ndarray:
    """IDM acceleration [m/s^2] (broadcast shapes). gap [m] bumper-to-bumper (inf = free road),
    v_lead [m/s] leader speed, v0 [m/s] desired speed."""
    dv = v - v_lead
    s_star = min_gap + np.maximum(0.0, v * time_headway + v * dv / (2.0 * np.sqrt(a * b)))
    interaction = np.where(np.isfinite(gap), (s_star / np.maximum(gap, 0.1)) ** 2, 0.0)
    free = 1.0 - (v / np.maximum(v0, 0.1)) ** 4
    return np.clip(a * (free - interaction), -MAX_DECEL, a)
