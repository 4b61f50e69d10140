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

import numpy as np

from drivesim.config import MapConfig

LANE_DS = 0.5  # [m] spacing of lane polyline samples


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


@dataclass(frozen=True, eq=False)
class MapPool:
    """Several maps with every per-map array padded and stacked on a leading axis M."""

    maps: tuple[CityMap, ...]
    arrays: dict[str, np.ndarray]  # name -> (M, ...) padded array; same names as CityMap fields
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


def stack_maps(maps: list[CityMap]) -> MapPool:
    """Pad every array field to the largest map and stack to (M, ...)."""
    arrays: dict[str, np.ndarray] = {}
    for f in fields(CityMap):
        if f.name in _NOT_STACKED:
            continue
        items = [getattr(m, f.name) for m in maps]
        shape = tuple(max(a.shape[d] for a in items) for d in range(items[0].ndim))
        out = np.full((len(items), *shape), _PAD_VALUES.get(f.name, 0), dtype=items[0].dtype)
        for i, a in enumerate(items):
            out[(i, *tuple(slice(0, n) for n in a.shape))] = a
        arrays[f.name] = out
    count = lambda name: np.array([len(getattr(m, name)) for m in maps])  # noqa: E731
    return MapPool(tuple(maps), arrays, count("lane_len"), count("link_from"), count("spawn_lane"),
                   count("ped_len"), count("node_xy"), count("buildings"))
