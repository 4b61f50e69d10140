"""Kinematic bicycle model of the ego car (reference point: centre of the car).

Pure functions over batched arrays; exact integration over one step for constant speed and steering
angle (the path is a circle arc), so the model matches closed-form motion.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from drivesim.config import VehicleConfig
from drivesim.geometry import wrap_angle


class EgoState(NamedTuple):
    x: np.ndarray  # (B,) [m]
    y: np.ndarray  # (B,) [m]
    yaw: np.ndarray  # (B,) [rad]
    v: np.ndarray  # (B,) [m/s] forward speed (no reversing)
    steer: np.ndarray  # (B,) [rad] front wheel angle


def actuate(action: np.ndarray, steer: np.ndarray, v: np.ndarray, cfg: VehicleConfig,
            dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map normalised actions (B, 2) in [-1, 1] (steer, accel/brake) to the new steering angle [rad]
    (rate-limited), the new speed [m/s] and the applied longitudinal acceleration [m/s^2]."""
    target = action[:, 0] * cfg.max_steer
    max_delta = cfg.max_steer_rate * dt
    new_steer = steer + np.clip(target - steer, -max_delta, max_delta)
    accel = np.where(action[:, 1] >= 0, action[:, 1] * cfg.max_accel, action[:, 1] * cfg.max_brake)
    new_v = np.clip(v + accel * dt, 0.0, cfg.max_speed)
    return new_steer, new_v, (new_v - v) / dt


def bicycle_step(state: EgoState, v_new: np.ndarray, steer_new: np.ndarray, wheelbase: float,
                 dt: float) -> EgoState:
    """Advance the pose over dt with speed v_new and steering steer_new held constant.

    Slip angle beta = atan(tan(steer) / 2) (centre half-way between the axles); yaw rate
    omega = v sin(beta) / (wheelbase / 2); the centre moves on a circle of radius v / omega."""
    beta = np.arctan(0.5 * np.tan(steer_new))
    omega = v_new * np.sin(beta) / (0.5 * wheelbase)  # [rad/s]
    heading = state.yaw + beta
    dyaw = omega * dt
    small = np.abs(dyaw) < 1e-9
    safe = np.where(small, 1.0, omega)
    dx_arc = v_new / safe * (np.sin(heading + dyaw) - np.sin(heading))
    dy_arc = v_new / safe * (np.cos(heading) - np.cos(heading + dyaw))
    dx = np.where(small, v_new * np.cos(heading) * dt, dx_arc)
    dy = np.where(small, v_new * np.sin(heading) * dt, dy_arc)
    return EgoState(state.x + dx, state.y + dy, wrap_angle(state.yaw + dyaw), v_new, steer_new)
