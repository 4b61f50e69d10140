"""Queries on the lane polylines of a map pool: vectorised numpy forms for the Python side
(rendering, tests) and compiled scalar forms for the kernels (same arithmetic)."""

from __future__ import annotations

import math

import numpy as np

from drivesim.jit import inner, kernel
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


@inner
def pose(samples: np.ndarray, m: int, lane: int, s: float) -> tuple[float, float, float]:
    """(x, y) [m] and heading [rad] at arc length s [m] along `lane` of map m (as `lane_pose`);
    samples (M, L, P) SAMPLE."""
    n_pts = samples.shape[2]
    f = min(max(s / LANE_DS, 0.0), n_pts - 1.001)
    i = int(f)
    frac = f - i
    p0, p1 = samples[m, lane, i], samples[m, lane, i + 1]
    return p0.x + (p1.x - p0.x) * frac, p0.y + (p1.y - p0.y) * frac, p0.yaw


@inner
def project(samples: np.ndarray, m: int, lane: int, x: float, y: float) -> tuple[float, float, float]:
    """Project (x, y) onto `lane`: s [m] along it (may exceed its length slightly past the end,
    never below 0), signed lateral offset [m] (left positive) and the distance [m] to the nearest
    polyline sample. Scans every sample, the padding past the end included."""
    best, i = math.inf, 0
    for k in range(samples.shape[2]):
        p = samples[m, lane, k]
        d2 = (x - p.x) ** 2 + (y - p.y) ** 2
        if d2 < best:
            best, i = d2, k
    p = samples[m, lane, i]
    ex, ey = x - p.x, y - p.y
    c, s = math.cos(p.yaw), math.sin(p.yaw)
    return max(i * LANE_DS + c * ex + s * ey, 0.0), -s * ex + c * ey, math.hypot(ex, ey)


@kernel
def project_batch(samples: np.ndarray, m: np.ndarray, lane: np.ndarray, x: np.ndarray, y: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(x)
    s, lat, d = np.empty(n), np.empty(n), np.empty(n)
    for k in range(n):
        s[k], lat[k], d[k] = project(samples, m[k], lane[k], x[k], y[k])
    return s, lat, d


def project_to_lane(pool: MapPool, map_idx: np.ndarray, lane: np.ndarray, x: np.ndarray, y: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project points (B,) onto lanes (B,): s [m], signed lateral offset [m], distance [m] (see `project`)."""
    b = len(x)
    as_i = lambda a: np.ascontiguousarray(np.broadcast_to(a, (b,)), dtype=np.int64)  # noqa: E731
    as_f = lambda a: np.ascontiguousarray(np.broadcast_to(a, (b,)), dtype=np.float64)  # noqa: E731
    return project_batch(pool.kernel.samples, as_i(map_idx), as_i(lane), as_f(x), as_f(y))
