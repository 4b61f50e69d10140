"""Ego-centric, heading-up, top-down RGB camera with exact labels from the same render pass.

One compiled kernel renders the whole batch (`prange` over worlds): per world it computes every
object's label (class, pixel centre, oriented box, heading, track id, light state) from the ego
transform, samples the pre-scaled coloured map raster through the same transform (bilinear), draws
traffic lights, cars, pedestrians and the ego on top, then applies the optional colour jitter and
noise. Labels and pixels come from one transform, so they agree. The rasterisation primitives are
in `drivesim.sensors.draw`; they follow OpenCV's conventions (tests compare against OpenCV).

Image convention: u (column) grows to the right, v (row) grows downwards; the ego sits at
(W / 2, ego_row * H) facing up. An ego-frame point (forward fx, left fy) [m] is at
u = W/2 - fy / mpp, v = ego_row * H - fx / mpp.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np
from numba import prange

from drivesim import rng
from drivesim.actors.driver import CAR_LENGTH, PED_RADIUS
from drivesim.actors.signals import Light
from drivesim.config import CameraConfig, VehicleConfig
from drivesim.geometry import wrap
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import LANE_DS, MapPool, Surface
from drivesim.render.palette import CAR_RGB, EGO_RGB, LIGHT_RGB, PALETTE, PED_RGB
from drivesim.sensors.draw import fill_box, fill_disc, index_rasters, warp_bilinear
from drivesim.sensors.surface import OFF_ROAD, SurfaceMap, cell_classes, surface_map
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

LIGHT_RADIUS = 0.9  # [m] drawn radius of a traffic-light head
LIGHT_SIDE_OFFSET = 1.2  # [m] light head beyond the right edge of the outermost lane
DUSK_GAIN = np.array([0.42, 0.45, 0.62])  # RGB gains of the dusk palette (lights stay bright)
NOISE_BANK = 8  # pre-drawn noise images cycled through by a keyed index
# rows of the colour table handed to the kernel
_CAR, _PED, _EGO, _OUTSIDE, _LIGHT0 = 0, 1, 2, 3, 4  # _LIGHT0 + Light: the light colours
_CAR_CLASS, _PED_CLASS, _LIGHT_CLASS = 0, 1, 2
_NONE = int(Light.NONE)
_SCENARIO = int(rng.Stream.SCENARIO)


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
    velocity: np.ndarray  # (B, O, 2) float32 [m/s] velocity over the ground in the ego frame (forward, left)
    track: np.ndarray  # (B, O) int32 actor slot within its class (stable over an episode)
    light: np.ndarray  # (B, O) int8 Light state (NONE for cars and pedestrians)
    visible: np.ndarray  # (B, O) bool, centre inside the frame and the object exists
    surface: np.ndarray  # (B, O, 2) uint8 SURFACE_CLASSES under the object and where its velocity takes it in
    # SOON s, read as the `surface` observation's grid reads them (sensors/surface.py; OFF_ROAD when not visible)

    def frame(self, b: int) -> dict[str, np.ndarray]:
        """The visible objects of frame b as a dict of arrays (n,)."""
        keep = self.visible[b]
        return {name: getattr(self, name)[b][keep] for name in self._fields if name != "visible"}



class CameraArrays(NamedTuple):
    """What the camera kernel reads besides the state: built once per World (M maps, NL light heads
    per map)."""

    base: np.ndarray  # (M, Hp, Wp) uint16 coloured map rasters at the camera's resolution (`index_rasters`)
    base_size: np.ndarray  # (M, 2) int64 (height, width) [px] of each raster (without its frame)
    palette: np.ndarray  # (N,) uint64 their packed colours
    res: np.ndarray  # (M,) [m/px] of each pre-scaled raster
    origin: np.ndarray  # (M, 2) [m] world position of each raster's south-west corner
    light_xy: np.ndarray  # (M, NL, 2) [m] light-head positions
    light_lane: np.ndarray  # (M, NL) int64 a lane whose light the head shows
    has_light: np.ndarray  # (M, NL) bool the head exists (its link ends at a signalised intersection)
    colours: np.ndarray  # (8, 3) int64 car, pedestrian, ego, outside, then one per Light state
    noise: np.ndarray  # (NOISE_BANK, H, W, 3) float32 unit Gaussian noise images


class CameraParams(NamedTuple):
    """The camera's scalar settings as the kernel reads them."""

    width: int
    height: int
    mpp: float  # [m/px]
    ego_row: float  # fraction of the height
    ped_px: float  # [px] drawn pedestrian diameter
    light_px: float  # [px] drawn light-head radius
    margin: float  # [px] objects whose centre is this far outside the frame are still drawn (their edges show)
    jitter: float  # colour jitter amplitude
    noise_std: float  # [0-255 units]
    ego_length: float  # [px]
    ego_width: float  # [px]
    history: int  # [steps] how far back the history frame looks (0: none)


