"""Analytic 2D lidar ray casting, batched over worlds with numpy.

Conventions: lengths in metres [m], angles in radians [rad], yaw counter-clockwise from the
world x axis (x forward, y left in a body frame). Shapes use B = worlds, N = beams per world,
K = boxes per world, S = segments per world.

The kernels return ``(dist, idx)``: ``dist`` (B, N) float32 [m] is the nearest hit along each
ray, ``max_range`` where nothing is hit within range, and 0 for a ray that starts inside a box
or on a segment; ``idx`` (B, N) int32 is the index of the object hit, -1 for none.

How it is made fast (all vectorised, no Python loops over worlds, beams or objects):

* Work arrays are laid out (B, K, N): the reduction over objects then runs over a middle axis
  with a contiguous beam axis, which numpy reduces much faster than a short last axis.
* A hit distance has the form ``t = c / (a . d)`` with c and the 2-vector a per object and d
  per beam. Dividing a by c up front (O(B*K) work) turns every (object, beam) pair into one
  batched ``matmul`` (B, K, 2) @ (B, 2, N) followed by one contiguous ``1 / x``; broadcast
  divisions would cost several times more. (For boxes only the near plane of each slab is
  done this way; the far plane follows by a per-box ratio, see ``_box_slab_rows``.)
* Positions are made relative to the sensor in float64 before the cast to the compute dtype,
  so city-scale world coordinates do not cost float32 precision.
* Masked (padding) objects get NaN geometry. NaN propagates through matmul, reciprocal and
  ``np.minimum``/``np.maximum`` and fails every ``>=`` test, so those objects are never hit.
  Rays parallel to a slab or segment give +-inf/NaN, which the hit tests also handle. This
  runs under ``np.errstate`` so no warnings are emitted.
* The index of the nearest object comes from one integer ``min`` over packed bit patterns
  (see ``_argmin_axis1``) instead of the slow ``np.argmin`` over a middle axis.
* Large scratch arrays are reused between calls (per thread, per kernel; see ``_scratch``):
  page-faulting fresh multi-megabyte temporaries every call costs more than the arithmetic.

Boundaries count as part of the object (closed sets): a ray starting on a box edge, or on a
segment, reads 0. Hits less than ``_BEHIND_TOL`` behind the origin also count, as 0.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["ray_box_distances", "ray_segment_distances", "beam_directions", "beam_offsets",
           "merge_hits"]

_FULL_CIRCLE = 2.0 * np.pi  # [rad]
_FULL_CIRCLE_TOL = 1e-6  # [rad] a fov this close to 2*pi is treated as a full circle
_TINY = 1e-30  # [m] or [m^2]; numerators smaller than this are clamped (keeps 1/c finite)
_BEHIND_TOL = 1e-6  # [m] hits this little behind the origin count (as distance 0)
_MAX_INDEX_BITS = 10  # up to 1024 objects use the packed argmin (see _argmin_axis1)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def ray_box_distances(
    origins: ArrayLike,
    dirs: ArrayLike,
    centers: ArrayLike,
    yaws: ArrayLike,
    half_extents: ArrayLike,
    mask: ArrayLike,
    max_range: float,
    *,
    compute_dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Cast rays against oriented boxes (slab method in each box's frame).

    Args:
        origins: (B, 2) [m] ray start per world.
        dirs: (B, N, 2) unit direction per beam, world frame.
        centers: (B, K, 2) [m] box centres.
        yaws: (B, K) [rad] box headings.
        half_extents: (B, K, 2) [m] (half length along heading, half width), > 0.
        mask: (B, K) bool, False = padding (ignored).
        max_range: [m] maximum range, > 0.
        compute_dtype: float32 (default, fastest) or float64 for the (B, K, N) arithmetic.

    Returns:
        dist: (B, N) float32 [m] nearest hit distance in [0, max_range]; max_range if no hit;
            0 for a ray starting inside (or on the edge of) a box.
        idx: (B, N) int32 index k of the hit box, -1 if nothing is hit within max_range.
    """
    ftype = _compute_dtype(compute_dtype)
    origins, dirs_t, max_range = _prepare_rays(origins, dirs, max_range, ftype)
    centers = np.asarray(centers, np.float64)  # (B, K, 2) [m]
    yaws = np.asarray(yaws, np.float64)  # (B, K) [rad]
    half_extents = np.asarray(half_extents, np.float64)  # (B, K, 2) [m]
    mask = np.asarray(mask, bool)  # (B, K)
    _check_objects(origins, centers, mask, "centers")
    if yaws.shape != mask.shape or half_extents.shape != centers.shape:
        raise ValueError(f"yaws {yaws.shape} / half_extents {half_extents.shape} do not match "
                         f"centers {centers.shape}")
    if centers.shape[1] == 0:
        return _no_hits(origins.shape[0], dirs_t.shape[2], max_range)

    rows, ratio = _box_slab_rows(origins, centers, yaws, half_extents, mask, ftype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        entry = _box_entry_distances(rows, ratio, dirs_t)
    return _nearest_hits(entry, max_range, "box")


def ray_segment_distances(
    origins: ArrayLike,
    dirs: ArrayLike,
    seg_a: ArrayLike,
    seg_b: ArrayLike,
    mask: ArrayLike,
    max_range: float,
    *,
    compute_dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Cast rays against line segments (2D cross-product formula).

    Args:
        origins: (B, 2) [m] ray start per world.
        dirs: (B, N, 2) unit direction per beam, world frame.
        seg_a, seg_b: (B, S, 2) [m] segment endpoints (endpoints belong to the segment).
        mask: (B, S) bool, False = padding (ignored).
        max_range: [m] maximum range, > 0.
        compute_dtype: float32 (default, fastest) or float64 for the (B, S, N) arithmetic.

    Returns:
        dist: (B, N) float32 [m] nearest hit distance in [0, max_range]; max_range if no hit.
        idx: (B, N) int32 index s of the hit segment, -1 if nothing is hit within max_range.

    A ray parallel to a segment never hits it, even when collinear and overlapping.
    """
    ftype = _compute_dtype(compute_dtype)
    origins, dirs_t, max_range = _prepare_rays(origins, dirs, max_range, ftype)
    seg_a = np.asarray(seg_a, np.float64)  # (B, S, 2) [m]
    seg_b = np.asarray(seg_b, np.float64)  # (B, S, 2) [m]
    mask = np.asarray(mask, bool)  # (B, S)
    _check_objects(origins, seg_a, mask, "seg_a")
    if seg_b.shape != seg_a.shape:
        raise ValueError(f"seg_b shape {seg_b.shape} != seg_a shape {seg_a.shape}")
    if seg_a.shape[1] == 0:
        return _no_hits(origins.shape[0], dirs_t.shape[2], max_range)

    rows = _segment_rows(origins, seg_a, seg_b, mask, ftype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = _segment_hit_distances(rows, dirs_t)
    return _nearest_hits(t, max_range, "seg")


def beam_directions(yaw: ArrayLike, n_beams: int, fov: float) -> np.ndarray:
    """Unit beam directions evenly spread over ``fov`` [rad], centred on the sensor heading.

    Args:
        yaw: (B,) [rad] sensor heading per world.
        n_beams: N >= 1.
        fov: [rad] field of view in [0, 2*pi].

    Returns:
        (B, N, 2) float32 unit vectors, world frame. For a full circle (fov == 2*pi) beam j
        points at yaw + j * 2*pi/N (beam 0 forward, counter-clockwise, no duplicate at +-pi);
        otherwise the beams span [yaw - fov/2, yaw + fov/2] inclusive, right to left
        (a single beam points at yaw).
    """
    yaw = np.asarray(yaw, np.float64)
    if yaw.ndim != 1:
        raise ValueError(f"yaw must have shape (B,), got {yaw.shape}")
    angles = yaw[:, None] + beam_offsets(n_beams, fov)[None, :]  # (B, N) [rad]
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1).astype(np.float32)


def beam_offsets(n_beams: int, fov: float) -> np.ndarray:
    """(N,) float64 [rad] beam angles relative to the sensor heading (see ``beam_directions``)."""
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
    """Element-wise nearest of several ``(dist, idx_or_class)`` pairs of (B, N) arrays.

    Returns the minimum distance and the idx/class of the pair that achieved it; ties go to
    the earlier pair. Output dtypes are the common dtypes of the inputs. Indices from different
    kernels overlap (box 3 vs segment 3): pass class ids or offset indices to tell them apart.
    """
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


# --------------------------------------------------------------------------------------------
# Boxes
# --------------------------------------------------------------------------------------------


def _box_slab_rows(
    origins: np.ndarray,
    centers: np.ndarray,
    yaws: np.ndarray,
    half_extents: np.ndarray,
    mask: np.ndarray,
    ftype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-box slab data (O(B*K) work, in ``ftype`` once positions are relative to the ray).

    In a box's frame the ray is p + t*u with p the ray origin and u = (a_x . d, a_y . d) for the
    box axes a_x = (cos, sin), a_y = (-sin, cos). It crosses the near-side plane x = -h_x at
    t_lo = c_lo / u_x = 1 / ((a_x / c_lo) . d) with c_lo = -h_x - p_x, and the plane x = +h_x
    at t_hi = t_lo * (c_hi / c_lo) with c_hi = h_x - p_x; likewise for y. Deriving t_hi from
    t_lo (rather than from its own dot product) keeps the two consistent when u_x ~ 0: the
    ray then lies inside the slab for all t exactly when c_lo < 0 < c_hi.

    Returns:
        rows: (2, B, K, 2) [1/m] a_x / c_lo and a_y / c_lo; NaN for masked boxes.
        ratio: (2, B, K, 1) [-] c_hi / c_lo for the x and y slabs; NaN for masked boxes.
    """
    rel = (origins[:, None, :] - centers).astype(ftype)  # (B, K, 2) [m] origin - centre
    yaws = yaws.astype(ftype)
    cos, sin = np.cos(yaws), np.sin(yaws)  # (B, K)
    p = np.stack([cos * rel[..., 0] + sin * rel[..., 1],
                  cos * rel[..., 1] - sin * rel[..., 0]])  # (2, B, K) [m] origin in box frame
    h = np.moveaxis(half_extents.astype(ftype), -1, 0)  # (2, B, K) [m]
    c_lo, c_hi = -h - p, h - p  # (2, B, K) [m] plane offsets along the box axes
    # An origin within _TINY of a plane counts as inside the slab (boundaries belong to the
    # box); this also keeps 1 / c_lo finite.
    c_lo[np.abs(c_lo) < _TINY] = -_TINY
    c_hi[np.abs(c_hi) < _TINY] = _TINY
    inv_lo = 1.0 / c_lo  # (2, B, K) [1/m]
    inv_lo[:, ~mask] = np.nan

    rows = _scratch("box_rows", (2, *cos.shape, 2), ftype)  # (2, B, K, 2) [1/m]
    np.multiply(cos, inv_lo[0], out=rows[0, ..., 0])  # a_x / c_lo
    np.multiply(sin, inv_lo[0], out=rows[0, ..., 1])
    np.multiply(-sin, inv_lo[1], out=rows[1, ..., 0])  # a_y / c_lo
    np.multiply(cos, inv_lo[1], out=rows[1, ..., 1])
    return rows, (c_hi * inv_lo)[..., None]


def _box_entry_distances(rows: np.ndarray, ratio: np.ndarray, dirs_t: np.ndarray) -> np.ndarray:
    """(B, K, N) [m] distance at which each ray enters each box, 0 if it starts inside, and
    >= finfo.max if it misses. ``rows``, ``ratio`` from ``_box_slab_rows``, ``dirs_t``
    (B, 2, N). Returns a scratch array (valid until the next call). Caller sets np.errstate."""
    _, n_worlds, n_boxes, _ = rows.shape
    t = _scratch("box_t", (4, n_worlds, n_boxes, dirs_t.shape[2]), rows.dtype)
    far = _scratch("box_far", t.shape[1:], rows.dtype)
    hit = _scratch("box_hit", t.shape[1:], bool)
    ok = _scratch("box_ok", t.shape[1:], bool)

    for axis in range(2):  # box x and y axes (a fixed count, not a loop over data)
        np.matmul(rows[axis], dirs_t, out=t[axis])  # (B, K, N) [1/m] 1 / t_lo
    np.divide(1.0, t[:2], out=t[:2])  # [m] distance to the low planes, +-inf when parallel
    np.multiply(t[:2], ratio, out=t[2:])  # [m] distance to the high planes
    x_lo, y_lo, x_hi, y_hi = t  # (B, K, N) [m] each, reused in place below

    np.maximum(x_lo, x_hi, out=far)  # leave x slab
    np.minimum(x_lo, x_hi, out=x_lo)  # enter x slab
    np.maximum(y_lo, y_hi, out=x_hi)  # leave y slab
    np.minimum(y_lo, y_hi, out=y_lo)  # enter y slab
    near = np.maximum(x_lo, y_lo, out=x_lo)  # enter box (negative: started inside)
    np.minimum(far, x_hi, out=far)  # leave box

    np.greater_equal(far, near, out=hit)  # slab intervals overlap (NaN -> False)
    np.greater_equal(far, -_BEHIND_TOL, out=ok)  # ... and not entirely behind the origin
    np.logical_and(hit, ok, out=hit)
    return _penalise_misses(near, hit, penalty_buf=x_hi)


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


def _segment_rows(
    origins: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray, mask: np.ndarray, ftype: np.dtype
) -> np.ndarray:
    """(2, B, S, 2) rows for ``o + t*d = a + s*(b - a)``.

    With e = b - a, w = a - o and cross(u, v) = u_x v_y - u_y v_x:
    t = cross(w, e) / cross(d, e) and s = cross(w, d) / cross(d, e) = t * cross(w, d) / cross(w, e).
    rows[0] . d = 1/t  with rows[0] = (e_y, -e_x) / cross(w, e)  [1/m];
    rows[1] . d = s/t  with rows[1] = (-w_y, w_x) / cross(w, e)  [1/m]. Masked rows are NaN.
    O(B*S) work, in ``ftype`` once positions are relative to the ray origin.
    """
    e = (seg_b - seg_a).astype(ftype)  # (B, S, 2) [m]
    w = (seg_a - origins[:, None, :]).astype(ftype)  # (B, S, 2) [m]
    inv_num = w[..., 0] * e[..., 1] - w[..., 1] * e[..., 0]  # (B, S) [m^2] cross(w, e)
    _clamp_away_from_zero(inv_num)
    np.divide(1.0, inv_num, out=inv_num)  # [1/m^2]
    inv_num[~mask] = np.nan

    rows = _scratch("seg_rows", (2, *inv_num.shape, 2), ftype)  # (2, B, S, 2) [1/m]
    np.multiply(e[..., 1], inv_num, out=rows[0, ..., 0])
    np.multiply(e[..., 0], -inv_num, out=rows[0, ..., 1])
    np.multiply(w[..., 1], -inv_num, out=rows[1, ..., 0])
    np.multiply(w[..., 0], inv_num, out=rows[1, ..., 1])
    return rows


def _segment_hit_distances(rows: np.ndarray, dirs_t: np.ndarray) -> np.ndarray:
    """(B, S, N) [m] distance along each ray to each segment, >= finfo.max where the ray
    misses (behind, off the segment, parallel, masked). ``rows`` (2, B, S, 2) from
    ``_segment_rows``, ``dirs_t`` (B, 2, N). Returns a scratch array (valid until the next
    call). Caller sets np.errstate."""
    _, n_worlds, n_segs, _ = rows.shape
    m = _scratch("seg_m", (2, n_worlds, n_segs, dirs_t.shape[2]), rows.dtype)
    hit = _scratch("seg_hit", m.shape[1:], bool)
    ok = _scratch("seg_ok", m.shape[1:], bool)

    t, s = m  # (B, S, N) each
    np.matmul(rows[0], dirs_t, out=t)  # [1/m] 1/t
    np.matmul(rows[1], dirs_t, out=s)  # [1/m] s/t
    np.divide(1.0, t, out=t)  # [m] along the ray; parallel -> +-inf
    np.multiply(s, t, out=s)  # [-] fraction along the segment; parallel -> +-inf or NaN

    np.greater_equal(t, -_BEHIND_TOL, out=hit)  # ahead of the origin (NaN -> False)
    np.greater_equal(s, 0.0, out=ok)
    np.logical_and(hit, ok, out=hit)
    np.less_equal(s, 1.0, out=ok)
    np.logical_and(hit, ok, out=hit)
    return _penalise_misses(t, hit, penalty_buf=s)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _compute_dtype(dtype: DTypeLike) -> np.dtype:
    ftype = np.dtype(dtype)
    if ftype not in (np.float32, np.float64):
        raise ValueError(f"compute_dtype must be float32 or float64, got {ftype}")
    return ftype


def _prepare_rays(
    origins: ArrayLike, dirs: ArrayLike, max_range: float, ftype: np.dtype
) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate rays. Returns origins (B, 2) float64 [m], dirs as (B, 2, N) in ``ftype``
    and max_range [m] as a float."""
    origins = np.asarray(origins, np.float64)
    dirs = np.asarray(dirs)
    if origins.ndim != 2 or origins.shape[1] != 2:
        raise ValueError(f"origins must have shape (B, 2), got {origins.shape}")
    if dirs.ndim != 3 or dirs.shape[2] != 2 or dirs.shape[0] != origins.shape[0]:
        raise ValueError(f"dirs must have shape (B, N, 2) with B={origins.shape[0]}, "
                         f"got {dirs.shape}")
    max_range = float(max_range)
    if not max_range > 0.0:
        raise ValueError(f"max_range must be > 0, got {max_range}")
    dirs_t = np.ascontiguousarray(dirs.transpose(0, 2, 1), dtype=ftype)  # (B, 2, N)
    return origins, dirs_t, max_range


def _check_objects(origins: np.ndarray, points: np.ndarray, mask: np.ndarray, name: str) -> None:
    """Check that ``points`` is (B, M, 2) and ``mask`` is (B, M)."""
    n_worlds = origins.shape[0]
    if points.ndim != 3 or points.shape[0] != n_worlds or points.shape[2] != 2:
        raise ValueError(f"{name} must have shape (B, M, 2) with B={n_worlds}, "
                         f"got {points.shape}")
    if mask.shape != points.shape[:2]:
        raise ValueError(f"mask must have shape {points.shape[:2]}, got {mask.shape}")


def _clamp_away_from_zero(x: np.ndarray) -> None:
    """In place: raise magnitudes below _TINY to _TINY, keeping the sign (+0 -> +_TINY, NaN
    stays NaN), so that 1/x stays finite."""
    magnitude = np.abs(x)
    np.maximum(magnitude, _TINY, out=magnitude)
    np.copysign(magnitude, x, out=x)


def _penalise_misses(dist: np.ndarray, hit: np.ndarray, penalty_buf: np.ndarray) -> np.ndarray:
    """In place: ``max(dist, 0)`` where ``hit``, else at least finfo.max. ``dist`` may hold
    NaN/inf where missed; ``penalty_buf`` is scratch of the same shape. Returns ``dist``."""
    np.logical_not(hit, out=hit)
    np.multiply(hit, np.finfo(dist.dtype).max, out=penalty_buf)  # 0 for hits, huge for misses
    np.fmax(dist, penalty_buf, out=dist)  # fmax ignores the NaNs of missed pairs
    return dist


def _nearest_hits(dist: np.ndarray, max_range: float, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """Reduce (B, M, N) per-object distances (>= -0.0, huge for misses) over objects.
    Returns dist (B, N) float32 [m], max_range where nothing is in range, and idx (B, N)
    int32, -1 where nothing is in range. ``tag`` names the scratch arrays."""
    idx = _argmin_axis1(dist, tag)  # (B, N)
    best = np.take_along_axis(dist, idx[:, None, :], axis=1)[:, 0]  # (B, N) [m]
    in_range = best <= max_range
    best = np.where(in_range, best + 0.0, max_range).astype(np.float32)  # + 0.0: -0.0 -> 0.0
    idx = np.where(in_range, idx, -1).astype(np.int32)
    return best, idx


def _argmin_axis1(values: np.ndarray, tag: str) -> np.ndarray:
    """(B, N) index of the minimum over axis 1 of (B, M, N) floats that are >= -0.0, no NaN.

    np.argmin over a middle axis is slow (several times a plain ``min``), so the object index
    is packed into the low mantissa bits: for non-negative IEEE floats the order of the bit
    patterns read as integers equals the float order, so one integer ``min`` yields the
    nearest object and its index. Distances that agree to within the cleared bits (relative
    2**(bits - 24) in float32, e.g. 6e-6 for M <= 64) count as ties; the smallest index wins.
    -0.0 reads as a negative integer and wins, which is right (it is an exact zero).
    """
    n_obj = values.shape[1]
    n_bits = max(1, (n_obj - 1).bit_length())
    if n_bits > _MAX_INDEX_BITS:
        return np.argmin(values, axis=1)
    itype = np.dtype(np.int32) if values.dtype == np.float32 else np.dtype(np.int64)
    low = (1 << n_bits) - 1
    packed = _scratch(f"{tag}_packed", values.shape, itype)
    np.bitwise_and(values.view(itype), itype.type(~low), out=packed)
    np.bitwise_or(packed, _index_plane(values.shape, itype, tag), out=packed)
    return np.bitwise_and(packed.min(axis=1), itype.type(low))  # (B, N)


def _index_plane(shape: tuple[int, ...], itype: np.dtype, tag: str) -> np.ndarray:
    """(1, M, N) array holding the object index k at [0, k, n] for (B, M, N) ``shape``, cached
    per thread (a full beam axis is faster to combine with than a stride-0 broadcast)."""
    _, n_obj, n_beams = shape
    cache = _thread_cache()
    key = f"{tag}_index"
    plane = cache.get(key)
    if plane is None or plane.shape != (1, n_obj, n_beams) or plane.dtype != itype:
        plane = np.empty((1, n_obj, n_beams), dtype=itype)
        plane[...] = np.arange(n_obj, dtype=itype)[None, :, None]
        cache[key] = plane
    return plane


def _no_hits(n_worlds: int, n_beams: int, max_range: float) -> tuple[np.ndarray, np.ndarray]:
    return (np.full((n_worlds, n_beams), max_range, dtype=np.float32),
            np.full((n_worlds, n_beams), -1, dtype=np.int32))


_local = threading.local()


def _thread_cache() -> dict[str, np.ndarray]:
    return _local.__dict__.setdefault("cache", {})


def _scratch(name: str, shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """Reusable uninitialised work array, cached per thread under ``name``.

    Reallocated when shape or dtype change. Fresh multi-megabyte arrays get page-faulted in on
    every call, which costs more than the arithmetic; reusing them avoids that. Memory held per
    thread: about 6.5 (B, K, N) arrays for boxes and 3.5 (B, S, N) for segments, e.g. 14 MB
    and 3.5 MB for B=256, N=64, K=32, S=16 in float32 (twice that in float64).
    """
    cache = _thread_cache()
    buf = cache.get(name)
    if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
        buf = np.empty(shape, dtype=dtype)
        cache[name] = buf
    return buf
