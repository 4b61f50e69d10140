"""Ego-centric, heading-up, top-down RGB camera with exact labels from the same render pass.

Each frame is the coloured static map raster warped into the ego frame (one `cv2.warpAffine` per
world), then traffic lights, cars, pedestrians and the ego drawn on top (one `cv2.fillConvexPoly` /
`cv2.circle` per visible object). Every drawn object's label (class, pixel centre, oriented box,
heading, track id, light state) is computed from the same transform, so labels and pixels agree.

Image convention: u (column) grows to the right, v (row) grows downwards; the ego sits at
(W / 2, ego_row * H) facing up. An ego-frame point (forward fx, left fy) [m] is at
u = W/2 - fy / mpp, v = ego_row * H - fx / mpp.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from drivesim import rng
from drivesim.actors.driver import CAR_LENGTH, PED_RADIUS
from drivesim.actors.signals import Light
from drivesim.config import CameraConfig
from drivesim.geometry import wrap_angle
from drivesim.map.city import LANE_DS, MapPool, Surface
from drivesim.render.palette import CAR_RGB, EGO_RGB, LIGHT_RGB, PALETTE, PED_RGB

if TYPE_CHECKING:
    from drivesim.world import World

_SHIFT = 4  # fractional bits for sub-pixel drawing
LIGHT_RADIUS = 0.9  # [m] drawn radius of a traffic-light head
LIGHT_SIDE_OFFSET = 1.2  # [m] light head beyond the right edge of the outermost lane
DUSK_GAIN = np.array([0.42, 0.45, 0.62])  # RGB gains of the dusk palette (lights stay bright)
NOISE_BANK = 8  # pre-drawn noise images cycled through by a keyed index


class ObjectClass(IntEnum):
    """Labelled object classes."""

    CAR = 0
    PEDESTRIAN = 1
    TRAFFIC_LIGHT = 2


class CameraLabels(NamedTuple):
    """Per-frame labels of every object slot, (B, O, ...) with O = C car slots + P pedestrians + NL
    lights (the camera's own car is never visible)."""

    cls: np.ndarray  # (B, O) int8 ObjectClass
    centre: np.ndarray  # (B, O, 2) float32 [px] (u, v)
    size: np.ndarray  # (B, O, 2) float32 [px] (length along heading, width)
    angle: np.ndarray  # (B, O) float32 [rad] heading in the image, 0 = up, counter-clockwise
    position: np.ndarray  # (B, O, 2) float32 [m] (forward, left) in the ego frame
    track: np.ndarray  # (B, O) int32 actor slot within its class (stable over an episode)
    light: np.ndarray  # (B, O) int8 Light state (NONE for cars and pedestrians)
    visible: np.ndarray  # (B, O) bool, centre inside the frame and the object exists

    def frame(self, b: int) -> dict[str, np.ndarray]:
        """The visible objects of frame b as a dict of arrays (n,)."""
        keep = self.visible[b]
        return {name: getattr(self, name)[b][keep] for name in self._fields if name != "visible"}


class Camera:
    """Renders camera frames and labels for a World's batch."""

    def __init__(self, pool: MapPool, config: CameraConfig) -> None:
        self.config = config
        self.pool = pool
        gain = DUSK_GAIN if config.dusk else np.ones(3)
        # coloured rasters pre-scaled (area-averaged, so thin markings blend) to the camera resolution
        self.base, self.raster_res, self.raster_h = [], [], []
        for city in pool.maps:
            scale = city.raster_resolution / config.metres_per_pixel
            size = (int(round(city.raster.shape[1] * scale)), int(round(city.raster.shape[0] * scale)))
            self.base.append(cv2.resize((PALETTE[city.raster] * gain).astype(np.uint8), size,
                                        interpolation=cv2.INTER_AREA))  # (H', W', 3)
            self.raster_res.append(city.raster.shape[0] * city.raster_resolution / size[1])
            self.raster_h.append(size[1])
        self.origin = np.stack([np.asarray(c.raster_origin, dtype=np.float64) for c in pool.maps])  # (M, 2)
        self.raster_res, self.raster_h = np.array(self.raster_res), np.array(self.raster_h, dtype=np.float64)
        self.light_xy, self.light_lane, self.has_light = _light_heads(pool)
        self.car_rgb = tuple(int(c) for c in np.array(CAR_RGB) * gain)
        self.ped_rgb = tuple(int(c) for c in np.array(PED_RGB) * gain)
        self.ego_rgb = tuple(int(c) for c in np.array(EGO_RGB) * gain)
        self.outside_rgb = tuple(int(c) for c in PALETTE[Surface.OUTSIDE] * gain)
        noise = np.random.default_rng(12345).normal(0.0, 1.0, (NOISE_BANK, config.height, config.width, 3))
        self.noise = noise.astype(np.float32)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.config.height, self.config.width, 3

    # ---------------------------------------------------------------------------------- geometry
    def to_pixels(self, world: World, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                np.ndarray]:
        """World points (B, n) -> pixel (u, v) and ego-frame (forward, left) [m], each (B, n)."""
        cfg = self.config
        c, s = np.cos(world.ego.yaw)[:, None], np.sin(world.ego.yaw)[:, None]
        dx, dy = x - world.ego.x[:, None], y - world.ego.y[:, None]
        fx, fy = c * dx + s * dy, c * dy - s * dx
        return cfg.width / 2 - fy / cfg.metres_per_pixel, cfg.ego_row * cfg.height - fx / cfg.metres_per_pixel, fx, fy

    def _warp_matrices(self, world: World) -> np.ndarray:
        """(B, 2, 3) affine maps from camera pixels to raster pixels (for WARP_INVERSE_MAP)."""
        cfg, ego, m = self.config, world.ego, world.map_idx
        res, origin, raster_h = self.raster_res[m], self.origin[m], self.raster_h[m]
        k = cfg.metres_per_pixel / res
        c, s = np.cos(ego.yaw), np.sin(ego.yaw)
        eh, half_w = cfg.ego_row * cfg.height, cfg.width / 2
        col0 = (ego.x - origin[:, 0]) / res + c * k * eh - s * k * half_w
        row0 = raster_h - (ego.y - origin[:, 1]) / res - s * k * eh - c * k * half_w
        return np.stack([np.stack([s * k, -c * k, col0], axis=1), np.stack([c * k, s * k, row0], axis=1)], axis=1)

    # ------------------------------------------------------------------------------------ labels
    def labels(self, world: World) -> CameraLabels:
        """Labels of every car, pedestrian and traffic light for the current state (no drawing)."""
        cfg, mpp = self.config, self.config.metres_per_pixel
        m = world.map_idx
        cars, peds = world.cars, world.peds
        lxy = self.light_xy[m]  # (B, NL, 2)
        xs = np.concatenate([cars.x, peds.x, lxy[..., 0]], axis=1)
        ys = np.concatenate([cars.y, peds.y, lxy[..., 1]], axis=1)
        u, v, fx, fy = self.to_pixels(world, xs, ys)
        n_lights = lxy.shape[1]
        lane = self.light_lane[m]
        light_state = world.lights[np.arange(world.batch_size)[:, None], lane]
        light_on = self.has_light[m] & (light_state != Light.NONE)
        ped_px = max(2 * PED_RADIUS / mpp, cfg.min_pedestrian_px)
        k, p = cars.x.shape[1], peds.x.shape[1]
        cls = np.concatenate([np.full(k, ObjectClass.CAR), np.full(p, ObjectClass.PEDESTRIAN),
                              np.full(n_lights, ObjectClass.TRAFFIC_LIGHT)]).astype(np.int8)
        b = world.batch_size
        size = np.concatenate([np.stack([cars.length, cars.width], -1) / mpp, np.full((b, p, 2), ped_px),
                               np.full((b, n_lights, 2), 2 * LIGHT_RADIUS / mpp)], axis=1).astype(np.float32)
        yaws = np.concatenate([cars.yaw, peds.yaw, np.zeros_like(lxy[..., 0])], axis=1)
        heading = wrap_angle(yaws - world.ego.yaw[:, None])
        heading[:, k + p:] = 0.0
        own = np.arange(k)[None, :] == world.state.ego["car"][:, None]  # the camera's own car
        exists = np.concatenate([cars.active & ~own, peds.active, light_on], axis=1)
        inside = (u >= 0) & (u < cfg.width) & (v >= 0) & (v < cfg.height)
        lights = np.concatenate([np.zeros((world.batch_size, k + p), dtype=np.int8), light_state.astype(np.int8)], 1)
        track = np.concatenate([np.arange(k), np.arange(p), np.arange(n_lights)]).astype(np.int32)
        return CameraLabels(np.broadcast_to(cls, (b, len(cls))).copy(), np.stack([u, v], -1).astype(np.float32),
                            size, heading.astype(np.float32),
                            np.stack([fx, fy], -1).astype(np.float32), np.broadcast_to(track, (b, len(track))).copy(),
                            lights, exists & inside)

    # ---------------------------------------------------------------------------------- drawing
    def render(self, world: World) -> tuple[np.ndarray, CameraLabels]:
        """Frames (B, H, W, 3) uint8 and their labels."""
        cfg = self.config
        labels = self.labels(world)
        frames = np.empty((world.batch_size, *self.shape), dtype=np.uint8)
        mats = self._warp_matrices(world)
        size = (cfg.width, cfg.height)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

        def warp(rows: range) -> None:
            for b in rows:  # one C call per world; OpenCV releases the GIL, so chunks run in parallel
                cv2.warpAffine(self.base[world.map_idx[b]], mats[b], size, dst=frames[b], flags=flags,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=self.outside_rgb)

        _in_parallel(warp, world.batch_size)
        self._draw_objects(world, frames, labels)
        return self._post_process(world, frames), labels

    def _draw_objects(self, world: World, frames: np.ndarray, labels: CameraLabels) -> None:
        cfg, mpp = self.config, self.config.metres_per_pixel
        k, p = world.cars.x.shape[1], world.peds.x.shape[1]
        margin = CAR_LENGTH / mpp
        near = labels.visible | (
            (labels.centre[..., 0] > -margin) & (labels.centre[..., 0] < cfg.width + margin)
            & (labels.centre[..., 1] > -margin) & (labels.centre[..., 1] < cfg.height + margin)
            & np.concatenate([world.cars.active, world.peds.active, labels.light[:, k + p:] != Light.NONE], axis=1))
        near[np.arange(world.batch_size), world.state.ego["car"]] = False  # the own car is drawn last, as the ego
        corners = _box_corners_px(labels.centre, labels.size, labels.angle)  # (B, O, 4, 2)
        fixed = np.round(corners * (1 << _SHIFT)).astype(np.int32)
        centre_fixed = np.round(labels.centre * (1 << _SHIFT)).astype(np.int32)
        ped_r = int(round(labels.size[0, k, 0] / 2 * (1 << _SHIFT))) if p else 0
        light_r = int(round(LIGHT_RADIUS / mpp * (1 << _SHIFT)))
        for b, o in zip(*np.nonzero(near), strict=True):  # one C drawing call per visible object
            if o < k:
                cv2.fillConvexPoly(frames[b], fixed[b, o], self.car_rgb, cv2.LINE_8, _SHIFT)
            elif o < k + p:
                cv2.circle(frames[b], tuple(centre_fixed[b, o]), ped_r, self.ped_rgb, -1, cv2.LINE_8, _SHIFT)
            else:
                cv2.circle(frames[b], tuple(centre_fixed[b, o]), light_r, LIGHT_RGB[Light(labels.light[b, o])], -1,
                           cv2.LINE_8, _SHIFT)
        veh = world.config.vehicle
        ego = _box_corners_px(np.array([[cfg.width / 2, cfg.ego_row * cfg.height]]),
                              np.array([[veh.length / mpp, veh.width / mpp]]), np.zeros(1))[0]
        ego_fixed = np.round(ego * (1 << _SHIFT)).astype(np.int32)
        for b in range(world.batch_size):
            cv2.fillConvexPoly(frames[b], ego_fixed, self.ego_rgb, cv2.LINE_8, _SHIFT)

    def _post_process(self, world: World, frames: np.ndarray) -> np.ndarray:
        """Optional colour jitter (per world and episode) and pixel noise (per step), both keyed."""
        cfg = self.config
        if cfg.colour_jitter == 0 and cfg.noise_std == 0:
            return frames
        out = frames.astype(np.float32)
        if cfg.colour_jitter > 0:
            clock = world.state.clock
            u = rng.uniform(clock["seed"][:, None], clock["episode"][:, None], rng.Stream.SCENARIO, np.arange(3)[None, :])
            out *= (1.0 + cfg.colour_jitter * (2.0 * u - 1.0))[:, None, None, :]
        if cfg.noise_std > 0:
            clock = world.state.clock
            pick = rng.integers(NOISE_BANK, clock["seed"], clock["episode"], clock["t"], rng.Stream.SCENARIO)
            out += cfg.noise_std * self.noise[pick]
        return np.clip(out, 0, 255).astype(np.uint8)


_POOL: ThreadPoolExecutor | None = None
PARALLEL_MIN_BATCH = 32  # smaller batches render in the calling thread


def _in_parallel(fn: Callable[[range], None], n: int) -> None:
    """Run fn over [0, n) split into one chunk per CPU core (threads; fn must release the GIL)."""
    global _POOL
    workers = min(os.cpu_count() or 1, 8)
    if n < PARALLEL_MIN_BATCH or workers == 1:
        fn(range(n))
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(workers, thread_name_prefix="drivesim-camera")
    step = -(-n // workers)
    list(_POOL.map(fn, [range(i, min(i + step, n)) for i in range(0, n, step)]))


def _box_corners_px(centre: np.ndarray, size: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Corners (..., 4, 2) [px] of boxes with centre (..., 2), size (length, width) (..., 2) and
    image heading angle (...) (0 = up, counter-clockwise)."""
    fwd = np.stack([-np.sin(angle), -np.cos(angle)], axis=-1)  # image direction of the heading
    left = np.stack([-np.cos(angle), np.sin(angle)], axis=-1)
    hl, hw = size[..., 0:1] / 2, size[..., 1:2] / 2
    c = centre
    return np.stack([c + fwd * hl + left * hw, c - fwd * hl + left * hw, c - fwd * hl - left * hw,
                     c + fwd * hl - left * hw], axis=-2)


def _light_heads(pool: MapPool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per map and link: light-head position (M, NL, 2) [m] beside the stop line, right of the
    outermost lane; a lane of the link to read its state (M, NL); whether the link ends at a
    signalised intersection (M, NL)."""
    n_maps, n_links = pool.link_from.shape
    xy = np.zeros((n_maps, n_links, 2))
    lane_of = np.zeros((n_maps, n_links), dtype=np.int64)
    has = np.zeros((n_maps, n_links), dtype=bool)
    for mi, city in enumerate(pool.maps):  # once per map at construction, not in the step
        for li in range(len(city.link_from)):
            lanes = city.link_lanes[li][city.link_lanes[li] >= 0]
            outer = lanes[-1]
            end = int(city.lane_len[outer] / LANE_DS)
            p, yaw = city.lane_pts[outer, end], city.lane_yaw[outer, end]
            right = np.array([np.sin(yaw), -np.cos(yaw)])
            xy[mi, li] = p + right * (city.config.lane_width / 2 + LIGHT_SIDE_OFFSET)
            lane_of[mi, li] = outer
            has[mi, li] = city.node_signal[city.link_to[li]]
    return xy, lane_of, has
