"""Analytic 2D ray casting: compiled scalar kernels (`ray_box`, `ray_segment`) and batched forms
over many worlds, beams and objects.

Conventions: lengths in metres [m], angles in radians [rad], yaw counter-clockwise from the world
x axis. Shapes use B = worlds, N = beams per world, K = boxes per world, S = segments per world.
The batched functions return ``(dist, idx)``: ``dist`` (B, N) float32 [m] is the nearest hit along
each ray, ``max_range`` where nothing is hit within range, and 0 for a ray that starts inside a
box or on a segment; ``idx`` (B, N) int32 is the index of the object hit (the lowest on ties), -1
for none. Everything is computed in float64 on positions made relative to the ray origin.

Boundaries count as part of the object (closed sets): a ray starting on a box edge, or running
exactly along one, touches it. A ray parallel to a segment never hits it, even when collinear.
Hits less than ``BEHIND_TOL`` behind the origin also count, as 0.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange
from numpy.typing import ArrayLike

from drivesim.jit import inner, parallel_kernel

__all__ = ["beam_directions", "beam_offsets", "merge_hits", "ray_box", "ray_box_distances", "ray_segment",
           "ray_segment_distances"]

_FULL_CIRCLE = 2.0 * np.pi  # [rad]
_FULL_CIRCLE_TOL = 1e-6  # [rad] a fov this close to 2*pi is treated as a full circle
TINY = 1e-30  # [m] an origin this close to a box face lies on it
BEHIND_TOL = 1e-6  # [m] hits this little behind the origin count (as distance 0)


@inner
def ray_box(ox: float, oy: float, dx: float, dy: float, cx: float, cy: float, c: float, s: float, hx: float,
            hy: float) -> float:
    """Distance [m] along the unit direction (dx, dy) from (ox, oy) to the oriented box (centre,
    heading (cos c, sin s), half extents hx along it and hy across): 0 if the origin is inside or on
    the box, inf if the ray misses it (slab method in the box frame)."""
    rx, ry = ox - cx, oy - cy
    near, far = -math.inf, math.inf
    for axis in range(2):
        if axis == 0:
            p, u, h = c * rx + s * ry, c * dx + s * dy, hx
        else:
            p, u, h = -s * rx + c * ry, -s * dx + c * dy, hy
        lo, hi = -h - p, h - p  # plane offsets along this box axis
        if abs(lo) < TINY:
            lo = -TINY
        if abs(hi) < TINY:
            hi = TINY
        if u == 0.0:
            if lo > 0.0 or hi < 0.0:
                return math.inf  # parallel to this slab and outside it
            continue
        t1, t2 = lo / u, hi / u
        near, far = max(near, min(t1, t2)), min(far, max(t1, t2))
    if far < near or far < -BEHIND_TOL:
        return math.inf
    return max(near, 0.0) + 0.0  # + 0.0: -0.0 -> 0.0


@inner
def ray_segment(ox: float, oy: float, dx: float, dy: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance [m] along the unit direction (dx, dy) from (ox, oy) to the segment a-b (endpoints
    included), inf if missed or parallel."""
    ex, ey = bx - ax, by - ay
    wx, wy = ax - ox, ay - oy
    denom = dx * ey - dy * ex  # cross(d, e)
    if denom == 0.0:
        return math.inf
    t = (wx * ey - wy * ex) / denom  # cross(w, e) / cross(d, e)
    f = (wx * dy - wy * dx) / denom  # cross(w, d) / cross(d, e): fraction along the segment
    if t < -BEHIND_TOL or f < 0.0 or f > 1.0:
        return math.inf
    return max(t, 0.0) + 0.0


