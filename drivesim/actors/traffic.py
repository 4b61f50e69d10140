"""NPC cars: lane following on random routes with IDM car-following, traffic lights, yielding at
intersections (conflicting connectors) and to pedestrians in their path.

All functions are vectorised over (B worlds, K cars); the ego takes part as one extra vehicle so
NPCs follow it and yield to it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from drivesim import rng
from drivesim.actors.idm import MAX_DECEL, idm_accel
from drivesim.actors.signals import Light
from drivesim.arrays import compact, take
from drivesim.config import TrafficConfig
from drivesim.map.city import LaneKind, MapPool, Turn
from drivesim.map.lanes import lane_pose

CAR_LENGTH = 4.5  # [m] NPC car length
CAR_WIDTH = 1.9  # [m]
APPROACH = 15.0  # [m] distance to the stop line within which a car negotiates the intersection
CLAIM_TIME = 3.0  # [s] a vehicle claims priority this long before reaching the stop line (or within APPROACH)
TURN_SPEED = 6.0  # [m/s] desired speed through a turn
PED_LOOKAHEAD = 14.0  # [m]
PED_CLEARANCE = 1.0  # [m] lateral margin to pedestrians, and distance kept in front of them
CROSS_LOOKAHEAD = 10.0  # [m] crossing-traffic check ahead of a car
EXIT_ROOM = 2 * CAR_LENGTH + 1.0  # [m] free length needed after an intersection to enter it
COS_CROSSING = float(np.cos(0.5))  # headings differing by more than 0.5 rad cross
SCRIPTED_BRAKE = 6.0  # [m/s^2] deceleration of a car told to brake hard by a scenario event
SHARED_START = 10.0  # [m] connectors leaving the same lane overlap over about this length
PED_PREDICT = 1.0  # [s] look-ahead of pedestrian positions


class Cars(NamedTuple):
    """NPC car state, every field (B, K)."""

    lane: np.ndarray  # int lane id
    next: np.ndarray  # int successor lane already chosen
    s: np.ndarray  # [m] centre position along the lane
    v: np.ndarray  # [m/s]
    v0: np.ndarray  # [m/s] desired speed
    active: np.ndarray  # bool
    x: np.ndarray  # [m]
    y: np.ndarray  # [m]
    yaw: np.ndarray  # [rad]


class Vehicle(NamedTuple):
    """The ego seen as a lane-bound vehicle, every field (B,)."""

    lane: np.ndarray  # current route lane
    next: np.ndarray  # next route lane (-1 at the end)
    s: np.ndarray  # [m]
    v: np.ndarray  # [m/s]
    on_lane: np.ndarray  # bool: close enough to its lane to be treated as in it
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    length: float  # [m]
    width: float  # [m]


class Context(NamedTuple):
    """Read-only inputs of a traffic step."""

    pool: MapPool
    map_idx: np.ndarray  # (B,)
    lights: np.ndarray  # (B, L) Light facing each lane's end (NONE for connectors/unsignalised)
    ped_xy: np.ndarray  # (B, P, 2) [m]
    ped_vel: np.ndarray  # (B, P, 2) [m/s]
    ped_active: np.ndarray  # (B, P) bool
    keys: tuple[np.ndarray, np.ndarray, np.ndarray]  # (B,) seed, episode, step for random draws
    cfg: TrafficConfig
    dt: float  # [s]
    time: np.ndarray | None = None  # (B,) [s] episode time (for scripted braking)
    brake_until: np.ndarray | None = None  # (B, K) [s] a car brakes hard until then (scenario event)
    ignores_lights: np.ndarray | None = None  # (B, K) a car runs red lights and claims right of way


def choose_next(pool: MapPool, map_idx: np.ndarray, lane: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Uniformly random successor of each lane; u uniform [0, 1) of lane's shape."""
    n = pool.lane_n_next[map_idx, lane]
    k = np.minimum((u * n).astype(np.int64), n - 1)
    return pool.lane_next[map_idx, lane, k]


