"""Tests for drivesim.sensors.raycast: analytic geometry, brute-force reference, properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from drivesim.sensors.raycast import (
    beam_directions,
    beam_offsets,
    merge_hits,
    ray_box_distances,
    ray_segment_distances,
)

try:
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover - hypothesis is an optional test dependency
    HAVE_HYPOTHESIS = False

CM = 0.01  # [m] tolerance of the analytic tests
MAX_RANGE = 50.0  # [m]


@pytest.fixture(autouse=True)
def _no_float_warnings():
    """The kernels must not emit numpy floating-point warnings, even for parallel rays
    (underflow stays at numpy's default, ignored: casting tiny float64 to float32 is fine)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            yield


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def rays(angles, origin=(0.0, 0.0)):
    """One world: origins (1, 2) [m] and dirs (1, N, 2) for beam angles [rad]."""
    angles = np.atleast_1d(np.asarray(angles, np.float64))
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=-1)[None].astype(np.float32)
    return np.array([origin], np.float64), dirs


def boxes(*specs, mask=None):
    """One world of boxes from (cx, cy, yaw, half_length, half_width) tuples."""
    arr = np.array(specs, np.float64).reshape(1, -1, 5)
    if mask is None:
        mask = np.ones(arr.shape[:2], bool)
    return dict(centers=arr[..., 0:2], yaws=arr[..., 2], half_extents=arr[..., 3:5],
                mask=np.asarray(mask, bool).reshape(arr.shape[:2]))


def segments(*specs, mask=None):
    """One world of segments from (ax, ay, bx, by) tuples."""
    arr = np.array(specs, np.float64).reshape(1, -1, 4)
    if mask is None:
        mask = np.ones(arr.shape[:2], bool)
    return dict(seg_a=arr[..., 0:2], seg_b=arr[..., 2:4],
                mask=np.asarray(mask, bool).reshape(arr.shape[:2]))


def cast_boxes(origins, dirs, scene, max_range=MAX_RANGE, **kw):
    return ray_box_distances(origins, dirs, scene["centers"], scene["yaws"],
                             scene["half_extents"], scene["mask"], max_range, **kw)


def cast_segments(origins, dirs, scene, max_range=MAX_RANGE, **kw):
    return ray_segment_distances(origins, dirs, scene["seg_a"], scene["seg_b"], scene["mask"],
                                 max_range, **kw)


# --------------------------------------------------------------------------------------------
# Analytic geometry
# --------------------------------------------------------------------------------------------


def test_axis_aligned_box_in_front():
    o, d = rays([0.0, 0.1, -0.1])
    dist, idx = cast_boxes(o, d, boxes((10.0, 0.0, 0.0, 2.0, 1.0)))
    assert dist.shape == (1, 3) and dist.dtype == np.float32 and idx.dtype == np.int32
    # Front face at x = 10 - 2 = 8; tilted beams still land on it (8 * tan(0.1) < 1).
    np.testing.assert_allclose(dist[0], [8.0, 8.0 / math.cos(0.1), 8.0 / math.cos(0.1)], atol=CM)
    np.testing.assert_array_equal(idx[0], [0, 0, 0])


def test_rotated_box_corner_and_edge():
    # Unit square rotated 45 deg at (10, 0): its corner points at the sensor, at x = 10 - sqrt 2.
    # Its front-left edge runs from (10 - sqrt2, 0) to (10, sqrt2) on the line x - y = 10 - sqrt2,
    # so a beam at angle a hits it at t = (10 - sqrt2) / (cos a - sin a).
    a = math.radians(5.0)
    o, d = rays([0.0, a])
    dist, idx = cast_boxes(o, d, boxes((10.0, 0.0, math.pi / 4, 1.0, 1.0)))
    corner = 10.0 - math.sqrt(2.0)
    edge = corner / (math.cos(a) - math.sin(a))
    assert 0.0 <= edge * math.sin(a) <= math.sqrt(2.0)  # the hit point is on that edge
    np.testing.assert_allclose(dist[0], [corner, edge], atol=CM)
    np.testing.assert_array_equal(idx[0], [0, 0])


