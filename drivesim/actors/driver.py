"""The driver model: one set of rules for every car that is not driven by actions, and for the
autopilot that drives the controlled car.

A driver looks along its path (the lanes it knows it will take: an NPC its lane and the chosen
successor, the controlled car its route) and takes the smallest IDM acceleration over:

- the leader: the nearest car ahead on the path lanes, or on a sibling connector that leaves the
  same lane (they overlap near their start);
- the stop line: red, or yellow when it can stop comfortably; within `approach` of the line also
  a blocked exit ("don't block the box") and the right of way (`must_yield`: the one yield rule);
- pedestrians in a corridor along the path, now and `ped_predict` seconds ahead, and people
  walking on a crossing of the junction ahead (it waits at the stop line rather than on the
  crosswalk);
- cars crossing its path inside an intersection (of two that see each other the lower car slot
  goes first; a controlled car off its lane is an obstacle at any heading).

`Profile` holds what differs between NPC drivers and the autopilot: IDM constants, look-ahead
distances and margins. Everything is per world, plain loops over its cars (compiled).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import prange

from drivesim.actors.idm import MAX_DECEL, idm
from drivesim.actors.signals import Light, phase, walk_at
from drivesim.jit import inner, parallel_kernel, part
from drivesim.map.city import LaneKind, MapArrays, PedPathKind, Turn
from drivesim.map.lanes import pose
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.workspace import Workspace

CAR_LENGTH = 4.5  # [m] NPC car length
CAR_WIDTH = 1.9  # [m]
APPROACH = 15.0  # [m] an NPC negotiates the intersection within this distance of the stop line
CLAIM_TIME = 3.0  # [s] a car claims priority this long before reaching the stop line (or within APPROACH)
EXIT_ROOM = 2 * CAR_LENGTH + 1.0  # [m] free length needed after an intersection to enter it
SHARED_START = 10.0  # [m] connectors leaving the same lane overlap over about this length
CROSS_LOOKAHEAD = 10.0  # [m] crossing-traffic check ahead of a car
COS_CROSSING = math.cos(0.5)  # headings differing by more than 0.5 rad cross
ON_LANE_DISTANCE = 1.5  # [m] lateral error under which others treat a controlled car as in its lane
PED_RADIUS = 0.35  # [m] pedestrian footprint radius
STOP_MARGIN = 0.5  # [m] added to the stop-line distance handed to IDM
LINE_WAIT = 3.5  # [m] a car this close to its stop line waits at it
COMFORT_DECEL = 2.5  # [m/s^2] a car facing yellow that can stop with this deceleration will stop
MAX_SAMPLES = 64  # path samples at most
CROSSING_MARGIN = 1.5  # [s] a car keeps this much time between it and people crossing its path


class Profile(NamedTuple):
    """How a driver drives (the rules are the same for all)."""

    time_headway: float  # [s] IDM T
    min_gap: float  # [m] IDM s0
    accel: float  # [m/s^2] IDM a
    decel: float  # [m/s^2] IDM b, also the comfortable deceleration for yellow lights and turns
    max_decel: float  # [m/s^2] hardest braking it plans with (can it still stop at the line?)
    approach: float  # [m] intersection rules apply within this distance of the stop line
    turn_speed: float  # [m/s] through turns
    horizon: float  # [m] path checked for pedestrians
    path_step: float  # [m] spacing of path samples
    ped_clearance: float  # [m] lateral margin to pedestrians, and distance kept in front of them
    ped_predict: float  # [s] also check where pedestrians will be
    crossing_horizon: float  # [s] longest look-ahead of people walking on a crossing ahead


@inner
def npc_profile(time_headway: float, min_gap: float, accel: float, decel: float) -> Profile:
    """An NPC driver with the world's IDM constants (TrafficConfig)."""
    return Profile(time_headway, min_gap, accel, decel, MAX_DECEL, APPROACH, 6.0, 14.0, 1.5, 1.0, 1.0, 3.0)