class Camera:
    """Renders camera frames and labels for a World's batch (one kernel call per batch)."""

    def __init__(self, pool: MapPool, config: CameraConfig, vehicle: VehicleConfig | None = None) -> None:
        self.config = config
        self.pool = pool
        vehicle = vehicle or VehicleConfig()
        gain = DUSK_GAIN if config.dusk else np.ones(3)
        outside = (PALETTE[Surface.OUTSIDE] * gain).astype(np.int64)
        # coloured rasters pre-scaled (area-averaged, so thin markings blend) to the camera resolution,
        # once per map
        images, res = [], []
        for city in pool.maps:
            scale = city.raster_resolution / config.metres_per_pixel
            size = (int(round(city.raster.shape[1] * scale)), int(round(city.raster.shape[0] * scale)))
            images.append(cv2.resize((PALETTE[city.raster] * gain).astype(np.uint8), size,
                                     interpolation=cv2.INTER_AREA))
            res.append(city.raster.shape[0] * city.raster_resolution / size[1])
        base, sizes, palette = index_rasters(images, outside)
        light_xy, light_lane, has_light = _light_heads(pool)
        colours = np.zeros((_LIGHT0 + len(Light), 3), dtype=np.int64)
        colours[_CAR], colours[_PED], colours[_EGO] = (np.array(c) * gain for c in (CAR_RGB, PED_RGB, EGO_RGB))
        colours[_OUTSIDE] = outside
        for state, rgb in LIGHT_RGB.items():
            colours[_LIGHT0 + int(state)] = rgb  # lights stay bright at dusk
        noise = np.random.default_rng(12345).normal(0.0, 1.0, (NOISE_BANK, config.height, config.width, 3))
        self.arrays = CameraArrays(base, sizes, palette, np.array(res),
                                   np.stack([np.asarray(c.raster_origin, dtype=np.float64) for c in pool.maps]),
                                   light_xy, light_lane, has_light, colours, noise.astype(np.float32))
        mpp = config.metres_per_pixel
        ped_px = max(2 * PED_RADIUS / mpp, config.min_pedestrian_px)
        self.params = CameraParams(config.width, config.height, mpp, config.ego_row, ped_px, LIGHT_RADIUS / mpp,
                                   CAR_LENGTH / mpp, config.colour_jitter, config.noise_std,
                                   vehicle.length / mpp, vehicle.width / mpp, config.history)
        self.surface = surface_map(pool, config)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.config.height, self.config.width, 3

    def labels(self, world: World, rows: np.ndarray | None = None, previous: CameraLabels | None = None,
               in_place: bool = False) -> CameraLabels:
        """Labels of every car, pedestrian and traffic light for the current state (no drawing).
        With `rows` only those worlds are labelled, the others copied from `previous` (the labels
        of the same state: e.g. after resetting some worlds), or with `in_place` kept in `previous`,
        whose rows are rewritten."""
        nothing = np.empty((0, *self.shape), dtype=np.uint8)
        return self._run(world, draw=False, rows=rows,
                         previous=None if previous is None else (nothing, nothing, previous), in_place=in_place)[1]

    def render(self, world: World) -> tuple[np.ndarray, CameraLabels]:
        """Frames (B, H, W, 3) uint8 and their labels."""
        frames, labels, _ = self._run(world, draw=True)
        return frames, labels

    def render_with_history(self, world: World, rows: np.ndarray | None = None,
                            previous: tuple[np.ndarray, np.ndarray, CameraLabels] | None = None,
                            in_place: bool = False) -> tuple[np.ndarray, np.ndarray, CameraLabels]:
        """Frames, history frames (the scene `CameraConfig.history` steps earlier, seen from the
        current pose; (B, H, W, 3) uint8 each) and labels, from one pass. With `rows` (world
        indices) only those worlds are drawn and the others are copied from `previous` (frames,
        history frames, labels of the same state: e.g. after resetting some worlds), or with
        `in_place` kept in `previous`, whose rows are redrawn (no copy of the batch)."""
        if self.config.history == 0:
            raise ValueError("CameraConfig.history is 0: this camera keeps no history; set camera={'history': 5}")
        frames, labels, earlier = self._run(world, draw=True, history=True, rows=rows, previous=previous,
                                            in_place=in_place)
        return frames, earlier, labels

    def _run(self, world: World, draw: bool, history: bool = False, rows: np.ndarray | None = None,
             previous: tuple[np.ndarray, np.ndarray, CameraLabels] | None = None, in_place: bool = False
             ) -> tuple[np.ndarray, CameraLabels, np.ndarray]:
        b, cars, peds = world.batch_size, world.state.cars.shape[1], world.state.peds.shape[1]
        if history and world.state.trail.shape[1] != self.config.history:
            raise ValueError(f"the world keeps {world.state.trail.shape[1]} steps of trail, the camera needs "
                             f"{self.config.history}")
        if rows is not None and previous is not None and in_place:  # redraw `rows` in the previous arrays
            frames, earlier, labels = previous
        elif rows is not None and previous is not None:  # redraw `rows`, copy the rest
            frames, earlier = previous[0].copy(), previous[1].copy()
            labels = CameraLabels(*(a.copy() for a in previous[2]))
        else:
            n = cars + peds + self.arrays.light_xy.shape[1]
            labels = CameraLabels(np.empty((b, n), dtype=np.int8), np.empty((b, n, 2), dtype=np.float32),
                                  np.empty((b, n, 2), dtype=np.float32), np.empty((b, n), dtype=np.float32),
                                  np.empty((b, n, 2), dtype=np.float32), np.empty((b, n, 2), dtype=np.float32),
                                  np.empty((b, n), dtype=np.int32),
                                  np.empty((b, n), dtype=np.int8), np.empty((b, n), dtype=bool),
                                  np.empty((b, n, 2), dtype=np.uint8))
            frames = np.empty((b if draw else 0, *self.shape), dtype=np.uint8)
            earlier = np.empty((b if history else 0, *self.shape), dtype=np.uint8)
            rows = np.arange(b)
        render_batch(self.arrays, self.params, self.surface, world.state, draw, frames, labels, earlier,
                     np.ascontiguousarray(rows, dtype=np.int64))
        return frames, labels, earlier