@parallel_kernel
def _cast_boxes(origins: np.ndarray, dirs: np.ndarray, boxes: np.ndarray, mask: np.ndarray, max_range: float,
                dist: np.ndarray, idx: np.ndarray) -> None:
    """boxes (B, K, 5): cx, cy, yaw, hx, hy."""
    for index in prange(origins.shape[0]):
        b = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        for n in range(dirs.shape[1]):
            best, hit = math.inf, -1
            for k in range(boxes.shape[1]):
                if mask[b, k]:
                    t = ray_box(origins[b, 0], origins[b, 1], dirs[b, n, 0], dirs[b, n, 1], boxes[b, k, 0],
                                boxes[b, k, 1], math.cos(boxes[b, k, 2]), math.sin(boxes[b, k, 2]), boxes[b, k, 3],
                                boxes[b, k, 4])
                    if t < best:
                        best, hit = t, k
            dist[b, n], idx[b, n] = (best, hit) if best <= max_range else (max_range, -1)


@parallel_kernel
def _cast_segments(origins: np.ndarray, dirs: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray, mask: np.ndarray,
                   max_range: float, dist: np.ndarray, idx: np.ndarray) -> None:
    for index in prange(origins.shape[0]):
        b = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        for n in range(dirs.shape[1]):
            best, hit = math.inf, -1
            for k in range(seg_a.shape[1]):
                if mask[b, k]:
                    t = ray_segment(origins[b, 0], origins[b, 1], dirs[b, n, 0], dirs[b, n, 1], seg_a[b, k, 0],
                                    seg_a[b, k, 1], seg_b[b, k, 0], seg_b[b, k, 1])
                    if t < best:
                        best, hit = t, k
            dist[b, n], idx[b, n] = (best, hit) if best <= max_range else (max_range, -1)


def ray_box_distances(origins: ArrayLike, dirs: ArrayLike, centers: ArrayLike, yaws: ArrayLike,
                      half_extents: ArrayLike, mask: ArrayLike, max_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Cast rays against oriented boxes.

    Args:
        origins: (B, 2) [m] ray start per world.
        dirs: (B, N, 2) unit direction per beam, world frame.
        centers: (B, K, 2) [m] box centres.
        yaws: (B, K) [rad] box headings.
        half_extents: (B, K, 2) [m] (half length along heading, half width), > 0.
        mask: (B, K) bool, False = padding (ignored).
        max_range: [m] maximum range, > 0.
    """
    origins, dirs, max_range = _prepare_rays(origins, dirs, max_range)
    centers = np.asarray(centers, np.float64)
    yaws = np.asarray(yaws, np.float64)
    half_extents = np.asarray(half_extents, np.float64)
    mask = np.ascontiguousarray(mask, bool)
    _check_objects(origins, centers, mask, "centers")
    if yaws.shape != mask.shape or half_extents.shape != centers.shape:
        raise ValueError(f"yaws {yaws.shape} / half_extents {half_extents.shape} do not match centers {centers.shape}")
    boxes = np.ascontiguousarray(np.concatenate([centers, yaws[..., None], half_extents], axis=-1))
    dist, idx = _outputs(origins.shape[0], dirs.shape[1])
    _cast_boxes(origins, dirs, boxes, mask, max_range, dist, idx)
    return dist.astype(np.float32), idx


def ray_segment_distances(origins: ArrayLike, dirs: ArrayLike, seg_a: ArrayLike, seg_b: ArrayLike, mask: ArrayLike,
                          max_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Cast rays against line segments seg_a -> seg_b (B, S, 2) [m] (mask (B, S), False = padding)."""
    origins, dirs, max_range = _prepare_rays(origins, dirs, max_range)
    seg_a = np.ascontiguousarray(seg_a, np.float64)
    seg_b = np.ascontiguousarray(seg_b, np.float64)
    mask = np.ascontiguousarray(mask, bool)
    _check_objects(origins, seg_a, mask, "seg_a")
    if seg_b.shape != seg_a.shape:
        raise ValueError(f"seg_b shape {seg_b.shape} != seg_a shape {seg_a.shape}")
    dist, idx = _outputs(origins.shape[0], dirs.shape[1])
    _cast_segments(origins, dirs, seg_a, seg_b, mask, max_range, dist, idx)
    return dist.astype(np.float32), idx


def beam_directions(yaw: ArrayLike, n_beams: int, fov: float) -> np.ndarray:
    """Unit beam directions (B, N, 2) float32, evenly spread over ``fov`` [rad], centred on the
    sensor heading yaw (B,) [rad] (see ``beam_offsets``)."""
    yaw = np.asarray(yaw, np.float64)
    if yaw.ndim != 1:
        raise ValueError(f"yaw must have shape (B,), got {yaw.shape}")
    angles = yaw[:, None] + beam_offsets(n_beams, fov)[None, :]  # (B, N) [rad]
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1).astype(np.float32)


