"""The lidar sensor in the world: ranges and hit classes against hand-placed objects."""

import numpy as np
import pytest

from drivesim.actors.driver import CAR_LENGTH
from drivesim.config import EnvConfig, MapConfig, TrafficConfig
from drivesim.sensors.lidar import LidarHit, lidar_scan
from drivesim.world import World


@pytest.fixture()
def world():
    cfg = EnvConfig(map=MapConfig(blocks_x=2, blocks_y=2, pool_size=1), traffic=TrafficConfig(n_cars=3, n_pedestrians=2))
    w = World(cfg, 1)
    w.reset(np.array([0]), np.array([0]))
    w.cars.active[:, 1:] = False  # slot 0 is the ego
    w.peds.active[:] = False
    return w


def _place_ego_in_open_road(w):
    """Ego in the middle of an intersection, heading east, so buildings are far."""
    node = w.pool.node_xy[0, np.argmax(w.pool.node_degree[0])]
    w.cars.x[0, 0], w.cars.y[0, 0], w.cars.yaw[0, 0] = node[0], node[1], 0.0
    return node


def test_car_ahead_range_within_1cm(world):
    node = _place_ego_in_open_road(world)
    world.cars.active[0, 1] = True
    world.cars.x[0, 1], world.cars.y[0, 1], world.cars.yaw[0, 1] = node[0] + 12.0, node[1], 0.0
    ranges, classes = lidar_scan(world)
    max_range = world.config.lidar.max_range
    assert ranges[0, 0] * max_range == pytest.approx(12.0 - CAR_LENGTH / 2, abs=0.01)
    assert classes[0, 0] == LidarHit.CAR


def test_pedestrian_behind_and_building_class(world):
    node = _place_ego_in_open_road(world)
    world.peds.active[0, 0] = True
    world.peds.x[0, 0], world.peds.y[0, 0], world.peds.yaw[0, 0] = node[0] - 6.0, node[1], 0.0
    ranges, classes = lidar_scan(world)
    n = world.config.lidar.n_beams
    back = n // 2  # beam pointing backwards (full circle, beam 0 forward)
    assert classes[0, back] == LidarHit.PEDESTRIAN
    assert ranges[0, back] * world.config.lidar.max_range == pytest.approx(6.0 - 0.35, abs=0.01)
    # diagonal beams from an intersection centre end on the corner buildings
    diag = n // 8
    assert classes[0, diag] in (LidarHit.BUILDING, LidarHit.NONE)
    assert 0.0 < ranges[0, diag] <= 1.0


def test_ranges_normalised_and_finite(world):
    world.cars.active[:] = True
    world.peds.active[:] = True
    ranges, classes = lidar_scan(world)
    assert ranges.dtype == np.float32 and np.isfinite(ranges).all()
    assert (ranges >= 0).all() and (ranges <= 1).all()
    assert set(np.unique(classes)) <= {int(c) for c in LidarHit}
