"""Pedestrians: walk the sidewalk graph, cross at crosswalks on the walk signal; jaywalkers also take
mid-block paths and ignore signals. Nobody steps onto the road while a car is on or about to reach
the crossing, and nobody on the road walks into a car (they wait until it has gone; someone in front
of a moving car walks on, out of its lane). People keep personal space: nobody steps closer than
PED_GAP to someone ahead who stands or walks the same way (in the road: to someone else in the road),
so groups waiting at a kerb form a queue instead of standing inside each other; and everyone
keeps KEEP_RIGHT to the right of the path's centre line, so people passing each other, or waiting at
one kerb from both sides, stand apart (the sideways offset follows a turn at OFFSET_RATE, so corners
are smooth). A scripted pedestrian walks straight along its heading until its script ends.
Compiled per world; `pedestrian_pose` and `choose_next_segment` also have numpy forms for tools and
tests (`pedestrian_pose` gives the path point, without the sideways offset)."""

from __future__ import annotations

import math

import numpy as np

from drivesim import rng
from drivesim.actors.driver import PED_RADIUS
from drivesim.actors.signals import walk_at
from drivesim.jit import inner, kernel
from drivesim.map.city import MapArrays, MapPool, PedPathKind
from drivesim.params import WorldParams
from drivesim.state import SimState

__all__ = ["PED_RADIUS", "choose_next_segment", "pedestrian_pose", "place", "step_pedestrians"]

CROSSING_CLEARANCE = 2.75  # [m] a car centre this close to a crossing keeps pedestrians on the kerb
CROSSING_LOOK = 1.5  # [s] ... plus the distance a moving car covers in this time
STEP_BACK = 0.3  # [m] a pedestrian on the road stops this far from a car in its way
STANDING = 1.0  # [m/s] a car slower than this is standing (a pedestrian in its lane ahead waits for it)
PED_GAP = 1.0  # [m] personal space: closest a pedestrian walks up to someone ahead of it (centre to centre)
KEEP_RIGHT = 0.5  # [m] pedestrians walk this far to the right of their path's centre line
OFFSET_RATE = 0.8  # [m/s] how fast the sideways offset follows a turn of the walking direction


_JAYWALK, _CROSSWALK, _SIDEWALK = int(PedPathKind.JAYWALK), int(PedPathKind.CROSSWALK), int(PedPathKind.SIDEWALK)


@inner
def next_segment(paths: np.ndarray, m: int, seg: int, jaywalker: bool, u: float) -> int:
    """Random successor of `seg` from a uniform u; only jaywalkers take JAYWALK paths.
    paths (M, S) PATH."""
    rec = paths[m, seg]
    count = 0
    for k in range(rec.n_next):
        if jaywalker or paths[m, rec.next[k]].kind != _JAYWALK:
            count += 1
    pick = min(int(u * count), max(count - 1, 0))
    for k in range(rec.n_next):
        nxt = rec.next[k]
        if jaywalker or paths[m, nxt].kind != _JAYWALK:
            if pick == 0:
                return nxt
            pick -= 1
    return rec.next[0]


@inner
def segment_pose(paths: np.ndarray, m: int, seg: int, s: float) -> tuple[float, float, float]:
    """(x, y) [m] at s [m] along segment `seg`, and its heading [rad]."""
    rec = paths[m, seg]
    dx, dy = rec.b[0] - rec.a[0], rec.b[1] - rec.a[1]
    f = s / max(rec.length, 1e-6)
    return rec.a[0] + dx * f, rec.a[1] + dy * f, math.atan2(dy, dx)


@inner
def place(q: np.void, paths: np.ndarray, m: int, dt: float) -> None:
    """Pose of pedestrian record q from its segment and position along it: the path point plus the
    sideways offset (ox, oy), which moves towards KEEP_RIGHT right of the walking direction by at
    most OFFSET_RATE * dt (dt = 0: at once, as at a reset)."""
    x, y, yaw = segment_pose(paths, m, q.seg, q.s)
    tx, ty = KEEP_RIGHT * math.sin(yaw), -KEEP_RIGHT * math.cos(yaw)
    dx, dy = tx - q.ox, ty - q.oy
    step = math.sqrt(dx * dx + dy * dy)
    limit = OFFSET_RATE * dt
    f = 1.0 if dt <= 0.0 or step <= limit else limit / step
    q.ox += f * dx
    q.oy += f * dy
    q.x, q.y, q.yaw = x + q.ox, y + q.oy, yaw


