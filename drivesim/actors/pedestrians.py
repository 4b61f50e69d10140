"""Pedestrians: walk the sidewalk graph, cross at crosswalks on the walk signal; jaywalkers also take
mid-block paths and ignore signals. Nobody steps onto the road while a car is on or about to reach
the crossing, and nobody on the road walks into a car (they wait until it has gone; someone in front
of a moving car walks on, out of its lane). A scripted
pedestrian walks straight along its heading until its script ends. Compiled per world;
`pedestrian_pose` and `choose_next_segment` also have numpy forms for tools and tests."""

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

__all__ = ["PED_RADIUS", "choose_next_segment", "pedestrian_pose", "step_pedestrians"]

CROSSING_CLEARANCE = 2.75  # [m] a car centre this close to a crossing keeps pedestrians on the kerb
CROSSING_LOOK = 1.5  # [s] ... plus the distance a moving car covers in this time
STEP_BACK = 0.3  # [m] a pedestrian on the road stops this far from a car in its way
STANDING = 1.0  # [m/s] a car slower than this is standing (a pedestrian in its lane ahead waits for it)


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
def step_pedestrians(maps: MapArrays, params: WorldParams, state: SimState, m: int, w: int, dt: float) -> None:
    """Advance world w's pedestrians by dt [s] (cars have already moved this step)."""
    paths, clock, world = maps.paths, state.clock[w], params.world[w]
    time = clock.t * dt
    n_cars = 1 + world.n_cars
    for p in range(world.n_peds):
        q = state.peds[w, p]
        step = q.speed * dt
        if q.script_left > 0:  # scripted: straight on along its heading, then off the scene
            q.x += step * math.cos(q.yaw)
            q.y += step * math.sin(q.yaw)
            q.script_left = max(q.script_left - step, 0.0)
            q.active = q.script_left > 0
            q.moving = True
            continue
        seg = q.seg
        length = paths[m, seg].length
        s = q.s + step
        wait = False
        if paths[m, seg].kind != _SIDEWALK and q.active:  # on the road: nobody walks into a car
            nx, ny, _ = segment_pose(paths, m, seg, min(s, length))
            if _walks_into_car(state.cars, w, q.x, q.y, nx, ny, n_cars):
                s, wait = q.s, True
        if s >= length and not wait:
            nxt = paths[m, q.next]
            if nxt.kind != _SIDEWALK:  # onto the road: jaywalkers ignore the signal, nobody a car close by
                walk = (q.jaywalker or nxt.kind != _CROSSWALK or not maps.nodes[m, nxt.node].signal
                        or walk_at(time, state.signal_offset[w, nxt.node], nxt.axis, world.green_time,
                                   world.yellow_time, world.all_red_time))
                wait = not walk or _car_on_crossing(paths, state.cars, m, w, q.next, n_cars)
            if wait:
                s = length
            else:
                seg, s = q.next, s - length
                u = rng.uniform5(clock.seed, clock.episode, clock.t, rng.Stream.PED_TURN, p)
                q.next = next_segment(paths, m, seg, q.jaywalker, u)
        q.seg, q.s = seg, s
        q.x, q.y, q.yaw = segment_pose(paths, m, seg, s)
        q.moving = q.active and not wait


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
