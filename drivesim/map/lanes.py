"""Vectorised queries on the lane polylines of a map pool."""

from __future__ import annotations

import numpy as np

from drivesim.map.city import LANE_DS, MapPool


def lane_pose(pool: MapPool, map_idx: np.ndarray, lane: np.ndarray, s: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position (x, y) [m] and heading [rad] at arc length s [m] along lanes; all args broadcast
    (map_idx e.g. (B, 1) against lane and s (B, K))."""
    n_pts = pool.lane_pts.shape[2]
    f = np.clip(s / LANE_DS, 0.0, n_pts - 1.001)
    i = f.astype(np.int64)
    frac = f - i
    p0 = pool.lane_pts[map_idx, lane, i]  # (..., 2)
    p1 = pool.lane_pts[map_idx, lane, i + 1]
    xy = p0 + (p1 - p0) * frac[..., None]
    return xy[..., 0], xy[..., 1], pool.lane_yaw[map_idx, lane, i]


def project_to_lane(pool: MapPool, map_idx: np.ndarray, lane: np.ndarray, x: np.ndarray, y: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project points (B,) onto lanes (B,): returns s [m] along the lane (may exceed its length
    slightly past the end, never below 0), signed lateral offset [m] (positive = left of the lane)
    and the distance [m] to the nearest sample."""
    pts = pool.lane_pts[map_idx, lane]  # (B, P, 2)
    dx = x[:, None] - pts[..., 0]
    dy = y[:, None] - pts[..., 1]
    i = np.argmin(dx * dx + dy * dy, axis=1)
    rows = np.arange(len(x))
    yaw = pool.lane_yaw[map_idx, lane, i]
    ex, ey = dx[rows, i], dy[rows, i]
    c, s_ = np.cos(yaw), np.sin(yaw)
    along = c * ex + s_ * ey
    lateral = -s_ * ex + c * ey
    return np.maximum(i * LANE_DS + along, 0.0), lateral, np.hypot(ex, ey)