CAR_VIEW = np.dtype([
    ("valid", np.bool_),  # takes part in the lane rules (active, and on its lane if controlled)
    ("lane", np.int64),
    ("prev", np.int64),  # the road lane its connector leaves from (-1 on a road lane)
    ("s", np.float64), ("v", np.float64), ("length", np.float64),
    ("to_stop", np.float64),  # [m] front bumper to the end of its lane
    ("claims", np.bool_),  # approaches an intersection with a claim to go
    ("rank", np.int64),  # 1 for a left turn next, else 0 (straight/right go first)
    ("cos", np.float64), ("sin", np.float64),  # heading
    ("in_junction", np.bool_),  # on a connector
    ("accel", np.float64),  # [m/s^2] an NPC's acceleration this step, decided before anybody moves
    ("stop_lane", np.int64),  # the stop line an NPC must hold at (-1)
    ("hit", np.bool_),  # touches the controlled car (collision check)
    ("next_on_lane", np.int64),  # the next valid car on the same lane (-1): lists headed by Scene.lane_head
    ("junction", np.int64),  # the k-th car in or at a junction (the first Scene.n_junction are valid)
], align=True)
PED_VIEW = np.dtype([
    ("road", np.int64),  # the k-th pedestrian on or about to enter the road (the first Scene.n_road are valid)
    ("vx", np.float64), ("vy", np.float64),  # [m/s] walking velocity (0 while waiting)
    ("hit", np.bool_),  # touches the controlled car (collision check)
], align=True)


class Scene(NamedTuple):
    """What every driver of one world looks up, built once per step before anybody moves (rows of
    the World's workspace)."""

    cars: np.ndarray  # (C,) CAR_VIEW
    peds: np.ndarray  # (P,) PED_VIEW
    n_road: int  # pedestrians on or about to enter the road: peds[:n_road].road
    samples: np.ndarray  # (MAX_SAMPLES, 2) scratch for points along a driver's path
    time: float  # [s] episode time
    timing: tuple[float, float, float]  # [s] green, yellow and all-red time of the world's lights
    lane_head: np.ndarray  # (L,) the first valid car on each lane (-1), then CAR_VIEW.next_on_lane
    n_junction: int  # cars inside a junction, claiming one, or controlled: cars[:n_junction].junction


class Path(NamedTuple):
    """The lanes a car knows it will drive: l0 (where it is, at s), l1 and l2 (-1 unknown)."""

    l0: int
    l1: int
    l2: int
    s: float  # [m] along l0


# ------------------------------------------------------------------------------------ scene
_ROAD, _CONNECTOR, _SIDEWALK = int(LaneKind.ROAD), int(LaneKind.CONNECTOR), int(PedPathKind.SIDEWALK)
_CROSSWALK = int(PedPathKind.CROSSWALK)
_LEFT, _STRAIGHT, _RED, _YELLOW = int(Turn.LEFT), int(Turn.STRAIGHT), int(Light.RED), int(Light.YELLOW)


@inner
def on_road(paths: np.ndarray, peds: np.ndarray, m: int, w: int, p: int, margin: float = 2.0) -> bool:
    """Pedestrian p is on a crossing, within `margin` [m] of starting one, or scripted."""
    q = peds[w, p]
    if not q.active:
        return False
    if q.script_left > 0:
        return True
    seg = paths[m, q.seg]
    if seg.kind != _SIDEWALK:
        return True
    return paths[m, q.next].kind != _SIDEWALK and q.s > seg.length - margin