def test_rotated_box_long_side():
    # Box at (10, 0), yaw 30 deg, half extents (2, 1); beam along +x from the origin.
    # Box frame: origin p = R(-30)(-10, 0) = (-8.660, 5), direction u = (0.866, -0.5).
    # x slab [-2, 2] -> t in [7.690, 12.309]; y slab [-1, 1] -> t in [8, 12]; entry at t = 8,
    # on the long side y = +1 (hit point (8, 0) -> box frame (-1.732, 1)).
    o, d = rays([0.0])
    dist, idx = cast_boxes(o, d, boxes((10.0, 0.0, math.radians(30.0), 2.0, 1.0)))
    np.testing.assert_allclose(dist[0], [8.0], atol=CM)
    assert idx[0, 0] == 0


def test_rotated_box_end_face_diagonal():
    # Box centred at (5, 5) aligned with the 45 deg beam: centre distance 5 sqrt2, minus 2.
    o, d = rays([math.pi / 4])
    dist, _ = cast_boxes(o, d, boxes((5.0, 5.0, math.pi / 4, 2.0, 0.5)))
    np.testing.assert_allclose(dist[0], [5.0 * math.sqrt(2.0) - 2.0], atol=CM)


def test_segment_perpendicular_to_ray():
    o, d = rays([0.0, math.atan2(0.5, 5.0)], origin=(1.0, 2.0))
    dist, idx = cast_segments(o, d, segments((6.0, 1.0, 6.0, 3.0)))
    np.testing.assert_allclose(dist[0], [5.0, math.hypot(5.0, 0.5)], atol=CM)
    np.testing.assert_array_equal(idx[0], [0, 0])


def test_segment_parallel_and_behind_are_missed():
    o, d = rays([0.0, math.pi])
    scene = segments((2.0, 0.0, 8.0, 0.0),  # collinear with the ray: parallel, no hit
                     (2.0, 1.0, 8.0, 1.0),  # parallel offset
                     (-3.0, 5.0, -3.0, 6.0))  # behind and off to the side
    dist, idx = cast_segments(o, d, scene)
    np.testing.assert_array_equal(dist, MAX_RANGE)
    np.testing.assert_array_equal(idx, -1)


def test_miss_returns_max_range_and_minus_one():
    o, d = rays([0.0, math.pi / 2, math.pi, -math.pi / 2])
    scene = boxes((10.0, 5.0, 0.0, 2.0, 1.0),  # beside the forward beam
                  (60.0, 0.0, 0.0, 2.0, 1.0))  # in front but beyond max_range (58 > 50)
    dist, idx = cast_boxes(o, d, scene)
    np.testing.assert_array_equal(dist, MAX_RANGE)
    np.testing.assert_array_equal(idx, -1)


def test_hit_exactly_at_max_range_counts():
    o, d = rays([0.0])
    dist, idx = cast_boxes(o, d, boxes((52.0, 0.0, 0.0, 2.0, 1.0)))
    assert dist[0, 0] == pytest.approx(MAX_RANGE, abs=CM) and idx[0, 0] == 0


def test_nearest_of_two_boxes_wins_in_any_order():
    o, d = rays([0.0])
    near_box, far_box = (10.0, 0.0, 0.0, 1.0, 1.0), (20.0, 0.0, 0.3, 1.0, 1.0)
    dist, idx = cast_boxes(o, d, boxes(far_box, near_box))
    assert dist[0, 0] == pytest.approx(9.0, abs=CM) and idx[0, 0] == 1
    dist, idx = cast_boxes(o, d, boxes(near_box, far_box))
    assert dist[0, 0] == pytest.approx(9.0, abs=CM) and idx[0, 0] == 0


def test_masked_boxes_and_segments_are_ignored():
    o, d = rays([0.0])
    scene = boxes((10.0, 0.0, 0.0, 1.0, 1.0), (20.0, 0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.0, 5.0, 5.0),
                  mask=[False, True, False])  # a masked near box and a masked box around us
    dist, idx = cast_boxes(o, d, scene)
    assert dist[0, 0] == pytest.approx(19.0, abs=CM) and idx[0, 0] == 1
    scene["mask"][:] = False
    dist, idx = cast_boxes(o, d, scene)
    assert dist[0, 0] == MAX_RANGE and idx[0, 0] == -1

    segs = segments((5.0, -1.0, 5.0, 1.0), (7.0, -1.0, 7.0, 1.0), mask=[False, True])
    dist, idx = cast_segments(o, d, segs)
    assert dist[0, 0] == pytest.approx(7.0, abs=CM) and idx[0, 0] == 1


