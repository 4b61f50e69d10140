"""Small 2D geometry helpers: vectorised numpy forms and compiled scalar forms for the kernels.
Angles in radians, lengths in metres."""

from __future__ import annotations

import math

import numpy as np

from drivesim.jit import inner, kernel


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


def box_corners(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, length: float | np.ndarray,
                width: float | np.ndarray) -> np.ndarray:
    """Corners of oriented boxes, (..., 4, 2), counter-clockwise from front-left."""
    c, s = np.cos(yaw)[..., None], np.sin(yaw)[..., None]
    lx = np.array([0.5, -0.5, -0.5, 0.5]) * np.asarray(length)[..., None]
    ly = np.array([0.5, 0.5, -0.5, -0.5]) * np.asarray(width)[..., None]
    return np.stack([x[..., None] + c * lx - s * ly, y[..., None] + s * lx + c * ly], axis=-1)


def obb_overlap(ax: np.ndarray, ay: np.ndarray, ayaw: np.ndarray, alen: float | np.ndarray, awid: float | np.ndarray,
                bx: np.ndarray, by: np.ndarray, byaw: np.ndarray, blen: float | np.ndarray,
                bwid: float | np.ndarray) -> np.ndarray:
    """`boxes_overlap` (the step's separating-axis test) over broadcast arrays -> bool."""
    args = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (ax, ay, ayaw, alen, awid, bx, by, byaw,
                                                                            blen, bwid)))
    flat = [np.ascontiguousarray(a).reshape(-1) for a in args]
    return _overlap_many(*flat).reshape(args[0].shape)


# ------------------------------------------------------------------------------ compiled forms
@inner
def wrap(a: float) -> float:
    """Wrap an angle to [-pi, pi) (as `wrap_angle`)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


@inner
def _half_extent(c: float, s: float, length: float, width: float, ux: float, uy: float) -> float:
    return 0.5 * length * abs(c * ux + s * uy) + 0.5 * width * abs(-s * ux + c * uy)


@inner
def boxes_overlap(ax: float, ay: float, ayaw: float, alen: float, awid: float,
                  bx: float, by: float, byaw: float, blen: float, bwid: float) -> bool:
    """Separating-axis test between two oriented boxes (as `obb_overlap`)."""
    dx, dy = bx - ax, by - ay
    ca, sa, cb, sb = math.cos(ayaw), math.sin(ayaw), math.cos(byaw), math.sin(byaw)
    for k in range(4):
        if k == 0:
            ux, uy = ca, sa
        elif k == 1:
            ux, uy = -sa, ca
        elif k == 2:
            ux, uy = cb, sb
        else:
            ux, uy = -sb, cb
        ra = _half_extent(ca, sa, alen, awid, ux, uy)
        rb = _half_extent(cb, sb, blen, bwid, ux, uy)
        if abs(dx * ux + dy * uy) > ra + rb:
            return False
    return True


@kernel
def _overlap_many(ax: np.ndarray, ay: np.ndarray, ayaw: np.ndarray, alen: np.ndarray, awid: np.ndarray,
                  bx: np.ndarray, by: np.ndarray, byaw: np.ndarray, blen: np.ndarray, bwid: np.ndarray) -> np.ndarray:
    out = np.empty(len(ax), dtype=np.bool_)
    for i in range(len(ax)):
        out[i] = boxes_overlap(ax[i], ay[i], ayaw[i], alen[i], awid[i], bx[i], by[i], byaw[i], blen[i], bwid[i])
    return out
