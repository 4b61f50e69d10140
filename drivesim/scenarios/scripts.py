"""Scripted scenario events, fired in a world when its episode clock passes the event's time.

Each world carries its own events (`WorldParams.event_*`), so a batch can mix scenarios. The
handlers change the world only through its state, inside the step kernel."""

from __future__ import annotations

import math

from drivesim import route as routing
from drivesim.actors.signals import phase, update_lights
from drivesim.jit import inner
from drivesim.map.city import LaneKind, MapArrays, Turn
from drivesim.map.lanes import pose
from drivesim.params import WorldParams
from drivesim.state import SimState

STEP_OUT_SPEED = 1.8  # [m/s] a pedestrian stepping out walks briskly
RED_RUNNER_SPEED = 10.0  # [m/s]
RED_RUNNER_DISTANCE = 30.0  # [m] before its stop line when it appears
RED_RUNNER_SLOT = 1  # the first NPC car slot
# kernel codes: the index of each kind in params.EVENT_KINDS
PEDESTRIAN_STEPS_OUT, LEAD_CAR_BRAKES, CAR_RUNS_RED, LIGHT_TURNS_RED = range(4)


_ROAD, _STRAIGHT = int(LaneKind.ROAD), int(Turn.STRAIGHT)


@inner
def fire_events(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, dt: float) -> None:
    """Apply world w's events whose time falls in the step that just ended."""
    t = state.clock[w].t
    now, before = t * dt, (t - 1) * dt
    for e in range(params.world[w].n_events):
        event = params.events[w, e]
        if not (before < event.time - 1e-9 <= now):
            continue
        if event.kind == PEDESTRIAN_STEPS_OUT:
            _pedestrian_steps_out(maps, params, state, m, w, event.distance)
        elif event.kind == LEAD_CAR_BRAKES:
            _lead_car_brakes(params, state, w, event.time + event.duration)
        elif event.kind == CAR_RUNS_RED:
            _car_runs_red(maps, params, state, m, w)
        elif event.kind == LIGHT_TURNS_RED:
            _light_turns_red(maps, params, state, m, w, now)


@inner
def kerb_offset(maps: MapArrays, m: int, lane: int) -> float:
    """[m] from a lane's centre to the right kerb (road lanes: from the lane offset and width)."""
    w = maps.info[m].lane_width
    rec = maps.lanes[m, lane]
    if rec.kind != _ROAD:
        return w / 2 + 1.0
    half_road = 2 * w if rec.offset > w else w  # 1 or 2 lanes per direction
    return half_road - rec.offset + w / 2


@inner
def _pedestrian_steps_out(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, distance: float
                          ) -> None:
    """The last pedestrian slot appears on the kerb `distance` ahead on the route, right side, and
    walks straight across the road to the far kerb."""
    n = params.world[w].n_peds
    if n == 0:
        return
    lane, s = routing.position_ahead(maps, state, m, w, distance, 0.0)
    x, y, yaw = pose(maps.samples, m, lane, s)
    kerb = kerb_offset(maps, m, lane)
    q = state.peds[w, n - 1]
    q.x, q.y = x + math.sin(yaw) * (kerb + 1.0), y - math.cos(yaw) * (kerb + 1.0)
    q.yaw = yaw + math.pi / 2  # walking to the left, across the road
    q.active, q.moving, q.blocker = True, True, -1
    q.speed = STEP_OUT_SPEED
    q.vx, q.vy = q.speed * math.cos(q.yaw), q.speed * math.sin(q.yaw)
    q.script_left = 2 * kerb + 2.0  # [m] to walk before leaving the road


@inner
def _lead_car_brakes(params: WorldParams, state: SimState, w: int, until: float) -> None:
    """The nearest car ahead of the controlled car in its lane brakes hard until `until` [s]."""
    r = state.route[w]
    lane = state.route_lanes[w, r.i]
    best, k = math.inf, -1
    for i in range(1 + params.world[w].n_cars):
        car = state.cars[w, i]
        if car.active and not car.controlled and car.lane == lane and r.s < car.s < r.s + best:
            best, k = car.s - r.s, i
    if k >= 0:
        state.cars[w, k].brake_until = until


@inner
def _next_road_lane(maps: MapArrays, state: SimState, m: int, w: int) -> int:
    """The road lane whose stop line the controlled car reaches next (-1 at the end of the route)."""
    r = state.route[w]
    j = r.i + 1 if maps.lanes[m, state.route_lanes[w, r.i]].kind != _ROAD else r.i
    return state.route_lanes[w, j] if j < r.n - 1 else -1


@inner
def _car_runs_red(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int) -> None:
    """The first NPC slot reappears on a crossing approach of the controlled car's next
    intersection and drives straight through, ignoring its red light."""
    road = _next_road_lane(maps, state, m, w)
    if params.world[w].n_cars == 0 or road < 0:
        return
    rec = maps.lanes[m, road]
    cross = maps.nodes[m, rec.node].approach[1 - rec.axis]
    if cross < 0:
        return
    start = maps.lanes[m, cross]
    s = max(start.length - RED_RUNNER_DISTANCE, 0.0)
    nxt = start.next[0]
    for k in range(start.n_next):
        if maps.lanes[m, start.next[k]].turn == _STRAIGHT:
            nxt = start.next[k]
            break
    car = state.cars[w, RED_RUNNER_SLOT]
    car.lane, car.next, car.s = cross, nxt, s
    car.v, car.v0, car.active = RED_RUNNER_SPEED, RED_RUNNER_SPEED, True
    car.x, car.y, car.yaw = pose(maps.samples, m, cross, s)
    car.ignores_lights, car.stopped_time = True, 0.0


@inner
def _light_turns_red(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, now: float) -> None:
    """Shift the controlled car's next intersection's cycle so its light turns yellow now."""
    road = _next_road_lane(maps, state, m, w)
    if road < 0:
        return
    rec, world = maps.lanes[m, road], params.world[w]
    offset = state.signal_offset[w]
    tau = phase(now, offset[rec.node], rec.axis, world.green_time, world.yellow_time, world.all_red_time)
    offset[rec.node] += world.green_time - tau  # phase time becomes green_time: yellow
    update_lights(maps.lanes, maps.nodes, m, maps.info[m].n_lanes, offset, state.lights[w], now, world.green_time,
                  world.yellow_time, world.all_red_time)