@parallel_kernel
def render_batch(cam: CameraArrays, p: CameraParams, sm: SurfaceMap, state: SimState, draw: bool, frames: np.ndarray,
                 labels: CameraLabels, earlier: np.ndarray, rows: np.ndarray) -> None:
    """Labels of the worlds `rows` (and, with `draw`, their frames) from the current state. frames
    (B, H, W, 3) uint8 (unused without `draw`); labels (B, O, ...) preallocated; earlier (B, H, W, 3)
    for the history frames, or (0, ...) for none; rows (R,) int64 world indices."""
    for index in prange(rows.shape[0]):
        w = rows[np.int64(index)]  # prange counts in uint64: back to the kernels' int64
        _label_world(cam, p, state, w, labels)
        _label_surface(sm, state, w, labels)
        if draw:
            _background(cam, p, state, w, frames[w])
            if earlier.shape[0] > 0:  # the same map under the scene of p.history steps ago
                _copy_frame(frames[w], earlier[w])
                _draw_earlier(cam, p, state, w, labels, earlier[w])
            _draw_world(cam, p, state, w, frames[w], labels)


@inner
def _put(labels: CameraLabels, w: int, o: int, cls: int, x: float, y: float, vx: float, vy: float, ex: float,
         ey: float, c: float, s: float, p: CameraParams, length: float, width: float, angle: float, track: int,
         light: int, exists: bool) -> None:
    """Label slot o of world w: an object at (x, y) [m] moving at (vx, vy) [m/s] seen from the ego at
    (ex, ey) heading (c, s)."""
    dx, dy = x - ex, y - ey
    fx, fy = c * dx + s * dy, c * dy - s * dx
    labels.velocity[w, o, 0], labels.velocity[w, o, 1] = c * vx + s * vy, c * vy - s * vx
    u, v = p.width / 2 - fy / p.mpp, p.ego_row * p.height - fx / p.mpp
    labels.cls[w, o], labels.track[w, o], labels.light[w, o] = cls, track, light
    labels.centre[w, o, 0], labels.centre[w, o, 1] = u, v
    labels.size[w, o, 0], labels.size[w, o, 1] = length, width
    labels.angle[w, o] = angle
    labels.position[w, o, 0], labels.position[w, o, 1] = fx, fy
    labels.visible[w, o] = exists and 0.0 <= u < p.width and 0.0 <= v < p.height


