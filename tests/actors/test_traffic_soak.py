"""Seeded multi-world traffic runs: NPC cars never overlap, no NaNs, traffic keeps flowing."""

from __future__ import annotations

import numpy as np
import pytest

from drivesim.actors.driver import CAR_LENGTH, CAR_WIDTH
from drivesim.config import EnvConfig, MapConfig, TrafficConfig
from drivesim.geometry import obb_overlap
from drivesim.map.city import LaneKind
from drivesim.world import World
from tests.actors.helpers import move_ego_away

BATCH = 4
STEPS = 600


def _overlapping_pairs(cars) -> np.ndarray:
    """(n, 3) rows (world, i, j), i < j, of active NPC cars whose footprints overlap."""
    x, y, yaw = cars.x, cars.y, cars.yaw
    ov = obb_overlap(x[:, :, None], y[:, :, None], yaw[:, :, None], CAR_LENGTH, CAR_WIDTH,
                     x[:, None, :], y[:, None, :], yaw[:, None, :], CAR_LENGTH, CAR_WIDTH)
    npc = cars.active & ~cars.controlled
    ov &= npc[:, :, None] & npc[:, None, :]
    return np.argwhere(np.triu(ov, k=1))


def _soak(map_cfg: MapConfig, traffic: TrafficConfig, seed0: int):
    world = World(EnvConfig(map=map_cfg, traffic=traffic, observations=("state",)), BATCH)
    world.reset(np.arange(BATCH) + seed0, np.zeros(BATCH))
    move_ego_away(world)
    assert len(_overlapping_pairs(world.cars)) == 0, "cars overlap right after spawning"
    speeds, problems = [], []
    actions = np.zeros((BATCH, 2))
    pool = world.pool
    for step in range(1, STEPS + 1):
        world.step(actions)
        cars, peds = world.cars, world.peds
        for table in (cars, peds):
            for name in table.dtype.names:
                assert not np.isnan(np.asarray(table[name], dtype=np.float64)).any(), f"NaN in {name} at step {step}"
        pairs = _overlapping_pairs(cars)
        if len(pairs) and len(problems) < 5:
            b, i, j = pairs[0]
            m = world.map_idx[b]
            problems.append(
                f"step {step} world {b}: cars {i} and {j} overlap (lanes {cars.lane[b, i]} "
                f"{LaneKind(pool.lane_kind[m, cars.lane[b, i]]).name} s={cars.s[b, i]:.2f} v={cars.v[b, i]:.2f}, "
                f"{cars.lane[b, j]} {LaneKind(pool.lane_kind[m, cars.lane[b, j]]).name} s={cars.s[b, j]:.2f} "
                f"v={cars.v[b, j]:.2f}; centres "
                f"{np.hypot(cars.x[b, i] - cars.x[b, j], cars.y[b, i] - cars.y[b, j]):.2f} m apart)")
        # cars stay on valid lanes within their length
        m = world.map_idx[:, None]
        length = pool.lane_len[m, cars.lane]
        act = cars.active & ~cars.controlled
        assert np.all((cars.s[act] >= 0.0) & (cars.s[act] < length[act])), f"car s out of its lane at step {step}"
        assert np.all(np.isin(cars.next[act], pool.lane_next[m, cars.lane][act]) |
                      (pool.lane_next[m, cars.lane, 0][act] == cars.next[act]))
        assert np.all(cars.v[act] >= 0.0)
        speeds.append(cars.v[act].mean())
    return world, np.array(speeds), problems


@pytest.mark.parametrize("map_cfg,n_cars,seed0", [
    (MapConfig(blocks_x=2, blocks_y=2, pool_size=1), 24, 100),
    (MapConfig(blocks_x=3, blocks_y=3, pool_size=2), 32, 7),
    (MapConfig(blocks_x=4, blocks_y=4, pool_size=2), 48, 0),
], ids=["2x2", "3x3", "4x4"])
def test_traffic_soak_no_overlap_no_nan_and_flowing(map_cfg, n_cars, seed0):
    world, speeds, problems = _soak(map_cfg, TrafficConfig(n_cars=n_cars, n_pedestrians=24), seed0)
    assert not problems, "NPC cars overlapped:\n" + "\n".join(problems)
    npc = world.cars.active & ~world.cars.controlled
    assert npc.sum() >= BATCH * n_cars // 2
    assert speeds.mean() > 2.0, f"traffic jammed: mean NPC speed {speeds.mean():.2f} m/s"
    # not gridlocked at the end either: a good share of the cars still moves
    assert (world.cars.v[npc] > 0.5).mean() > 0.25
