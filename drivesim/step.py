"""The step: one compiled kernel that advances every world of a batch by dt (`prange` over worlds;
inside a world, plain loops over its actors) and, in the same pass, fills the requested sensors.

Per world: controlled car (bicycle) -> route tracking -> lights -> NPC cars (driver model) ->
gridlock breaker -> pedestrians -> scripted events -> events and reward terms -> lidar, state.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from drivesim import route as routing
from drivesim.actors.driver import ON_LANE_DISTANCE, build_scene
from drivesim.actors.kinematics import actuate, move
from drivesim.actors.pedestrians import step_pedestrians
from drivesim.actors.signals import Light, update_lights
from drivesim.actors.traffic import break_gridlock, step_npcs
from drivesim.actors.trail import push_trail
from drivesim.events import (
    CARL,
    CARL_ENDS_MASK,
    COLLISION_PEDESTRIAN,
    COLLISION_STATIC,
    COLLISION_VEHICLE,
    GOAL,
    OFF_ROAD,
    OFF_ROUTE,
    RED_LIGHT,
    SCORE,
    STUCK,
    TERMINATING_MASK,
    TIMEOUT,
    WRONG_WAY,
    Footprint,
    RewardInputs,
    hits,
    reward_terms_into,
    static_contact,
)
from drivesim.geometry import wrap
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import LaneKind, MapArrays
from drivesim.map.lanes import pose, project
from drivesim.params import SharedParams, WorldParams
from drivesim.scenarios.scripts import fire_events
from drivesim.sensors.lidar import scan_world
from drivesim.sensors.state import state_world
from drivesim.sensors.waypoints import waypoints_world
from drivesim.state import SimState
from drivesim.workspace import Workspace

PROGRESS_EPS = 0.5  # [m] progress that resets the stuck timer
_ROAD, _RED = int(LaneKind.ROAD), int(Light.RED)


class StepOutput(NamedTuple):
    """What a step returns per world (preallocated by the caller)."""

    reward: np.ndarray  # (B,) float64: the sum of the terms
    terminated: np.ndarray  # (B,) bool
    truncated: np.ndarray  # (B,) bool
    terms: np.ndarray  # (B, len(REWARD_TERMS)) float64 weighted reward terms
    events: np.ndarray  # (B, len(EVENT_NAMES)) bool


class Sensors(NamedTuple):
    """Sensor outputs filled by the step (an empty (0, 0) array for a sensor not asked for)."""

    lidar: np.ndarray  # (B, N) float32 ranges in [0, 1]
    lidar_class: np.ndarray  # (B, N) int64 LidarHit
    state: np.ndarray  # (B, STATE_DIM) float32
    beam_offsets: np.ndarray  # (N,) [rad] beam angles relative to the heading
    route: np.ndarray  # (B, ROUTE_DIM) float32 waypoints ahead in the ego frame
    waypoint_distances: np.ndarray  # (ROUTE_DIM / 2,) [m] along the route


STEP, OBSERVE, SKIP = 2, 1, 0  # what step_batch does with a world


@parallel_kernel
def step_batch(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
               actions: np.ndarray, out: StepOutput, sensors: Sensors, mode: np.ndarray) -> None:
    """Per world (mode (B,) int8): STEP advances it by dt with actions (B, 2) in [-1, 1] (validated)
    and fills the sensors of its new state; OBSERVE only fills its sensors (after a reset); SKIP
    leaves it alone."""
    for index in prange(len(state.clock)):
        w = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        if mode[w] == STEP:
            step_world(maps, params, shared, state, ws, actions, out, w)
        if mode[w] != SKIP:
            observe_world(maps, params, shared, state, ws, sensors, w)


@inner
def observe_world(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
                  sensors: Sensors, w: int) -> None:
    if sensors.lidar.shape[0] > 0:
        scan_world(maps, params, shared, state, ws, sensors.beam_offsets, w, sensors.lidar[w], sensors.lidar_class[w])
    if sensors.state.shape[0] > 0:
        state_world(maps, params, shared, state, w, sensors.state[w])
    if sensors.route.shape[0] > 0:
        waypoints_world(maps, state, sensors.waypoint_distances, w, sensors.route[w])


@inner
def step_world(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
               actions: np.ndarray, out: StepOutput, w: int) -> None:
    clock, route, ego, world = state.clock[w], state.route[w], state.ego[w], params.world[w]
    m, dt = clock.map, shared.dt
    car = state.cars[w, ego.car]
    prev_progress = route.progress
    push_trail(state, w)  # the scene this step leaves, for the camera's history frame
    # the controlled car: actuators and kinematic bicycle
    steer, v, accel = actuate(actions[w, 0], actions[w, 1], car.steer, car.v, shared.max_steer, shared.max_steer_rate,
                              shared.max_accel, shared.max_brake, shared.max_speed, dt)
    ego.jerk, ego.steer_rate = (accel - car.accel) / dt, (steer - car.steer) / dt
    car.x, car.y, car.yaw = move(car.x, car.y, car.yaw, v, steer, shared.wheelbase, dt)
    car.v, car.steer, car.accel = v, steer, accel
    ego.distance += v * dt
    ran_red = track_route(maps, state, m, w)
    clock.t += 1
    update_lights(maps.lanes, maps.nodes, m, maps.info[m].n_lanes, state.signal_offset[w], state.lights[w],
                  clock.t * dt, world.green_time, world.yellow_time, world.all_red_time)
    # everybody else
    n_cars, n_peds = 1 + world.n_cars, world.n_peds
    if n_cars > 1:
        scene = build_scene(maps, state, ws, m, w, n_cars, n_peds, clock.t * dt,
                            (world.green_time, world.yellow_time, world.all_red_time))
        step_npcs(maps, params, state, ws, scene, m, w, dt)
        break_gridlock(maps, params, state, m, w, dt)
    step_pedestrians(maps, params, state, m, w, dt)
    fire_events(maps, params, state, m, w, dt)
    # events and rewards
    ev = out.events[w]
    ev[:] = False
    footprint = Footprint(car.x, car.y, car.yaw, car.length, car.width)
    ev[COLLISION_VEHICLE], ev[COLLISION_PEDESTRIAN] = hits(footprint, state.cars[w, :n_cars], state.peds[w, :n_peds],
                                                           ws.cars[w, :n_cars], ws.peds[w, :n_peds])
    ev[COLLISION_STATIC], ev[OFF_ROAD] = static_contact(maps, m, footprint)
    ev[RED_LIGHT] = ran_red
    lane = maps.lanes[m, state.route_lanes[w, route.i]]
    if lane.kind == _ROAD:
        ev[WRONG_WAY] = abs(route.heading_error) > 0.5 * math.pi or route.lateral > lane.offset + 0.5
    ev[GOAL] = route.progress >= route.total
    ev[OFF_ROUTE] = abs(route.lateral) > world.off_route_distance
    ev[STUCK] = clock.t - route.last_progress_t >= world.stuck_steps
    ev[TIMEOUT] = clock.t >= world.max_steps
    inputs = RewardInputs(route.progress - prev_progress, route.lateral, v, world.speed_limit, ego.jerk,
                          ego.steer_rate, shared.max_steer_rate, maps.info[m].lane_width, route.total,
                          route.progress / route.total)
    out.reward[w] = reward_terms_into(ev, inputs, world.reward, world.reward_mode, world.carl_terminal, dt,
                                      out.terms[w])
    terminated = False
    carl = world.reward_mode == CARL or world.reward_mode == SCORE  # both end episodes on infractions
    for k in range(len(ev)):
        terminated |= ev[k] and (TERMINATING_MASK[k] or (carl and CARL_ENDS_MASK[k]))
    out.terminated[w], out.truncated[w] = terminated, ev[TIMEOUT] and not terminated


@inner
def track_route(maps: MapArrays, state: SimState, m: int, w: int) -> bool:
    """Project the controlled car onto its current and next route lanes and advance along the
    route; mirror its route position into its car slot. Returns: it crossed a stop line on red."""
    route = state.route[w]
    car = state.cars[w, state.ego[w].car]
    i = route.i
    lane = state.route_lanes[w, i]
    s_a, lat_a, d_a = project(maps.samples, m, lane, car.x, car.y)
    length = maps.lanes[m, lane].length
    ran_red, advance = False, False
    s_b, lat_b = 0.0, 0.0
    if i + 1 < route.n:
        s_b, lat_b, d_b = project(maps.samples, m, state.route_lanes[w, i + 1], car.x, car.y)
        advance = d_b < d_a or s_a > length
    if advance:
        ran_red = state.lights[w, lane] == _RED
        route.i, route.s, route.lateral = i + 1, s_b, lat_b
        lane = state.route_lanes[w, i + 1]
    else:
        route.s, route.lateral = min(s_a, length + 5.0), lat_a
    _, _, lane_yaw = pose(maps.samples, m, lane, route.s)
    route.heading_error = wrap(car.yaw - lane_yaw)
    route.progress = state.route_cum[w, route.i] + route.s - route.start_s
    if route.progress > route.best_progress + PROGRESS_EPS:
        route.best_progress, route.last_progress_t = route.progress, state.clock[w].t + 1
    car.lane, car.s = lane, route.s
    car.next = routing.lane_at(state.route_lanes, state.route, w, route.i + 1)
    car.on_lane = abs(route.lateral) < ON_LANE_DISTANCE
    return ran_red
