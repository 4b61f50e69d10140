"""Perception features for agents: a fixed-size vector per frame (B, F).

Layout (`FeatureLayout.slices`): for each class (car, pedestrian, traffic light) the K nearest
objects in the ego frame, sorted by distance, each (x forward / 30 m, y left / 30 m, sin heading,
cos heading, [vx forward / 10 m/s, vy left / 10 m/s,] [s / 30 m, d / 5 m, v_across / 10 m/s,]
[on_road, on_crosswalk, soon_on_road,] confidence, p_red, p_yellow, p_green) — light
probabilities are zero for cars and pedestrians, velocities are over the ground and only present
with `velocities`, the path coordinates (where the object is along and across the route ahead and
how fast it crosses it, `path_coordinates`) only with `path`, the map's surface under the object
and where its velocity takes it in SOON seconds (`surface_flags`: from the `surface` observation's
grid, or for ground truth from the camera labels' `surface`, which reads the same cells) only with
`surface` — padded with zeros; then the lidar ranges (N), the state vector (16) and, with `route`, the
route's next waypoints in the ego frame (`route` observation, 20), with `clock` the time left (2),
with `junction` where the car is in the intersection (3), with `signal` the timing of the light
at the next stop line (2) and with `stopping` the braking a stop at that line needs (2). The same layout is
filled from the CNN's detections (`detections_to_features`) or from ground-truth labels
(`oracle_features`, confidence 1), so a policy can be trained on either. Everything is vectorised
over the batch or compiled (no Python loop over frames or objects).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numba import prange

from drivesim.arrays import smallest
from drivesim.config import CameraConfig
from drivesim.jit import inner, parallel_kernel
from drivesim.perception.decode import Detections
from drivesim.perception.model import N_CLASSES
from drivesim.sensors.state import STATE_FIELDS
from drivesim.sensors.surface import CROSSWALK, OFF_ROAD, ROAD, SOON, Places, grid_geometry, point_classes
from drivesim.sensors.waypoints import ROUTE_SCALE
from drivesim.workspace import KEY

POSITION_SCALE = 30.0  # [m]
SPEED_SCALE = 10.0  # [m/s]
LATERAL_SCALE = 5.0  # [m] offsets across the route (what matters is the few metres around the lane)
LATERAL_CLIP = 3.0  # offsets across the route are clipped to +-LATERAL_CLIP * LATERAL_SCALE
CLASS_BLOCKS = ("cars", "pedestrians", "traffic_lights")
ACCEL_FIELD = STATE_FIELDS.index("accel")


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a policy reads, whatever the env's sensors: recorded in a run's config.json
    (PPOConfig), so `evaluate` rebuilds the same vector. The defaults are the base layout (256
    values); PPOConfig's defaults, the shipped recipe, also switch on the clock, the signal, the
    stopping vector and the surface flags (298). Policies trained before a field existed load with
    it off (agents/policy.py)."""

    k: int = 4  # nearest objects per class
    velocities: bool = True  # objects carry their velocity
    route: bool = True  # the route's next waypoints (ego frame)
    path: bool = True  # objects carry their path coordinates (path_coordinates)
    hide_accel: bool = True  # the state's applied acceleration (the previous action) reads 0 (FeatureLayout)
    clock: bool = False  # the time left before the time limit and the stuck rule (sensors/clock.py)
    junction: bool = False  # inside the intersection and how far through it (sensors/junction.py)
    surface: bool = False  # objects carry the map's surface under them and ahead of them (sensors/surface.py)
    signal: bool = False  # the timing of the light at the next stop line (sensors/signal.py)
    stopping: bool = False  # the braking a stop at the next stop line needs (sensors/stopping.py)

    @property
    def vectors(self) -> tuple[str, ...]:
        """The optional env observations the spec reads besides lidar and state, in layout order
        (the surface grid is looked up per object, not appended)."""
        return (("route",) * self.route + ("clock",) * self.clock + ("junction",) * self.junction
                + ("signal",) * self.signal + ("stopping",) * self.stopping + ("surface",) * self.surface)

    def observations(self, mode: str) -> tuple[str, ...]:
        """The optional env observations features of `mode` ("perception" | "oracle") need: `vectors`
        less the surface grid, which neither computes every step: the oracle reads each object's
        surface off the camera labels, perception looks its detections up on the map where the
        car is (`sensors/surface.py` point_classes); both the same cells as the grid's."""
        return tuple(v for v in self.vectors if v != "surface")

    @classmethod
    def recorded(cls, record: Mapping[str, Any]) -> FeatureSpec:
        """The spec a run recorded under these field names (its config.json, PPOConfig's fields); a
        switch missing there (a run from before it existed) is off, a missing k is 4."""
        switches = {f.name: bool(record.get(f.name, False)) for f in fields(cls) if f.name != "k"}
        return cls(k=int(record.get("k", 4)), **switches)