@parallel_kernel
def _people_near_batch(paths: np.ndarray, state: SimState, radius: float, out: np.ndarray) -> None:
    for index in prange(out.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to int64
        e, m = state.cars[w, state.ego[w].car], state.clock[w].map
        out[w] = False
        for p in range(state.peds.shape[1]):
            q = state.peds[w, p]
            if (q.x - e.x) ** 2 + (q.y - e.y) ** 2 <= radius * radius and on_road(paths, state.peds, m, w, p):
                out[w] = True
                break


def people_on_road_near(maps: MapArrays, state: SimState, radius: float) -> np.ndarray:
    """(B,) bool: a pedestrian on the road or about to step onto it (`on_road`, the drivers' rule:
    privileged, for training labels) within `radius` [m] of each world's controlled car."""
    out = np.empty(state.cars.shape[0], dtype=np.bool_)
    _people_near_batch(maps.paths, state, radius, out)
    return out


@inner
def build_scene(maps: MapArrays, state: SimState, ws: Workspace, m: int, w: int, n_cars: int, n_peds: int, time: float,
                timing: tuple[float, float, float]) -> Scene:
    cars, heads = ws.cars[w, :n_cars], ws.lane_head[w]
    _see_cars(maps, state, cars, heads, m, w)
    for j in range(n_cars):
        cars[j].claims = cars[j].valid and _claims(maps, state, cars, heads, m, w, j)
    n_junction = 0
    for j in range(n_cars):
        if state.cars[w, j].active and (cars[j].in_junction or cars[j].claims or state.cars[w, j].controlled):
            cars[n_junction].junction = j
            n_junction += 1
    peds = ws.peds[w, :n_peds]
    n_road = 0
    for p in range(n_peds):
        q = state.peds[w, p]
        peds[p].vx, peds[p].vy = 0.0, 0.0
        if q.moving:
            peds[p].vx, peds[p].vy = q.speed * math.cos(q.yaw), q.speed * math.sin(q.yaw)
        if on_road(maps.paths, state.peds, m, w, p):
            peds[n_road].road = p
            n_road += 1
    return Scene(cars, peds, n_road, ws.samples[w], time, timing, heads, n_junction)


@inner
def _see_cars(maps: MapArrays, state: SimState, cars: np.ndarray, heads: np.ndarray, m: int, w: int) -> None:
    """Fill the car views (C,) CAR_VIEW and the per-lane lists (heads (L,)) of world w."""
    for k in range(len(heads)):
        heads[k] = -1
    for j in range(len(cars)):
        car, view = state.cars[w, j], cars[j]
        view.valid, view.to_stop, view.lane, view.prev = car.active and car.on_lane, np.inf, car.lane, -1
        view.s, view.v, view.length, view.rank, view.claims, view.in_junction = 0.0, 0.0, 0.0, 0, False, False
        view.next_on_lane = -1
        if not car.active:
            continue
        lane = maps.lanes[m, car.lane]
        view.s, view.v, view.length, view.prev = car.s, car.v, car.length, lane.prev
        view.to_stop = lane.length - car.s - car.length / 2
        view.cos, view.sin = math.cos(car.yaw), math.sin(car.yaw)
        view.in_junction = lane.kind == _CONNECTOR
        if car.next >= 0:
            view.rank = 1 if maps.lanes[m, car.next].turn == _LEFT else 0
        if view.valid:
            view.next_on_lane, heads[car.lane] = heads[car.lane], j


@inner
def exit_blocked(lanes: np.ndarray, cars: np.ndarray, heads: np.ndarray, m: int, connector: int) -> bool:
    """The lane after `connector` has no room near its start for one more car, counting the cars
    already inside the junction on their way into it ("don't block the box"); cars (C,) CAR_VIEW,
    heads (L,) the first car of each lane."""
    exit_lane = lanes[m, connector].next[0]
    first, entering = math.inf, 0.0
    j = heads[exit_lane]
    while j >= 0:
        first = min(first, cars[j].s)
        j = cars[j].next_on_lane
    for j in range(len(cars)):
        car = cars[j]
        if car.valid and car.in_junction and car.lane != connector and lanes[m, car.lane].next[0] == exit_lane:
            entering += car.length + 2.0
    return first < EXIT_ROOM + entering


@inner
def _claims(maps: MapArrays, state: SimState, views: np.ndarray, heads: np.ndarray, m: int, w: int, j: int) -> bool:
    """Car j approaches an intersection free to go and claims its connector: on a road lane with a
    successor, not waiting at its line (for a light, people or another car), its exit not blocked
    (controlled cars always claim their way), moving or at the line, within reach of the line, and
    not facing a red light it can still stop for."""
    car, d = state.cars[w, j], views[j].to_stop
    if car.next < 0 or views[j].in_junction or (car.holding and car.v < 0.3):
        return False
    if not (car.v > 0.3 or d < 3.0) or d >= max(APPROACH, car.v * CLAIM_TIME):
        return False
    if not car.controlled and exit_blocked(maps.lanes, views, heads, m, car.next):
        return False
    light = state.lights[w, car.lane]
    if car.ignores_lights or d < car.v * car.v / (2 * MAX_DECEL) - 0.5:
        return True  # it will not stop whatever its light says
    if light == _YELLOW:  # it goes on yellow only when it cannot stop comfortably, or turns left from the line
        return d < car.v * car.v / (2 * COMFORT_DECEL) or clears_on_yellow(maps.lanes, m, car.next, d, car.v)
    return light != _RED


@inner
def clears_on_yellow(lanes: np.ndarray, m: int, connector: int, d_stop: float, v: float) -> bool:
    """A car at the stop line waiting to turn left may turn when its light turns yellow (the
    oncoming stream stops then), if it crosses the line before red (checked by the caller)."""
    return lanes[m, connector].turn == _LEFT and d_stop < LINE_WAIT


@inner
def must_yield(maps: MapArrays, state: SimState, scene: Scene, m: int, w: int, i: int, connector: int,
               dist: float) -> bool:
    """Car i, `dist` [m] before the stop line where `connector` starts, must wait: a car is on a
    connector that conflicts with it, or one with priority claims a conflicting connector
    (straight/right before left, then nearer the stop line, then the lower car slot)."""
    my_rank = 1 if maps.lanes[m, connector].turn == _LEFT else 0
    for k in range(scene.n_junction):
        j = scene.cars[k].junction
        view = scene.cars[j]
        if j == i or not view.valid:
            continue
        if view.in_junction and maps.conflict[m, connector, view.lane]:
            return True
        if view.claims and maps.conflict[m, connector, state.cars[w, j].next]:
            r, d = view.rank, view.to_stop
            if r < my_rank or (r == my_rank and (d < dist or (d == dist and j < i))):
                return True
    return False


# ----------------------------------------------------------------------------------- the path
@inner
def lane_length(lanes: np.ndarray, m: int, lane: int) -> float:
    return lanes[m, lane].length if lane >= 0 else 0.0


@inner
def path_point(maps: MapArrays, m: int, path: Path, d: float) -> tuple[float, float]:
    """(x, y) [m] `d` metres along the path (past its known end: along its last known lane)."""
    lane, s = path.l0, path.s + d
    if path.l1 >= 0 and s > maps.lanes[m, lane].length:
        s -= maps.lanes[m, lane].length
        lane = path.l1
        if path.l2 >= 0 and s > maps.lanes[m, lane].length:
            s -= maps.lanes[m, lane].length
            lane = path.l2
    x, y, _ = pose(maps.samples, m, lane, s)
    return x, y


@inner
def stop_line(lanes: np.ndarray, path: Path, m: int, length: float) -> tuple[float, int, int]:
    """The next stop line whose connector the car knows: distance [m] from its front bumper (inf if
    none), the road lane it ends, and that connector."""
    if lanes[m, path.l0].kind == _ROAD:
        if path.l1 < 0:
            return math.inf, -1, -1
        return lanes[m, path.l0].length - path.s - length / 2, path.l0, path.l1
    if path.l1 < 0 or path.l2 < 0 or lanes[m, path.l1].kind != _ROAD:
        return math.inf, -1, -1
    return lanes[m, path.l0].length - path.s + lanes[m, path.l1].length - length / 2, path.l1, path.l2


# ---------------------------------------------------------------------------------- the rules
@inner
def _nearest_on(scene: Scene, lane: int, i: int, s: float, offset: float, only_ahead: bool, near_start: bool,
                best: tuple[float, float, float]) -> tuple[float, float, float]:
    """The nearest car on `lane` (not i) at distance offset + its s [m] (only_ahead: of those ahead
    of s, at distance s_j - s; near_start: only cars within SHARED_START of the lane's start),
    against the best (distance, length, speed) so far."""
    j = scene.lane_head[lane] if lane >= 0 else -1
    while j >= 0:
        o = scene.cars[j]
        if j != i and (not near_start or o.s < SHARED_START):
            if only_ahead:
                if o.s > s or (o.s == s and j > i):
                    d = o.s - s
                    if d < best[0]:
                        best = (d, o.length, o.v)
            elif offset + o.s < best[0]:
                best = (offset + o.s, o.length, o.v)
        j = o.next_on_lane
    return best


@inner
def leader(maps: MapArrays, scene: Scene, m: int, i: int, path: Path) -> tuple[float, float]:
    """Bumper-to-bumper gap [m] and speed [m/s] of the nearest car ahead of car i along the path
    lanes, or near the start of a connector leaving the same lane (inf gap when free)."""
    lanes = maps.lanes
    l0, s = path.l0, path.s
    to_end = lanes[m, l0].length - s
    best = (math.inf, CAR_LENGTH, 0.0)
    best = _nearest_on(scene, l0, i, s, 0.0, True, False, best)
    if path.l1 >= 0:
        best = _nearest_on(scene, path.l1, i, s, to_end, False, False, best)
        if path.l2 >= 0:
            best = _nearest_on(scene, path.l2, i, s, to_end + lanes[m, path.l1].length, False, False, best)
    here = lanes[m, l0]
    if here.kind == _ROAD:  # connectors leaving this lane overlap near their start: cars on them lead
        for k in range(here.n_next):
            best = _nearest_on(scene, here.next[k], i, s, to_end, False, True, best)
    elif here.prev >= 0 and s < SHARED_START:  # near the start of a connector: cars ahead on its siblings
        prev = lanes[m, here.prev]
        for k in range(prev.n_next):
            if prev.next[k] != l0:
                best = _nearest_on(scene, prev.next[k], i, s, 0.0, True, True, best)
    return best[0] - (scene.cars[i].length + best[1]) / 2, best[2]


@inner
def _sees(vx: float, vy: float, vc: float, vs: float, ox: float, oy: float, cos_diff: float, width: float
          ) -> float:
    """Forward distance [m] of an object at (ox, oy) crossing just ahead of a car at (vx, vy) with
    heading (vc, vs), or inf if it does not cross its path within CROSS_LOOKAHEAD."""
    dx, dy = ox - vx, oy - vy
    fx, fy = vc * dx + vs * dy, vc * dy - vs * dx
    if cos_diff < COS_CROSSING and 0 < fx < CROSS_LOOKAHEAD and abs(fy) < width + 0.3:
        return fx
    return math.inf


@inner
def crossing_gap(state: SimState, scene: Scene, w: int, i: int) -> float:
    """Gap [m] to a car crossing the path just ahead inside an intersection, seen by car i when it
    is inside one or close to its stop line. Cars waiting on road lanes are left to the
    intersection rules; of two cars inside an intersection that see each other the lower slot goes
    first; a controlled car is seen by every car, and off its lane at any heading."""
    me, mine = state.cars[w, i], scene.cars[i]
    ci, si, in_junction = mine.cos, mine.sin, mine.in_junction
    looks = in_junction or mine.to_stop < CROSS_LOOKAHEAD
    gap = math.inf
    for k in range(scene.n_junction):
        j = scene.cars[k].junction
        other, view = state.cars[w, j], scene.cars[j]
        if j == i:
            continue
        cos_diff = ci * view.cos + si * view.sin
        if other.controlled:
            if not other.on_lane:
                cos_diff = -1.0
            elif not view.in_junction:
                continue
        else:
            if not (view.in_junction and looks):
                continue
            if in_junction and i < j and math.isfinite(_sees(other.x, other.y, view.cos, view.sin, me.x, me.y,
                                                             cos_diff, CAR_WIDTH)):
                continue  # we see each other and i goes first
        fx = _sees(me.x, me.y, ci, si, other.x, other.y, cos_diff, CAR_WIDTH)
        gap = min(gap, fx - (me.length + other.length) / 2)
    return max(gap, 0.01)


@inner
def _turning(lanes: np.ndarray, m: int, path: Path) -> bool:
    """The path turns through a junction within its known lanes."""
    for lane in (path.l0, path.l1, path.l2):
        if lane >= 0 and lanes[m, lane].kind == _CONNECTOR and lanes[m, lane].turn != _STRAIGHT:
            return True
    return False


@inner
def walk_ahead(maps: MapArrays, state: SimState, scene: Scene, w: int, q, m: int, t: float
               ) -> tuple[float, float, float, float]:
    """Where pedestrian q is after walking t seconds (along its segment, then the next one; a
    scripted one straight along its heading), and the corner it passes on the way (its segment's
    end, or that same end point if it does not get there). Someone waiting at a kerb stays, and so
    does a law-abiding pedestrian walking up to a signalised crosswalk that shows no walk signal."""
    if not q.moving:
        return q.x, q.y, q.x, q.y
    d = q.speed * t
    if q.script_left > 0:
        x, y = q.x + d * math.cos(q.yaw), q.y + d * math.sin(q.yaw)
        return x, y, x, y
    seg = maps.paths[m, q.seg]
    left = seg.length - q.s
    if d > left:
        nxt = maps.paths[m, q.next]
        if nxt.kind == _CROSSWALK and not q.jaywalker and maps.nodes[m, nxt.node].signal and not walk_at(
                scene.time + left / max(q.speed, 0.1), state.signal_offset[w, nxt.node], nxt.axis, *scene.timing):
            d = left  # it will wait for the walk signal at the kerb
        else:
            f = min(d - left, nxt.length) / max(nxt.length, 1e-6)
            return nxt.a[0] + f * (nxt.b[0] - nxt.a[0]), nxt.a[1] + f * (nxt.b[1] - nxt.a[1]), seg.b[0], seg.b[1]
    f = (q.s + d) / max(seg.length, 1e-6)
    x, y = seg.a[0] + f * (seg.b[0] - seg.a[0]), seg.a[1] + f * (seg.b[1] - seg.a[1])
    return x, y, x, y


@inner
def _to_segment2(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Squared distance [m^2] from (px, py) to the segment a-b."""
    ex, ey = bx - ax, by - ay
    t = min(max(((px - ax) * ex + (py - ay) * ey) / max(ex * ex + ey * ey, 1e-12), 0.0), 1.0)
    return (px - ax - t * ex) ** 2 + (py - ay - t * ey) ** 2


@inner
def arrival_time(d: float, v: float, a: float, v_max: float) -> float:
    """[s] to cover d [m] from speed v [m/s], accelerating at a [m/s^2] up to v_max."""
    if d <= 0.0:
        return 0.0
    v_max = max(v_max, v, 0.5)
    d_acc = (v_max * v_max - v * v) / (2 * a)
    if d <= d_acc:
        return (math.sqrt(v * v + 2 * a * d) - v) / a
    return (v_max - v) / a + (d - d_acc) / v_max


@inner
def _out_of_reach(me, c: float, s: float, points: tuple, reach: float, side: float, horizon: float) -> bool:
    """None of the points (x, y) comes into a box in the car's frame that holds its path."""
    lo_x, hi_x, lo_y, hi_y = math.inf, -math.inf, math.inf, -math.inf
    for ox, oy in points:
        fx, fy = c * (ox - me.x) + s * (oy - me.y), -s * (ox - me.x) + c * (oy - me.y)
        lo_x, hi_x, lo_y, hi_y = min(lo_x, fx), max(hi_x, fx), min(lo_y, fy), max(hi_y, fy)
    return lo_x > horizon + reach or hi_x < -me.length or lo_y > side or hi_y < -side


@inner
def _there_when_passing(maps: MapArrays, state: SimState, scene: Scene, prof: Profile, w: int, q, m: int, me,
                        px: float, py: float, d: float, v_max: float, reach: float) -> bool:
    """Pedestrian q is within `reach` of the path point (px, py), d [m] ahead, while the car covers
    it (from its front arriving to its rear leaving, give or take CROSSING_MARGIN)."""
    t_in = arrival_time(d - me.length / 2 - prof.ped_clearance, me.v, prof.accel, v_max) - CROSSING_MARGIN
    t_out = arrival_time(d + me.length / 2 + prof.ped_clearance, me.v, prof.accel, v_max) + CROSSING_MARGIN
    if t_in > prof.crossing_horizon:
        return False
    for f in range(4):
        t = min(max(t_in + (t_out - t_in) * f / 3, 0.0), prof.crossing_horizon)
        wx, wy, _, _ = walk_ahead(maps, state, scene, w, q, m, t)
        if (px - wx) ** 2 + (py - wy) ** 2 < reach * reach:
            return True
    return False


@inner
def pedestrian_gap(maps: MapArrays, state: SimState, scene: Scene, prof: Profile, m: int, w: int, i: int,
                   path: Path, d_stop: float, connector: int, v0: float) -> tuple[float, bool]:
    """Distance [m] to stop before pedestrians, and whether the car waits at its stop line for them.

    Two checks. Near: stop in front of anybody in the corridor along the path now or `ped_predict`
    seconds on (walking on along their paths). Ahead: a pedestrian is in the way if it will be at a
    point of the path while the car passes that point (the car going on at up to v0, or the turn
    speed in a turn); if that point is in the junction ahead the car waits at its stop line (when
    it can still stop there), else it stops short of it."""
    if scene.n_road == 0:
        return math.inf, False
    me = state.cars[w, i]
    c, s = scene.cars[i].cos, scene.cars[i].sin
    length = me.length
    reach = me.width / 2 + PED_RADIUS + prof.ped_clearance
    turning = connector >= 0 and maps.lanes[m, connector].turn != _STRAIGHT
    v_max = min(v0, prof.turn_speed) if turning else v0
    side = reach + (prof.horizon if _turning(maps.lanes, m, path) else 0.5)  # turns may swing wide
    n = min(int(prof.horizon / prof.path_step) + 1, MAX_SAMPLES)
    px, py = scene.samples[:, 0], scene.samples[:, 1]
    ready = False
    gap, first_crossing = math.inf, math.inf
    for k in range(scene.n_road):
        q = state.peds[w, scene.peds[k].road]
        bx, by, _, _ = walk_ahead(maps, state, scene, w, q, m, prof.ped_predict)  # where it will be soon
        ex, ey, cx, cy = walk_ahead(maps, state, scene, w, q, m, prof.crossing_horizon)  # the farthest it gets
        if _out_of_reach(me, c, s, ((q.x, q.y), (bx, by), (ex, ey), (cx, cy)), reach, side, prof.horizon):
            continue
        if not ready:
            for j in range(n):
                px[j], py[j] = path_point(maps, m, path, j * prof.path_step)
            ready = True
        ahead = c * (q.x - me.x) + s * (q.y - me.y) > 0 or c * (bx - me.x) + s * (by - me.y) > 0
        moving = q.moving and q.script_left <= 0
        for j in range(n):
            d = j * prof.path_step
            if d >= gap + length and d >= first_crossing:
                break
            near = min((px[j] - q.x) ** 2 + (py[j] - q.y) ** 2, (px[j] - bx) ** 2 + (py[j] - by) ** 2) < reach * reach
            if ahead and near:
                gap = min(gap, d - length / 2 - prof.ped_clearance)
            if moving and d < first_crossing and _there_when_passing(maps, state, scene, prof, w, q, m, me, px[j],
                                                                      py[j], d, v_max, reach):
                first_crossing = d
    return _stop_for_crossing(maps, prof, m, me, max(gap, 0.01), first_crossing, d_stop, connector)


@inner
def _stop_for_crossing(maps: MapArrays, prof: Profile, m: int, me, gap: float, first_crossing: float, d_stop: float,
                       connector: int) -> tuple[float, bool]:
    """The pedestrian gap given the first path point where people cross while the car passes: a
    point in the junction ahead means waiting at the stop line, if the car can still stop there."""
    if not math.isfinite(first_crossing):
        return gap, False
    through = d_stop + lane_length(maps.lanes, m, connector) + me.length if connector >= 0 else math.inf
    at_junction = connector >= 0 and d_stop < prof.approach and first_crossing < through
    if at_junction and d_stop > me.v * me.v / (2 * prof.max_decel):
        return min(gap, max(d_stop, 0.0)), max(d_stop, 0.0) < gap
    return min(gap, max(first_crossing - me.length / 2 - prof.ped_clearance, 0.0)), False


class Decision(NamedTuple):
    accel: float  # [m/s^2] the smallest IDM acceleration over all obstacles
    stop_gap: float  # [m] to the stop line where it must stop (inf: may go)
    stop_lane: int  # road lane of that stop line (-1)
    obstacle_gap: float  # [m] to the nearest car or pedestrian it brakes for
    holding: bool  # it waits at its stop line (light, right of way, blocked exit or people crossing)


@part
def decide(maps: MapArrays, state: SimState, scene: Scene, prof: Profile, m: int, w: int, i: int, path: Path,
           v0: float) -> Decision:
    """The driver model for car i on `path` with desired speed v0 [m/s]."""
    lanes = maps.lanes
    me = state.cars[w, i]
    v, length = me.v, me.length
    d_stop, stop_lane, connector = stop_line(lanes, path, m, length)
    stop_gap = math.inf
    if stop_lane >= 0:
        light = state.lights[w, stop_lane]
        must = light == _RED or (light == _YELLOW and d_stop > v * v / (2 * prof.decel))
        if must and light == _YELLOW and clears_on_yellow(lanes, m, connector, d_stop, v):
            # waiting at the line to turn left: it goes when the oncoming stream stops, if it crosses
            # the line before the light turns red
            node = lanes[m, stop_lane]
            tau = phase(scene.time, state.signal_offset[w, node.node], node.axis, *scene.timing)
            crossing_time = arrival_time(d_stop + length / 2, v, prof.accel, prof.turn_speed) + 0.5
            must = scene.timing[0] + scene.timing[1] - tau < crossing_time
        if not must and d_stop < prof.approach:
            must = exit_blocked(lanes, scene.cars, scene.lane_head, m, connector) or must_yield(
                maps, state, scene, m, w, i, connector, d_stop)
        if must and not me.ignores_lights:
            reach = v * v / (2 * prof.max_decel)  # [m] the shortest stop
            if d_stop > reach - STOP_MARGIN:
                stop_gap = max(d_stop, 0.0) + STOP_MARGIN
            elif light == _RED and d_stop + length / 2 > reach:
                # the nose is over the line but the car can stop before its centre crosses it (which
                # is running the red): it stops there rather than drive into the junction at red
                stop_gap = STOP_MARGIN
    gap_lead, v_lead = leader(maps, scene, m, i, path)
    gap_cross = crossing_gap(state, scene, w, i)
    gap_ped, waits_for_people = pedestrian_gap(maps, state, scene, prof, m, w, i, path, d_stop, connector, v0)
    # desired speed: slow through turns and before them (comfortable deceleration profile)
    v_turn = min(v0, prof.turn_speed)
    if lanes[m, path.l0].kind == _CONNECTOR and lanes[m, path.l0].turn != _STRAIGHT:
        v0 = v_turn
    elif connector >= 0 and lanes[m, connector].turn != _STRAIGHT:
        v0 = min(v0, math.sqrt(v_turn * v_turn + 2 * prof.decel * max(d_stop, 0.0)))
    a, b, th, s0 = prof.accel, prof.decel, prof.time_headway, prof.min_gap
    accel = min(idm(v, v0, gap_lead, v_lead, a, b, th, s0), idm(v, v0, stop_gap, 0.0, a, b, th, s0),
                idm(v, v0, gap_ped, 0.0, a, b, th, s0), idm(v, v0, gap_cross, 0.0, a, b, th, s0))
    holding = math.isfinite(stop_gap) or waits_for_people
    return Decision(accel, stop_gap, stop_lane if math.isfinite(stop_gap) else -1, min(gap_lead, gap_ped, gap_cross),
                    holding)