def test_origin_inside_box_reads_zero():
    o, d = rays(beam_offsets(8, 2 * math.pi), origin=(10.3, -0.2))
    scene = boxes((30.0, 0.0, 0.0, 1.0, 1.0), (10.0, 0.0, 0.4, 2.0, 1.0))
    dist, idx = cast_boxes(o, d, scene)
    np.testing.assert_array_equal(dist, 0.0)
    np.testing.assert_array_equal(idx, 1)
    assert not np.signbit(dist).any()  # no -0.0


def test_origin_on_box_edge_reads_zero():
    # Sensor exactly on the edge y = 1 of an axis-aligned box (closed set): every beam reads 0.
    o, d = rays(beam_offsets(8, 2 * math.pi), origin=(10.0, 1.0))
    dist, idx = cast_boxes(o, d, boxes((10.0, 0.0, 0.0, 2.0, 1.0)))
    np.testing.assert_array_equal(dist, 0.0)
    np.testing.assert_array_equal(idx, 0)


def test_axis_aligned_beams_parallel_to_faces():
    # Beams exactly parallel to box faces (direction components exactly 0 in the box frame).
    o = np.array([[0.0, 0.0]])
    d = np.array([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]], np.float32)
    scene = boxes((10.0, 0.0, 0.0, 2.0, 1.0),  # straight ahead
                  (0.0, 10.0, 0.0, 1.0, 2.0),  # straight left
                  (-10.0, 1.5, 0.0, 1.0, 1.0),  # behind-left (y in [0.5, 2.5]): missed
                  (0.0, -10.0, 0.0, 1.0, 1.0))  # straight right
    dist, idx = cast_boxes(o, d, scene)
    np.testing.assert_allclose(dist[0], [8.0, 8.0, MAX_RANGE, 9.0], atol=CM)
    np.testing.assert_array_equal(idx[0], [0, 1, -1, 3])
    # A beam running exactly along an edge line touches the box (closed set).
    dist, idx = cast_boxes(o, d[:, :1], boxes((10.0, 1.0, 0.0, 2.0, 1.0)))
    assert dist[0, 0] == pytest.approx(8.0, abs=CM) and idx[0, 0] == 0


def test_far_from_world_origin_keeps_precision():
    # City-scale absolute coordinates: positions are made relative in float64 first.
    base = np.array([12345.678, -98765.432])
    o, d = rays([0.0], origin=tuple(base))
    scene = boxes((base[0] + 10.0, base[1], 0.0, 2.0, 1.0))
    dist, _ = cast_boxes(o, d, scene)
    assert dist[0, 0] == pytest.approx(8.0, abs=1e-3)
    segs = segments((base[0] + 6.0, base[1] - 1.0, base[0] + 6.0, base[1] + 1.0))
    dist, _ = cast_segments(o, d, segs)
    assert dist[0, 0] == pytest.approx(6.0, abs=1e-3)


def test_no_objects():
    o, d = rays([0.0, 1.0])
    empty = np.zeros((1, 0, 2))
    dist, idx = ray_box_distances(o, d, empty, np.zeros((1, 0)), empty, np.zeros((1, 0), bool), 30.0)
    np.testing.assert_array_equal(dist, 30.0)
    np.testing.assert_array_equal(idx, -1)
    dist, idx = ray_segment_distances(o, d, empty, empty, np.zeros((1, 0), bool), 30.0)
    np.testing.assert_array_equal(dist, 30.0)
    np.testing.assert_array_equal(idx, -1)


def test_invalid_arguments_raise():
    o, d = rays([0.0])
    scene = boxes((10.0, 0.0, 0.0, 2.0, 1.0))
    with pytest.raises(ValueError):
        cast_boxes(o, d, scene, max_range=0.0)
    with pytest.raises(ValueError):
        cast_boxes(o, d[0], scene)
    with pytest.raises(ValueError):
        ray_box_distances(o, d, scene["centers"], scene["yaws"], scene["half_extents"],
                          np.ones((1, 2), bool), 10.0)
    with pytest.raises(ValueError):
        beam_directions(np.zeros(2), 0, 1.0)
    with pytest.raises(ValueError):
        beam_directions(np.zeros(2), 4, 7.0)