@dataclass(frozen=True)
class FeatureLayout:
    """What the feature vector holds: K objects per class (with velocities or not), N lidar beams,
    the state vector."""

    k: int = 4  # nearest objects per class
    n_beams: int = 64  # lidar ranges
    state_dim: int = 16  # state vector
    velocities: bool = True  # each object carries its velocity (layouts before issue 14 had none)
    route_dim: int = 0  # the route observation's waypoints (0: not in the layout, as before issue 12)
    path: bool = False  # each object carries its path coordinates (needs velocities and the route)
    hide_accel: bool = False  # the state vector's applied acceleration is zeroed, see below
    clock_dim: int = 0  # the clock observation's values (0: not in the layout)
    junction_dim: int = 0  # the junction observation's values (0: not in the layout)
    surface: bool = False  # each object carries its surface flags (surface_flags; needs the surface observation)
    signal_dim: int = 0  # the signal observation's values (0: not in the layout)
    stopping_dim: int = 0  # the stopping observation's values (0: not in the layout)

    # Why hide_accel: the applied acceleration is the previous action. The expert's actions are
    # smooth, so a clone that reads it fits the data by repeating its last action, and then does so
    # where the expert changes its mind: stopped at a red light it kept braking after the light
    # turned green (seen in the timeouts of the cloned policy). This is the "copycat" failure of
    # behaviour cloning from observation histories (Wen et al., 2020); speed stays visible.

    def __post_init__(self) -> None:
        if self.path and not (self.velocities and self.route_dim):
            raise ValueError("FeatureLayout.path needs velocities=True and the route's waypoints (route_dim > 0)")

    @property
    def per_object(self) -> int:
        return 8 + 2 * self.velocities + 3 * self.path + 3 * self.surface

    @property
    def size(self) -> int:
        return N_CLASSES * self.k * self.per_object + self.n_beams + self.state_dim + sum(n for _, n in self.vector_sizes())

    @property
    def observations(self) -> tuple[str, ...]:
        """The env observations the layout is built from (the camera for the objects)."""
        return (("camera", "lidar", "state") + tuple(name for name, n in self.vector_sizes() if n)
                + ("surface",) * self.surface)

    def vector_sizes(self) -> tuple[tuple[str, int], ...]:
        """The optional vector observations after the state, in layout order, with their sizes."""
        return (("route", self.route_dim), ("clock", self.clock_dim), ("junction", self.junction_dim),
                ("signal", self.signal_dim), ("stopping", self.stopping_dim))

    def slices(self) -> dict[str, slice]:
        """Named slices of the feature vector."""
        out, start = {}, 0
        for name in CLASS_BLOCKS:
            out[name] = slice(start, start + self.k * self.per_object)
            start += self.k * self.per_object
        out["lidar"] = slice(start, start + self.n_beams)
        out["state"] = slice(start + self.n_beams, start + self.n_beams + self.state_dim)
        start += self.n_beams + self.state_dim
        for name, n in self.vector_sizes():
            out[name] = slice(start, start + n)
            start += n
        return out


def path_coordinates(position: np.ndarray, velocity: np.ndarray, route: np.ndarray) -> np.ndarray:
    """(B, O, 3) where objects are relative to the route ahead: arc length s [m] along the polyline
    from the ego car through the route's waypoints to the object's closest point on it, signed offset
    d [m] across it (left +) and the object's velocity across it [m/s] (left +), from positions and
    velocities (B, O, 2) in the ego frame and the `route` observation (B, ROUTE_DIM).

    A pedestrian 8 m ahead and 1 m left of the path walking right at 1.4 m/s reads (8, 1, -1.4)
    wherever the route turns; in the ego frame the same danger reads differently on a straight road
    and in a junction, and the cloned policy missed it (it kept driving at pedestrians that the
    expert braked for 2 s earlier). Compiled, a loop over the kept objects of every world: it runs
    every step of training (numpy's (B, O, W, 2) temporaries cost the oracle mode 15 % of its speed)."""
    out = np.empty((*position.shape[:2], 3))
    _path_batch(np.asarray(position, dtype=np.float64), np.asarray(velocity, dtype=np.float64), _scaled_route(route),
                out)
    return out


