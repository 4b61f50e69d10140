"""2D lidar on the controlled car: analytic ray casts against buildings, cars and pedestrians.

Per world and per class the `LidarConfig.max_objects` nearest objects are cast (buildings by their
distance from the sensor, only within range). Each object is only tested against the beams inside
the angle its bounding circle subtends, so a world's scan costs a few hundred slab tests however
many beams and objects there are. Compiled per world; `lidar_scan` runs it over a batch.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim.actors.driver import PED_RADIUS
from drivesim.arrays import smallest
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapArrays
from drivesim.params import SharedParams, WorldParams
from drivesim.sensors.raycast import beam_offsets, ray_box
from drivesim.state import SimState
from drivesim.workspace import Workspace

if TYPE_CHECKING:
    from drivesim.world import World


class LidarHit(IntEnum):
    """Per-beam hit class."""

    NONE = 0
    BUILDING = 1
    CAR = 2
    PEDESTRIAN = 3


N_HIT_CLASSES = len(LidarHit)
_NONE, _BUILDING, _CAR, _PEDESTRIAN = (int(hit) for hit in LidarHit)
_FULL_CIRCLE_TOL = 1e-6


@inner
def _cast(beams: np.ndarray, full_circle: bool, ox: float, oy: float, yaw: float, cx: float, cy: float, byaw: float,
          hx: float, hy: float, label: int, max_range: float) -> None:
    """Cast the beams (N,) BEAM that can reach one box and keep nearer hits in them."""
    n = len(beams)
    dx, dy = cx - ox, cy - oy
    dist, radius = math.hypot(dx, dy), math.hypot(hx, hy)
    if dist - radius > max_range:
        return
    if dist <= radius or n == 1:
        first, last = 0, n - 1
    else:
        bearing = math.atan2(dy, dx) - yaw
        half = math.asin(radius / dist) + 1e-9
        if full_circle:
            step = 2 * math.pi / n
            bearing %= 2 * math.pi
            first, last = int(math.ceil((bearing - half) / step)), int(math.floor((bearing + half) / step))
        else:
            step = beams[1].offset - beams[0].offset
            bearing = (bearing + math.pi) % (2 * math.pi) - math.pi
            first = max(int(math.ceil((bearing - half - beams[0].offset) / step)), 0)
            last = min(int(math.floor((bearing + half - beams[0].offset) / step)), n - 1)
    c, s = math.cos(byaw), math.sin(byaw)
    for j in range(first, last + 1):
        beam = beams[j % n]
        t = ray_box(ox, oy, beam.cos, beam.sin, cx, cy, c, s, hx, hy)
        if t <= max_range and t < beam.range:
            beam.range, beam.cls = t, label


@inner
def scan_world(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
               offsets: np.ndarray, w: int, out_range: np.ndarray, out_class: np.ndarray) -> None:
    """One world's scan: ranges (N,) normalised to [0, 1] (1 = nothing within range) and hit
    classes (N,) (LidarHit) into the output rows."""
    m, e = state.clock[w].map, state.ego[w].car
    me = state.cars[w, e]
    ox, oy, yaw = me.x, me.y, me.yaw
    max_range, k = shared.lidar_range, shared.lidar_max_objects
    full_circle = abs(shared.lidar_fov - 2 * math.pi) <= _FULL_CIRCLE_TOL
    n = len(offsets)
    beams = ws.beams[w, :n]
    for j in range(n):
        beam = beams[j]
        beam.offset, beam.cos, beam.sin = offsets[j], math.cos(yaw + offsets[j]), math.sin(yaw + offsets[j])
        beam.range, beam.cls = math.inf, _NONE
    keys = ws.keys[w]
    nb = maps.info[m].n_buildings
    n_cars, n_peds = 1 + params.world[w].n_cars, params.world[w].n_peds
    for b in range(nb):
        box = maps.buildings[m, b]
        gx, gy = max(box.x0 - ox, ox - box.x1, 0.0), max(box.y0 - oy, oy - box.y1, 0.0)
        keys[b].key = gx * gx + gy * gy if gx * gx + gy * gy < max_range * max_range else math.inf
    for j in range(smallest(keys, nb, k)):
        box = maps.buildings[m, keys[j].order]
        _cast(beams, full_circle, ox, oy, yaw, 0.5 * (box.x0 + box.x1), 0.5 * (box.y0 + box.y1), 0.0,
              0.5 * (box.x1 - box.x0), 0.5 * (box.y1 - box.y0), np.int64(_BUILDING), max_range)
    for i in range(n_cars):
        car = state.cars[w, i]
        keys[i].key = (car.x - ox) ** 2 + (car.y - oy) ** 2 if car.active and i != e else math.inf
    for j in range(smallest(keys, n_cars, k)):
        car = state.cars[w, keys[j].order]
        _cast(beams, full_circle, ox, oy, yaw, car.x, car.y, car.yaw, car.length / 2, car.width / 2, np.int64(_CAR),
              max_range)
    for p in range(n_peds):
        q = state.peds[w, p]
        keys[p].key = (q.x - ox) ** 2 + (q.y - oy) ** 2 if q.active else math.inf
    for j in range(smallest(keys, n_peds, k)):
        q = state.peds[w, keys[j].order]
        _cast(beams, full_circle, ox, oy, yaw, q.x, q.y, q.yaw, PED_RADIUS, PED_RADIUS, np.int64(_PEDESTRIAN),
              max_range)
    for j in range(n):
        hit = beams[j].range <= max_range
        out_range[j] = beams[j].range / max_range if hit else 1.0
        out_class[j] = beams[j].cls if hit else _NONE


@parallel_kernel
def _scan_batch(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
                offsets: np.ndarray, out_range: np.ndarray, out_class: np.ndarray) -> None:
    for index in prange(out_range.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        scan_world(maps, params, shared, state, ws, offsets, w, out_range[w], out_class[w])


def lidar_scan(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Ranges (B, N) float32 normalised to [0, 1] and hit classes (B, N) int64 of every world."""
    shared = world.shared
    out_range = np.empty((world.batch_size, shared.lidar_beams), dtype=np.float32)
    out_class = np.empty((world.batch_size, shared.lidar_beams), dtype=np.int64)
    _scan_batch(world.maps.kernel, world.params, shared, world.state, world.workspace,
                beam_offsets(shared.lidar_beams, shared.lidar_fov), out_range, out_class)
    return out_range, out_class