# --------------------------------------------------------------------------------------------
# Beam directions and merging
# --------------------------------------------------------------------------------------------


def test_beam_directions_full_circle():
    yaw = np.array([0.0, 1.0, -2.5])
    n = 16
    dirs = beam_directions(yaw, n, 2 * math.pi)
    assert dirs.shape == (3, n, 2) and dirs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(dirs[:, 0], np.stack([np.cos(yaw), np.sin(yaw)], -1), atol=1e-6)
    angles = np.arctan2(dirs[..., 1], dirs[..., 0]).astype(np.float64)
    steps = np.mod(np.diff(angles, axis=1), 2 * math.pi)  # counter-clockwise spacing
    np.testing.assert_allclose(steps, 2 * math.pi / n, atol=1e-6)
    # No duplicate beam at +-pi: the last beam is one step short of a full turn.
    np.testing.assert_allclose(np.mod(angles[:, 0] - angles[:, -1], 2 * math.pi),
                               2 * math.pi / n, atol=1e-6)


def test_beam_directions_partial_fov():
    fov = math.radians(120.0)
    dirs = beam_directions(np.array([0.5]), 5, fov)
    angles = np.arctan2(dirs[0, :, 1], dirs[0, :, 0]).astype(np.float64)
    np.testing.assert_allclose(angles, 0.5 + np.linspace(-fov / 2, fov / 2, 5), atol=1e-6)
    np.testing.assert_allclose(beam_directions(np.array([0.5]), 1, fov)[0, 0],
                               [math.cos(0.5), math.sin(0.5)], atol=1e-6)


def test_merge_hits_takes_minimum_and_earlier_on_ties():
    d1 = np.array([[1.0, 5.0, 3.0, 50.0]], np.float32)
    c1 = np.array([[1, 1, 1, -1]], np.int32)
    d2 = np.array([[2.0, 4.0, 3.0, 50.0]], np.float32)
    c2 = np.array([[2, 2, 2, -1]], np.int32)
    d3 = np.array([[0.5, 6.0, 3.0, 50.0]], np.float32)
    c3 = np.array([[3, 3, 3, -1]], np.int32)
    dist, cls = merge_hits((d1, c1), (d2, c2), (d3, c3))
    np.testing.assert_array_equal(dist, [[0.5, 4.0, 3.0, 50.0]])
    np.testing.assert_array_equal(cls, [[3, 2, 1, -1]])
    assert dist.dtype == np.float32 and cls.dtype == np.int32
    single_d, single_c = merge_hits((d1, c1))
    np.testing.assert_array_equal(single_d, d1)
    np.testing.assert_array_equal(single_c, c1)
    with pytest.raises(ValueError):
        merge_hits()


# --------------------------------------------------------------------------------------------
# Batch independence
# --------------------------------------------------------------------------------------------


def random_scene(rng, n_worlds, n_beams, n_boxes, n_segs, spread=30.0):
    """Random worlds [m, rad]; world 0's sensor sits inside its box 0."""
    origins = rng.uniform(-100.0, 100.0, (n_worlds, 2))
    dirs = beam_directions(rng.uniform(-math.pi, math.pi, n_worlds), n_beams, 2 * math.pi)
    centers = origins[:, None, :] + rng.uniform(-spread, spread, (n_worlds, n_boxes, 2))
    centers[0, 0] = origins[0] + rng.uniform(-0.2, 0.2, 2)  # half extents >= 0.3: inside
    yaws = rng.uniform(-math.pi, math.pi, (n_worlds, n_boxes))
    half = np.stack([rng.uniform(0.5, 3.0, (n_worlds, n_boxes)),
                     rng.uniform(0.3, 1.5, (n_worlds, n_boxes))], axis=-1)
    box_mask = rng.random((n_worlds, n_boxes)) < 0.8
    box_mask[0, 0] = True
    seg_a = origins[:, None, :] + rng.uniform(-spread, spread, (n_worlds, n_segs, 2))
    seg_b = seg_a + rng.uniform(-15.0, 15.0, (n_worlds, n_segs, 2))
    seg_mask = rng.random((n_worlds, n_segs)) < 0.8
    return dict(origins=origins, dirs=dirs, centers=centers, yaws=yaws, half_extents=half,
                box_mask=box_mask, seg_a=seg_a, seg_b=seg_b, seg_mask=seg_mask)


