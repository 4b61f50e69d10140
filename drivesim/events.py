"""Per-step events (collisions, infractions, route progress) and the named reward terms.

Pure functions over batched arrays; the World gathers their inputs."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from drivesim.actors.pedestrians import PED_RADIUS
from drivesim.actors.traffic import CAR_LENGTH, CAR_WIDTH
from drivesim.config import RewardConfig, VehicleConfig
from drivesim.geometry import box_corners, obb_overlap, to_local
from drivesim.map.city import DRIVABLE, Surface
from drivesim.map.raster import lookup

EVENT_NAMES = ("collision_vehicle", "collision_pedestrian", "collision_static", "red_light", "off_road",
               "wrong_way", "goal", "off_route", "stuck", "timeout")
REWARD_TERMS = ("progress", "collision", "red_light", "off_road", "wrong_way", "lane_keeping", "speeding",
                "comfort", "goal", "off_route", "stuck")
TERMINATING = ("collision_vehicle", "collision_pedestrian", "collision_static", "goal", "off_route", "stuck")

_DRIVABLE_LUT = np.zeros(256, dtype=bool)
_DRIVABLE_LUT[list(DRIVABLE)] = True


class Collisions(NamedTuple):
    vehicle: np.ndarray  # (B,) bool
    pedestrian: np.ndarray  # (B,) bool
    static: np.ndarray  # (B,) bool, hit a building
    off_road: np.ndarray  # (B,) bool, part of the car outside the drivable surface
    car_hit: np.ndarray  # (B, K) bool, which NPC was hit
    ped_hit: np.ndarray  # (B, P) bool


def ego_outline(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, veh: VehicleConfig) -> np.ndarray:
    """(B, 8, 2) [m] corners and edge midpoints of the ego's footprint."""
    corners = box_corners(x, y, yaw, veh.length, veh.width)
    mids = 0.5 * (corners + np.roll(corners, -1, axis=1))
    return np.concatenate([corners, mids], axis=1)


def detect_collisions(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, veh: VehicleConfig,
                      car_xy_yaw: tuple[np.ndarray, np.ndarray, np.ndarray], car_active: np.ndarray,
                      ped_xy: tuple[np.ndarray, np.ndarray], ped_active: np.ndarray,
                      rasters: np.ndarray, map_idx: np.ndarray, origin: np.ndarray, res: float) -> Collisions:
    cx, cy, cyaw = car_xy_yaw
    car_hit = car_active & obb_overlap(x[:, None], y[:, None], yaw[:, None], veh.length, veh.width,
                                       cx, cy, cyaw, CAR_LENGTH, CAR_WIDTH)
    px, py = ped_xy
    fx, fy = to_local(px - x[:, None], py - y[:, None], yaw[:, None])
    ped_hit = ped_active & (np.abs(fx) < veh.length / 2 + PED_RADIUS) & (np.abs(fy) < veh.width / 2 + PED_RADIUS)
    surface = lookup(rasters, map_idx[:, None], ego_outline(x, y, yaw, veh), origin, res)  # (B, 8)
    return Collisions(car_hit.any(axis=1), ped_hit.any(axis=1), (surface == Surface.BUILDING).any(axis=1),
                      (~_DRIVABLE_LUT[surface]).any(axis=1), car_hit, ped_hit)


def reward_terms(events: dict[str, np.ndarray], progress_delta: np.ndarray, lateral_error: np.ndarray,
                 speed: np.ndarray, speed_limit: float, jerk: np.ndarray, steer_rate: np.ndarray,
                 max_steer_rate: float, lane_width: float, cfg: RewardConfig, dt: float) -> dict[str, np.ndarray]:
    """Weighted named reward terms (B,) each; the reward is their sum."""
    collision = events["collision_vehicle"] | events["collision_pedestrian"] | events["collision_static"]
    lateral = np.minimum(np.abs(lateral_error) / lane_width, 2.0)
    over = np.maximum(speed - speed_limit, 0.0) / speed_limit
    discomfort = np.minimum(np.abs(jerk) / 10.0, 3.0) + np.abs(steer_rate) / max_steer_rate
    return {
        "progress": cfg.progress * progress_delta,
        "collision": -cfg.collision * collision,
        "red_light": -cfg.red_light * events["red_light"],
        "off_road": -cfg.off_road * dt * events["off_road"],
        "wrong_way": -cfg.wrong_way * dt * events["wrong_way"],
        "lane_keeping": -cfg.lane_keeping * dt * lateral,
        "speeding": -cfg.speeding * dt * over,
        "comfort": -cfg.comfort * dt * discomfort,
        "goal": cfg.goal * events["goal"],
        "off_route": -cfg.off_route * events["off_route"],
        "stuck": -cfg.stuck * events["stuck"],
    }
