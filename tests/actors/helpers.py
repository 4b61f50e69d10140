"""Shared builders for the actor tests: a small world whose cars, pedestrians and lights are placed
by hand (the tests write the state between steps; the simulator itself never does that)."""

from __future__ import annotations

import numpy as np

from drivesim.actors.signals import cycle_time
from drivesim.config import EnvConfig, MapConfig, TrafficConfig
from drivesim.map.city import MapPool, stack_maps
from drivesim.map.generator import generate_city
from drivesim.map.lanes import lane_pose
from drivesim.world import World

SMALL_MAP = MapConfig(blocks_x=2, blocks_y=2, pool_size=1)
EGO = 0  # car slot of the controlled car


def small_pool(config: MapConfig = SMALL_MAP) -> MapPool:
    return stack_maps([generate_city(config, config.seed + i) for i in range(config.pool_size)])


def small_env_config(**traffic) -> EnvConfig:
    return EnvConfig(map=SMALL_MAP, traffic=TrafficConfig(**traffic), observations=("state",))


def move_ego_away(world: World) -> None:
    """Park every controlled car far outside the city, where no NPC reacts to it."""
    c = world.cars
    c.x[:, EGO], c.y[:, EGO], c.v[:, EGO] = -500.0, -500.0, 0.0
    c.on_lane[:, EGO] = False


def traffic_world(n_cars: int, n_peds: int = 0, batch: int = 1, seed: int = 0, **traffic) -> World:
    """A small world with `n_cars` NPC slots (all emptied) and the ego parked far away."""
    world = World(small_env_config(n_cars=n_cars, n_pedestrians=n_peds, **traffic), batch)
    world.reset(np.arange(batch) + seed, np.zeros(batch))
    world.cars.active[:, 1:] = False
    world.peds.active[:] = False
    move_ego_away(world)
    return world


def place_car(world: World, slot: int, lane: int, s: float, v: float, nxt: int | None = None, v0: float = 11.0,
              b: int = 0) -> None:
    """NPC `slot` (>= 1) of world b on `lane` at arc length s [m] with speed v [m/s]."""
    pool, m = world.pool, int(world.map_idx[b])
    c = world.cars
    x, y, yaw = lane_pose(pool, np.array([m]), np.array([lane]), np.array([s]))
    c.lane[b, slot], c.s[b, slot], c.v[b, slot], c.v0[b, slot] = lane, s, v, v0
    c.next[b, slot] = pool.lane_next[m, lane, 0] if nxt is None else nxt
    c.x[b, slot], c.y[b, slot], c.yaw[b, slot] = x[0], y[0], yaw[0]
    c.length[b, slot], c.width[b, slot] = 4.5, 1.9
    c.active[b, slot], c.on_lane[b, slot], c.controlled[b, slot] = True, True, False
    c.brake_until[b, slot], c.ignores_lights[b, slot], c.holding[b, slot] = -1.0, False, False


def set_light(world: World, node: int, axis: int, phase: float, b: int = 0) -> None:
    """Shift the cycle of intersection `node` of world b so that travel along `axis` is `phase` [s]
    into its green phase now (0: green starts; green + yellow: red starts)."""
    cfg = world.configs[b].traffic
    cycle = cycle_time(cfg)
    world.state.signal_offset[b, node] = (phase - world.time[b] + axis * cycle / 2) % cycle


def step(world: World, n: int = 1) -> None:
    for _ in range(n):
        world.step(np.zeros((world.batch_size, 2)))