def step_cars(cars: Cars, ego: Vehicle, ctx: Context) -> Cars:
    """Advance all NPC cars by one control step."""
    m = ctx.map_idx[:, None]
    length = ctx.pool.lane_len[m, cars.lane]  # (B, K)
    to_stop = length - cars.s - CAR_LENGTH / 2  # [m] front bumper to the end of the lane
    on_road = ctx.pool.lane_kind[m, cars.lane] == LaneKind.ROAD
    light = take(ctx.lights, cars.lane)
    must_stop = on_road & _must_stop_for_light(light, to_stop, cars.v, ctx.cfg)
    must_stop |= _intersection_stop(cars, ego, on_road & (to_stop < APPROACH), to_stop, light, ctx)
    can_stop = to_stop > cars.v**2 / (2 * MAX_DECEL) - 0.5
    must_stop &= can_stop
    if ctx.ignores_lights is not None:
        must_stop &= ~ctx.ignores_lights
    gap_lead, v_lead = _leader_gaps(cars, ego, length, ctx)
    gap_ped = _pedestrian_gaps(cars, ctx)
    gap_cross = _crossing_gaps(cars, ego, to_stop, ctx)
    v0 = _desired_speed(cars, to_stop, on_road, ctx)
    cfg = ctx.cfg
    idm = lambda gap, vl: idm_accel(cars.v, v0, gap, vl, a=cfg.idm_accel, b=cfg.idm_decel,  # noqa: E731
                                    time_headway=cfg.idm_time_headway, min_gap=cfg.idm_min_gap)
    zero = np.zeros_like(cars.v)
    stop_gap = np.where(must_stop, np.maximum(to_stop, 0.0) + 0.5, np.inf)
    accel = np.minimum.reduce([idm(gap_lead, v_lead), idm(stop_gap, zero), idm(gap_ped, zero),
                               idm(gap_cross, zero)])
    if ctx.brake_until is not None:
        accel = np.where(ctx.time[:, None] < ctx.brake_until, np.minimum(accel, -SCRIPTED_BRAKE), accel)
    v = np.maximum(cars.v + accel * ctx.dt, 0.0)
    s = cars.s + v * ctx.dt
    stop_s = length - CAR_LENGTH / 2
    clamp = must_stop & (s > stop_s)  # never creep over a red stop line
    s = np.where(clamp, np.maximum(cars.s, stop_s), s)
    v = np.where(clamp, 0.0, v)
    return _advance_lanes(cars._replace(s=s, v=v), length, ctx)


def _must_stop_for_light(light: np.ndarray, to_stop: np.ndarray, v: np.ndarray, cfg: TrafficConfig) -> np.ndarray:
    """Red: stop. Yellow: stop if it can be done at comfortable deceleration."""
    comfortable = to_stop > v**2 / (2 * cfg.idm_decel)
    return (light == Light.RED) | ((light == Light.YELLOW) & comfortable)


def _intersection_stop(cars: Cars, ego: Vehicle, approaching: np.ndarray, to_stop: np.ndarray, light: np.ndarray,
                       ctx: Context) -> np.ndarray:
    """(B, K) cars approaching an intersection that must wait at the stop line: their exit is
    blocked or they must yield. Evaluated only for the approaching cars."""
    out = np.zeros_like(approaching)
    if not approaching.any():
        return out
    blocked_all = exit_blocked(ctx.pool, ctx.map_idx, cars.next, cars, ego)
    viewers, valid = compact(approaching)
    blocked = take(blocked_all, viewers)
    wait = blocked | _must_yield(viewers, cars, ego, to_stop, light, blocked_all, ctx)
    rows = np.arange(len(viewers))[:, None]
    out[rows, viewers] = wait & valid
    return out


