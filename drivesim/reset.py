"""Episode start: a compiled kernel that (re)starts the episodes of chosen worlds from their
(seed, episode) keys — map, controlled car and route, NPC cars, pedestrians, light offsets and the
scenario's start conditions. Every draw is keyed by the world's own seed, episode and actor index,
and every loop runs over the world's own map and actor counts, never the batch's padding."""

from __future__ import annotations

import math

import numpy as np

from drivesim import rng
from drivesim import route as routing
from drivesim.actors.driver import CAR_LENGTH, CAR_WIDTH
from drivesim.actors.pedestrians import PED_GAP, next_segment, place
from drivesim.actors.signals import update_lights
from drivesim.actors.traffic import choose_next
from drivesim.actors.trail import fill_trail
from drivesim.jit import inner, kernel
from drivesim.map.city import LaneKind, MapArrays, PedPathKind
from drivesim.map.lanes import pose
from drivesim.params import SharedParams, WorldParams
from drivesim.state import SimState
from drivesim.workspace import Workspace

SPAWN_CLEARANCE = 14.0  # [m] no NPC spawns this close to the controlled car
LEAD_CAR_GAP = 15.0  # [m] centre distance of the scenario lead car ahead of the controlled car
LEAD_CAR_SLOT = 1  # the first NPC slot
BEFORE_SIGNAL = 1  # index of StartKind.BEFORE_SIGNAL in params.START_KINDS
KEY_OFFSET = 1 << 20  # keys of a second draw in a stream (beyond any actor or slot index)
SPAWN_TRIES = 8  # places tried for a pedestrian before it may stand close to another one
EGO = 0  # car slot of the controlled car
_ROAD, _SIDEWALK = int(LaneKind.ROAD), int(PedPathKind.SIDEWALK)


@kernel
def reset_worlds(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
                 rows: np.ndarray, seeds: np.ndarray, episodes: np.ndarray) -> None:
    """Start episode `episodes[k]` of world `rows[k]` with seed `seeds[k]` (serial: a reset costs
    a few tens of microseconds per world, and a parallel loop would double this kernel's compile time)."""
    for k in range(len(rows)):
        reset_world(maps, params, shared, state, ws, rows[k], seeds[k], episodes[k])


@inner
def reset_world(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace, w: int,
                seed: np.uint64, episode: int) -> None:
    clock, world = state.clock[w], params.world[w]
    clock.seed, clock.episode, clock.t = seed, episode, 0
    m = world.map_first + rng.pick(world.map_count, rng.uniform3(seed, episode, rng.Stream.MAP_CHOICE))
    clock.map = m
    _reset_controlled_car(maps, params, shared, state, m, w, seed, episode)
    _reset_npcs(maps, params, state, ws, m, w, seed, episode)
    if world.lead_car and world.n_cars > 0:
        _place_lead_car(maps, params, state, m, w)
    _reset_pedestrians(maps, params, state, ws, m, w, seed, episode)
    cycle = 2.0 * (world.green_time + world.yellow_time + world.all_red_time)
    offset = state.signal_offset[w]
    for node in range(maps.info[m].n_nodes):
        offset[node] = cycle * rng.uniform4(seed, episode, rng.Stream.SIGNAL_OFFSET, node)
    if world.green_at_start:  # the first intersection's cycle starts the route's green phase now
        first = maps.lanes[m, state.route_lanes[w, 0]]
        offset[first.node] = (first.axis * cycle / 2) % cycle
    update_lights(maps.lanes, maps.nodes, m, maps.info[m].n_lanes, offset, state.lights[w], 0.0, world.green_time,
                  world.yellow_time, world.all_red_time)
    fill_trail(state, w, shared.dt)


@inner
def _start_lane(maps: MapArrays, params: WorldParams, m: int, w: int, seed: np.uint64, episode: int
                ) -> tuple[int, float]:
    """Start lane and position: a random spawn slot, or `start_min..start_max` m before the stop
    line of a signalised intersection (start = before_signal)."""
    world = params.world[w]
    spawn = maps.spawns[m, rng.pick(maps.info[m].n_spawn, rng.uniform3(seed, episode, rng.Stream.EGO_SPAWN))]
    if world.start_kind != BEFORE_SIGNAL:
        return spawn.lane, spawn.s
    lo, hi = world.start_min, world.start_max
    best, lane = -1.0, -1
    for candidate in range(maps.info[m].n_lanes):
        rec = maps.lanes[m, candidate]
        if rec.kind == _ROAD and maps.nodes[m, rec.node].signal and rec.length > lo + 5.0:
            u = rng.uniform4(seed, episode, rng.Stream.EGO_SPAWN, candidate)
            if u > best:
                best, lane = u, candidate
    if lane < 0:  # no signalised intersection in this map
        return spawn.lane, min(4.0, maps.lanes[m, spawn.lane].length / 2)
    back = lo + (hi - lo) * rng.uniform4(seed, episode, rng.Stream.EGO_SPAWN, np.int64(KEY_OFFSET))
    length = maps.lanes[m, lane].length
    return lane, min(max(length - back, 2.0), length - 2.0)


