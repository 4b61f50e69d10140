"""Top-down RGB views of one world: the map raster coloured, with cars, pedestrians, lights and
the ego's route drawn on top (OpenCV, uint8 (H, W, 3))."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from drivesim.actors.driver import CAR_LENGTH, CAR_WIDTH, PED_RADIUS
from drivesim.actors.signals import Light
from drivesim.geometry import box_corners
from drivesim.map.city import LANE_DS, LaneKind, Surface
from drivesim.map.raster import world_to_pixel
from drivesim.render.palette import (
    CAR_RGB,
    EGO_RGB,
    FOOTPRINT_RGB,
    LIDAR_HIT_RGB,
    LIDAR_RGB,
    LIGHT_RGB,
    PALETTE,
    PED_RGB,
    ROUTE_RGB,
)
from drivesim.sensors.raycast import beam_offsets

if TYPE_CHECKING:
    from drivesim.world import World



def base_image(world: World, map_index: int) -> np.ndarray:
    """The coloured static raster of one map (cached on the world)."""
    cache = world.__dict__.setdefault("_base_images", {})
    if map_index not in cache:
        cache[map_index] = PALETTE[world.maps.maps[map_index].raster]
    return cache[map_index]


def map_image(world: World, b: int) -> np.ndarray:
    """Whole-city view of world b at the raster resolution."""
    city = world.maps.maps[int(world.map_idx[b])]
    img = base_image(world, int(world.map_idx[b])).copy()
    draw_overlays(img, world, b, city.raster_origin, city.raster_resolution)
    return img


def follow_image(world: World, b: int, size: int = 480, metres: float = 80.0, heading_up: bool = True,
                 lidar: np.ndarray | None = None, footprint: bool = False) -> np.ndarray:
    """Square view of `metres` around the ego of world b; heading-up (ego pointing up, placed
    below the centre so more lies ahead than behind) or north-up. Only a window around the ego
    is drawn. `lidar` (N,) normalised ranges adds the lidar rays; `footprint` outlines the area the
    camera sees."""
    city = world.maps.maps[int(world.map_idx[b])]
    res, raster_origin = city.raster_resolution, city.raster_origin
    base = base_image(world, int(world.map_idx[b]))
    height, width = base.shape[:2]
    centre = world_to_pixel(np.array([world.ego.x[b], world.ego.y[b]]), raster_origin, height, res)
    half = int(metres / res)  # window half-size [px], covers the rotated view
    c0, r0 = int(centre[0]) - half, int(centre[1]) - half
    window = np.empty((2 * half, 2 * half, 3), dtype=np.uint8)
    window[:] = PALETTE[Surface.OUTSIDE]
    cs, rs = slice(max(c0, 0), min(c0 + 2 * half, width)), slice(max(r0, 0), min(r0 + 2 * half, height))
    window[rs.start - r0: rs.stop - r0, cs.start - c0: cs.stop - c0] = base[rs, cs]
    # world position of the window's south-west corner, so world_to_pixel works inside the window
    origin = raster_origin + np.array([c0 * res, (height - r0 - 2 * half) * res])
    if lidar is not None:
        _draw_lidar(window, world, b, origin, res, lidar)
    if footprint:
        _draw_footprint(window, world, b, origin, res)
    draw_overlays(window, world, b, origin, res)
    px = centre - np.array([c0, r0])
    angle = np.degrees(world.ego.yaw[b]) - 90.0 if heading_up else 0.0
    m = cv2.getRotationMatrix2D((float(px[0]), float(px[1])), -angle, size / (metres / res))
    m[:, 2] += np.array([size / 2, size * (0.7 if heading_up else 0.5)]) - px
    return cv2.warpAffine(window, m, (size, size), flags=cv2.INTER_AREA,
                          borderValue=tuple(int(c) for c in PALETTE[Surface.OUTSIDE]))


def draw_overlays(img: np.ndarray, world: World, b: int, origin: np.ndarray, res: float) -> None:
    """Route, lights, cars, pedestrians and the ego of world b onto img (in place)."""
    h = img.shape[0]
    to_px = lambda xy: (world_to_pixel(np.asarray(xy), origin, h, res) * 16).astype(np.int32)  # noqa: E731
    pool, m = world.pool, world.map_idx[b]
    for lane in world.route.lanes(b):
        n = int(pool.lane_len[m, lane] / LANE_DS) + 1
        cv2.polylines(img, [to_px(pool.lane_pts[m, lane, :n])], False, ROUTE_RGB, 2, cv2.LINE_AA, 4)
    road = np.flatnonzero((pool.lane_kind[m] == LaneKind.ROAD) & (world.lights[b] != Light.NONE))
    for lane in road:
        end = pool.lane_pts[m, lane, int(pool.lane_len[m, lane] / LANE_DS)]
        cv2.circle(img, tuple(int(v) for v in to_px(end)), int(0.9 / res * 16), LIGHT_RGB[Light(world.lights[b, lane])],
                   -1, cv2.LINE_AA, 4)
    c = world.cars
    for k in np.flatnonzero(c.active[b] & ~c.controlled[b]):
        _box(img, to_px, c.x[b, k], c.y[b, k], c.yaw[b, k], CAR_LENGTH, CAR_WIDTH, CAR_RGB)
    p = world.peds
    for k in np.flatnonzero(p.active[b]):
        cv2.circle(img, tuple(int(v) for v in to_px([p.x[b, k], p.y[b, k]])), max(int(PED_RADIUS / res * 16), 16),
                   PED_RGB, -1, cv2.LINE_AA, 4)
    veh = world.config.vehicle
    _box(img, to_px, world.ego.x[b], world.ego.y[b], world.ego.yaw[b], veh.length, veh.width, EGO_RGB)


def _box(img: np.ndarray, to_px, x: float, y: float, yaw: float, length: float, width: float,
         rgb: tuple[int, int, int]) -> None:
    corners = box_corners(np.array(x), np.array(y), np.array(yaw), length, width)
    cv2.fillConvexPoly(img, to_px(corners), rgb, cv2.LINE_AA, 4)
    nose = 0.5 * (corners[0] + corners[3])
    cv2.line(img, tuple(int(v) for v in to_px([x, y])), tuple(int(v) for v in to_px(nose)), (255, 255, 255), 1,
             cv2.LINE_AA, 4)


def _draw_lidar(img: np.ndarray, world: World, b: int, origin: np.ndarray, res: float, ranges: np.ndarray) -> None:
    cfg = world.config.lidar
    angles = world.ego.yaw[b] + beam_offsets(cfg.n_beams, cfg.fov)
    d = ranges * cfg.max_range
    start = np.array([world.ego.x[b], world.ego.y[b]])
    ends = start + np.stack([np.cos(angles) * d, np.sin(angles) * d], axis=1)
    h = img.shape[0]
    p0 = (world_to_pixel(start, origin, h, res) * 16).astype(np.int32)
    for end, hit in zip(world_to_pixel(ends, origin, h, res) * 16, ranges < 1.0, strict=True):
        cv2.line(img, tuple(p0), tuple(end.astype(np.int32)), LIDAR_HIT_RGB if hit else LIDAR_RGB, 1, cv2.LINE_AA, 4)


def _draw_footprint(img: np.ndarray, world: World, b: int, origin: np.ndarray, res: float) -> None:
    cam = world.config.camera
    mpp = cam.metres_per_pixel
    ahead, behind = cam.ego_row * cam.height * mpp, (1 - cam.ego_row) * cam.height * mpp
    half = cam.width * mpp / 2
    local = np.array([[ahead, half], [ahead, -half], [-behind, -half], [-behind, half]])
    c, s = np.cos(world.ego.yaw[b]), np.sin(world.ego.yaw[b])
    pts = np.stack([world.ego.x[b] + c * local[:, 0] - s * local[:, 1],
                    world.ego.y[b] + s * local[:, 0] + c * local[:, 1]], axis=1)
    px = (world_to_pixel(pts, origin, img.shape[0], res) * 16).astype(np.int32)
    cv2.polylines(img, [px], True, FOOTPRINT_RGB, 2, cv2.LINE_AA, 4)
