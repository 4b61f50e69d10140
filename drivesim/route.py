"""The controlled car's route: planning at reset and the queries the step, the sensors and the
autopilot ask (current and next lanes, the point some metres ahead, the next stop line, the route
command), in one place. Compiled scalar functions per world for the kernels; `RouteView` runs them
over a batch for the Python side (HUDs, renderers, tests)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from drivesim.actors.signals import Light
from drivesim.jit import inner, kernel
from drivesim.map.city import LaneKind, MapArrays, Turn
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

COMMAND_DISTANCE = 30.0  # [m] distance before an intersection at which the route command shows
_NO_LIGHT, _FOLLOW, _CONNECTOR = int(Light.NONE), int(Turn.FOLLOW), int(LaneKind.CONNECTOR)  # plain ints


@inner
def expand(maps: MapArrays, m: int, start_lane: int, goal_link: int, out: np.ndarray) -> int:
    """Shortest route from road lane `start_lane` to link `goal_link` of map m as lanes (road,
    connector, road, ...) written into `out` (R,) (padded with -1); returns the number of lanes."""
    out[:] = -1
    out[0] = start_lane
    n, lane = 1, start_lane
    link = maps.lanes[m, start_lane].link
    while link != goal_link and n < len(out) - 1:
        nxt_link = maps.routing[m, link, goal_link].next_hop
        if nxt_link < 0:
            break
        conn = maps.lane_to_link[m, lane, nxt_link]
        if conn < 0:
            break
        lane = maps.lanes[m, conn].next[0]
        out[n], out[n + 1] = conn, lane
        n, link = n + 2, nxt_link
    return n


@kernel
def expand_many(maps: MapArrays, m: np.ndarray, start_lane: np.ndarray, goal_link: np.ndarray, out: np.ndarray
                ) -> np.ndarray:
    n = np.empty(len(m), dtype=np.int64)
    for k in range(len(m)):
        n[k] = expand(maps, m[k], start_lane[k], goal_link[k], out[k])
    return n


@inner
def lane_at(route_lanes: np.ndarray, route: np.ndarray, w: int, j: int) -> int:
    """Route lane j of world w, -1 outside the route."""
    return route_lanes[w, j] if 0 <= j < route[w].n else -1


@inner
def position_ahead(maps: MapArrays, state: SimState, m: int, w: int, ahead: float, overrun: float
                   ) -> tuple[int, float]:
    """Lane and arc length [m] of the route point `ahead` metres past the controlled car's
    projection; past the goal the point stays on the last lane, at most `overrun` m beyond its end."""
    r = state.route[w]
    q = state.route_cum[w, r.i] + r.s + ahead
    j = 0
    for k in range(r.n):
        if state.route_cum[w, k] <= q:
            j = k
    lane = state.route_lanes[w, j]
    return lane, min(q - state.route_cum[w, j], maps.lanes[m, lane].length + overrun)


@inner
def next_stop_line(maps: MapArrays, state: SimState, m: int, w: int, length: float) -> tuple[float, int, int, int]:
    """The next stop line on the route: distance [m] from the front bumper of a car `length` m
    long (inf if none), the light facing it there, its road lane and the connector after it."""
    r = state.route[w]
    lane = state.route_lanes[w, r.i]
    on_connector = maps.lanes[m, lane].kind == _CONNECTOR
    j = r.i + 1 if on_connector else r.i
    if j >= r.n - 1:
        return math.inf, _NO_LIGHT, -1, -1
    road = state.route_lanes[w, j]
    before = maps.lanes[m, lane].length - r.s if on_connector else -r.s
    return (before + maps.lanes[m, road].length - length / 2, int(state.lights[w, road]), road,
            state.route_lanes[w, j + 1])


@inner
def command(maps: MapArrays, state: SimState, m: int, w: int) -> int:
    """Turn: the manoeuvre at the next intersection within COMMAND_DISTANCE, else FOLLOW."""
    r = state.route[w]
    lane = maps.lanes[m, state.route_lanes[w, r.i]]
    if lane.kind == _CONNECTOR:
        return lane.turn
    if r.i + 1 < r.n and lane.length - r.s < COMMAND_DISTANCE:
        return maps.lanes[m, state.route_lanes[w, r.i + 1]].turn
    return _FOLLOW


# ------------------------------------------------------------------------------- batch views
@kernel
def _stop_lines(maps: MapArrays, state: SimState, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = len(state.clock)
    dist, light, cmd = np.empty(b), np.empty(b, dtype=np.int8), np.empty(b, dtype=np.int64)
    for w in range(b):
        m = state.clock[w].map
        d, lt, _, _ = next_stop_line(maps, state, m, w, length)
        dist[w], light[w], cmd[w] = d, lt, command(maps, state, m, w)
    return dist, light, cmd


@kernel
def _positions(maps: MapArrays, state: SimState, ahead: np.ndarray, overrun: float) -> tuple[np.ndarray, np.ndarray]:
    b, j = ahead.shape
    lane, s = np.empty((b, j), dtype=np.int64), np.empty((b, j))
    for w in range(b):
        for k in range(j):
            lane[w, k], s[w, k] = position_ahead(maps, state, state.clock[w].map, w, ahead[w, k], overrun)
    return lane, s


class RouteView:
    """Batch queries on a World's routes (read-only)."""

    def __init__(self, world: World) -> None:
        self._world = world

    def lanes(self, b: int) -> np.ndarray:
        """The remaining route lanes of world b, from the current one."""
        st = self._world.state
        r = st.route[b]
        return st.route_lanes[b, r["i"]: r["n"]].copy()

    def current_lane(self) -> np.ndarray:
        """(B,) the current route lane of every world."""
        st = self._world.state
        return st.route_lanes[np.arange(len(st.route)), st.route["i"]]

    def next_lane(self) -> np.ndarray:
        """(B,) the route lane after the current one (-1 at the end)."""
        st = self._world.state
        i, n = st.route["i"], st.route["n"]
        j = np.minimum(i + 1, st.route_lanes.shape[1] - 1)
        return np.where(i + 1 < n, st.route_lanes[np.arange(len(i)), j], -1)

    def position_ahead(self, ahead: float | np.ndarray, overrun: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Lane and arc length [m] of the route points `ahead` metres past the controlled cars: a
        scalar or (B,) gives (B,) arrays, (B, J) gives (B, J)."""
        w = self._world
        d = np.asarray(ahead, dtype=np.float64)
        flat = d.ndim < 2
        d = np.ascontiguousarray(np.broadcast_to(d.reshape(-1, 1) if d.ndim == 1 else d,
                                                 (w.batch_size, 1) if flat else d.shape))
        lane, s = _positions(w.maps.kernel, w.state, d, float(overrun))
        return (lane[:, 0], s[:, 0]) if flat else (lane, s)

    def next_stop_line(self) -> tuple[np.ndarray, np.ndarray]:
        """(B,) distance [m] from the front bumper to the next stop line (inf if none) and (B,) Light there."""
        w = self._world
        dist, light, _ = _stop_lines(w.maps.kernel, w.state, w.shared.length)
        return dist, light

    def command(self) -> np.ndarray:
        """(B,) Turn: the route command (see `command`)."""
        w = self._world
        return _stop_lines(w.maps.kernel, w.state, w.shared.length)[2]