@inner
def _goal(maps: MapArrays, params: WorldParams, m: int, w: int, lane: int, seed: np.uint64, episode: int) -> int:
    """A goal link whose route length is within [route_min, route_max] (starting with the wanted
    turn when the scenario asks for one and the map has it); else the farthest reachable one."""
    world = params.world[w]
    link = maps.lanes[m, lane].link
    n = maps.info[m].n_links
    any_ok, any_turn, far_d, far_goal = False, False, -1.0, 0
    for goal in range(n):
        d = maps.routing[m, link, goal].dist
        ok = math.isfinite(d) and world.route_min <= d <= world.route_max
        any_ok |= ok
        any_turn |= ok and _first_turn_is(maps, m, lane, link, goal, world.first_turn)
        if math.isfinite(d) and d > far_d:
            far_d, far_goal = d, goal
    if not any_ok:
        return far_goal
    best_u, best_goal = -1.0, 0
    for goal in range(n):
        d = maps.routing[m, link, goal].dist
        ok = math.isfinite(d) and world.route_min <= d <= world.route_max
        if ok and (not any_turn or _first_turn_is(maps, m, lane, link, goal, world.first_turn)):
            u = rng.uniform4(seed, episode, rng.Stream.ROUTE_GOAL, goal)
            if u > best_u:
                best_u, best_goal = u, goal
    return best_goal


@inner
def _first_turn_is(maps: MapArrays, m: int, lane: int, link: int, goal: int, turn: int) -> bool:
    """The route from road lane `lane` (on `link`) to `goal` starts with `turn` (0: any turn does)."""
    if turn == 0:
        return False
    first = maps.routing[m, link, goal].next_hop
    conn = maps.lane_to_link[m, lane, first] if first >= 0 else -1
    return conn >= 0 and maps.lanes[m, conn].turn == turn


@inner
def _set_car(car, lane: int, nxt: int, s: float, pose_xyyaw: tuple[float, float, float], v: float, v0: float,
             length: float, width: float) -> None:
    car.lane, car.next, car.s = lane, nxt, s
    car.x, car.y, car.yaw = pose_xyyaw
    car.v, car.v0, car.steer, car.accel = v, v0, 0.0, 0.0
    car.length, car.width = length, width
    car.active, car.controlled, car.on_lane = True, False, True
    car.brake_until, car.ignores_lights, car.stopped_time, car.holding = -1.0, False, 0.0, False


@inner
def _reset_controlled_car(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, m: int,
                          w: int, seed: np.uint64, episode: int) -> None:
    lane, s0 = _start_lane(maps, params, m, w, seed, episode)
    n = routing.expand(maps, m, lane, _goal(maps, params, m, w, lane, seed, episode), state.route_lanes[w])
    total = 0.0
    for j in range(state.route_lanes.shape[1]):
        state.route_cum[w, j] = total
        if j < n:
            total += maps.lanes[m, state.route_lanes[w, j]].length
    r = state.route[w]
    r.n = n
    r.total = state.route_cum[w, n - 1] + maps.lanes[m, state.route_lanes[w, n - 1]].length / 2 - s0
    r.i, r.s, r.start_s, r.last_progress_t = 0, s0, s0, 0
    r.lateral, r.heading_error, r.progress, r.best_progress = 0.0, 0.0, 0.0, 0.0
    ego = state.ego[w]
    ego.car, ego.jerk, ego.steer_rate, ego.distance = EGO, 0.0, 0.0, 0.0
    for i in range(state.cars.shape[1]):  # every slot of this world starts empty
        state.cars[w, i].active = False
    car = state.cars[w, EGO]
    _set_car(car, lane, routing.lane_at(state.route_lanes, state.route, w, np.int64(1)), s0, pose(maps.samples, m, lane, s0),
             0.0, 0.0, shared.length, shared.width)
    car.controlled = True


@inner
def _draw_distinct(keys: np.ndarray, n: int, seed: np.uint64, episode: int, stream: int, attempt: int) -> tuple[int, int]:
    """A uniformly random index in [0, n) not yet taken (keys[:n].taken), drawn by rejection from
    the keyed stream starting at `attempt`; returns (index or -1 after 8 n attempts, next attempt)."""
    while attempt < 8 * n:
        k = rng.pick(n, rng.uniform4(seed, episode, stream, attempt))
        attempt += 1
        if not keys[k].taken:
            keys[k].taken = True
            return k, attempt
    return -1, attempt


