"""Top-down RGB views of one world: the map raster coloured, with cars, pedestrians, lights and
the ego's route drawn on top (OpenCV, uint8 (H, W, 3))."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from drivesim.actors.pedestrians import PED_RADIUS
from drivesim.actors.signals import Light
from drivesim.actors.traffic import CAR_LENGTH, CAR_WIDTH
from drivesim.geometry import box_corners
from drivesim.map.city import LANE_DS, LaneKind, Surface
from drivesim.map.raster import world_to_pixel

if TYPE_CHECKING:
    from drivesim.world import World

PALETTE = np.zeros((256, 3), dtype=np.uint8)  # RGB per Surface class
PALETTE[Surface.OUTSIDE] = (58, 92, 52)
PALETTE[Surface.ROAD] = (72, 72, 76)
PALETTE[Surface.SIDEWALK] = (168, 164, 156)
PALETTE[Surface.BUILDING] = (120, 92, 70)
PALETTE[Surface.CROSSWALK] = (215, 215, 215)
PALETTE[Surface.LANE_LINE] = (235, 235, 235)
PALETTE[Surface.CENTRE_LINE] = (235, 200, 40)
PALETTE[Surface.STOP_LINE] = (245, 245, 245)
LIGHT_RGB = {Light.GREEN: (40, 220, 60), Light.YELLOW: (250, 200, 0), Light.RED: (235, 40, 40)}
CAR_RGB = (70, 130, 230)
EGO_RGB = (250, 120, 20)
PED_RGB = (230, 60, 200)
ROUTE_RGB = (90, 230, 230)


def map_image(world: World, b: int) -> np.ndarray:
    """Whole-city view of world b at the raster resolution."""
    img = PALETTE[world.rasters[world.map_idx[b]]].copy()
    draw_overlays(img, world, b, world.raster_origin, world.config.map.raster_resolution)
    return img


def follow_image(world: World, b: int, size: int = 480, metres: float = 80.0) -> np.ndarray:
    """Square view of `metres` around the ego of world b, north up."""
    res = world.config.map.raster_resolution
    full = map_image(world, b)
    px = world_to_pixel(np.array([world.ego.x[b], world.ego.y[b]]), world.raster_origin, full.shape[0], res)
    half = metres / res / 2
    m = np.float32([[1, 0, half - px[0]], [0, 1, half - px[1]]])
    crop = cv2.warpAffine(full, m, (int(2 * half), int(2 * half)), flags=cv2.INTER_NEAREST,
                          borderValue=tuple(int(c) for c in PALETTE[Surface.OUTSIDE]))
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def draw_overlays(img: np.ndarray, world: World, b: int, origin: np.ndarray, res: float) -> None:
    """Route, lights, cars, pedestrians and the ego of world b onto img (in place)."""
    h = img.shape[0]
    to_px = lambda xy: (world_to_pixel(np.asarray(xy), origin, h, res) * 16).astype(np.int32)  # noqa: E731
    pool, m = world.pool, world.map_idx[b]
    for lane in world.route[b, world.route_i[b]: world.route_n[b]]:
        n = int(pool.lane_len[m, lane] / LANE_DS) + 1
        cv2.polylines(img, [to_px(pool.lane_pts[m, lane, :n])], False, ROUTE_RGB, 2, cv2.LINE_AA, 4)
    road = np.flatnonzero((pool.lane_kind[m] == LaneKind.ROAD) & (world.lights[b] != Light.NONE))
    for lane in road:
        end = pool.lane_pts[m, lane, int(pool.lane_len[m, lane] / LANE_DS)]
        cv2.circle(img, tuple(int(v) for v in to_px(end)), int(0.9 / res * 16), LIGHT_RGB[Light(world.lights[b, lane])],
                   -1, cv2.LINE_AA, 4)
    c = world.cars
    for k in np.flatnonzero(c.active[b]):
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
