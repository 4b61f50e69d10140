"""NPC cars: lane-bound (position = lane + arc length), driven by the driver model on random routes
(a successor lane is drawn when a car enters a lane), and a gridlock breaker for jams that no
rule resolves. Compiled per world; the accelerations of all cars come from the state before any of
them moves."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim import rng
from drivesim.actors.driver import CAR_LENGTH, Path, Scene, build_scene, decide, leader, npc_profile
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapArrays
from drivesim.map.lanes import pose
from drivesim.params import WorldParams
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.workspace import Workspace
    from drivesim.world import World

SCRIPTED_BRAKE = 6.0  # [m/s^2] deceleration of a car told to brake hard by a scenario event
GRIDLOCK_TIME = 30.0  # [s] standing still before a car far from the controlled car is moved elsewhere
GRIDLOCK_DISTANCE = 60.0  # [m] beyond the controlled car's lidar range
TURN_KEY_OFFSET = 7919  # keys the turn draw of a car moved by the gridlock breaker


@inner
def choose_next(lanes: np.ndarray, m: int, lane: int, u: float) -> int:
    """Uniformly random successor of `lane` from a uniform u in [0, 1); lanes (M, L) LANE."""
    rec = lanes[m, lane]
    return rec.next[rng.pick(rec.n_next, u)]


@inner
def npc_path(lanes: np.ndarray, car, m: int) -> Path:
    """An NPC knows its lane and the successor it chose; past that it assumes the first one."""
    return Path(car.lane, car.next, lanes[m, car.next].next[0] if car.next >= 0 else -1, car.s)


@inner
def step_npcs(maps: MapArrays, params: WorldParams, state: SimState, ws: Workspace, scene: Scene, m: int, w: int,
              dt: float) -> None:
    """Advance every NPC car of world w by dt."""
    cars, clock, world = state.cars, state.clock[w], params.world[w]
    n = 1 + world.n_cars
    prof = npc_profile(world.idm_time_headway, world.idm_min_gap, world.idm_accel, world.idm_decel)
    time = clock.t * dt
    views = scene.cars
    for i in range(n):
        car, view = cars[w, i], views[i]
        view.accel, view.stop_lane = 0.0, -1
        if not car.active or car.controlled:
            continue
        dec = decide(maps, state, scene, prof, m, w, i, npc_path(maps.lanes, car, m), car.v0)
        view.accel = min(dec.accel, -SCRIPTED_BRAKE) if time < car.brake_until else dec.accel
        view.stop_lane = dec.stop_lane
        car.holding = dec.holding
    for i in range(n):
        car = cars[w, i]
        if not car.active or car.controlled:
            continue
        lane = car.lane
        length = maps.lanes[m, lane].length
        v = max(car.v + views[i].accel * dt, 0.0)
        s = car.s + v * dt
        stop_s = length - car.length / 2
        if views[i].stop_lane == lane and s > stop_s:  # never creep over a stop line it must stop at
            s, v = max(car.s, stop_s), 0.0
        if s >= length:  # onto the chosen successor; draw the one after it
            lane, s = car.next, s - length
            u = rng.uniform5(clock.seed, clock.episode, clock.t, rng.Stream.CAR_TURN, i)
            car.next = choose_next(maps.lanes, m, lane, u)
        car.accel = (v - car.v) / dt
        car.lane, car.s, car.v = lane, s, v
        car.x, car.y, car.yaw = pose(maps.samples, m, lane, s)


@inner
def break_gridlock(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, dt: float) -> None:
    """Cars that stood still for GRIDLOCK_TIME far from the controlled car (out of its sensors'
    sight) move to a free spawn slot elsewhere, so jams that no rule resolves dissolve over time."""
    cars, clock = state.cars, state.clock[w]
    n = 1 + params.world[w].n_cars
    ego = cars[w, state.ego[w].car]
    n_spawn = maps.info[m].n_spawn
    for i in range(n):
        car = cars[w, i]
        if not car.active or car.controlled:
            continue
        car.stopped_time = car.stopped_time + dt if car.v < 0.1 else 0.0
        far = math.hypot(car.x - ego.x, car.y - ego.y) > GRIDLOCK_DISTANCE
        if car.stopped_time <= GRIDLOCK_TIME or not far or car.ignores_lights:
            continue
        spawn = maps.spawns[m, rng.pick(n_spawn, rng.uniform6(clock.seed, clock.episode, clock.t,
                                                              rng.Stream.CAR_SPAWN, i, 0))]
        x, y, yaw = pose(maps.samples, m, spawn.lane, spawn.s)
        clear = math.hypot(x - ego.x, y - ego.y) > GRIDLOCK_DISTANCE
        for j in range(n):
            other = cars[w, j]
            if j != i and other.active and math.hypot(other.x - x, other.y - y) <= 2 * CAR_LENGTH:
                clear = False
        if not clear:
            continue
        u = rng.uniform5(clock.seed, clock.episode, clock.t, rng.Stream.CAR_TURN, i + TURN_KEY_OFFSET)
        car.lane, car.s, car.v, car.next = spawn.lane, spawn.s, 0.0, choose_next(maps.lanes, m, spawn.lane, u)
        car.x, car.y, car.yaw = x, y, yaw
        car.stopped_time = 0.0


@parallel_kernel
def _leaders_batch(maps: MapArrays, params: WorldParams, state: SimState, ws: Workspace, dt: float,
                   out: np.ndarray) -> None:
    for index in prange(out.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        world = params.world[w]
        n = 1 + world.n_cars
        m = state.clock[w].map
        scene = build_scene(maps, state, ws, m, w, n, world.n_peds, state.clock[w].t * dt,
                            (world.green_time, world.yellow_time, world.all_red_time))
        for i in range(n):
            car = state.cars[w, i]
            out[w, i, 0], out[w, i, 1] = np.inf, 0.0
            if car.active and not car.controlled:
                out[w, i, 0], out[w, i, 1] = leader(maps, scene, m, i, npc_path(maps.lanes, car, m))


def leader_gaps(world: World) -> tuple[np.ndarray, np.ndarray]:
    """(B, C) bumper-to-bumper gap [m] and speed [m/s] of the leader every NPC car follows now (inf
    gap when free; controlled and empty slots inf): the driver model's `leader`, for inspection."""
    out = np.empty((*world.state.cars.shape, 2))
    _leaders_batch(world.maps.kernel, world.params, world.state, world.workspace, world.shared.dt, out)
    return out[..., 0], out[..., 1]