@inner
def _reset_npcs(maps: MapArrays, params: WorldParams, state: SimState, ws: Workspace, m: int, w: int,
                seed: np.uint64, episode: int) -> None:
    """NPC k (car slot 1 + k) on a random free spawn slot (distinct, away from the controlled car);
    NPCs that find none stay empty."""
    world = params.world[w]
    if world.n_cars == 0:
        return
    ego = state.cars[w, EGO]
    n_slots = maps.info[m].n_spawn
    keys = ws.keys[w]
    for slot in range(n_slots):  # a slot near the controlled car counts as taken
        spawn = maps.spawns[m, slot]
        x, y, _ = pose(maps.samples, m, spawn.lane, spawn.s)
        keys[slot].taken = math.hypot(x - ego.x, y - ego.y) < SPAWN_CLEARANCE
    attempt = 0
    for k in range(world.n_cars):
        slot, attempt = _draw_distinct(keys, n_slots, seed, episode, rng.Stream.CAR_SPAWN, attempt)
        if slot < 0:
            break
        spawn = maps.spawns[m, slot]
        v0 = world.speed_limit * (0.8 + 0.3 * rng.uniform4(seed, episode, rng.Stream.CAR_SPEED, k))
        nxt = choose_next(maps.lanes, m, spawn.lane, rng.uniform4(seed, episode, rng.Stream.CAR_TURN, k))
        _set_car(state.cars[w, 1 + k], spawn.lane, nxt, spawn.s, pose(maps.samples, m, spawn.lane, spawn.s), 0.5 * v0,
                 v0, CAR_LENGTH, CAR_WIDTH)


@inner
def _place_lead_car(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int) -> None:
    """The first NPC slot starts LEAD_CAR_GAP ahead on the route, at rest; cars close to it leave."""
    r = state.route[w]
    q = r.s + LEAD_CAR_GAP
    j = 0
    for k in range(r.n):
        if state.route_cum[w, k] <= q:
            j = k
    lane = state.route_lanes[w, j]
    s = min(q - state.route_cum[w, j], maps.lanes[m, lane].length)
    nxt = routing.lane_at(state.route_lanes, state.route, w, j + 1)
    if nxt < 0:
        nxt = maps.lanes[m, lane].next[0]
    lead = state.cars[w, LEAD_CAR_SLOT]
    v0 = lead.v0 if lead.active else params.world[w].speed_limit
    xyyaw = pose(maps.samples, m, lane, s)
    _set_car(lead, lane, nxt, s, xyyaw, 0.0, v0, CAR_LENGTH, CAR_WIDTH)
    for k in range(1, 1 + params.world[w].n_cars):
        car = state.cars[w, k]
        if k != LEAD_CAR_SLOT and math.hypot(car.x - xyyaw[0], car.y - xyyaw[1]) < CAR_LENGTH + 3.0:
            car.active = False


@inner
def _crowded(peds: np.ndarray, w: int, p: int) -> bool:
    """Pedestrian p stands closer than PED_GAP to an active one of lower index."""
    q = peds[w, p]
    for k in range(p):
        o = peds[w, k]
        if o.active and (o.x - q.x) ** 2 + (o.y - q.y) ** 2 < PED_GAP * PED_GAP:
            return True
    return False


@inner
def _reset_pedestrians(maps: MapArrays, params: WorldParams, state: SimState, ws: Workspace, m: int, w: int,
                       seed: np.uint64, episode: int) -> None:
    """Pedestrian p on a random sidewalk segment (distinct), at a random position; pedestrians that
    find none stay inactive."""
    world = params.world[w]
    if world.n_peds == 0:
        return
    n_seg = maps.info[m].n_ped
    keys = ws.keys[w]
    for seg in range(n_seg):  # crossings count as taken
        keys[seg].taken = maps.paths[m, seg].kind != _SIDEWALK
    attempt = 0
    for p in range(world.n_peds):
        q = state.peds[w, p]
        q.jaywalker = rng.uniform4(seed, episode, rng.Stream.PED_JAYWALK, p) < world.jaywalk_share
        q.speed = world.ped_speed * (0.75 + 0.5 * rng.uniform4(seed, episode, rng.Stream.PED_SPEED, p))
        for tries in range(SPAWN_TRIES):  # a place at least PED_GAP from everyone placed before, if one is found
            seg, attempt = _draw_distinct(keys, n_seg, seed, episode, rng.Stream.PED_SPAWN, attempt)
            q.active = seg >= 0
            q.seg = max(seg, 0)
            u = rng.uniform4(seed, episode, rng.Stream.PED_SPAWN, p + KEY_OFFSET * (1 + tries))
            q.s = u * maps.paths[m, q.seg].length
            q.next = next_segment(maps.paths, m, q.seg, q.jaywalker, rng.uniform4(seed, episode, rng.Stream.PED_TURN, p))
            place(q, maps.paths, m, 0.0)
            if seg < 0 or not _crowded(state.peds, w, p) or tries == SPAWN_TRIES - 1:
                break
            keys[seg].taken = False  # too close to someone: give the segment back, draw again
        q.moving, q.script_left, q.blocker = q.active, 0.0, -1
        q.vx, q.vy = q.speed * math.cos(q.yaw) * q.active, q.speed * math.sin(q.yaw) * q.active