def run_both(sc, max_range=40.0, **kw):
    box = ray_box_distances(sc["origins"], sc["dirs"], sc["centers"], sc["yaws"],
                            sc["half_extents"], sc["box_mask"], max_range, **kw)
    seg = ray_segment_distances(sc["origins"], sc["dirs"], sc["seg_a"], sc["seg_b"],
                                sc["seg_mask"], max_range, **kw)
    return box, seg


def select_worlds(sc, worlds):
    return {k: v[worlds] for k, v in sc.items()}


def test_batch_independence_bit_identical():
    rng = np.random.default_rng(7)
    sc = random_scene(rng, n_worlds=9, n_beams=37, n_boxes=13, n_segs=11)
    (bd, bi), (sd, si) = run_both(sc)
    assert (bi >= 0).any() and (si >= 0).any() and (bi == -1).any()
    for b in range(9):
        (bd1, bi1), (sd1, si1) = run_both(select_worlds(sc, [b]))
        np.testing.assert_array_equal(bd1[0], bd[b])
        np.testing.assert_array_equal(bi1[0], bi[b])
        np.testing.assert_array_equal(sd1[0], sd[b])
        np.testing.assert_array_equal(si1[0], si[b])
    perm = rng.permutation(9)
    (bdp, bip), (sdp, sip) = run_both(select_worlds(sc, perm))
    np.testing.assert_array_equal(bdp, bd[perm])
    np.testing.assert_array_equal(bip, bi[perm])
    np.testing.assert_array_equal(sdp, sd[perm])
    np.testing.assert_array_equal(sip, si[perm])


# --------------------------------------------------------------------------------------------
# Brute-force reference (float64, one ray at a time, edges as segments)
# --------------------------------------------------------------------------------------------


def cross(u, v):
    return u[0] * v[1] - u[1] * v[0]


def ref_ray_segment(o, d, a, b):
    """Distance [m] from o along unit d to segment ab, or None (parallel -> None)."""
    e, w = b - a, a - o
    den = cross(d, e)
    if den == 0.0:
        return None
    t, s = cross(w, e) / den, cross(w, d) / den
    return t if t >= 0.0 and 0.0 <= s <= 1.0 else None


def box_corners(c, yaw, h):
    ax = np.array([math.cos(yaw), math.sin(yaw)])
    ay = np.array([-math.sin(yaw), math.cos(yaw)])
    return [c + sx * h[0] * ax + sy * h[1] * ay for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]


def ref_ray_box(o, d, c, yaw, h):
    """Distance [m] from o along d into the box, 0 if o is inside, None if missed."""
    rel = o - c
    p = np.array([rel[0] * math.cos(yaw) + rel[1] * math.sin(yaw),
                  -rel[0] * math.sin(yaw) + rel[1] * math.cos(yaw)])
    if abs(p[0]) <= h[0] and abs(p[1]) <= h[1]:
        return 0.0
    corners = box_corners(c, yaw, h)
    hits = [ref_ray_segment(o, d, corners[i], corners[(i + 1) % 4]) for i in range(4)]
    hits = [t for t in hits if t is not None]
    return min(hits) if hits else None


def ref_nearest(o, d, objects, max_range):
    """(dist, idx, sorted distances) for one ray over (k, distance_fn) objects."""
    found = sorted((t, k) for k, fn in objects if (t := fn(o, d)) is not None)
    if not found or found[0][0] > max_range:
        return max_range, -1, [t for t, _ in found]
    return found[0][0], found[0][1], [t for t, _ in found]


def box_objects(sc, b, grow=0.0):
    return [(k, lambda o, d, k=k: ref_ray_box(o, d, sc["centers"][b, k], sc["yaws"][b, k],
                                              sc["half_extents"][b, k] + grow))
            for k in range(sc["centers"].shape[1]) if sc["box_mask"][b, k]]