@inner
def _car_on_crossing(paths: np.ndarray, cars: np.ndarray, m: int, w: int, seg: int, n_cars: int) -> bool:
    """An active car centre is within CROSSING_CLEARANCE (+ CROSSING_LOOK x its speed) of `seg`."""
    rec = paths[m, seg]
    ax, ay = rec.a[0], rec.a[1]
    ex, ey = rec.b[0] - ax, rec.b[1] - ay
    for j in range(n_cars):
        car = cars[w, j]
        if not car.active:
            continue
        px, py = car.x - ax, car.y - ay
        t = min(max((px * ex + py * ey) / max(ex * ex + ey * ey, 1e-9), 0.0), 1.0)
        dx, dy = px - t * ex, py - t * ey
        reach = CROSSING_CLEARANCE + CROSSING_LOOK * car.v
        if dx * dx + dy * dy < reach * reach:
            return True
    return False


@inner
def _walks_into_car(cars: np.ndarray, w: int, px: float, py: float, x: float, y: float, n_cars: int) -> bool:
    """Stepping from (px, py) to (x, y) [m] brings a pedestrian within STEP_BACK of a car's side or
    end (its footprint grown by the pedestrian's radius and STEP_BACK covers (x, y)). A car driving
    at the pedestrian does not count: someone already in front of a moving car walks on, out of its
    lane, rather than freeze in it."""
    for j in range(n_cars):
        car = cars[w, j]
        if not car.active:
            continue
        c, s = math.cos(car.yaw), math.sin(car.yaw)
        dx, dy = x - car.x, y - car.y
        if (abs(c * dx + s * dy) >= car.length / 2 + PED_RADIUS + STEP_BACK
                or abs(-s * dx + c * dy) >= car.width / 2 + PED_RADIUS + STEP_BACK):
            continue
        if abs(car.v) >= STANDING:
            fx, fy = px - car.x, py - car.y
            ahead = (c * fx + s * fy) * math.copysign(1.0, car.v) > 0
            if ahead and abs(-s * fx + c * fy) < car.width / 2 + PED_RADIUS:
                continue
        return True
    return False


@inner
def _blocking_pedestrian(paths: np.ndarray, peds: np.ndarray, m: int, w: int, p: int, n_peds: int, px: float,
                         py: float, x: float, y: float, road: bool) -> int:
    """The pedestrian that stepping from (px, py) to (x, y) [m] would bring pedestrian p closer than
    PED_GAP to (and closer than it is now), among those that stand or do not walk towards p; -1 if
    none. (A step away from someone is always allowed, so a queue's head leaves and nobody cuts into
    a queue at a corner.) A step within the road (`road`) only keeps behind others in the road (people waiting
    on the kerb do not hold up those still crossing). Oncoming walkers pass each other (on their right),
    and a step that does not bring p closer is always allowed (so two that start too close part
    again). A cycle of people waiting for each other (two standing face to face, say) is found by
    following the `blocker` links and broken."""
    for k in range(n_peds):
        o = peds[w, k]
        if k == p or not o.active or (road and paths[m, o.seg].kind == _SIDEWALK):
            continue
        ax, ay = o.x - px, o.y - py  # from p's current position to o
        bx, by = o.x - x, o.y - y  # from p's next position to o
        near = bx * bx + by * by
        if near >= PED_GAP * PED_GAP or near >= ax * ax + ay * ay:
            continue
        if o.moving and math.cos(o.yaw) * ax + math.sin(o.yaw) * ay < 0.0:  # o walks towards p: they pass
            continue
        if not _blocks_back(peds, w, k, p, n_peds):
            return k
    return -1


@inner
def _blocks_back(peds: np.ndarray, w: int, k: int, p: int, n_peds: int) -> bool:
    """Following the `blocker` links from pedestrian k leads back to p (a cycle of people waiting
    for each other)."""
    for _ in range(n_peds):
        k = peds[w, k].blocker
        if k < 0:
            return False
        if k == p:
            return True
    return False


