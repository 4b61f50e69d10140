"""Surface flags of detected objects: the map's surface under them and where their velocity takes
them (perception/features.py `surface_flags`), on hand-made grids; the compiled object blocks
against numpy's composition of the same pieces."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivesim.config import CameraConfig
from drivesim.perception.features import (
    SOON,
    FeatureLayout,
    FeatureSpec,
    flags_of_classes,
    nearest_by_class,
    objects_to_features,
    oracle_features,
    path_coordinates,
    surface_flags,
)
from drivesim.perception.model import N_CLASSES
from drivesim.sensors.surface import CROSSWALK, OFF_ROAD, ROAD, SIDEWALK

# 20 x 20 px at 1 m/px, the car at row 15: a 10 x 10 grid of 2 m cells, the car at cell row 7.5,
# col 5; cell (r, q) spans forward 15 - 2 (r + 1) .. 15 - 2 r m, left 10 - 2 (q + 1) .. 10 - 2 q m
CAMERA = CameraConfig(width=20, height=20, metres_per_pixel=1.0, ego_row=0.75)


def _scene() -> np.ndarray:
    """(1, 10, 10): sidewalk everywhere, the road in columns 3..6 (left 4 .. -4 m), a crossing
    across the road in rows 2..3 (forward 7 .. 11 m), off-road in column 9 (left -8 .. -10 m)."""
    grid = np.full((1, 10, 10), SIDEWALK, dtype=np.uint8)
    grid[0, :, 3:7] = ROAD
    grid[0, 2:4, 3:7] = CROSSWALK
    grid[0, :, 9] = OFF_ROAD
    return grid


def test_surface_flags_of_hand_placed_people():
    position = np.array([[[9.0, 0.0],  # on the crossing
                          [5.0, -1.0],  # on the road, between the crossings
                          [9.0, 5.0],  # on the sidewalk 1 m from the kerb, walking onto the crossing
                          [9.0, 5.0],  # the same place, walking along the sidewalk
                          [9.0, 7.0],  # on the sidewalk, walking towards the road but 3 m away
                          [40.0, 0.0]]])  # outside the grid: off-road
    velocity = np.array([[[0.0, 0.0], [0.0, 0.0], [0.0, -1.4], [1.4, 0.0], [0.0, -1.4], [0.0, 0.0]]])
    flags = surface_flags(position, velocity, _scene(), CAMERA)
    assert flags.shape == (1, 6, 3) and flags.dtype == np.float32
    assert flags[0].tolist() == [[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert 1.4 * SOON > 1.0 and 1.4 * SOON < 3.0  # the horizon reaches a kerb 1 m away, not 3 m


def test_surface_flags_in_the_layout_and_refused_without_the_grid():
    layout = FeatureLayout(k=1, n_beams=2, state_dim=3, route_dim=4, path=True, surface=True)
    assert layout.per_object == 16 and layout.size == 3 * 16 + 2 + 3 + 4
    assert layout.observations[-1] == "surface"
    assert FeatureSpec(surface=True).vectors == ("route", "surface")
    labels = {"cls": np.array([[1]]), "position": np.array([[[9.0, 0.0]]]), "angle": np.zeros((1, 1)),
              "light": np.zeros((1, 1), dtype=int), "velocity": np.zeros((1, 1, 2)),
              "visible": np.ones((1, 1), dtype=bool)}
    route = np.tile([1.0, 0.0], 2)[None] / 30.0
    obs = {"lidar": np.full((1, 2), 0.5), "state": np.zeros((1, 3)), "route": route, "surface": _scene()}
    feats = oracle_features(labels, obs, layout, CAMERA)
    person = feats[0, layout.slices()["pedestrians"]]  # x, y, sin, cos, vx, vy, s, d, v_across, flags, score, lights
    assert person[9:12].tolist() == [1.0, 1.0, 1.0] and person[12] == 1.0
    with pytest.raises(ValueError, match="surface observation"):
        oracle_features(labels, {k: v for k, v in obs.items() if k != "surface"}, layout, CAMERA)
    with pytest.raises(ValueError, match="surface observation"):
        oracle_features(labels, obs, layout)  # no camera: the grid's geometry is unknown
    # ground-truth labels carry their objects' classes (the camera labels' `surface`): no grid needed
    with_classes = {**labels, "surface": np.array([[[CROSSWALK, CROSSWALK]]], dtype=np.uint8)}
    no_grid = {k: v for k, v in obs.items() if k != "surface"}
    np.testing.assert_array_equal(oracle_features(with_classes, no_grid, layout), feats)
    sidewalk = {**labels, "surface": np.array([[[SIDEWALK, SIDEWALK]]], dtype=np.uint8)}
    assert oracle_features(sidewalk, no_grid, layout)[0, layout.slices()["pedestrians"]][9:12].tolist() == [0, 0, 0]
    assert FeatureSpec(surface=True).observations("oracle") == ("route",)
    assert FeatureSpec(surface=True).observations("perception") == ("route",)  # it looks detections up: places


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(0, 12), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_nearest_by_class_is_a_stable_sort_per_class(b, n_objects, k, seed):
    """The compiled selection of the features: per class, the k nearest valid objects at a finite
    distance, nearest first, ties by index, as numpy's stable argsort picks them."""
    rng = np.random.default_rng(seed)
    dist = rng.choice(np.array([0.0, 1.0, 2.5, 2.5, 7.0, np.inf, np.nan], dtype=np.float32), (b, n_objects))
    cls = rng.integers(-1, N_CLASSES + 1, (b, n_objects)).astype(np.int8)
    valid = rng.random((b, n_objects)) < 0.8
    order, ok = nearest_by_class(dist, cls, valid, k)
    assert order.shape == ok.shape == (b, N_CLASSES * k)
    for w in range(b):
        for c in range(N_CLASSES):
            d = np.where(valid[w] & (cls[w] == c) & np.isfinite(dist[w]), dist[w], np.inf)
            want = [i for i in np.argsort(d, kind="stable")[:k] if np.isfinite(d[i])]
            got = order[w, c * k:(c + 1) * k][ok[w, c * k:(c + 1) * k]]
            assert list(got) == want
            assert not ok[w, c * k + len(want):(c + 1) * k].any()


