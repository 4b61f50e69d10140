"""Ego kinematic bicycle model and actuator mapping against closed-form motion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.actors.kinematics import EgoState, actuate_batch, bicycle_step
from drivesim.config import VehicleConfig

VEH = VehicleConfig()
DT = 0.1


def _state(x=0.0, y=0.0, yaw=0.0, v=0.0, steer=0.0, batch=1) -> EgoState:
    f = lambda a: np.full(batch, a, dtype=np.float64)  # noqa: E731
    return EgoState(f(x), f(y), f(yaw), f(v), f(steer))


@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5, math.pi / 2])
def test_straight_line_constant_speed(yaw):
    state, v = _state(x=3.0, y=-4.0, yaw=yaw), 7.5
    for _ in range(200):
        state = bicycle_step(state, np.array([v]), np.array([0.0]), VEH.wheelbase, DT)
    t = 200 * DT
    assert state.x[0] == pytest.approx(3.0 + v * t * math.cos(yaw), abs=1e-9)
    assert state.y[0] == pytest.approx(-4.0 + v * t * math.sin(yaw), abs=1e-9)
    assert state.yaw[0] == pytest.approx(yaw, abs=1e-12)
    assert state.v[0] == v


@pytest.mark.parametrize("steer", [0.05, 0.3, -0.45, 0.6])
@pytest.mark.parametrize("v", [2.0, 9.0])
def test_constant_steer_follows_analytic_circle(steer, v):
    """Constant speed and steering: the centre moves on a circle of radius (L/2)/sin(beta) with the
    velocity direction yaw + beta, at yaw rate v sin(beta)/(L/2)."""
    wb = VEH.wheelbase
    beta = math.atan(math.tan(steer) / 2)
    radius = (wb / 2) / abs(math.sin(beta))
    omega = v * math.sin(beta) / (wb / 2)
    x0, y0, yaw0 = 10.0, 5.0, 0.4
    h0 = yaw0 + beta
    sign = math.copysign(1.0, omega)
    cx, cy = x0 - sign * radius * math.sin(h0), y0 + sign * radius * math.cos(h0)
    state = _state(x=x0, y=y0, yaw=yaw0)
    n_steps = 1500
    for k in range(1, n_steps + 1):
        state = bicycle_step(state, np.array([v]), np.array([steer]), wb, DT)
        if k % 50 == 0:
            h = h0 + omega * k * DT
            ex, ey = cx + sign * radius * math.sin(h), cy - sign * radius * math.cos(h)
            assert math.hypot(state.x[0] - cx, state.y[0] - cy) == pytest.approx(radius, abs=1e-6)
            assert state.x[0] == pytest.approx(ex, abs=1e-6)
            assert state.y[0] == pytest.approx(ey, abs=1e-6)
            dyaw = (state.yaw[0] - (yaw0 + omega * k * DT) + math.pi) % (2 * math.pi) - math.pi
            assert abs(dyaw) < 1e-9


@pytest.mark.parametrize("steer", [0.2, -0.5])
def test_yaw_rate(steer):
    v = 6.0
    state = _state(yaw=0.1, v=v, steer=steer)
    nxt = bicycle_step(state, np.array([v]), np.array([steer]), VEH.wheelbase, DT)
    beta = math.atan(math.tan(steer) / 2)
    expected = v * math.sin(beta) / (VEH.wheelbase / 2)
    assert (nxt.yaw[0] - 0.1) / DT == pytest.approx(expected, rel=1e-12)
    # positive steering turns left (counter-clockwise), negative right
    assert math.copysign(1.0, nxt.yaw[0] - 0.1) == math.copysign(1.0, steer)


def test_exact_integration_independent_of_step_size():
    state = _state(x=1.0, y=2.0, yaw=-0.3)
    v, steer = np.array([8.0]), np.array([0.35])
    fine = state
    for _ in range(20):
        fine = bicycle_step(fine, v, steer, VEH.wheelbase, 0.05)
    coarse = bicycle_step(state, v, steer, VEH.wheelbase, 1.0)
    for a, b in zip(fine, coarse, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_yaw_is_wrapped():
    state = _state(yaw=3.1)
    for _ in range(100):
        state = bicycle_step(state, np.array([10.0]), np.array([0.5]), VEH.wheelbase, DT)
        assert -math.pi <= state.yaw[0] < math.pi


def test_batched_rows_independent():
    state = _state(batch=3, yaw=0.0)
    v, steer = np.array([0.0, 5.0, 10.0]), np.array([0.3, 0.0, -0.3])
    out = bicycle_step(state, v, steer, VEH.wheelbase, DT)
    assert out.x[0] == 0.0 and out.y[0] == 0.0 and out.yaw[0] == 0.0  # standing still
    assert out.x[1] == pytest.approx(0.5) and out.y[1] == 0.0
    assert out.yaw[2] < 0.0 and out.y[2] < 0.0


def test_actuate_full_throttle_and_brake_map_to_limits():
    v = np.array([5.0, 5.0, 5.0])
    action = np.array([[0.0, 1.0], [0.0, -1.0], [0.0, 0.0]])
    _, new_v, accel = actuate_batch(action, np.zeros(3), v, VEH, DT)
    np.testing.assert_allclose(accel, [VEH.max_accel, -VEH.max_brake, 0.0], atol=1e-12)
    np.testing.assert_allclose(new_v, [5.0 + VEH.max_accel * DT, 5.0 - VEH.max_brake * DT, 5.0], atol=1e-12)
    # partial commands scale linearly
    _, _, accel = actuate_batch(np.array([[0.0, 0.5], [0.0, -0.25]]), np.zeros(2), np.array([5.0, 5.0]), VEH, DT)
    np.testing.assert_allclose(accel, [0.5 * VEH.max_accel, -0.25 * VEH.max_brake], atol=1e-12)


def test_speed_clipped_at_max_speed():
    v, steer = np.array([VEH.max_speed - 0.1]), np.zeros(1)
    for _ in range(100):
        steer, v, accel = actuate_batch(np.array([[0.0, 1.0]]), steer, v, VEH, DT)
        assert v[0] <= VEH.max_speed
    assert v[0] == VEH.max_speed
    assert accel[0] == 0.0  # the applied acceleration reports the clipped change


def test_braking_never_reverses():
    v, steer = np.array([1.0]), np.zeros(1)
    speeds = []
    for _ in range(20):
        steer, v, accel = actuate_batch(np.array([[0.0, -1.0]]), steer, v, VEH, DT)
        speeds.append(v[0])
    assert min(speeds) == 0.0 and all(s >= 0.0 for s in speeds)
    assert accel[0] == 0.0
    # the pose does not move backwards either
    state = bicycle_step(_state(x=2.0), v, steer, VEH.wheelbase, DT)
    assert state.x[0] == 2.0


def test_steering_rate_limited():
    steer, v = np.zeros(1), np.zeros(1)
    max_delta = VEH.max_steer_rate * DT
    history = [0.0]
    for _ in range(30):
        steer, v, _ = actuate_batch(np.array([[1.0, 0.0]]), steer, v, VEH, DT)
        history.append(steer[0])
    steps = np.diff(history)
    assert np.all(steps <= max_delta + 1e-12)
    assert steps[0] == pytest.approx(max_delta)
    assert history[-1] == pytest.approx(VEH.max_steer)  # reaches the commanded angle and stays
    assert max(history) <= VEH.max_steer + 1e-12
    # full reversal also obeys the rate limit
    steer, _, _ = actuate_batch(np.array([[-1.0, 0.0]]), steer, v, VEH, DT)
    assert steer[0] == pytest.approx(VEH.max_steer - max_delta)


def test_small_steering_command_reached_in_one_step():
    steer, _, _ = actuate_batch(np.array([[0.1, 0.0]]), np.zeros(1), np.zeros(1), VEH, DT)
    assert 0.1 * VEH.max_steer < VEH.max_steer_rate * DT
    assert steer[0] == pytest.approx(0.1 * VEH.max_steer)