def _must_yield(viewers: np.ndarray, cars: Cars, ego: Vehicle, to_stop: np.ndarray, light: np.ndarray,
                exit_blocked: np.ndarray, ctx: Context) -> np.ndarray:
    """(B, n) for the cars `viewers` (B, n): True where the car's next connector conflicts with a
    vehicle already on a conflicting connector, or with a higher-priority vehicle approaching one
    (straight/right before left, then nearer the stop line, then lower index). Only vehicles free
    to go claim priority: not facing red, not blocked at their exit, and moving or at the line."""
    pool, m, m3 = ctx.pool, ctx.map_idx[:, None], ctx.map_idx[:, None, None]
    lanes = np.concatenate([cars.lane, ego.lane[:, None]], axis=1)  # (B, V) every vehicle
    nexts = np.concatenate([cars.next, np.maximum(ego.next, 0)[:, None]], axis=1)
    valid = np.concatenate([cars.active, ego.on_lane[:, None]], axis=1)
    ego_to_stop = pool.lane_len[ctx.map_idx, ego.lane] - ego.s - ego.length / 2
    dists = np.concatenate([to_stop, ego_to_stop[:, None]], axis=1)
    lights = np.concatenate([light, take(ctx.lights, ego.lane[:, None])], axis=1)
    kinds = pool.lane_kind[m, lanes]
    rank = (pool.lane_turn[m, nexts] == Turn.LEFT).astype(np.int64)
    mine = take(cars.next, viewers)[:, :, None]  # (B, n, 1)
    occupied = (valid & (kinds == LaneKind.CONNECTOR))[:, None, :] & pool.conflict[m3, mine, lanes[:, None, :]]
    has_next = np.concatenate([np.ones_like(cars.active), (ego.next >= 0)[:, None]], axis=1)
    speeds = np.concatenate([cars.v, ego.v[:, None]], axis=1)
    free = ~np.concatenate([exit_blocked, np.zeros_like(ego.on_lane)[:, None]], axis=1)
    ready = (speeds > 0.3) | (dists < 3.0)
    horizon = np.maximum(APPROACH, speeds * CLAIM_TIME)  # fast vehicles claim from further away
    claims = valid & has_next & free & ready & (kinds == LaneKind.ROAD) & (dists < horizon) & (lights != Light.RED)
    others = np.arange(lanes.shape[1])[None, None, :]
    my_rank, my_dist, me = take(rank, viewers)[:, :, None], take(dists, viewers)[:, :, None], viewers[:, :, None]
    their_rank, their_dist = rank[:, None, :], dists[:, None, :]
    higher = (their_rank < my_rank) | ((their_rank == my_rank) & (
        (their_dist < my_dist) | ((their_dist == my_dist) & (others < me))))
    competing = claims[:, None, :] & higher & (others != me) & pool.conflict[m3, mine, nexts[:, None, :]]
    return (occupied | competing).any(axis=2)


def exit_blocked(pool: MapPool, map_idx: np.ndarray, next_lane: np.ndarray, cars: Cars, ego: Vehicle) -> np.ndarray:
    """(B, K) True where the lane after the connector `next_lane` (B, K) has no room near its start
    for one more car (don't block the intersection)."""
    m = map_idx[:, None]
    exit_lane = pool.lane_next[m, next_lane, 0]  # (B, K)
    lanes = np.concatenate([cars.lane, ego.lane[:, None]], axis=1)
    s_all = np.concatenate([cars.s, ego.s[:, None]], axis=1)
    valid = np.concatenate([cars.active, ego.on_lane[:, None]], axis=1)
    first = np.full((len(lanes), pool.lane_len.shape[1]), np.inf)  # (B, L) smallest s on each lane
    np.minimum.at(first, (np.broadcast_to(np.arange(len(lanes))[:, None], lanes.shape)[valid], lanes[valid]),
                  s_all[valid])
    return take(first, exit_lane) < EXIT_ROOM