def seg_objects(sc, b, grow=0.0):
    """Segments; grow > 0 makes each a thin box (half width ``grow``, ``grow`` longer at both
    ends), grow < 0 shortens it at both ends."""
    out = []
    for k in range(sc["seg_a"].shape[1]):
        if not sc["seg_mask"][b, k]:
            continue
        a, bb = sc["seg_a"][b, k], sc["seg_b"][b, k]
        length = float(np.linalg.norm(bb - a))
        unit = (bb - a) / length
        if grow > 0.0:
            centre, yaw = (a + bb) / 2, math.atan2(unit[1], unit[0])
            half = np.array([length / 2 + grow, grow])
            out.append((k, lambda o, d, c=centre, y=yaw, h=half: ref_ray_box(o, d, c, y, h)))
        else:
            out.append((k, lambda o, d, a=a - grow * unit, bb=bb + grow * unit:
                        ref_ray_segment(o, d, a, bb)))
    return out


def compare_with_reference(sc, objects_fn, dist, idx, max_range, tol, eps=1e-4):
    """Check kernel output against the brute force, ray by ray.

    Objects are also grown and shrunk by ``eps`` (well above float32 rounding). A ray is
    ambiguous (skipped) when that changes the nearest object or whether anything is hit, when
    the two nearest objects are within ``tol`` (nominal or grown), or when the hit lies within ``tol`` of
    max_range. Otherwise the kernel must report the same object at a distance between the
    grown and shrunk answers, +- ``tol`` (for well-conditioned rays that interval is ~eps
    wide; it widens for grazing rays, whose range is ill-conditioned).
    Returns the fraction of rays checked."""
    n_worlds, n_beams = dist.shape
    checked = 0
    for b in range(n_worlds):
        nominal, grown, shrunk = (objects_fn(sc, b, g) for g in (0.0, eps, -eps))
        for n in range(n_beams):
            o = sc["origins"][b]
            d = sc["dirs"][b, n].astype(np.float64)  # unit up to float32 rounding, as used
            t, k, all_t = ref_nearest(o, d, nominal, max_range)
            t_grown, k_grown, all_grown = ref_nearest(o, d, grown, max_range)
            t_shrunk, k_shrunk, _ = ref_nearest(o, d, shrunk, max_range)
            if k_grown != k or k_shrunk != k or (all_t and abs(all_t[0] - max_range) < tol):
                continue
            if any(len(ts) > 1 and ts[1] - ts[0] < tol for ts in (all_t, all_grown)):
                continue
            checked += 1
            lo, hi = min(t, t_grown, t_shrunk) - tol, max(t, t_grown, t_shrunk) + tol
            assert lo <= dist[b, n] <= hi, (b, n, dist[b, n], t, t_grown, t_shrunk)
            assert idx[b, n] == k, (b, n, idx[b, n], k)
    return checked / dist.size


def test_random_scenes_match_brute_force():
    tol = 1e-4  # float64 arithmetic, float32 output
    rng = np.random.default_rng(1234)
    max_range = 40.0
    sc = random_scene(rng, n_worlds=4, n_beams=90, n_boxes=12, n_segs=10)
    (bd, bi), (sd, si) = run_both(sc, max_range)
    assert (bi >= 0).mean() > 0.2 and (si >= 0).mean() > 0.2  # the scenes are not empty
    assert compare_with_reference(sc, box_objects, bd, bi, max_range, tol) > 0.95
    assert compare_with_reference(sc, seg_objects, sd, si, max_range, tol) > 0.95


def test_many_objects():
    rng = np.random.default_rng(3)
    sc = random_scene(rng, n_worlds=2, n_beams=8, n_boxes=1100, n_segs=1100, spread=200.0)
    (bd, bi), (sd, si) = run_both(sc)
    assert compare_with_reference(sc, box_objects, bd, bi, 40.0, 1e-3) > 0.9
    assert compare_with_reference(sc, seg_objects, sd, si, 40.0, 1e-3) > 0.9


# --------------------------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------------------------