def beam_offsets(n_beams: int, fov: float) -> np.ndarray:
    """(N,) float64 [rad] beam angles relative to the sensor heading. For a full circle (fov ==
    2*pi) beam j points at j * 2*pi/N (beam 0 forward, counter-clockwise, no duplicate at +-pi);
    otherwise the beams span [-fov/2, fov/2] inclusive, right to left (a single beam points ahead)."""
    if n_beams < 1:
        raise ValueError(f"n_beams must be >= 1, got {n_beams}")
    if not 0.0 <= fov <= _FULL_CIRCLE + _FULL_CIRCLE_TOL:
        raise ValueError(f"fov must be in [0, 2*pi], got {fov}")
    if abs(fov - _FULL_CIRCLE) <= _FULL_CIRCLE_TOL:
        return np.arange(n_beams, dtype=np.float64) * (_FULL_CIRCLE / n_beams)
    if n_beams == 1:
        return np.zeros(1, dtype=np.float64)
    return np.linspace(-0.5 * fov, 0.5 * fov, n_beams, dtype=np.float64)


def merge_hits(*pairs: tuple[ArrayLike, ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise nearest of several ``(dist, idx_or_class)`` pairs of (B, N) arrays; ties go to
    the earlier pair."""
    if not pairs:
        raise ValueError("merge_hits needs at least one (dist, idx) pair")
    dists = [np.asarray(d) for d, _ in pairs]
    labels = [np.asarray(i) for _, i in pairs]
    best_dist = dists[0].astype(np.result_type(*dists), copy=True)
    best_label = labels[0].astype(np.result_type(*labels), copy=True)
    for dist, label in zip(dists[1:], labels[1:], strict=True):  # loop over the few pairs only
        closer = dist < best_dist  # strict: ties keep the earlier pair
        best_dist = np.where(closer, dist, best_dist)
        best_label = np.where(closer, label, best_label)
    return best_dist, best_label


def _outputs(n_worlds: int, n_beams: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((n_worlds, n_beams), dtype=np.float64), np.empty((n_worlds, n_beams), dtype=np.int32)


def _prepare_rays(origins: ArrayLike, dirs: ArrayLike, max_range: float) -> tuple[np.ndarray, np.ndarray, float]:
    origins = np.ascontiguousarray(origins, np.float64)
    dirs = np.asarray(dirs)
    if origins.ndim != 2 or origins.shape[1] != 2:
        raise ValueError(f"origins must have shape (B, 2), got {origins.shape}")
    if dirs.ndim != 3 or dirs.shape[2] != 2 or dirs.shape[0] != origins.shape[0]:
        raise ValueError(f"dirs must have shape (B, N, 2) with B={origins.shape[0]}, got {dirs.shape}")
    max_range = float(max_range)
    if not max_range > 0.0:
        raise ValueError(f"max_range must be > 0, got {max_range}")
    return origins, np.ascontiguousarray(dirs, np.float64), max_range


def _check_objects(origins: np.ndarray, points: np.ndarray, mask: np.ndarray, name: str) -> None:
    n_worlds = origins.shape[0]
    if points.ndim != 3 or points.shape[0] != n_worlds or points.shape[2] != 2:
        raise ValueError(f"{name} must have shape (B, M, 2) with B={n_worlds}, got {points.shape}")
    if mask.shape != points.shape[:2]:
        raise ValueError(f"mask must have shape {points.shape[:2]}, got {mask.shape}")