def _numpy_objects(cls, position, heading, velocity, score, light_probs, valid, layout, route, surface, camera,
                   classes):
    """objects_to_features as numpy expressions over the separately tested pieces (nearest_by_class,
    path_coordinates, surface_flags / flags_of_classes): the reference of the compiled kernel."""
    b, k = len(cls), layout.k
    order, ok = nearest_by_class(np.hypot(position[..., 0], position[..., 1]), cls, valid, k)
    rows = np.arange(b)[:, None]
    pos, vel = position[rows, order], velocity[rows, order]
    parts = [pos / 30.0, np.sin(heading[rows, order])[..., None], np.cos(heading[rows, order])[..., None]]
    if layout.velocities:
        parts.append(vel / 10.0)
    if layout.path:
        p = path_coordinates(pos, vel, route)
        parts += [p[..., :1] / 30.0, np.clip(p[..., 1:2] / 5.0, -3.0, 3.0), p[..., 2:] / 10.0]
    if layout.surface:
        parts.append(surface_flags(pos, vel, surface, camera) if classes is None
                     else flags_of_classes(classes[rows, order]))
    parts += [score[rows, order][..., None], light_probs[rows, order]]
    return np.where(ok[..., None], np.concatenate(parts, axis=-1), 0.0).astype(np.float32).reshape(b, -1)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 14), st.integers(1, 5), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_compiled_object_blocks_equal_numpy_bit_for_bit(b, n_objects, k, dtype, switches, seed):
    """The object blocks come from one compiled kernel per batch (features run every training step);
    each value must be exactly what numpy's expressions give, for every layout and input dtype."""
    rng = np.random.default_rng(seed)
    velocities, path, surface, classes = [(False, False, False, False), (True, True, False, False),
                                          (True, True, True, False), (True, False, True, True)][switches]
    layout = FeatureLayout(k=k, velocities=velocities, route_dim=20 if path else 0, path=path, surface=surface)
    cls = rng.integers(0, N_CLASSES, (b, n_objects))
    position = rng.normal(0.0, 12.0, (b, n_objects, 2)).astype(dtype)
    position[:, -1] = position[:, 0]  # a tie in distance
    velocity = rng.normal(0.0, 3.0, (b, n_objects, 2)).astype(dtype)
    heading = rng.uniform(-4.0, 4.0, (b, n_objects)).astype(dtype)
    score, probs = rng.random((b, n_objects), dtype=np.float32), rng.random((b, n_objects, 3), dtype=np.float32)
    valid = rng.random((b, n_objects)) < 0.8
    route = rng.normal(0.0, 0.3, (b, 20)).astype(np.float32)
    grid = np.repeat(_scene(), b, axis=0)
    labels = rng.integers(0, 4, (b, n_objects, 2)).astype(np.uint8) if classes else None
    args = (cls, position, heading, velocity, score, probs, valid, layout, route, grid, CAMERA, labels)
    got, want = objects_to_features(*args), _numpy_objects(*args)
    assert got.dtype == np.float32 and got.shape == want.shape == (b, N_CLASSES * k * layout.per_object)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
