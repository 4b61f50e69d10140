"""Reference renderer for the camera tests: the camera as OpenCV drew it before it was compiled (one
`cv2.warpAffine` per world, then `cv2.fillConvexPoly` / `cv2.circle` per object), from the same
labels. Test oracle only; drivesim renders with `drivesim.sensors.camera.render_batch`."""

from __future__ import annotations

import cv2
import numpy as np

from drivesim.actors.signals import Light
from drivesim.map.city import Surface
from drivesim.render.palette import CAR_RGB, EGO_RGB, LIGHT_RGB, PALETTE, PED_RGB
from drivesim.sensors.camera import DUSK_GAIN, LIGHT_RADIUS, CameraLabels

SHIFT = 4  # fractional bits for sub-pixel drawing


def box_corners_px(centre: np.ndarray, size: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Corners (..., 4, 2) [px] of boxes with centre (..., 2), size (length, width) (..., 2) and
    image heading (...) (0 = up, counter-clockwise)."""
    fwd = np.stack([-np.sin(angle), -np.cos(angle)], axis=-1)
    left = np.stack([-np.cos(angle), np.sin(angle)], axis=-1)
    hl, hw = size[..., 0:1] / 2, size[..., 1:2] / 2
    c = centre
    return np.stack([c + fwd * hl + left * hw, c - fwd * hl + left * hw, c - fwd * hl - left * hw,
                     c + fwd * hl - left * hw], axis=-2)


def render_opencv(world, labels: CameraLabels) -> np.ndarray:
    """Frames (B, H, W, 3) uint8 of `world` (no noise or jitter) drawn by OpenCV from `labels`."""
    cfg = world.config.camera
    mpp = cfg.metres_per_pixel
    gain = DUSK_GAIN if cfg.dusk else np.ones(3)
    outside = tuple(int(c) for c in PALETTE[Surface.OUTSIDE] * gain)
    frames = np.empty((world.batch_size, cfg.height, cfg.width, 3), dtype=np.uint8)
    cam = world.camera.arrays
    for b in range(world.batch_size):
        m = int(world.map_idx[b])
        city = world.pool.maps[m]
        scale = city.raster_resolution / mpp
        size = (int(round(city.raster.shape[1] * scale)), int(round(city.raster.shape[0] * scale)))
        base = cv2.resize((PALETTE[city.raster] * gain).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
        res = city.raster.shape[0] * city.raster_resolution / size[1]
        k = mpp / res
        x, y, yaw = world.ego.x[b], world.ego.y[b], world.ego.yaw[b]
        c, s = np.cos(yaw), np.sin(yaw)
        eh, half_w = cfg.ego_row * cfg.height, cfg.width / 2
        col0 = (x - city.raster_origin[0]) / res + c * k * eh - s * k * half_w
        row0 = size[1] - (y - city.raster_origin[1]) / res - s * k * eh - c * k * half_w
        mat = np.array([[s * k, -c * k, col0], [c * k, s * k, row0]])
        cv2.warpAffine(base, mat, (cfg.width, cfg.height), dst=frames[b], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=outside)
        n_cars, n_peds = world.cars.x.shape[1], world.peds.x.shape[1]
        margin = 4.5 / mpp
        own = int(world.state.ego["car"][b])
        for o in range(labels.cls.shape[1]):
            u, v = labels.centre[b, o]
            if not (-margin < u < cfg.width + margin and -margin < v < cfg.height + margin):
                continue
            centre = tuple(int(t) for t in np.round(labels.centre[b, o] * (1 << SHIFT)))
            if o < n_cars:
                if world.cars.active[b, o] and o != own:
                    corners = box_corners_px(labels.centre[b, o], labels.size[b, o], labels.angle[b, o])
                    cv2.fillConvexPoly(frames[b], np.round(corners * (1 << SHIFT)).astype(np.int32),
                                       tuple(int(t) for t in np.array(CAR_RGB) * gain), cv2.LINE_8, SHIFT)
            elif o < n_cars + n_peds:
                if world.peds.active[b, o - n_cars]:
                    r = int(round(labels.size[b, o, 0] / 2 * (1 << SHIFT)))
                    cv2.circle(frames[b], centre, r, tuple(int(t) for t in np.array(PED_RGB) * gain), -1, cv2.LINE_8,
                               SHIFT)
            else:
                light = Light(int(labels.light[b, o]))
                if cam.has_light[m, o - n_cars - n_peds] and light != Light.NONE:
                    cv2.circle(frames[b], centre, int(round(LIGHT_RADIUS / mpp * (1 << SHIFT))), LIGHT_RGB[light], -1,
                               cv2.LINE_8, SHIFT)
        veh = world.config.vehicle
        ego = box_corners_px(np.array([half_w, eh]), np.array([veh.length / mpp, veh.width / mpp]), np.zeros(()))
        cv2.fillConvexPoly(frames[b], np.round(ego * (1 << SHIFT)).astype(np.int32),
                           tuple(int(t) for t in np.array(EGO_RGB) * gain), cv2.LINE_8, SHIFT)
    return frames
