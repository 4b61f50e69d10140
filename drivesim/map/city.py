"""The data of one generated city map, and a pool of maps stacked into padded arrays.

Lanes are directed centre-line polylines resampled every `LANE_DS` metres, so a position `s` [m]
along lane `l` is at index `s / LANE_DS` without a search. Two kinds of lanes exist: road lanes
(between the stop lines of two intersections) and connectors (through an intersection, from a stop
line to the start of an outgoing lane). Pedestrians walk on a separate graph of straight segments
(sidewalks, crosswalks and mid-block jaywalking paths).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from drivesim.config import MapConfig

LANE_DS = 0.5  # [m] spacing of lane polyline samples
OUTER_STRIP = 8.0  # [m] depth of the building strip around the city


class LaneKind(IntEnum):
    ROAD = 0
    CONNECTOR = 1


class Turn(IntEnum):
    """Route command / connector manoeuvre."""

    FOLLOW = 0  # on a road lane
    LEFT = 1
    RIGHT = 2
    STRAIGHT = 3


class PedPathKind(IntEnum):
    SIDEWALK = 0
    CROSSWALK = 1
    JAYWALK = 2


class Surface(IntEnum):
    """Classes of the static semantic raster."""

    OUTSIDE = 0
    ROAD = 1
    SIDEWALK = 2
    BUILDING = 3
    CROSSWALK = 4
    LANE_LINE = 5  # dashed line between same-direction lanes
    CENTRE_LINE = 6  # line between opposite directions
    STOP_LINE = 7


DRIVABLE = (Surface.ROAD, Surface.CROSSWALK, Surface.LANE_LINE, Surface.CENTRE_LINE, Surface.STOP_LINE)


@dataclass(frozen=True, eq=False)
class CityMap:
    """One city. Shapes use N nodes, L lanes, P samples per lane, NL directed links, S pedestrian
    segments, NB buildings; all coordinates in metres in the world frame (x east, y north)."""

    config: MapConfig
    seed: int
    # intersections
    node_xy: np.ndarray  # (N, 2) [m] centre
    node_signal: np.ndarray  # (N,) bool, has traffic lights
    node_degree: np.ndarray  # (N,) int, number of roads
    # lanes
    lane_pts: np.ndarray  # (L, P, 2) [m] samples every LANE_DS, padded with the last point
    lane_yaw: np.ndarray  # (L, P) [rad] tangent heading at each sample
    lane_len: np.ndarray  # (L,) [m] length
    lane_kind: np.ndarray  # (L,) LaneKind
    lane_turn: np.ndarray  # (L,) Turn (FOLLOW for road lanes)
    lane_node: np.ndarray  # (L,) node the lane ends at (road lane) or crosses (connector)
    lane_axis: np.ndarray  # (L,) 0 if a road lane runs along x, 1 along y (-1 for connectors)
    lane_offset: np.ndarray  # (L,) [m] offset of a road lane to the right of the road centre line
    lane_link: np.ndarray  # (L,) directed link of a road lane (-1 for connectors)
    lane_next: np.ndarray  # (L, 3) successor lanes, padded with -1
    lane_n_next: np.ndarray  # (L,) number of successors (>= 1: the lane graph has no dead ends)
    lane_prev: np.ndarray  # (L,) the road lane a connector leaves from (-1 for road lanes)
    conflict: np.ndarray  # (L, L) bool, connectors whose paths cross or merge
    # directed links (one per road direction) and routing
    link_lanes: np.ndarray  # (NL, 2) road lanes of the link by index from the centre, padded with -1
    link_from: np.ndarray  # (NL,) start node
    link_to: np.ndarray  # (NL,) end node
    link_dist: np.ndarray  # (NL, NL) [m] shortest driving distance from the middle of a to the middle of b
    link_next_hop: np.ndarray  # (NL, NL) next link on the shortest path from a towards b (-1: none/same)
    lane_to_link_connector: np.ndarray  # (L, NL) connector from road lane l into link n (-1: none)
    spawn_lane: np.ndarray  # (NS,) candidate spawn slots: road lane
    spawn_s: np.ndarray  # (NS,) [m] position along it
    # pedestrians
    ped_a: np.ndarray  # (S, 2) [m] segment start
    ped_b: np.ndarray  # (S, 2) [m] segment end
    ped_len: np.ndarray  # (S,) [m]
    ped_kind: np.ndarray  # (S,) PedPathKind
    ped_node: np.ndarray  # (S,) node of a crosswalk (-1 otherwise)
    ped_axis: np.ndarray  # (S,) travel axis of the road a crosswalk crosses (-1 otherwise)
    ped_next: np.ndarray  # (S, 4) successor segments, padded with -1
    ped_n_next: np.ndarray  # (S,)
    # static world
    buildings: np.ndarray  # (NB, 4) [m] axis-aligned boxes x0, y0, x1, y1
    raster: np.ndarray  # (H, W) uint8 Surface classes; row 0 is the north edge (y = origin_y + H*res)
    raster_origin: np.ndarray  # (2,) [m] world position of the raster's south-west corner
    raster_resolution: float  # [m/px]


# Record layouts of the map tables the kernels read (numba compiles a function once per argument
# type, and its cost grows with the number of arrays in the signature: a few record arrays keep
# the step's compile time to seconds, where one array per field took minutes).
MAP_INFO = np.dtype([
    ("origin", np.float64, (2,)),  # [m] south-west corner of the map's raster
    ("raster_height", np.int64),  # [px] rows of the map's own raster (row 0 = its north edge)
    ("raster_width", np.int64),  # [px] columns
    ("raster_res", np.float64),  # [m/px]
    ("lane_width", np.float64),  # [m]
    ("n_lanes", np.int64), ("n_links", np.int64), ("n_spawn", np.int64), ("n_ped", np.int64),
    ("n_nodes", np.int64), ("n_buildings", np.int64),
], align=True)
NODE = np.dtype([
    ("x", np.float64), ("y", np.float64),  # [m] intersection centre
    ("signal", np.bool_),  # has traffic lights
    ("approach", np.int64, (2,)),  # an incoming road lane per travel axis (outermost), or -1
], align=True)
LANE = np.dtype([
    ("length", np.float64),  # [m]
    ("kind", np.int64),  # LaneKind
    ("turn", np.int64),  # Turn (FOLLOW for road lanes)
    ("node", np.int64),  # node the lane ends at (road lane) or crosses (connector)
    ("axis", np.int64),  # 0 if a road lane runs along x, 1 along y (-1 for connectors)
    ("offset", np.float64),  # [m] offset of a road lane to the right of the road centre line
    ("link", np.int64),  # directed link of a road lane (-1 for connectors)
    ("next", np.int64, (3,)),  # successor lanes, padded with -1
    ("n_next", np.int64),
    ("prev", np.int64),  # the road lane a connector leaves from (-1 for road lanes)
], align=True)
SAMPLE = np.dtype([("x", np.float64), ("y", np.float64), ("yaw", np.float64)], align=True)  # lane polyline sample
LINK = np.dtype([("to", np.int64), ("lanes", np.int64, (2,))], align=True)  # end node; road lanes from the centre (-1 pad)
ROUTING = np.dtype([
    ("dist", np.float64),  # [m] shortest driving distance from the middle of link a to the middle of link b
    ("next_hop", np.int64),  # next link on that path (-1: none / same)
], align=True)
SPAWN = np.dtype([("lane", np.int64), ("s", np.float64)], align=True)  # candidate spawn slot: road lane and position [m]
PATH = np.dtype([
    ("a", np.float64, (2,)), ("b", np.float64, (2,)),  # [m] segment start and end
    ("length", np.float64),  # [m]
    ("kind", np.int64),  # PedPathKind
    ("node", np.int64),  # node of a crosswalk (-1 otherwise)
    ("axis", np.int64),  # travel axis of the road a crosswalk crosses (-1 otherwise)
    ("next", np.int64, (4,)), ("n_next", np.int64),  # successor segments, padded with -1
], align=True)
BUILDING = np.dtype([("x0", np.float64), ("y0", np.float64), ("x1", np.float64), ("y1", np.float64)], align=True)


class MapArrays(NamedTuple):
    """The map pool as the kernels see it: record tables with a leading map axis M, padded to the
    largest map (`info` says how much of each is real)."""

    info: np.ndarray  # (M,) MAP_INFO
    nodes: np.ndarray  # (M, N) NODE
    lanes: np.ndarray  # (M, L) LANE
    samples: np.ndarray  # (M, L, P) SAMPLE, every LANE_DS along each lane, padded past its end
    conflict: np.ndarray  # (M, L, L) bool, connectors whose paths cross or merge
    links: np.ndarray  # (M, NL) LINK
    routing: np.ndarray  # (M, NL, NL) ROUTING
    lane_to_link: np.ndarray  # (M, L, NL) connector from road lane l into link n (-1: none)
    spawns: np.ndarray  # (M, NS) SPAWN
    paths: np.ndarray  # (M, S) PATH, the pedestrian graph
    buildings: np.ndarray  # (M, NB) BUILDING
    rasters: np.ndarray  # (M, H, W) uint8 Surface, padded with OUTSIDE


def _table(dtype: np.dtype, shape: tuple[int, ...], columns: dict[str, np.ndarray]) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    for name, values in columns.items():
        out[name] = values
    return np.ascontiguousarray(out)


def kernel_arrays(arrays: dict[str, np.ndarray], counts: dict[str, np.ndarray]) -> MapArrays:
    """Record tables from the padded per-field arrays of `stack_maps`."""
    a = arrays
    m, n_nodes = a["node_xy"].shape[:2]
    info = _table(MAP_INFO, (m,), {"origin": a["raster_origin"], "raster_height": a["raster_height"],
                                   "raster_width": a["raster_width"], "raster_res": a["raster_res"],
                                   "lane_width": a["lane_width"], **counts})
    nodes = _table(NODE, (m, n_nodes), {"x": a["node_xy"][..., 0], "y": a["node_xy"][..., 1],
                                        "signal": a["node_signal"], "approach": a["crossing_approach"]})
    lanes = _table(LANE, a["lane_len"].shape, {
        "length": a["lane_len"], "kind": a["lane_kind"], "turn": a["lane_turn"], "node": a["lane_node"],
        "axis": a["lane_axis"], "offset": a["lane_offset"], "link": a["lane_link"], "next": a["lane_next"],
        "n_next": a["lane_n_next"], "prev": a["lane_prev"]})
    samples = _table(SAMPLE, a["lane_yaw"].shape, {"x": a["lane_pts"][..., 0], "y": a["lane_pts"][..., 1],
                                                   "yaw": a["lane_yaw"]})
    links = _table(LINK, a["link_to"].shape, {"to": a["link_to"], "lanes": a["link_lanes"]})
    routing = _table(ROUTING, a["link_dist"].shape, {"dist": a["link_dist"], "next_hop": a["link_next_hop"]})
    spawns = _table(SPAWN, a["spawn_lane"].shape, {"lane": a["spawn_lane"], "s": a["spawn_s"]})
    paths = _table(PATH, a["ped_len"].shape, {"a": a["ped_a"], "b": a["ped_b"], "length": a["ped_len"],
                                              "kind": a["ped_kind"], "node": a["ped_node"], "axis": a["ped_axis"],
                                              "next": a["ped_next"], "n_next": a["ped_n_next"]})
    b = a["buildings"]
    buildings = _table(BUILDING, b.shape[:2], {"x0": b[..., 0], "y0": b[..., 1], "x1": b[..., 2], "y1": b[..., 3]})
    return MapArrays(info, nodes, lanes, samples, np.ascontiguousarray(a["conflict"]), links, routing,
                     np.ascontiguousarray(a["lane_to_link_connector"]), spawns, paths, buildings,
                     np.ascontiguousarray(a["rasters"]))


@dataclass(frozen=True, eq=False)
class MapPool:
    """Several maps (possibly of different MapConfigs) with every per-map array padded and stacked
    on a leading axis M. `kernel` holds the same arrays as a NamedTuple for the compiled step."""

    maps: tuple[CityMap, ...]
    arrays: dict[str, np.ndarray]  # name -> (M, ...) padded array; same names as CityMap fields
    kernel: MapArrays
    n_lanes: np.ndarray  # (M,)
    n_links: np.ndarray  # (M,)
    n_spawn: np.ndarray  # (M,)
    n_ped: np.ndarray  # (M,)
    n_nodes: np.ndarray  # (M,)
    n_buildings: np.ndarray  # (M,)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None


_PAD_VALUES = {"lane_next": -1, "link_lanes": -1, "link_next_hop": -1, "lane_to_link_connector": -1,
               "ped_next": -1, "ped_node": -1, "ped_axis": -1, "lane_link": -1, "lane_node": -1, "lane_prev": -1,
               "link_dist": np.inf}
_NOT_STACKED = {"config", "seed", "raster", "raster_origin", "raster_resolution"}


def _pad_stack(items: list[np.ndarray], fill: float | int) -> np.ndarray:
    shape = tuple(max(a.shape[d] for a in items) for d in range(items[0].ndim))
    out = np.full((len(items), *shape), fill, dtype=items[0].dtype)
    for i, a in enumerate(items):
        out[(i, *tuple(slice(0, n) for n in a.shape))] = a
    return out


def crossing_approaches(city: CityMap) -> np.ndarray:
    """(N, 2): for every intersection and travel axis, one incoming road lane (outermost), or -1."""
    out = np.full((len(city.node_xy), 2), -1, dtype=np.int64)
    for lane in np.flatnonzero(city.lane_kind == LaneKind.ROAD):
        out[city.lane_node[lane], city.lane_axis[lane]] = lane
    return out


def stack_maps(maps: list[CityMap]) -> MapPool:
    """Pad every array field to the largest map and stack to (M, ...)."""
    arrays: dict[str, np.ndarray] = {}
    for f in fields(CityMap):
        if f.name not in _NOT_STACKED:
            arrays[f.name] = _pad_stack([getattr(m, f.name) for m in maps], _PAD_VALUES.get(f.name, 0))
    arrays["crossing_approach"] = _pad_stack([crossing_approaches(m) for m in maps], -1)
    arrays["rasters"] = _pad_stack([m.raster for m in maps], int(Surface.OUTSIDE))
    arrays["raster_origin"] = np.stack([np.asarray(m.raster_origin, dtype=np.float64) for m in maps])
    arrays["raster_height"] = np.array([m.raster.shape[0] for m in maps], dtype=np.int64)
    arrays["raster_width"] = np.array([m.raster.shape[1] for m in maps], dtype=np.int64)
    arrays["raster_res"] = np.array([m.raster_resolution for m in maps], dtype=np.float64)
    arrays["lane_width"] = np.array([m.config.lane_width for m in maps], dtype=np.float64)
    count = lambda name: np.array([len(getattr(m, name)) for m in maps], dtype=np.int64)  # noqa: E731
    counts = {"n_lanes": count("lane_len"), "n_links": count("link_from"), "n_spawn": count("spawn_lane"),
              "n_ped": count("ped_len"), "n_nodes": count("node_xy"), "n_buildings": count("buildings")}
    return MapPool(tuple(maps), arrays, kernel_arrays(arrays, counts), **counts)


def city_extent(config: MapConfig) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) [m] of everything drawn, outer building strip included, plus a margin."""
    w_max = 2 * config.lane_width + config.sidewalk_width + 0.5 + OUTER_STRIP + 4.0
    return (-w_max, -w_max, config.blocks_x * config.block_length + w_max,
            config.blocks_y * config.block_length + w_max)
