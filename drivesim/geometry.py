"""Small vectorised 2D geometry helpers. Angles in radians, lengths in metres."""

from __future__ import annotations

import numpy as np


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


def to_local(dx: np.ndarray, dy: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-frame offsets (dx, dy) -> frame rotated by yaw (x forward, y left)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return c * dx + s * dy, -s * dx + c * dy


def box_corners(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, length: float | np.ndarray,
                width: float | np.ndarray) -> np.ndarray:
    """Corners of oriented boxes, (..., 4, 2), counter-clockwise from front-left."""
    c, s = np.cos(yaw)[..., None], np.sin(yaw)[..., None]
    lx = np.array([0.5, -0.5, -0.5, 0.5]) * np.asarray(length)[..., None]
    ly = np.array([0.5, 0.5, -0.5, -0.5]) * np.asarray(width)[..., None]
    return np.stack([x[..., None] + c * lx - s * ly, y[..., None] + s * lx + c * ly], axis=-1)


def obb_overlap(ax: np.ndarray, ay: np.ndarray, ayaw: np.ndarray, alen: float, awid: float,
                bx: np.ndarray, by: np.ndarray, byaw: np.ndarray, blen: float | np.ndarray,
                bwid: float | np.ndarray) -> np.ndarray:
    """Separating-axis test between oriented boxes A and B (broadcast shapes) -> bool."""
    dx, dy = bx - ax, by - ay
    axes = (ayaw, ayaw + np.pi / 2, byaw, byaw + np.pi / 2)
    overlap = np.ones(np.broadcast(dx, byaw).shape, dtype=bool)
    for axis in axes:  # four separating axes (a fixed loop, not over actors)
        ux, uy = np.cos(axis), np.sin(axis)
        dist = np.abs(dx * ux + dy * uy)
        ra = _half_projection(ayaw, alen, awid, ux, uy)
        rb = _half_projection(byaw, blen, bwid, ux, uy)
        overlap &= dist <= ra + rb
    return overlap


def _half_projection(yaw: np.ndarray, length: float | np.ndarray, width: float | np.ndarray,
                     ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return 0.5 * np.asarray(length) * np.abs(c * ux + s * uy) + 0.5 * np.asarray(width) * np.abs(-s * ux + c * uy)