@inner
def _label_world(cam: CameraArrays, p: CameraParams, state: SimState, w: int, labels: CameraLabels) -> None:
    own = state.ego[w].car
    e = state.cars[w, own]
    c, s = math.cos(e.yaw), math.sin(e.yaw)
    m = state.clock[w].map
    n_cars, n_peds = state.cars.shape[1], state.peds.shape[1]
    for j in range(n_cars):
        car = state.cars[w, j]
        _put(labels, w, j, _CAR_CLASS, car.x, car.y, car.v * math.cos(car.yaw), car.v * math.sin(car.yaw), e.x, e.y,
             c, s, p, car.length / p.mpp, car.width / p.mpp, wrap(car.yaw - e.yaw), j, _NONE, car.active and j != own)
    for q in range(n_peds):
        ped = state.peds[w, q]
        _put(labels, w, n_cars + q, _PED_CLASS, ped.x, ped.y, ped.vx, ped.vy, e.x, e.y, c, s, p, p.ped_px, p.ped_px,
             wrap(ped.yaw - e.yaw), q, _NONE, ped.active)
    for k in range(cam.light_xy.shape[1]):
        light = state.lights[w, cam.light_lane[m, k]]
        _put(labels, w, n_cars + n_peds + k, _LIGHT_CLASS, cam.light_xy[m, k, 0], cam.light_xy[m, k, 1], 0.0, 0.0,
             e.x, e.y, c, s, p, 2 * p.light_px, 2 * p.light_px, 0.0, k, light, cam.has_light[m, k] and light != _NONE)


@inner
def _label_surface(sm: SurfaceMap, state: SimState, w: int, labels: CameraLabels) -> None:
    """labels.surface of world w from its labels' (float32) ego-frame positions and velocities, so
    the classes equal the surface grid's at those positions (perception/features.py reads either)."""
    e = state.cars[w, state.ego[w].car]
    m = state.clock[w].map
    c, s = math.cos(e.yaw), math.sin(e.yaw)
    for o in range(labels.visible.shape[1]):
        if not labels.visible[w, o]:
            labels.surface[w, o, 0], labels.surface[w, o, 1] = OFF_ROAD, OFF_ROAD
            continue
        labels.surface[w, o, 0], labels.surface[w, o, 1] = cell_classes(sm, m, e.x, e.y, c, s, labels.position[w, o],
                                                                        labels.velocity[w, o])


@inner
def _near(labels: CameraLabels, w: int, o: int, p: CameraParams) -> bool:
    u, v = labels.centre[w, o, 0], labels.centre[w, o, 1]
    return -p.margin < u < p.width + p.margin and -p.margin < v < p.height + p.margin


@inner
def _copy_frame(src: np.ndarray, dst: np.ndarray) -> None:
    for v in range(src.shape[0]):  # element by element: a slice copy would allocate
        for u in range(src.shape[1]):
            for ch in range(3):
                dst[v, u, ch] = src[v, u, ch]


@inner
def _background(cam: CameraArrays, p: CameraParams, state: SimState, w: int, dst: np.ndarray) -> None:
    """The map seen from world w's ego: camera pixel (u, v) -> raster pixel (col, row), rows counted
    from the raster's top."""
    e = state.cars[w, state.ego[w].car]
    m = state.clock[w].map
    res = cam.res[m]
    k = p.mpp / res
    c, s = math.cos(e.yaw), math.sin(e.yaw)
    eh, half_w = p.ego_row * p.height, p.width / 2
    col0 = (e.x - cam.origin[m, 0]) / res + c * k * eh - s * k * half_w
    row0 = cam.base_size[m, 0] - (e.y - cam.origin[m, 1]) / res - s * k * eh - c * k * half_w
    warp_bilinear(cam.base[m], cam.base_size[m, 0], cam.base_size[m, 1], cam.palette, s * k, -c * k, col0, c * k,
                  s * k, row0, cam.colours[_OUTSIDE], dst)


@inner
def _finish(cam: CameraArrays, p: CameraParams, state: SimState, w: int, t: int, dst: np.ndarray) -> None:
    """The ego on top, then colour jitter and noise keyed by step t."""
    fill_box(dst, p.width / 2, p.ego_row * p.height, p.ego_length, p.ego_width, 0.0, cam.colours, _EGO)
    if p.jitter > 0 or p.noise_std > 0:
        clock = state.clock[w]
        _post_process(cam, p, clock.seed, clock.episode, t, dst)