@parallel_kernel
def _path_batch(position: np.ndarray, velocity: np.ndarray, route: np.ndarray, out: np.ndarray) -> None:
    """Path coordinates (see path_coordinates) of position, velocity (B, O, 2) along the polyline from
    the origin through the waypoints route (B, 2W) [m] into out (B, O, 3)."""
    for index in prange(position.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to int64
        for o in range(position.shape[1]):
            out[w, o, 0], out[w, o, 1], out[w, o, 2] = _path_point(position[w, o, 0], position[w, o, 1],
                                                                   velocity[w, o, 0], velocity[w, o, 1], route, w)


@inner
def _path_point(px: float, py: float, vx: float, vy: float, route: np.ndarray, w: int) -> tuple[float, float, float]:
    """(s, d, v_across) of an object at (px, py) [m] moving at (vx, vy) [m/s] (ego frame) along world
    w's route polyline route[w] (2W,) [m] from the origin (path_coordinates)."""
    best, best_s, best_d, best_across = np.inf, 0.0, 0.0, 0.0
    ax, ay, travelled = 0.0, 0.0, 0.0  # the segment's start and the route length before it
    for j in range(route.shape[1] // 2):
        bx, by = route[w, 2 * j], route[w, 2 * j + 1]
        sx, sy = bx - ax, by - ay
        length = math.hypot(sx, sy)
        ux, uy = sx / max(length, 1e-6), sy / max(length, 1e-6)
        rx, ry = px - ax, py - ay
        along = min(max(rx * ux + ry * uy, 0.0), length)
        gx, gy = rx - along * ux, ry - along * uy
        dist = gx * gx + gy * gy if length > 1e-3 else np.inf  # past the goal the points repeat
        if dist < best or (j == 0 and dist == best):  # the first closest segment, as argmin
            best, best_s = dist, travelled + along
            best_d = ux * ry - uy * rx
            best_across = ux * vy - uy * vx
        ax, ay, travelled = bx, by, travelled + length
    return best_s, best_d, best_across


def surface_flags(position: np.ndarray, velocity: np.ndarray, surface: np.ndarray, camera: CameraConfig
                  ) -> np.ndarray:
    """(B, O, 3) float32 for objects at ego-frame positions with velocities (B, O, 2) [m], [m/s] on
    the `surface` observation (B, H/2, W/2) of `camera`: whether the object stands on the road
    (a lane or a crossing), on a crossing, and whether its velocity takes it onto the road within
    SOON seconds (1 if it is there already). Outside the grid reads off-road.

    A person on a crossing, or walking onto one, is who the autopilot holds for; a person on the
    sidewalk at the same distance is not, and without the map under them the features cannot tell
    the two apart (docs/agents.md, tenth session)."""
    return flags_of_classes(grid_classes(position, velocity, surface, camera))


def flags_of_classes(classes: np.ndarray) -> np.ndarray:
    """(B, O, 3) float32 surface flags (see surface_flags) from (B, O, 2) SURFACE_CLASSES under each
    object and where its velocity takes it in SOON s (`grid_classes`, or the camera labels' `surface`)."""
    now, soon = classes[..., 0], classes[..., 1]
    on_road = now >= ROAD  # a lane or a crossing (SURFACE_CLASSES order)
    return np.stack([on_road, now == CROSSWALK, on_road | (soon >= ROAD)], axis=-1).astype(np.float32)


def grid_classes(position: np.ndarray, velocity: np.ndarray, surface: np.ndarray, camera: CameraConfig
                 ) -> np.ndarray:
    """(B, O, 2) uint8 SURFACE_CLASSES of the `surface` grid's cells under objects at ego-frame
    positions (B, O, 2) [m] and where their velocities (B, O, 2) [m/s] take them in SOON s
    (outside the grid: off-road)."""
    out = np.empty((*position.shape[:2], 2), dtype=np.uint8)
    _grid_classes_batch(np.asarray(position, dtype=np.float64), np.asarray(velocity, dtype=np.float64), surface,
                        *grid_geometry(camera), out)
    return out


@parallel_kernel
def _grid_classes_batch(position: np.ndarray, velocity: np.ndarray, surface: np.ndarray, row0: float,
                        col0: float, cell: float, out: np.ndarray) -> None:
    """See grid_classes: ego-frame (forward, left) [m] -> grid cell (row, col) with the surface
    observation's geometry (sensors/surface.py grid_geometry)."""
    for index in prange(position.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to int64
        for o in range(position.shape[1]):
            out[w, o, 0], out[w, o, 1] = _grid_pair(surface, w, position[w, o, 0], position[w, o, 1], velocity[w, o, 0],
                                                    velocity[w, o, 1], row0, col0, cell)


@inner
def _grid_pair(surface: np.ndarray, w: int, px: float, py: float, vx: float, vy: float, row0: float, col0: float,
               cell: float) -> tuple[int, int]:
    """The grid's classes under an object at ego-frame (px, py) [m] and where (vx, vy) [m/s] takes it
    in SOON s (grid_geometry's row0, col0, cell)."""
    fx, fy = px + SOON * vx, py + SOON * vy
    return (_surface_at(surface, w, row0 - px / cell, col0 - py / cell),
            _surface_at(surface, w, row0 - fx / cell, col0 - fy / cell))


@inner
def _surface_at(surface: np.ndarray, w: int, row: float, col: float) -> int:
    r, q = math.floor(row), math.floor(col)
    if 0 <= r < surface.shape[1] and 0 <= q < surface.shape[2]:
        return int(surface[w, r, q])
    return OFF_ROAD


def objects_to_features(cls: np.ndarray, position: np.ndarray, heading: np.ndarray, velocity: np.ndarray,
                        score: np.ndarray, light_probs: np.ndarray, valid: np.ndarray, layout: FeatureLayout,
                        route: np.ndarray | None = None, surface: np.ndarray | None = None,
                        camera: CameraConfig | None = None, surface_classes: np.ndarray | None = None) -> np.ndarray:
    """(B, N_CLASSES * k * per_object) from per-object arrays (B, O): cls, position (B, O, 2) [m] ego
    frame, heading [rad] ego frame, velocity (B, O, 2) [m/s] ego frame, score, light_probs (B, O, 3),
    valid; `route` (B, ROUTE_DIM), the route observation, for the path coordinates; for the surface
    flags either `surface_classes` (B, O, 2), each object's classes (the camera labels' `surface`),
    or `surface` (the surface observation) and the `camera` whose footprint it covers.

    One compiled kernel per batch (`_objects_batch`: selection, path coordinates, surface lookups
    and packing). Until 2026-12-08 these were numpy expressions around the compiled pieces: 0.64 s
    of a 6.0 s oracle training rollout (profiled); the kernel gives the same bits (tests)."""
    b, k = len(cls), layout.k
    if layout.path and route is None:
        raise ValueError("path features need the route observation")
    if layout.surface and surface_classes is None and (surface is None or camera is None):
        raise ValueError("surface features need the surface observation and its camera config")
    if cls.shape[1] == 0:  # no objects (e.g. no detections)
        return np.zeros((b, N_CLASSES * k * layout.per_object), dtype=np.float32)
    grid = surface if layout.surface and surface_classes is None else _NO_GRID
    row0, col0, cell = grid_geometry(camera) if grid is not _NO_GRID else (0.0, 0.0, 1.0)
    mode = _SURFACE_NONE if not layout.surface else _SURFACE_CLASSES if surface_classes is not None else _SURFACE_GRID
    out = np.empty((b, N_CLASSES * k, layout.per_object), dtype=np.float32)
    _objects_batch(np.hypot(position[..., 0], position[..., 1]), cls, valid, np.empty(cls.shape, dtype=KEY),
                   np.empty((b, N_CLASSES, k), dtype=np.int64), np.empty((b, N_CLASSES), dtype=np.int64),
                   position, np.sin(heading), np.cos(heading), velocity, score, light_probs,
                   _scaled_route(route) if layout.path else _NO_ROUTE,
                   surface_classes if mode == _SURFACE_CLASSES else _NO_CLASSES, grid, row0, col0, cell,
                   layout.velocities, layout.path, mode, out)
    return out.reshape(b, -1)


_SURFACE_NONE, _SURFACE_CLASSES, _SURFACE_GRID = 0, 1, 2  # where _objects_batch reads the surface flags from
_NO_ROUTE = np.zeros((0, 0))
_NO_CLASSES = np.zeros((0, 0, 2), dtype=np.uint8)
_NO_GRID = np.zeros((0, 0, 0), dtype=np.uint8)


def _scaled_route(route: np.ndarray) -> np.ndarray:
    """The route observation (B, ROUTE_DIM) in metres, float64 (scaled in its own dtype)."""
    return np.asarray(route * ROUTE_SCALE, dtype=np.float64)


@parallel_kernel
def _objects_batch(dist: np.ndarray, cls: np.ndarray, valid: np.ndarray, keys: np.ndarray, order: np.ndarray,
                   count: np.ndarray, position: np.ndarray, sin_heading: np.ndarray, cos_heading: np.ndarray,
                   velocity: np.ndarray, score: np.ndarray, light_probs: np.ndarray, route: np.ndarray,
                   classes: np.ndarray, grid: np.ndarray, row0: float, col0: float, cell: float, velocities: bool,
                   path: bool, surface: int, out: np.ndarray) -> None:
    """The object blocks of the feature vector (see objects_to_features) into out (B, N_CLASSES * k,
    per_object) float32, one world per iteration: the k nearest objects of each class
    (`_nearest_world`), then each kept object's values in layout order, zeros in the empty slots.
    Each value is one float64 operation on its inputs rounded once to float32, as numpy's
    expressions before it (bit-identical; sin and cos come in computed by numpy). order (B,
    N_CLASSES, k) and count (B, N_CLASSES) are scratch; route (B, ROUTE_DIM) [m] (path only)."""
    k = order.shape[2]
    for index in prange(dist.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to int64
        _nearest_world(dist, cls, valid, keys, order, count, w)
        for c in range(order.shape[1]):
            for j in range(k):
                row = out[w, c * k + j]
                if j >= count[w, c]:
                    row[:] = 0.0
                    continue
                o = order[w, c, j]
                px, py = np.float64(position[w, o, 0]), np.float64(position[w, o, 1])
                vx, vy = np.float64(velocity[w, o, 0]), np.float64(velocity[w, o, 1])
                row[0], row[1] = px / POSITION_SCALE, py / POSITION_SCALE
                row[2], row[3] = sin_heading[w, o], cos_heading[w, o]
                i = 4
                if velocities:
                    row[i], row[i + 1] = vx / SPEED_SCALE, vy / SPEED_SCALE
                    i += 2
                if path:
                    s, d, across = _path_point(px, py, vx, vy, route, w)
                    row[i] = s / POSITION_SCALE
                    row[i + 1] = min(max(d / LATERAL_SCALE, -LATERAL_CLIP), LATERAL_CLIP)
                    row[i + 2] = across / SPEED_SCALE
                    i += 3
                if surface != _SURFACE_NONE:
                    if surface == _SURFACE_CLASSES:
                        now, soon = classes[w, o, 0], classes[w, o, 1]
                    else:
                        now, soon = _grid_pair(grid, w, px, py, vx, vy, row0, col0, cell)
                    on_road = now >= ROAD  # a lane or a crossing (SURFACE_CLASSES order)
                    row[i], row[i + 1], row[i + 2] = on_road, now == CROSSWALK, on_road or soon >= ROAD
                    i += 3
                row[i] = score[w, o]
                row[i + 1], row[i + 2], row[i + 3] = light_probs[w, o, 0], light_probs[w, o, 1], light_probs[w, o, 2]


def nearest_by_class(dist: np.ndarray, cls: np.ndarray, valid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest valid objects of each class: object indices (B, N_CLASSES * k) int64, class by
    class, nearest first (ties: the lower index, as a stable sort), and which slots hold one (B,
    N_CLASSES * k) bool (the others index object 0). dist (B, O) [m], cls (B, O), valid (B, O);
    objects at a non-finite distance are left out. Compiled, with the simulator's k-smallest
    selection (`arrays.smallest`)."""
    order = np.zeros((len(dist), N_CLASSES, k), dtype=np.int64)
    count = np.zeros((len(dist), N_CLASSES), dtype=np.int64)
    _nearest_batch(dist, cls, valid, np.empty(dist.shape, dtype=KEY), order, count)
    ok = np.arange(k) < count[..., None]
    return order.reshape(len(dist), -1), ok.reshape(len(dist), -1)


@parallel_kernel
def _nearest_batch(dist: np.ndarray, cls: np.ndarray, valid: np.ndarray, keys: np.ndarray, order: np.ndarray,
                   count: np.ndarray) -> None:
    """See nearest_by_class; keys (B, O) KEY scratch, order (B, N_CLASSES, k), count (B, N_CLASSES)."""
    for index in prange(dist.shape[0]):
        _nearest_world(dist, cls, valid, keys, order, count, np.int64(index))  # prange counts in uint64


@inner
def _nearest_world(dist: np.ndarray, cls: np.ndarray, valid: np.ndarray, keys: np.ndarray, order: np.ndarray,
                   count: np.ndarray, w: int) -> None:
    """World w of _nearest_batch."""
    n, k = dist.shape[1], order.shape[2]
    for c in range(order.shape[1]):
        for o in range(n):
            keys[w, o].key = dist[w, o] if valid[w, o] and cls[w, o] == c else math.inf
        count[w, c] = smallest(keys[w], n, k)
        for j in range(count[w, c]):
            order[w, c, j] = keys[w, j].order


def _with_sensors(objects: np.ndarray, obs: dict[str, np.ndarray], layout: FeatureLayout) -> np.ndarray:
    parts = [objects, obs["lidar"], obs["state"]] + [obs[k] for k, n in layout.vector_sizes() if n]
    out = np.concatenate([p.astype(np.float32, copy=False) for p in parts], axis=1)
    if layout.hide_accel:
        out[:, layout.slices()["state"].start + ACCEL_FIELD] = 0.0
    return out


def oracle_features(labels: dict[str, np.ndarray], obs: dict[str, np.ndarray], layout: FeatureLayout,
                    camera: CameraConfig | None = None) -> np.ndarray:
    """Ground-truth ("oracle") perception in the same layout: the camera's labels (B, O) arrays and
    the lidar, state (and route) observations. The surface flags come from the labels' `surface`
    (the surface grid's classes under each object) when they have it, else from the `surface`
    observation and `camera`, the config the labels and the grid were made with."""
    light = labels["light"]
    probs = np.stack([light == 3, light == 2, light == 1], axis=-1).astype(np.float32)
    objects = objects_to_features(labels["cls"], labels["position"], labels["angle"], labels["velocity"],
                                  np.ones(labels["cls"].shape, dtype=np.float32), probs, labels["visible"], layout,
                                  obs.get("route"), obs.get("surface"), camera, labels.get("surface"))
    return _with_sensors(objects, obs, layout)


def pixels_to_ego(centre: np.ndarray, camera: CameraConfig) -> np.ndarray:
    """Pixel centres (..., 2) (u, v) -> ego-frame positions (..., 2) (forward, left) [m]."""
    mpp = camera.metres_per_pixel
    return np.stack([(camera.ego_row * camera.height - centre[..., 1]) * mpp,
                     (camera.width / 2 - centre[..., 0]) * mpp], axis=-1)


def detections_to_features(det: Detections, camera: CameraConfig, obs: dict[str, np.ndarray], layout: FeatureLayout,
                           where: Places | None = None) -> np.ndarray:
    """Perception features from the CNN's detections on frames of `camera`, and the lidar, state
    (and route) observations; the surface flags from the map at the detections (`where` the cars
    are: `point_classes`), or without `where` from the `surface` observation's grid."""
    probs = np.where((det.cls == 2)[..., None], det.light_probs, 0.0)
    position = pixels_to_ego(det.centre, camera)
    classes = point_classes(where, position, det.velocity) if layout.surface and where is not None else None
    objects = objects_to_features(det.cls, position, det.angle, det.velocity, det.score, probs, det.valid, layout,
                                  obs.get("route"), obs.get("surface"), camera, classes)
    return _with_sensors(objects, obs, layout)