if HAVE_HYPOTHESIS:
    coord = st.floats(-30.0, 30.0, allow_nan=False, allow_subnormal=False)
    angle = st.floats(-math.pi, math.pi, allow_nan=False, allow_subnormal=False)
    extent = st.floats(0.1, 5.0, allow_nan=False)

    @settings(max_examples=150, deadline=None)
    @given(ox=coord, oy=coord, heading=angle,
           box_list=st.lists(st.tuples(coord, coord, angle, extent, extent, st.booleans()),
                             min_size=1, max_size=6))
    def test_property_boxes_match_brute_force(ox, oy, heading, box_list):
        arr = np.array([b[:5] for b in box_list], np.float64)[None]
        sc = dict(origins=np.array([[ox, oy]]),
                  dirs=beam_directions(np.array([heading]), 24, 2 * math.pi),
                  centers=arr[..., 0:2], yaws=arr[..., 2], half_extents=arr[..., 3:5],
                  box_mask=np.array([[b[5] for b in box_list]]))
        dist, idx = ray_box_distances(sc["origins"], sc["dirs"], sc["centers"], sc["yaws"],
                                      sc["half_extents"], sc["box_mask"], 40.0)
        assert ((dist >= 0.0) & (dist <= 40.0)).all()
        assert (dist[idx == -1] == 40.0).all()
        assert (idx[idx >= 0] < len(box_list)).all() and sc["box_mask"][0, idx[idx >= 0]].all()
        checked = compare_with_reference(sc, box_objects, dist, idx, 40.0, 1e-3)
        assume(checked > 0)

    @settings(max_examples=150, deadline=None)
    @given(ox=coord, oy=coord, heading=angle,
           seg_list=st.lists(st.tuples(coord, coord, coord, coord, st.booleans()),
                             min_size=1, max_size=6))
    def test_property_segments_match_brute_force(ox, oy, heading, seg_list):
        arr = np.array([s[:4] for s in seg_list], np.float64)[None]
        seg_len = np.linalg.norm(arr[..., 2:4] - arr[..., 0:2], axis=-1)
        assume((seg_len > 1e-3).all())
        # a ray lying along a segment is documented as a miss: keep the origin off every segment's line
        d = arr[..., 2:4] - arr[..., 0:2]
        off_line = np.abs(d[..., 0] * (oy - arr[..., 1]) - d[..., 1] * (ox - arr[..., 0])) / seg_len
        assume((off_line > 1e-3).all())
        sc = dict(origins=np.array([[ox, oy]]),
                  dirs=beam_directions(np.array([heading]), 24, 2 * math.pi),
                  seg_a=arr[..., 0:2], seg_b=arr[..., 2:4],
                  seg_mask=np.array([[s[4] for s in seg_list]]))
        dist, idx = ray_segment_distances(sc["origins"], sc["dirs"], sc["seg_a"], sc["seg_b"],
                                          sc["seg_mask"], 40.0)
        assert ((dist >= 0.0) & (dist <= 40.0)).all()
        assert sc["seg_mask"][0, idx[idx >= 0]].all()
        checked = compare_with_reference(sc, seg_objects, dist, idx, 40.0, 1e-3)
        assume(checked > 0)

    @settings(max_examples=100, deadline=None)
    @given(shift_x=st.floats(-1e4, 1e4), shift_y=st.floats(-1e4, 1e4), seed=st.integers(0, 2**16))
    def test_property_translation_invariance(shift_x, shift_y, seed):
        sc = random_scene(np.random.default_rng(seed), n_worlds=2, n_beams=32, n_boxes=5, n_segs=5)
        shifted = dict(sc)
        shift = np.array([shift_x, shift_y])
        for key in ("origins", "centers", "seg_a", "seg_b"):
            shifted[key] = sc[key] + shift
        (bd, bi), (sd, si) = run_both(sc)
        (bd2, bi2), (sd2, si2) = run_both(shifted)
        # Relative positions only change by float64 rounding of the shift: same hits, ~same range.
        np.testing.assert_allclose(bd2, bd, atol=1e-3)
        np.testing.assert_allclose(sd2, sd, atol=1e-3)
        assert (bi2 == bi).mean() > 0.97 and (si2 == si).mean() > 0.97
