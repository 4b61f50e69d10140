"""Shared builders for the actor tests: a small map pool, hand-made car states and traffic contexts."""

from __future__ import annotations

import numpy as np

from drivesim.actors.traffic import CAR_LENGTH, CAR_WIDTH, Cars, Context, Vehicle
from drivesim.config import EnvConfig, MapConfig, TrafficConfig
from drivesim.map.city import MapPool, stack_maps
from drivesim.map.generator import generate_city
from drivesim.map.lanes import lane_pose

SMALL_MAP = MapConfig(blocks_x=2, blocks_y=2, pool_size=1)


def small_pool(config: MapConfig = SMALL_MAP) -> MapPool:
    return stack_maps([generate_city(config, config.seed + i) for i in range(config.pool_size)])


def far_ego(batch: int) -> Vehicle:
    """An ego far outside the city that no NPC reacts to."""
    z = np.zeros(batch)
    return Vehicle(np.zeros(batch, dtype=np.int64), np.full(batch, -1, dtype=np.int64), z.copy(), z.copy(),
                   np.zeros(batch, dtype=bool), np.full(batch, -500.0), np.full(batch, -500.0), z.copy(),
                   CAR_LENGTH, CAR_WIDTH)


def make_cars(pool: MapPool, lane, s, v, v0=None, active=None, nxt=None, map_idx=None) -> Cars:
    """Cars (B, K) on `lane` at arc length `s` with poses from the lane polylines; `next` defaults
    to the first successor of each lane."""
    lane = np.atleast_2d(np.asarray(lane, dtype=np.int64))
    b = lane.shape[0]
    m = np.zeros(b, dtype=np.int64) if map_idx is None else np.asarray(map_idx)
    shape = lane.shape
    s = np.broadcast_to(np.asarray(s, dtype=np.float64), shape).copy()
    v = np.broadcast_to(np.asarray(v, dtype=np.float64), shape).copy()
    v0 = np.full(shape, 11.0) if v0 is None else np.broadcast_to(np.asarray(v0, dtype=np.float64), shape).copy()
    active = np.ones(shape, dtype=bool) if active is None else np.broadcast_to(active, shape).copy()
    if nxt is None:
        nxt = pool.lane_next[m[:, None], lane, 0]
    nxt = np.broadcast_to(np.asarray(nxt, dtype=np.int64), shape).copy()
    x, y, yaw = lane_pose(pool, m[:, None], lane, s)
    return Cars(lane, nxt, s, v, v0, active, x, y, yaw)


def make_ctx(pool: MapPool, batch: int, lights=None, cfg: TrafficConfig | None = None, dt: float = 0.1,
             step: int = 0, n_peds: int = 0) -> Context:
    n_lanes = pool.lane_len.shape[1]
    lights = np.zeros((batch, n_lanes), dtype=np.int8) if lights is None else lights
    keys = (np.arange(batch, dtype=np.uint64), np.zeros(batch, dtype=np.int64), np.full(batch, step, dtype=np.int64))
    return Context(pool, np.zeros(batch, dtype=np.int64), lights, np.zeros((batch, n_peds, 2)),
                   np.zeros((batch, n_peds, 2)), np.zeros((batch, n_peds), dtype=bool), keys,
                   cfg or TrafficConfig(), dt)


def small_env_config(**traffic) -> EnvConfig:
    return EnvConfig(map=SMALL_MAP, traffic=TrafficConfig(**traffic))


def move_ego_away(world) -> None:
    world.ego.x[:] = -500.0
    world.ego.y[:] = -500.0
    world.ego.v[:] = 0.0
    world.lateral[:] = 100.0
