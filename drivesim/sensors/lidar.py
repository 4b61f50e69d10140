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
from drivesim.arrays import take
from drivesim.sensors.raycast import beam_directions, ray_box_distances

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
    hit classes (B, N) int64 (LidarHit). All classes are cast in one batched call."""
    cfg = world.config.lidar
    origins = np.stack([world.ego.x, world.ego.y], axis=1)
    dirs = beam_directions(world.ego.yaw, cfg.n_beams, cfg.fov)
    parts = [_buildings(world, origins)]
    if world.config.traffic.n_cars:
        c = world.cars
        parts.append(_boxes(origins, c.x, c.y, c.yaw, (CAR_LENGTH / 2, CAR_WIDTH / 2), c.active, cfg.max_objects,
                            LidarHit.CAR))
    if world.config.traffic.n_pedestrians:
        p = world.peds
        parts.append(_boxes(origins, p.x, p.y, p.yaw, (PED_RADIUS, PED_RADIUS), p.active, cfg.max_objects,
                            LidarHit.PEDESTRIAN))
    centers, yaws, halves, mask, labels = (np.concatenate(arrays, axis=1) for arrays in zip(*parts, strict=True))
    dist, hit = ray_box_distances(origins, dirs, centers, yaws, halves, mask, cfg.max_range)
    cls = np.where(hit >= 0, take(labels, np.maximum(hit, 0)), LidarHit.NONE)
    return (dist / cfg.max_range).astype(np.float32), cls.astype(np.int64)


Boxes = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # centers, yaws, halves, mask, labels


def _boxes(origins: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, half: tuple[float, float],
           active: np.ndarray, k: int, label: LidarHit) -> Boxes:
    """The k nearest active actors as boxes (B, k, ...)."""
    d2 = np.where(active, (x - origins[:, :1]) ** 2 + (y - origins[:, 1:]) ** 2, np.inf)
    idx = nearest(d2, k)
    centers = np.stack([take(x, idx), take(y, idx)], axis=-1)
    halves = np.broadcast_to(np.array(half), (*idx.shape, 2))
    return centers, take(yaw, idx), halves, take(active, idx), np.full(idx.shape, int(label))


def _buildings(world: World, origins: np.ndarray) -> Boxes:
    """The nearest buildings within range as boxes (B, k, ...)."""
    cfg = world.config.lidar
    boxes = world.pool.buildings[world.map_idx]  # (B, NB, 4) x0, y0, x1, y1
    valid = np.arange(boxes.shape[1])[None, :] < world.pool.n_buildings[world.map_idx][:, None]
    ox, oy = origins[:, :1], origins[:, 1:]
    gap_x = np.maximum(np.maximum(boxes[..., 0] - ox, ox - boxes[..., 2]), 0.0)
    gap_y = np.maximum(np.maximum(boxes[..., 1] - oy, oy - boxes[..., 3]), 0.0)
    d2 = np.where(valid, gap_x**2 + gap_y**2, np.inf)
    idx = nearest(d2, cfg.max_objects)
    sel = take(boxes, idx)
    centers = 0.5 * (sel[..., :2] + sel[..., 2:])
    halves = 0.5 * (sel[..., 2:] - sel[..., :2])
    mask = take(valid & (d2 < cfg.max_range**2), idx)
    return centers, np.zeros(idx.shape), halves, mask, np.full(idx.shape, int(LidarHit.BUILDING))