def _leader_gaps(cars: Cars, ego: Vehicle, length: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Bumper-to-bumper gap [m] and speed [m/s] of the nearest vehicle ahead along the car's lane,
    its next lane, the lane after a connector, or a sibling connector leaving the same lane (they
    overlap near their start). (B, K) each; inf gap when free.

    Sort-based: vehicles are sorted by (lane, s) so each one's same-lane leader is its successor in
    the order, and the first vehicle of every lane goes into a (B, L) table for look-ups."""
    pool, m = ctx.pool, ctx.map_idx[:, None]
    k = cars.lane.shape[1]
    lanes = np.concatenate([cars.lane, ego.lane[:, None]], axis=1)  # (B, V)
    s_all = np.concatenate([cars.s, ego.s[:, None]], axis=1)
    v_all = np.concatenate([cars.v, ego.v[:, None]], axis=1)
    valid = np.concatenate([cars.active, ego.on_lane[:, None]], axis=1)
    n_lanes = pool.lane_len.shape[1]
    gap_same, v_same, first_s, first_v = _group_leaders(lanes, s_all, v_all, valid, n_lanes)
    prev_all = pool.lane_prev[m, lanes]
    sibling = valid & (prev_all >= 0) & (s_all < SHARED_START)
    gap_sib, v_sib, sib_s, sib_v = _group_leaders(np.maximum(prev_all, 0), s_all, v_all, sibling, n_lanes)
    rows = np.arange(len(lanes))[:, None]
    next2 = pool.lane_next[m, cars.next, 0]
    to_end = length - cars.s
    candidates = [  # (gap to the leader's centre [m], its speed), each (B, K)
        (gap_same[:, :k], v_same[:, :k]),
        (to_end + first_s[rows, cars.next], first_v[rows, cars.next]),
        (to_end + pool.lane_len[m, cars.next] + first_s[rows, next2], first_v[rows, next2]),
        (to_end + sib_s[rows, cars.lane], sib_v[rows, cars.lane]),  # on a road lane: connectors leaving it
        (gap_sib[:, :k], v_sib[:, :k]),  # on a connector near its start: siblings ahead
    ]
    gap, v_lead = candidates[0]
    for g, v in candidates[1:]:
        closer = g < gap
        gap, v_lead = np.where(closer, g, gap), np.where(closer, v, v_lead)
    return np.where(cars.active, gap - CAR_LENGTH, np.inf), v_lead


def _group_leaders(group: np.ndarray, s: np.ndarray, v: np.ndarray, valid: np.ndarray, n_groups: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For vehicles (B, V) in groups (lanes) at positions s: the distance to the next vehicle ahead in
    the same group and its speed (B, V) (inf if none), and the smallest s and its vehicle's speed
    per group (B, n_groups) (inf if empty)."""
    key = np.where(valid, group * 1e4 + s, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    sg, ss, sv, ok = take(group, order), take(s, order), take(v, order), take(valid, order)
    inf_col = np.full((len(s), 1), np.inf)
    same = (sg[:, 1:] == sg[:, :-1]) & ok[:, 1:] & ok[:, :-1]
    ahead = np.concatenate([np.where(same, ss[:, 1:] - ss[:, :-1], np.inf), inf_col], axis=1)
    ahead_v = np.concatenate([sv[:, 1:], np.zeros((len(s), 1))], axis=1)
    rows = np.arange(len(s))[:, None]
    gap, gap_v = np.empty_like(ahead), np.empty_like(ahead_v)
    gap[rows, order], gap_v[rows, order] = ahead, ahead_v
    first = ok & np.concatenate([np.ones((len(s), 1), dtype=bool), sg[:, 1:] != sg[:, :-1]], axis=1)
    table_s, table_v = np.full((len(s), n_groups), np.inf), np.zeros((len(s), n_groups))
    b, i = np.nonzero(first)
    table_s[b, sg[b, i]], table_v[b, sg[b, i]] = ss[b, i], sv[b, i]
    return gap, gap_v, table_s, table_v


def _pedestrian_gaps(cars: Cars, ctx: Context) -> np.ndarray:
    """(B, K) distance [m] to stop before the nearest pedestrian in the car's path, now or in
    PED_PREDICT seconds. Only pedestrians on or about to enter the road (ctx.ped_active) count."""
    gap = np.full(cars.v.shape, np.inf)
    if ctx.ped_xy.shape[1] == 0 or not ctx.ped_active.any():
        return gap
    idx, valid = compact(ctx.ped_active)
    xy = take(ctx.ped_xy, idx)[:, None]  # (B, 1, n, 2)
    vel = take(ctx.ped_vel, idx)[:, None]
    c, s = np.cos(cars.yaw)[..., None], np.sin(cars.yaw)[..., None]
    for t in (0.0, PED_PREDICT):
        dx = xy[..., 0] + t * vel[..., 0] - cars.x[..., None]
        dy = xy[..., 1] + t * vel[..., 1] - cars.y[..., None]
        fx, fy = c * dx + s * dy, c * dy - s * dx
        ahead = valid[:, None, :] & (fx > 0) & (fx < PED_LOOKAHEAD) & (np.abs(fy) < CAR_WIDTH / 2 + PED_CLEARANCE)
        d = np.where(ahead, fx - CAR_LENGTH / 2 - PED_CLEARANCE, np.inf).min(axis=2)
        gap = np.minimum(gap, np.maximum(d, 0.01))
    return np.where(cars.active, gap, np.inf)


def _crossing_gaps(cars: Cars, ego: Vehicle, to_stop: np.ndarray, ctx: Context) -> np.ndarray:
    """(B, K) gap [m] to the ego (unless it waits in its lane) or a car inside an intersection crossing the path just ahead
    (heading differs by more than 0.5 rad; cars waiting on road lanes are handled by the
    intersection rules). Of two cars inside an intersection that see each other, the lower index
    goes first."""
    c, s = np.cos(cars.yaw), np.sin(cars.yaw)
    ego_cos = c * np.cos(ego.yaw)[:, None] + s * np.sin(ego.yaw)[:, None]
    ego_cos = np.where(ego.on_lane[:, None], ego_cos, -1.0)  # an ego off its lane is an obstacle at any heading
    gap = _crossing_gap(c, s, ego.x[:, None] - cars.x, ego.y[:, None] - cars.y, ego_cos)
    # like cars, an ego waiting in its lane before an intersection is left to the intersection rules
    ego_waiting = ego.on_lane & (ctx.pool.lane_kind[ctx.map_idx, ego.lane] == LaneKind.ROAD)
    gap = np.where(ego_waiting[:, None], np.inf, gap)
    in_junction = cars.active & (ctx.pool.lane_kind[ctx.map_idx[:, None], cars.lane] == LaneKind.CONNECTOR)
    if not in_junction.any():
        return np.where(cars.active, np.maximum(gap, 0.01), np.inf)
    rows = np.arange(len(gap))[:, None]
    obstacles, o_valid = compact(in_junction)
    ox, oy, oc, os_ = (take(a, obstacles) for a in (cars.x, cars.y, c, s))
    # cars inside intersections among themselves, with the mutual-sighting rule
    sees = _sees_each(ox, oy, oc, os_, ox, oy, oc, os_) & o_valid[:, :, None] & o_valid[:, None, :]
    sees &= obstacles[:, :, None] != obstacles[:, None, :]
    mutual = sees & np.swapaxes(sees, 1, 2)
    sees &= ~(mutual & (obstacles[:, :, None] < obstacles[:, None, :]))  # the higher index yields
    gap[rows, obstacles] = np.minimum(gap[rows, obstacles], np.where(
        o_valid, _first_gap(sees, ox, oy, oc, os_, ox, oy), np.inf))
    # cars approaching an intersection
    approaching = cars.active & ~in_junction & (to_stop < CROSS_LOOKAHEAD)
    if approaching.any():
        viewers, v_valid = compact(approaching)
        vx, vy, vc, vs = (take(a, viewers) for a in (cars.x, cars.y, c, s))
        sees = _sees_each(vx, vy, vc, vs, ox, oy, oc, os_) & v_valid[:, :, None] & o_valid[:, None, :]
        gap[rows, viewers] = np.minimum(gap[rows, viewers], np.where(
            v_valid, _first_gap(sees, vx, vy, vc, vs, ox, oy), np.inf))
    return np.where(cars.active, np.maximum(gap, 0.01), np.inf)


def _sees_each(vx: np.ndarray, vy: np.ndarray, vc: np.ndarray, vs: np.ndarray, ox: np.ndarray, oy: np.ndarray,
               oc: np.ndarray, os_: np.ndarray) -> np.ndarray:
    """(B, n_viewers, n_objects): viewer (position, heading cos/sin) sees the object crossing ahead."""
    dx, dy = ox[:, None, :] - vx[:, :, None], oy[:, None, :] - vy[:, :, None]
    cos_diff = vc[:, :, None] * oc[:, None, :] + vs[:, :, None] * os_[:, None, :]
    return _sees(vc[:, :, None], vs[:, :, None], dx, dy, cos_diff)


def _first_gap(sees: np.ndarray, vx: np.ndarray, vy: np.ndarray, vc: np.ndarray, vs: np.ndarray, ox: np.ndarray,
               oy: np.ndarray) -> np.ndarray:
    fx = vc[:, :, None] * (ox[:, None, :] - vx[:, :, None]) + vs[:, :, None] * (oy[:, None, :] - vy[:, :, None])
    return np.where(sees, fx - CAR_LENGTH, np.inf).min(axis=2)


def _sees(c: np.ndarray, s: np.ndarray, dx: np.ndarray, dy: np.ndarray, cos_diff: np.ndarray) -> np.ndarray:
    """A car with heading (cos c, sin s) sees an object at offset (dx, dy) crossing just ahead."""
    fx, fy = c * dx + s * dy, c * dy - s * dx
    return (cos_diff < COS_CROSSING) & (fx > 0) & (fx < CROSS_LOOKAHEAD) & (np.abs(fy) < CAR_WIDTH + 0.3)


def _crossing_gap(c: np.ndarray, s: np.ndarray, dx: np.ndarray, dy: np.ndarray, cos_diff: np.ndarray) -> np.ndarray:
    fx = c * dx + s * dy
    return np.where(_sees(c, s, dx, dy, cos_diff), fx - CAR_LENGTH, np.inf)


def _desired_speed(cars: Cars, to_stop: np.ndarray, on_road: np.ndarray, ctx: Context) -> np.ndarray:
    """Desired speed, lowered through turns and before them (comfortable deceleration profile)."""
    m = ctx.map_idx[:, None]
    turning_now = ctx.pool.lane_turn[m, cars.lane] != Turn.STRAIGHT
    turning_next = ctx.pool.lane_turn[m, cars.next] != Turn.STRAIGHT
    v_turn = np.minimum(cars.v0, TURN_SPEED)
    before = np.sqrt(v_turn**2 + 2 * ctx.cfg.idm_decel * np.maximum(to_stop, 0.0))
    v0 = np.where(on_road & turning_next, np.minimum(cars.v0, before), cars.v0)
    return np.where(~on_road & turning_now, v_turn, v0)


def _advance_lanes(cars: Cars, length: np.ndarray, ctx: Context) -> Cars:
    """Move cars past the end of their lane onto the chosen successor and pick the next one."""
    m = ctx.map_idx[:, None]
    over = cars.s >= length
    lane = np.where(over, cars.next, cars.lane)
    s = np.where(over, cars.s - length, cars.s)
    seed, episode, step = (k[:, None] for k in ctx.keys)
    u = rng.uniform(seed, episode, step, rng.Stream.CAR_TURN, np.arange(lane.shape[1])[None, :])
    nxt = np.where(over, choose_next(ctx.pool, m, lane, u), cars.next)
    x, y, yaw = lane_pose(ctx.pool, m, lane, s)
    return cars._replace(lane=lane, next=nxt, s=s, x=x, y=y, yaw=yaw)
