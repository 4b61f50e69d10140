"""2D lidar on the ego: analytic ray casts against cars, pedestrians and buildings.

Objects are culled to the `LidarConfig.max_objects` nearest per class before casting, so the cost
stays flat however large the city is.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from drivesim.actors.pedestrians import PED_RADIUS
from drivesim.actors.traffic import CAR_LENGTH, CAR_WIDTH
from drivesim.sensors.raycast import beam_directions, merge_hits, ray_box_distances

if TYPE_CHECKING:
    from drivesim.world import World


class LidarHit(IntEnum):
    """Per-beam hit class."""

    NONE = 0
    BUILDING = 1
    CAR = 2
    PEDESTRIAN = 3


N_HIT_CLASSES = len(LidarHit)


def nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """(B, k) indices of the k smallest entries per row of dist (B, n); all of them if n <= k."""
    if dist.shape[1] <= k:
        return np.broadcast_to(np.arange(dist.shape[1]), dist.shape)
    return np.argpartition(dist, k - 1, axis=1)[:, :k]


def lidar_scan(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Returns ranges (B, N) float32 normalised to [0, 1] (1 = nothing within max_range) and
    hit classes (B, N) int64 (LidarHit)."""
    cfg = world.config.lidar
    ex, ey = world.ego.x, world.ego.y
    origins = np.stack([ex, ey], axis=1)
    dirs = beam_directions(world.ego.yaw, cfg.n_beams, cfg.fov)
    hits = [_buildings(world, origins, dirs)]
    if world.config.traffic.n_cars:
        c = world.cars
        hits.append(_boxes(origins, dirs, c.x, c.y, c.yaw, (CAR_LENGTH / 2, CAR_WIDTH / 2), c.active, cfg.max_objects,
                           cfg.max_range, LidarHit.CAR))
    if world.config.traffic.n_pedestrians:
        p = world.peds
        hits.append(_boxes(origins, dirs, p.x, p.y, p.yaw, (PED_RADIUS, PED_RADIUS), p.active, cfg.max_objects,
                           cfg.max_range, LidarHit.PEDESTRIAN))
    dist, cls = merge_hits(*hits)
    return (dist / cfg.max_range).astype(np.float32), cls.astype(np.int64)


def _boxes(origins: np.ndarray, dirs: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
           half: tuple[float, float], active: np.ndarray, k: int, max_range: float,
           label: LidarHit) -> tuple[np.ndarray, np.ndarray]:
    d2 = np.where(active, (x - origins[:, :1]) ** 2 + (y - origins[:, 1:]) ** 2, np.inf)
    idx = nearest(d2, k)
    take = lambda a: np.take_along_axis(a, idx, axis=1)  # noqa: E731
    centers = np.stack([take(x), take(y)], axis=-1)
    halves = np.broadcast_to(np.array(half), (*idx.shape, 2))
    dist, hit = ray_box_distances(origins, dirs, centers, take(yaw), halves, take(active), max_range)
    return dist, np.where(hit >= 0, label, LidarHit.NONE)


def _buildings(world: World, origins: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cfg = world.config.lidar
    boxes = world.pool.buildings[world.map_idx]  # (B, NB, 4) x0, y0, x1, y1
    valid = np.arange(boxes.shape[1])[None, :] < world.pool.n_buildings[world.map_idx][:, None]
    ox, oy = origins[:, :1], origins[:, 1:]
    gap_x = np.maximum(np.maximum(boxes[..., 0] - ox, ox - boxes[..., 2]), 0.0)
    gap_y = np.maximum(np.maximum(boxes[..., 1] - oy, oy - boxes[..., 3]), 0.0)
    d2 = np.where(valid, gap_x**2 + gap_y**2, np.inf)
    idx = nearest(d2, cfg.max_objects)
    sel = np.take_along_axis(boxes, idx[..., None], axis=1)
    centers = 0.5 * (sel[..., :2] + sel[..., 2:])
    halves = 0.5 * (sel[..., 2:] - sel[..., :2])
    mask = np.take_along_axis(valid & (d2 < cfg.max_range**2), idx, axis=1)
    dist, hit = ray_box_distances(origins, dirs, centers, np.zeros(idx.shape), halves, mask, cfg.max_range)
    return dist, np.where(hit >= 0, LidarHit.BUILDING, LidarHit.NONE)