@inner
def _draw_world(cam: CameraArrays, p: CameraParams, state: SimState, w: int, dst: np.ndarray,
                labels: CameraLabels) -> None:
    """The current scene over the map background already in dst."""
    own, m = state.ego[w].car, state.clock[w].map
    # the objects, in slot order (cars, pedestrians, lights), then the ego on top
    n_cars, n_peds = state.cars.shape[1], state.peds.shape[1]
    for j in range(n_cars):
        if state.cars[w, j].active and j != own and _near(labels, w, j, p):
            fill_box(dst, labels.centre[w, j, 0], labels.centre[w, j, 1], labels.size[w, j, 0], labels.size[w, j, 1],
                     labels.angle[w, j], cam.colours, _CAR)
    for q in range(n_peds):
        o = n_cars + q
        if state.peds[w, q].active and _near(labels, w, o, p):
            fill_disc(dst, labels.centre[w, o, 0], labels.centre[w, o, 1], p.ped_px / 2, cam.colours, _PED)
    for h in range(cam.light_xy.shape[1]):
        o = n_cars + n_peds + h
        light = labels.light[w, o]
        if cam.has_light[m, h] and light != _NONE and _near(labels, w, o, p):
            fill_disc(dst, labels.centre[w, o, 0], labels.centre[w, o, 1], p.light_px, cam.colours, _LIGHT0 + light)
    _finish(cam, p, state, w, state.clock[w].t, dst)


@inner
def _draw_earlier(cam: CameraArrays, p: CameraParams, state: SimState, w: int, labels: CameraLabels,
                  dst: np.ndarray) -> None:
    """The scene p.history steps ago (the trail) seen from the current pose, over the map background
    already in dst; jitter and noise keyed by that earlier step."""
    own, m, t = state.ego[w].car, state.clock[w].map, state.clock[w].t
    slot = (t - p.history) % p.history
    trail = state.trail[w, slot]
    e = state.cars[w, own]
    c, s = math.cos(e.yaw), math.sin(e.yaw)
    n_cars, n_peds = state.cars.shape[1], state.peds.shape[1]
    for j in range(n_cars):
        rec = trail[j]
        if rec.active and j != own:
            u, v = _pixel(p, rec.x - e.x, rec.y - e.y, c, s)
            if -p.margin < u < p.width + p.margin and -p.margin < v < p.height + p.margin:
                fill_box(dst, u, v, labels.size[w, j, 0], labels.size[w, j, 1], wrap(rec.yaw - e.yaw), cam.colours, _CAR)
    for q in range(n_peds):
        rec = trail[n_cars + q]
        if rec.active:
            u, v = _pixel(p, rec.x - e.x, rec.y - e.y, c, s)
            if -p.margin < u < p.width + p.margin and -p.margin < v < p.height + p.margin:
                fill_disc(dst, u, v, p.ped_px / 2, cam.colours, _PED)
    for h in range(cam.light_xy.shape[1]):
        o = n_cars + n_peds + h
        light = state.trail_lights[w, slot, cam.light_lane[m, h]]
        if cam.has_light[m, h] and light != _NONE and _near(labels, w, o, p):
            fill_disc(dst, labels.centre[w, o, 0], labels.centre[w, o, 1], p.light_px, cam.colours, _LIGHT0 + light)
    _finish(cam, p, state, w, t - p.history, dst)


@inner
def _pixel(p: CameraParams, dx: float, dy: float, c: float, s: float) -> tuple[float, float]:
    """Camera pixel (u, v) of a point (dx, dy) [m] from the ego, whose heading is (c, s)."""
    fx, fy = c * dx + s * dy, c * dy - s * dx
    return p.width / 2 - fy / p.mpp, p.ego_row * p.height - fx / p.mpp


@inner
def _post_process(cam: CameraArrays, p: CameraParams, seed: np.uint64, episode: int, t: int, dst: np.ndarray) -> None:
    """Colour jitter (a gain per channel, per world and episode) and pixel noise (a keyed image of
    the noise bank per step), both deterministic."""
    g0 = g1 = g2 = 1.0
    if p.jitter > 0:
        g0 = 1.0 + p.jitter * (2.0 * rng.uniform4(seed, episode, _SCENARIO, 0) - 1.0)
        g1 = 1.0 + p.jitter * (2.0 * rng.uniform4(seed, episode, _SCENARIO, 1) - 1.0)
        g2 = 1.0 + p.jitter * (2.0 * rng.uniform4(seed, episode, _SCENARIO, 2) - 1.0)
    pick = rng.pick(NOISE_BANK, rng.uniform4(seed, episode, t, _SCENARIO))
    noise = cam.noise[pick]
    for v in range(dst.shape[0]):
        for u in range(dst.shape[1]):
            for ch in range(3):
                gain = g0 if ch == 0 else (g1 if ch == 1 else g2)
                x = dst[v, u, ch] * gain + p.noise_std * noise[v, u, ch]
                dst[v, u, ch] = np.uint8(min(max(x, 0.0), 255.0))


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
