"""Static semantic raster of a city (one uint8 Surface class per pixel), drawn once per map with
OpenCV. Used for drivable-area and building checks and as the base layer of camera frames."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from drivesim.config import MapConfig
from drivesim.map.city import LANE_DS, LaneKind, Surface, city_extent

_SHIFT = 4  # fractional bits for cv2 drawing (sub-pixel precision)
CENTRE_LINE_WIDTH = 0.3  # [m]
LANE_LINE_WIDTH = 0.2  # [m]
STOP_LINE_WIDTH = 0.5  # [m]
DASH = 3.0  # [m] dash and gap length of lane lines
SWEEP_WIDTH = 2.9  # [m] road surface width guaranteed along connectors (car width + 1 m)


def raster_shape(config: MapConfig) -> tuple[np.ndarray, int, int]:
    """(origin (2,) [m] south-west corner, height [px], width [px]) shared by every map of a config."""
    x0, y0, x1, y1 = city_extent(config)
    res = config.raster_resolution
    return np.array([x0, y0]), int(np.ceil((y1 - y0) / res)), int(np.ceil((x1 - x0) / res))


def world_to_pixel(xy: np.ndarray, origin: np.ndarray, height: int, res: float) -> np.ndarray:
    """(..., 2) world [m] -> (..., 2) pixel (col, row) as float; row 0 is the north edge."""
    col = (xy[..., 0] - origin[0]) / res
    row = height - (xy[..., 1] - origin[1]) / res
    return np.stack([col, row], axis=-1)


def lookup(rasters: np.ndarray, map_idx: np.ndarray, xy: np.ndarray, origin: np.ndarray, res: float) -> np.ndarray:
    """Surface class under points: rasters (M, H, W), map_idx broadcastable to xy[..., 0], xy (..., 2)."""
    height, width = rasters.shape[1:]
    col = np.clip(((xy[..., 0] - origin[0]) / res).astype(np.int64), 0, width - 1)
    row = np.clip((height - (xy[..., 1] - origin[1]) / res).astype(np.int64), 0, height - 1)
    return rasters[map_idx, row, col]


def rasterize(config: MapConfig, roads: list[Any], node_xy: np.ndarray, core: np.ndarray,
              crosswalk_d: np.ndarray, stop_d: np.ndarray, buildings: np.ndarray, links: list[Any],
              lanes: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    origin, height, width = raster_shape(config)
    img = np.full((height, width), Surface.OUTSIDE, dtype=np.uint8)
    fill = _Filler(img, origin, config.raster_resolution)
    lo = -(2 * config.lane_width + config.sidewalk_width + 0.5)
    fill.box(lo, lo, config.blocks_x * config.block_length - lo, config.blocks_y * config.block_length - lo,
             Surface.SIDEWALK)
    for x0, y0, x1, y1 in buildings:
        fill.box(x0, y0, x1, y1, Surface.BUILDING)
    for road in roads:
        if road.n_lanes:
            fill.strip(node_xy[road.a], node_xy[road.b], 0.0, road.half_width, Surface.ROAD, both_sides=True)
    for n, (x, y) in enumerate(node_xy):
        if core[n] > 0:
            fill.box(x - core[n], y - core[n], x + core[n], y + core[n], Surface.ROAD)
    _connector_sweeps(fill, lanes)
    for road in roads:
        if road.n_lanes:
            _road_markings(fill, config, road, node_xy, crosswalk_d, stop_d)
    return img, origin


def _connector_sweeps(fill: _Filler, lanes: dict[str, np.ndarray]) -> None:
    """Road surface under every connector, SWEEP_WIDTH wide, so turning cars stay on the road
    (it rounds the kerbs where a turn cuts a corner)."""
    for lane in np.flatnonzero(lanes["lane_kind"] == LaneKind.CONNECTOR):
        n = int(lanes["lane_len"][lane] / LANE_DS) + 1
        fill.polyline(lanes["lane_pts"][lane, :n], SWEEP_WIDTH, Surface.ROAD)


def _road_markings(fill: _Filler, config: MapConfig, road: Any, node_xy: np.ndarray,
                   crosswalk_d: np.ndarray, stop_d: np.ndarray) -> None:
    a, b = node_xy[road.a], node_xy[road.b]
    u = (b - a) / np.linalg.norm(b - a)
    for node, sign in ((road.a, 1.0), (road.b, -1.0)):
        centre = node_xy[node] + sign * u * crosswalk_d[node]
        half = config.crosswalk_width / 2
        fill.strip(centre - u * half, centre + u * half, 0.0, road.half_width, Surface.CROSSWALK, both_sides=True)
    p0, p1 = a + u * stop_d[road.a], b - u * stop_d[road.b]
    fill.strip(p0, p1, 0.0, CENTRE_LINE_WIDTH / 2, Surface.CENTRE_LINE, both_sides=True)
    if road.n_lanes == 2:
        length = float(np.linalg.norm(p1 - p0))
        for start in np.arange(0.0, length - DASH / 2, 2 * DASH):
            q0, q1 = p0 + u * start, p0 + u * min(start + DASH, length)
            for offset in (config.lane_width, -config.lane_width):
                fill.strip(q0, q1, offset - LANE_LINE_WIDTH / 2, offset + LANE_LINE_WIDTH / 2, Surface.LANE_LINE)
    # stop lines across the incoming lanes (right of the direction of travel) at both ends
    for start, end in ((a, b), (b, a)):
        d = (end - start) / np.linalg.norm(end - start)
        node = road.b if end is b else road.a
        c = end - d * stop_d[node]
        fill.strip(c - d * STOP_LINE_WIDTH, c, -road.half_width, 0.0, Surface.STOP_LINE)


class _Filler:
    """Fills world-space polygons into the raster."""

    def __init__(self, img: np.ndarray, origin: np.ndarray, res: float) -> None:
        self.img, self.origin, self.res = img, origin, res

    def poly(self, corners: np.ndarray, value: int) -> None:
        px = world_to_pixel(np.asarray(corners, dtype=np.float64), self.origin, self.img.shape[0], self.res)
        cv2.fillPoly(self.img, [np.round(px * (1 << _SHIFT)).astype(np.int32)], int(value), cv2.LINE_8, _SHIFT)

    def polyline(self, pts: np.ndarray, width: float, value: int) -> None:
        px = world_to_pixel(np.asarray(pts, dtype=np.float64), self.origin, self.img.shape[0], self.res)
        thickness = max(int(round(width / self.res)), 1)
        cv2.polylines(self.img, [np.round(px * (1 << _SHIFT)).astype(np.int32)], False, int(value), thickness,
                      cv2.LINE_8, _SHIFT)

    def box(self, x0: float, y0: float, x1: float, y1: float, value: int) -> None:
        self.poly(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), value)

    def strip(self, p0: np.ndarray, p1: np.ndarray, left: float, right: float, value: int,
              both_sides: bool = False) -> None:
        """Band along p0->p1 between lateral offsets `left`..`right` [m] to the right of the
        direction (or -right..right when both_sides)."""
        u = (p1 - p0) / np.linalg.norm(p1 - p0)
        r = np.array([u[1], -u[0]])
        lo, hi = (-right, right) if both_sides else (left, right)
        self.poly(np.array([p0 + r * lo, p1 + r * lo, p1 + r * hi, p0 + r * hi]), value)
