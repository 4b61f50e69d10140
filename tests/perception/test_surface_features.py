"""Surface flags of detected objects: the map's surface under them and where their velocity takes
them (perception/features.py `surface_flags`), on hand-made grids."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivesim.config import CameraConfig
from drivesim.perception.features import (
    SOON,
    FeatureLayout,
    FeatureSpec,
    nearest_by_class,
    oracle_features,
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
    assert FeatureSpec(surface=True).observations("perception") == ("route", "surface")


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
