"""Kinematic bicycle model of a controlled car (reference point: centre of the car).

Exact integration over one step for constant speed and steering angle (the path is a circle arc),
so the model matches closed-form motion. `actuate` / `move` are the compiled scalar forms the step
uses; `actuate_batch` / `bicycle_step` run the same functions over arrays (tests, tools).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from drivesim.config import VehicleConfig
from drivesim.jit import inner, kernel


class EgoState(NamedTuple):
    """Pose and actuator state of controlled cars, every field (B,)."""

    x: np.ndarray  # [m]
    y: np.ndarray  # [m]
    yaw: np.ndarray  # [rad]
    v: np.ndarray  # [m/s] forward speed (no reversing)
    steer: np.ndarray  # [rad] front wheel angle


@inner
def actuate(steer_cmd: float, accel_cmd: float, steer: float, v: float, max_steer: float, max_steer_rate: float,
            max_accel: float, max_brake: float, max_speed: float, dt: float) -> tuple[float, float, float]:
    """Normalised commands in [-1, 1] (steer, accel/brake) -> new steering angle [rad]
    (rate-limited), new speed [m/s] and the applied longitudinal acceleration [m/s^2]."""
    max_delta = max_steer_rate * dt
    new_steer = steer + min(max(steer_cmd * max_steer - steer, -max_delta), max_delta)
    accel = accel_cmd * max_accel if accel_cmd >= 0 else accel_cmd * max_brake
    new_v = min(max(v + accel * dt, 0.0), max_speed)
    return new_steer, new_v, (new_v - v) / dt


@inner
def move(x: float, y: float, yaw: float, v: float, steer: float, wheelbase: float, dt: float
         ) -> tuple[float, float, float]:
    """Advance the pose over dt with speed v and steering angle steer held constant.

    Slip angle beta = atan(tan(steer) / 2) (centre half-way between the axles); yaw rate
    omega = v sin(beta) / (wheelbase / 2); the centre moves on a circle of radius v / omega."""
    beta = math.atan(0.5 * math.tan(steer))
    omega = v * math.sin(beta) / (0.5 * wheelbase)  # [rad/s]
    heading = yaw + beta
    dyaw = omega * dt
    if abs(dyaw) < 1e-9:
        dx, dy = v * math.cos(heading) * dt, v * math.sin(heading) * dt
    else:
        dx = v / omega * (math.sin(heading + dyaw) - math.sin(heading))
        dy = v / omega * (math.cos(heading) - math.cos(heading + dyaw))
    new_yaw = (yaw + dyaw + math.pi) % (2 * math.pi) - math.pi
    return x + dx, y + dy, new_yaw


@kernel
def _actuate_many(action: np.ndarray, steer: np.ndarray, v: np.ndarray, limits: np.ndarray, dt: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(v)
    new_steer, new_v, accel = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        new_steer[i], new_v[i], accel[i] = actuate(action[i, 0], action[i, 1], steer[i], v[i], limits[0], limits[1],
                                                   limits[2], limits[3], limits[4], dt)
    return new_steer, new_v, accel


@kernel
def _move_many(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, v: np.ndarray, steer: np.ndarray, wheelbase: float,
               dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(x)
    nx, ny, nyaw = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        nx[i], ny[i], nyaw[i] = move(x[i], y[i], yaw[i], v[i], steer[i], wheelbase, dt)
    return nx, ny, nyaw


def actuate_batch(action: np.ndarray, steer: np.ndarray, v: np.ndarray, cfg: VehicleConfig,
                  dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`actuate` over actions (B, 2) -> new steering (B,) [rad], speed (B,) [m/s], accel (B,) [m/s^2]."""
    limits = np.array([cfg.max_steer, cfg.max_steer_rate, cfg.max_accel, cfg.max_brake, cfg.max_speed])
    f = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    return _actuate_many(f(action).reshape(-1, 2), f(steer), f(v), limits, float(dt))


def bicycle_step(state: EgoState, v_new: np.ndarray, steer_new: np.ndarray, wheelbase: float,
                 dt: float) -> EgoState:
    """`move` over a batch: the pose after dt with v_new and steer_new held constant."""
    f = lambda a: np.ascontiguousarray(np.broadcast_to(a, state.x.shape), dtype=np.float64)  # noqa: E731
    x, y, yaw = _move_many(f(state.x), f(state.y), f(state.yaw), f(v_new), f(steer_new), float(wheelbase), float(dt))
    return EgoState(x, y, yaw, f(v_new), f(steer_new))