@inner
def step_pedestrians(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, dt: float) -> None:
    """Advance world w's pedestrians by dt [s] (cars have already moved this step)."""
    paths, clock, world = maps.paths, state.clock[w], params.world[w]
    n_cars = 1 + world.n_cars
    for p in range(world.n_peds):
        q = state.peds[w, p]
        step = q.speed * dt
        if q.script_left > 0:  # scripted: straight on along its heading, then off the scene
            q.x += step * math.cos(q.yaw)
            q.y += step * math.sin(q.yaw)
            q.vx, q.vy = q.speed * math.cos(q.yaw), q.speed * math.sin(q.yaw)
            q.script_left = max(q.script_left - step, 0.0)
            q.active = q.script_left > 0
            q.moving, q.blocker = True, -1
            continue
        x0, y0 = q.x, q.y
        seg, s, wait = q.seg, q.s + step, False
        if paths[m, seg].kind != _SIDEWALK and q.active:  # on the road: nobody walks into a car
            nx, ny, _ = segment_pose(paths, m, seg, min(s, paths[m, seg].length))
            if _walks_into_car(state.cars, w, q.x, q.y, nx + q.ox, ny + q.oy, n_cars):
                s, wait = q.s, True
        nxt = q.next
        if s >= paths[m, seg].length and not wait:
            seg, s, nxt, wait = _kerb(maps, params, state, m, w, p, s, clock.t * dt, n_cars)
        q.blocker = -1
        if q.active and (seg != q.seg or s != q.s):  # personal space where the step ends (the kerb, or
            nx, ny, _ = segment_pose(paths, m, seg, s)  # the next segment's first metres)
            road = paths[m, q.seg].kind != _SIDEWALK and paths[m, seg].kind != _SIDEWALK
            q.blocker = _blocking_pedestrian(paths, state.peds, m, w, p, world.n_peds, q.x, q.y, nx + q.ox, ny + q.oy,
                                             road)
            if q.blocker >= 0:
                seg, s, nxt, wait = q.seg, q.s, q.next, True
        q.seg, q.s, q.next = seg, s, nxt
        place(q, paths, m, dt)
        q.vx, q.vy = (q.x - x0) / dt, (q.y - y0) / dt
        q.moving = q.active and not wait


@inner
def _kerb(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, p: int, s: float, time: float,
          n_cars: int) -> tuple[int, float, int, bool]:
    """Pedestrian p reaches the end of its segment with s [m] past its start: (segment, s, next
    segment, waits) after it steps onto the next segment or waits at the end (for the walk signal or
    a car near the crossing)."""
    paths, q, world = maps.paths, state.peds[w, p], params.world[w]
    length = paths[m, q.seg].length
    after = paths[m, q.next]
    if after.kind != _SIDEWALK:  # onto the road: jaywalkers ignore the signal, nobody a car close by
        walk = (q.jaywalker or after.kind != _CROSSWALK or not maps.nodes[m, after.node].signal
                or walk_at(time, state.signal_offset[w, after.node], after.axis, world.green_time,
                           world.yellow_time, world.all_red_time))
        if not walk or _car_on_crossing(paths, state.cars, m, w, q.next, n_cars):
            return q.seg, length, q.next, True
    clock = state.clock[w]
    u = rng.uniform5(clock.seed, clock.episode, clock.t, rng.Stream.PED_TURN, p)
    return q.next, s - length, next_segment(paths, m, q.next, q.jaywalker, u), False


# ------------------------------------------------------------------------------ numpy forms
def pedestrian_pose(pool: MapPool, map_idx: np.ndarray, seg: np.ndarray, s: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised `segment_pose`: (x, y) [m] and heading [rad] at s [m] along segments (broadcast)."""
    a = pool.ped_a[map_idx, seg]
    b = pool.ped_b[map_idx, seg]
    length = np.maximum(pool.ped_len[map_idx, seg], 1e-6)
    f = (s / length)[..., None]
    xy = a + (b - a) * f
    d = b - a
    return xy[..., 0], xy[..., 1], np.arctan2(d[..., 1], d[..., 0])


@kernel
def _next_many(paths: np.ndarray, m: np.ndarray, seg: np.ndarray, jay: np.ndarray, u: np.ndarray) -> np.ndarray:
    out = np.empty(len(seg), dtype=np.int64)
    for k in range(len(seg)):
        out[k] = next_segment(paths, m[k], seg[k], jay[k], u[k])
    return out


def choose_next_segment(pool: MapPool, map_idx: np.ndarray, seg: np.ndarray, jaywalker: np.ndarray,
                        u: np.ndarray) -> np.ndarray:
    """`next_segment` over broadcast arrays (B, P)."""
    m, seg, jay, u = np.broadcast_arrays(np.asarray(map_idx), np.asarray(seg), np.asarray(jaywalker), np.asarray(u))
    flat = lambda a, t: np.ascontiguousarray(a, dtype=t).reshape(-1)  # noqa: E731
    out = _next_many(pool.kernel.paths, flat(m, np.int64), flat(seg, np.int64), flat(jay, np.bool_), flat(u, np.float64))
    return out.reshape(seg.shape)
