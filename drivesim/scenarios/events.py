"""Scripted scenario events, applied to the worlds whose episode clock passes the event time.

Each handler is vectorised over the rows that fire; the World calls `fire_events` once per step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drivesim.actors.signals import phase_time
from drivesim.config import EventConfig, EventKind
from drivesim.map.city import LaneKind, Turn
from drivesim.map.lanes import lane_pose

if TYPE_CHECKING:
    from drivesim.world import World

STEP_OUT_SPEED = 1.8  # [m/s] a pedestrian stepping out walks briskly
HARD_BRAKE = 6.0  # [m/s^2] lead-car braking
RED_RUNNER_SPEED = 10.0  # [m/s]
RED_RUNNER_DISTANCE = 30.0  # [m] before its stop line when it appears


def fire_events(world: World) -> None:
    """Apply every event whose time falls in the step that just ended."""
    dt = world.config.dt
    now, before = world.t * dt, (world.t - 1) * dt
    for event in world.config.scenario.events:
        rows = np.flatnonzero((before < event.time - 1e-9) & (event.time - 1e-9 <= now))
        if rows.size:
            _HANDLERS[event.kind](world, rows, event)


def _pedestrian_steps_out(world: World, rows: np.ndarray, event: EventConfig) -> None:
    """The last pedestrian slot appears at the kerb `distance` ahead on the route, right side, and
    walks straight across the road."""
    if world.peds.x.shape[1] == 0:
        return
    lane, s = world.route_position(event.distance, rows)
    m = world.map_idx[rows]
    x, y, yaw = lane_pose(world.pool, m, lane, s)
    kerb = _kerb_offset(world, m, lane)
    right = np.stack([np.sin(yaw), -np.cos(yaw)], axis=1)
    start = np.stack([x, y], axis=1) + right * (kerb + 1.0)[:, None]
    p = world.peds.x.shape[1] - 1
    world.peds.x[rows, p], world.peds.y[rows, p] = start[:, 0], start[:, 1]
    world.peds.yaw[rows, p] = yaw + np.pi / 2  # walking to the left, across the road
    world.peds.active[rows, p] = True
    world.peds.speed[rows, p] = STEP_OUT_SPEED
    world.ped_script_left[rows, p] = 2 * kerb + 2.0  # [m] to walk before leaving the road


def _kerb_offset(world: World, m: np.ndarray, lane: np.ndarray) -> np.ndarray:
    """[m] from a lane's centre to the right kerb (road lanes: from the lane offset and width)."""
    pool = world.pool
    offset = pool.lane_offset[m, lane]
    is_road = pool.lane_kind[m, lane] == LaneKind.ROAD
    w = world.config.map.lane_width
    half_road = np.where(offset > w, 2 * w, w)  # 1 or 2 lanes per direction
    return np.where(is_road, half_road - offset + w / 2, w / 2 + 1.0)


def _lead_car_brakes(world: World, rows: np.ndarray, event: EventConfig) -> None:
    """The nearest car ahead of the ego in its lane brakes hard for `duration`."""
    cars = world.cars
    lane = world.route[rows, world.route_i[rows]]
    same = cars.active[rows] & (cars.lane[rows] == lane[:, None]) & (cars.s[rows] > world.route_s[rows, None])
    ahead = np.where(same, cars.s[rows] - world.route_s[rows, None], np.inf)
    k = np.argmin(ahead, axis=1)
    ok = np.isfinite(ahead[np.arange(len(rows)), k])
    world.car_brake_until[rows[ok], k[ok]] = event.time + event.duration


def _car_runs_red(world: World, rows: np.ndarray, event: EventConfig) -> None:
    """Car slot 0 reappears on a crossing approach of the ego's next signalised intersection and
    drives straight through, ignoring its red light."""
    if world.cars.x.shape[1] == 0:
        return
    pool = world.pool
    m = world.map_idx[rows]
    road = _next_road_lane(world, rows)
    node, axis = pool.lane_node[m, road], pool.lane_axis[m, road]
    cross = world.crossing_approach[m, np.maximum(node, 0), 1 - np.maximum(axis, 0)]
    ok = (road >= 0) & (cross >= 0)
    rows, m, cross = rows[ok], m[ok], cross[ok]
    s = np.maximum(pool.lane_len[m, cross] - RED_RUNNER_DISTANCE, 0.0)
    succ = pool.lane_next[m, cross]  # (R, 3) connectors
    straight = pool.lane_turn[m[:, None], np.maximum(succ, 0)] == Turn.STRAIGHT
    nxt = np.where(straight.any(axis=1), succ[np.arange(len(rows)), np.argmax(straight, axis=1)], succ[:, 0])
    c = world.cars
    x, y, yaw = lane_pose(pool, m, cross, s)
    for arr, val in ((c.lane, cross), (c.next, nxt), (c.s, s), (c.v, RED_RUNNER_SPEED), (c.v0, RED_RUNNER_SPEED),
                     (c.active, True), (c.x, x), (c.y, y), (c.yaw, yaw)):
        arr[rows, 0] = val
    world.car_ignores_lights[rows, 0] = True


def _light_turns_red(world: World, rows: np.ndarray, event: EventConfig) -> None:
    """Shift the ego's next intersection's cycle so its light turns yellow now."""
    pool, cfg = world.pool, world.config.traffic
    m = world.map_idx[rows]
    road = _next_road_lane(world, rows)
    ok = road >= 0
    rows, m, road = rows[ok], m[ok], road[ok]
    node, axis = pool.lane_node[m, road], pool.lane_axis[m, road]
    t = world.time[rows]
    tau_now = phase_time(t, world.signal_offset[rows, node], axis, cfg)
    world.signal_offset[rows, node] += cfg.green_time - tau_now  # phase time becomes green_time: yellow
    world.update_lights()


def _next_road_lane(world: World, rows: np.ndarray) -> np.ndarray:
    """(R,) the road lane whose stop line the ego reaches next (-1 at the end of the route)."""
    pool = world.pool
    i = world.route_i[rows]
    lane = world.route[rows, i]
    on_connector = pool.lane_kind[world.map_idx[rows], lane] == LaneKind.CONNECTOR
    j = np.minimum(i + on_connector, world.max_route_lanes - 1)
    road = world.route[rows, j]
    return np.where(j < world.route_n[rows] - 1, road, -1)


_HANDLERS = {
    EventKind.PEDESTRIAN_STEPS_OUT: _pedestrian_steps_out,
    EventKind.LEAD_CAR_BRAKES: _lead_car_brakes,
    EventKind.CAR_RUNS_RED: _car_runs_red,
    EventKind.LIGHT_TURNS_RED: _light_turns_red,
}
