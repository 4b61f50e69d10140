"""Procedural grid city: roads, intersections, lanes, connectors, sidewalks, crosswalks, buildings.

Generation runs once per (config, seed) and is cached; it is plain Python over a few hundred lanes
and never runs in the step path. Right-hand traffic.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from drivesim.config import MapConfig
from drivesim.map.city import LANE_DS, OUTER_STRIP, CityMap, LaneKind, PedPathKind, Turn
from drivesim.map.raster import rasterize
from drivesim.map.routing import link_routing

CONFLICT_DISTANCE = 2.5  # [m] connectors closer than this somewhere conflict
SPAWN_SPACING = 9.0  # [m] between spawn slots along a road lane
BUILDING_GAP = 2.0  # [m] between neighbouring buildings of a block


@dataclass(frozen=True)
class Road:
    a: int  # node id (west/south end)
    b: int  # node id (east/north end)
    axis: int  # 0 along x, 1 along y
    n_lanes: int  # lanes per direction; 0 if the road was removed
    half_width: float  # [m]


@functools.lru_cache(maxsize=64)
def generate_city(config: MapConfig, seed: int) -> CityMap:
    """Generate the city for `seed` (same config and seed -> identical map)."""
    rng = np.random.default_rng(seed)
    nx, ny = config.blocks_x + 1, config.blocks_y + 1
    node_xy = np.array([(i * config.block_length, j * config.block_length)
                        for j in range(ny) for i in range(nx)], dtype=np.float64)
    roads = _make_roads(config, rng, nx, ny)
    degree = np.zeros(len(node_xy), dtype=np.int64)
    for r in roads:
        if r.n_lanes:
            degree[[r.a, r.b]] += 1
    signal = (degree >= 3) & (rng.random(len(node_xy)) < config.signal_share)
    core = np.zeros(len(node_xy))  # [m] half-size of the intersection square
    for r in roads:
        if r.n_lanes:
            core[[r.a, r.b]] = np.maximum(core[[r.a, r.b]], r.half_width)
    crosswalk_d = core + 0.5 + max(config.crosswalk_width, config.sidewalk_width) / 2  # [m] from node
    stop_d = crosswalk_d + config.crosswalk_width / 2 + 0.5  # [m] stop line distance from node centre

    lanes = _LaneBuilder()
    links = _build_links(config, roads, node_xy, stop_d, lanes)
    _build_connectors(links, node_xy, lanes)
    link_lanes = np.full((len(links), 2), -1, dtype=np.int64)
    for i, link in enumerate(links):
        link_lanes[i, : len(link.lanes)] = link.lanes
    lane_arrays = lanes.finish()
    conflict = _conflicts(lane_arrays)
    link_from = np.array([lk.src for lk in links])
    link_to = np.array([lk.dst for lk in links])
    dist, next_hop, lane_to_link = link_routing(lane_arrays, link_lanes, link_from, link_to)
    spawn_lane, spawn_s = _spawn_slots(lane_arrays)
    peds = _pedestrian_paths(config, roads, node_xy, core, crosswalk_d, nx, ny)
    buildings = _buildings(config, roads, core, rng, nx, ny)
    raster, origin = rasterize(config, roads, node_xy, core, crosswalk_d, stop_d, buildings, links, lane_arrays)
    return CityMap(
        config=config, seed=seed, node_xy=node_xy, node_signal=signal, node_degree=degree,
        **lane_arrays, conflict=conflict,
        link_lanes=link_lanes, link_from=link_from, link_to=link_to, link_dist=dist,
        link_next_hop=next_hop, lane_to_link_connector=lane_to_link,
        spawn_lane=spawn_lane, spawn_s=spawn_s, **peds, buildings=buildings,
        raster=raster, raster_origin=origin, raster_resolution=config.raster_resolution,
    )


# ----------------------------------------------------------------------------------------- roads
def _make_roads(config: MapConfig, rng: np.random.Generator, nx: int, ny: int) -> list[Road]:
    """All grid roads; a share of inner roads is removed while every node keeps >= 2 roads and the
    grid stays connected (removed roads become pedestrian plazas)."""
    pairs = [(i + j * nx, i + 1 + j * nx, 0) for j in range(ny) for i in range(nx - 1)]
    pairs += [(i + j * nx, i + (j + 1) * nx, 1) for j in range(ny - 1) for i in range(nx)]
    lanes = [2 if rng.random() < config.two_lane_share else 1 for _ in pairs]
    inner = [k for k, (a, b, axis) in enumerate(pairs) if _is_inner(a, b, axis, nx, ny)]
    n_remove = int(round(config.removed_road_share * len(inner)))
    removed: set[int] = set()
    for k in rng.permutation(inner):
        if len(removed) >= n_remove:
            break
        trial = removed | {int(k)}
        if _valid_removal(pairs, trial, nx * ny):
            removed = trial
    w = config.lane_width
    return [Road(a, b, axis, 0 if k in removed else lanes[k], (lanes[k] if k not in removed else 1) * w)
            for k, (a, b, axis) in enumerate(pairs)]


def _is_inner(a: int, b: int, axis: int, nx: int, ny: int) -> bool:
    i, j = a % nx, a // nx
    return (0 < j < ny - 1) if axis == 0 else (0 < i < nx - 1)


def _valid_removal(pairs: list[tuple[int, int, int]], removed: set[int], n_nodes: int) -> bool:
    adj: list[list[int]] = [[] for _ in range(n_nodes)]
    for k, (a, b, _) in enumerate(pairs):
        if k not in removed:
            adj[a].append(b)
            adj[b].append(a)
    if min(len(x) for x in adj) < 2:
        return False
    seen, stack = {0}, [0]
    while stack:
        for nb in adj[stack.pop()]:
            if nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return len(seen) == n_nodes


# ----------------------------------------------------------------------------------------- lanes
@dataclass
class _Link:
    src: int
    dst: int
    axis: int
    direction: np.ndarray  # (2,) unit vector
    lanes: list[int]


class _LaneBuilder:
    """Collects lane polylines and their attributes, then resamples them every LANE_DS."""

    def __init__(self) -> None:
        self.polys: list[np.ndarray] = []
        self.attrs: list[dict[str, int | float]] = []
        self.next: list[list[int]] = []

    def add(self, poly: np.ndarray, **attrs: int | float) -> int:
        self.polys.append(poly)
        self.attrs.append(attrs)
        self.next.append([])
        return len(self.polys) - 1

    def finish(self) -> dict[str, np.ndarray]:
        resampled = [_resample(p) for p in self.polys]
        n_pts = max(len(pts) for pts, _ in resampled) + 2
        n = len(self.polys)
        pts_out = np.zeros((n, n_pts, 2))
        for i, (pts, _length) in enumerate(resampled):
            k = len(pts)
            pts_out[i, :k] = pts
            tangent = pts[-1] - pts[-2]
            tangent /= np.linalg.norm(tangent)
            pts_out[i, k:] = pts[-1] + np.outer(np.arange(1, n_pts - k + 1) * LANE_DS, tangent)
        d = np.diff(pts_out, axis=1)
        yaw = np.arctan2(d[..., 1], d[..., 0])
        yaw = np.concatenate([yaw, yaw[:, -1:]], axis=1)
        nxt = np.full((n, 3), -1, dtype=np.int64)
        for i, succ in enumerate(self.next):
            nxt[i, : len(succ)] = succ
        col = lambda key, dtype: np.array([a[key] for a in self.attrs], dtype=dtype)  # noqa: E731
        return {
            "lane_pts": pts_out, "lane_yaw": yaw,
            "lane_len": np.array([length for _, length in resampled]),
            "lane_kind": col("kind", np.int64), "lane_turn": col("turn", np.int64),
            "lane_node": col("node", np.int64), "lane_axis": col("axis", np.int64),
            "lane_offset": col("offset", np.float64), "lane_link": col("link", np.int64),
            "lane_next": nxt, "lane_n_next": np.array([len(s) for s in self.next], dtype=np.int64),
            "lane_prev": col("prev", np.int64),
        }


def _resample(poly: np.ndarray) -> tuple[np.ndarray, float]:
    """Points every LANE_DS along a polyline (the last one at or just past its end) and its length."""
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    length = float(cum[-1])
    s = np.arange(0.0, length + LANE_DS, LANE_DS)
    inside = np.minimum(s, length)
    pts = np.stack([np.interp(inside, cum, poly[:, 0]), np.interp(inside, cum, poly[:, 1])], axis=1)
    tangent = (poly[-1] - poly[-2]) / seg[-1]
    pts += np.outer(s - inside, tangent)  # extrapolate the final sample past the end
    return pts, length


def _build_links(config: MapConfig, roads: list[Road], node_xy: np.ndarray, stop_d: np.ndarray,
                 lanes: _LaneBuilder) -> list[_Link]:
    links: list[_Link] = []
    for road in roads:
        if not road.n_lanes:
            continue
        for src, dst in ((road.a, road.b), (road.b, road.a)):
            u = node_xy[dst] - node_xy[src]
            u /= np.linalg.norm(u)
            right = np.array([u[1], -u[0]])
            link = _Link(src, dst, road.axis, u, [])
            for k in range(road.n_lanes):
                offset = (k + 0.5) * config.lane_width
                p0 = node_xy[src] + u * stop_d[src] + right * offset
                p1 = node_xy[dst] - u * stop_d[dst] + right * offset
                link.lanes.append(lanes.add(np.stack([p0, p1]), kind=LaneKind.ROAD, turn=Turn.FOLLOW,
                                            node=dst, axis=road.axis, offset=offset, link=len(links), prev=-1))
            links.append(link)
    return links


def _build_connectors(links: list[_Link], node_xy: np.ndarray, lanes: _LaneBuilder) -> None:
    """Connect every incoming lane to every non-U-turn outgoing link through each intersection;
    lane k continues into lane min(k, n_out - 1)."""
    for li in links:
        for lo in links:
            if lo.src != li.dst or lo.dst == li.src:
                continue
            turn = _classify_turn(li.direction, lo.direction)
            for k, lane_in in enumerate(li.lanes):
                lane_out = lo.lanes[min(k, len(lo.lanes) - 1)]
                p0 = lanes.polys[lane_in][-1]
                p1 = lanes.polys[lane_out][0]
                curve = _bezier(p0, li.direction, p1, lo.direction, straight=turn == Turn.STRAIGHT)
                c = lanes.add(curve, kind=LaneKind.CONNECTOR, turn=turn, node=li.dst, axis=-1,
                              offset=0.0, link=-1, prev=lane_in)
                lanes.next[lane_in].append(c)
                lanes.next[c].append(lane_out)


def _classify_turn(u_in: np.ndarray, u_out: np.ndarray) -> Turn:
    cross = u_in[0] * u_out[1] - u_in[1] * u_out[0]
    if abs(cross) < 0.5:
        return Turn.STRAIGHT
    return Turn.LEFT if cross > 0 else Turn.RIGHT


def _bezier(p0: np.ndarray, d0: np.ndarray, p1: np.ndarray, d1: np.ndarray, straight: bool) -> np.ndarray:
    """Cubic Bezier from p0 (heading d0) to p1 (heading d1), 64 samples; approximates a quarter
    circle for turns (control length 0.39 x chord) and is a straight line otherwise."""
    chord = float(np.linalg.norm(p1 - p0))
    k = chord / 3 if straight else 0.39 * chord
    c0, c1 = p0 + d0 * k, p1 - d1 * k
    t = np.linspace(0.0, 1.0, 64)[:, None]
    return ((1 - t) ** 3) * p0 + 3 * ((1 - t) ** 2) * t * c0 + 3 * (1 - t) * t**2 * c1 + t**3 * p1


def _conflicts(lanes: dict[str, np.ndarray]) -> np.ndarray:
    """(L, L) bool: connectors through the same intersection whose paths come within
    CONFLICT_DISTANCE (crossing or merging), excluding connectors that leave the same lane."""
    n = len(lanes["lane_len"])
    conflict = np.zeros((n, n), dtype=bool)
    conn = np.flatnonzero(lanes["lane_kind"] == LaneKind.CONNECTOR)
    start = lanes["lane_prev"]
    for node in np.unique(lanes["lane_node"][conn]):
        ids = conn[lanes["lane_node"][conn] == node]
        pts = [lanes["lane_pts"][c, : int(lanes["lane_len"][c] / LANE_DS) + 1] for c in ids]
        for i, a in enumerate(ids):
            for j in range(i + 1, len(ids)):
                b = ids[j]
                if start[a] == start[b]:
                    continue
                d = np.linalg.norm(pts[i][:, None, :] - pts[j][None, :, :], axis=-1).min()
                if d < CONFLICT_DISTANCE:
                    conflict[a, b] = conflict[b, a] = True
    return conflict


def _spawn_slots(lanes: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lane_ids, s_values = [], []
    for lane in np.flatnonzero(lanes["lane_kind"] == LaneKind.ROAD):
        length = lanes["lane_len"][lane]
        for s in np.arange(4.0, length - 4.0, SPAWN_SPACING):
            lane_ids.append(lane)
            s_values.append(s)
    return np.array(lane_ids, dtype=np.int64), np.array(s_values)


# ------------------------------------------------------------------------------------ pedestrians
def kerb(road: Road, core: np.ndarray) -> float:
    """[m] distance from a road's centre line to the kerb of the blocks beside it: its half width,
    or the intersection half-size at either end if wider (blocks step back from wide junctions,
    so their sidewalks clear the intersection square)."""
    return max(road.half_width, core[road.a], core[road.b])



def _pedestrian_paths(config: MapConfig, roads: list[Road], node_xy: np.ndarray, core: np.ndarray,
                      crosswalk_d: np.ndarray, nx: int, ny: int) -> dict[str, np.ndarray]:
    """Each block is ringed by a sidewalk loop of 16 points (4 corners, 2 crosswalk ends and one
    mid-block point per side); crosswalks join facing crosswalk ends across a road near an
    intersection, jaywalk paths join facing mid-block points."""
    road_at = {(r.a, r.b): r for r in roads}
    hw = lambda a, b: kerb(road_at[(a, b)], core) + config.sidewalk_width / 2  # noqa: E731
    L = config.block_length
    points: dict[tuple[int, int, int], np.ndarray] = {}  # (block i, block j, ring index) -> xy
    for j in range(ny - 1):
        for i in range(nx - 1):
            n00, n10, n01, n11 = i + j * nx, i + 1 + j * nx, i + (j + 1) * nx, i + 1 + (j + 1) * nx
            xl, xr = i * L + hw(n00, n01), (i + 1) * L - hw(n10, n11)
            yb, yt = j * L + hw(n00, n10), (j + 1) * L - hw(n01, n11)
            xm, ym = (xl + xr) / 2, (yb + yt) / 2
            ring = [(xl, yb), (i * L + crosswalk_d[n00], yb), (xm, yb), ((i + 1) * L - crosswalk_d[n10], yb),
                    (xr, yb), (xr, j * L + crosswalk_d[n10]), (xr, ym), (xr, (j + 1) * L - crosswalk_d[n11]),
                    (xr, yt), ((i + 1) * L - crosswalk_d[n11], yt), (xm, yt), (i * L + crosswalk_d[n01], yt),
                    (xl, yt), (xl, (j + 1) * L - crosswalk_d[n01]), (xl, ym), (xl, j * L + crosswalk_d[n00])]
            for k, p in enumerate(ring):
                points[(i, j, k)] = np.array(p, dtype=np.float64)
    segments: list[tuple[tuple, tuple, int, int, int]] = []  # (from key, to key, kind, node, axis)
    for (i, j, k) in points:
        nxt = (i, j, (k + 1) % 16)
        segments += [((i, j, k), nxt, PedPathKind.SIDEWALK, -1, -1), (nxt, (i, j, k), PedPathKind.SIDEWALK, -1, -1)]
    for road in roads:
        if road.n_lanes:
            segments += _crossings(road, nx, ny)
    return _ped_graph(points, segments)


def _crossings(road: Road, nx: int, ny: int) -> list[tuple[tuple, tuple, int, int, int]]:
    """Crosswalks near both ends of a road and one mid-block jaywalk path, in both directions, when
    blocks exist on both sides. Ring indices: bottom side 1,2,3 / right 5,6,7 / top 11,10,9 / left 15,14,13."""
    i, j = road.a % nx, road.a // nx
    if road.axis == 0:  # runs along x: blocks (i, j-1) below (top side) and (i, j) above (bottom side)
        if not (0 < j < ny - 1):
            return []
        below, above = (i, j - 1), (i, j)
        pairs = [(11, 1, road.a), (10, 2, -1), (9, 3, road.b)]
    else:  # runs along y: blocks (i-1, j) left (right side) and (i, j) right (left side)
        if not (0 < i < nx - 1):
            return []
        below, above = (i - 1, j), (i, j)
        pairs = [(5, 15, road.a), (6, 14, -1), (7, 13, road.b)]
    out = []
    for k_below, k_above, node in pairs:
        kind = PedPathKind.JAYWALK if node < 0 else PedPathKind.CROSSWALK
        p, q = (*below, k_below), (*above, k_above)
        out += [(p, q, kind, node, road.axis), (q, p, kind, node, road.axis)]
    return out


def _ped_graph(points: dict, segments: list) -> dict[str, np.ndarray]:
    n = len(segments)
    a = np.array([points[s[0]] for s in segments])
    b = np.array([points[s[1]] for s in segments])
    starts: dict[tuple, list[int]] = {}
    for idx, seg in enumerate(segments):
        starts.setdefault(seg[0], []).append(idx)
    nxt = np.full((n, 4), -1, dtype=np.int64)
    n_next = np.zeros(n, dtype=np.int64)
    for idx, seg in enumerate(segments):
        succ = [t for t in starts[seg[1]] if segments[t][1] != seg[0]]  # no immediate turning back
        nxt[idx, : len(succ)] = succ
        n_next[idx] = len(succ)
    return {
        "ped_a": a, "ped_b": b, "ped_len": np.linalg.norm(b - a, axis=1),
        "ped_kind": np.array([s[2] for s in segments], dtype=np.int64),
        "ped_node": np.array([s[3] if s[2] == PedPathKind.CROSSWALK else -1 for s in segments], dtype=np.int64),
        "ped_axis": np.array([s[4] if s[2] != PedPathKind.SIDEWALK else -1 for s in segments], dtype=np.int64),
        "ped_next": nxt, "ped_n_next": n_next,
    }


# -------------------------------------------------------------------------------------- buildings
def _buildings(config: MapConfig, roads: list[Road], core: np.ndarray, rng: np.random.Generator, nx: int,
               ny: int) -> np.ndarray:
    """1-4 buildings per block, set back from the sidewalk, plus a strip of buildings around the city."""
    road_at = {(r.a, r.b): r for r in roads}
    edge = lambda a, b: kerb(road_at[(a, b)], core) + config.sidewalk_width + 0.5  # noqa: E731
    L = config.block_length
    boxes = []
    for j in range(ny - 1):
        for i in range(nx - 1):
            n00, n10, n01, n11 = i + j * nx, i + 1 + j * nx, i + (j + 1) * nx, i + 1 + (j + 1) * nx
            x0, x1 = i * L + edge(n00, n01), (i + 1) * L - edge(n10, n11)
            y0, y1 = j * L + edge(n00, n10), (j + 1) * L - edge(n01, n11)
            kx, ky = int(rng.integers(1, 3)), int(rng.integers(1, 3))
            xs = np.linspace(x0, x1, kx + 1)
            ys = np.linspace(y0, y1, ky + 1)
            for a in range(kx):
                for c in range(ky):
                    gx = BUILDING_GAP / 2 if kx > 1 else 0.0
                    gy = BUILDING_GAP / 2 if ky > 1 else 0.0
                    boxes.append((xs[a] + gx * (a > 0), ys[c] + gy * (c > 0),
                                  xs[a + 1] - gx * (a < kx - 1), ys[c + 1] - gy * (c < ky - 1)))
    w_max = 2 * config.lane_width + config.sidewalk_width + 0.5
    lo, hi_x, hi_y = -w_max, (nx - 1) * L + w_max, (ny - 1) * L + w_max
    d = OUTER_STRIP
    boxes += [(lo - d, lo - d, hi_x + d, lo), (lo - d, hi_y, hi_x + d, hi_y + d),
              (lo - d, lo, lo, hi_y), (hi_x, lo, hi_x + d, hi_y)]
    return np.array(boxes, dtype=np.float64)
