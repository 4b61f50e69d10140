"""The `stopping` observation: the braking a stop at the next stop line needs, as shares of
comfortable and of full braking."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from drivesim.actors.autopilot import AutopilotConfig
from drivesim.config import EnvConfig, MapConfig, VehicleConfig
from drivesim.sensors.stopping import COMFORT_BRAKE, STOPPING_DIM, needed_braking
from drivesim.world import World

SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)


def test_comfortable_braking_is_the_autopilots_yellow_light_boundary():
    assert AutopilotConfig().decel == COMFORT_BRAKE


@pytest.mark.parametrize(("v", "d", "need"), [(6.0, 6.0, 3.0), (10.0, 25.0, 2.0), (0.0, 3.0, 0.0), (4.0, math.inf, 0.0),
                                               (2.0, 0.0, math.inf), (2.0, -1.0, math.inf), (0.0, -1.0, 0.0)])
def test_needed_braking_by_hand(v, d, need):
    assert needed_braking.py_func(v, d) == need  # an inner kernel has no CPython wrapper: its Python source


def test_stopping_reads_hand_set_speeds_against_the_stop_line_distance():
    speeds = np.array([0.0, 2.0, 5.0, 9.0, 14.0])
    world = World(EnvConfig(map=SMALL, observations=("state", "stopping")), len(speeds))
    world.reset(np.arange(len(speeds)) + 11, np.zeros(len(speeds)))
    rows = np.arange(len(speeds))
    world.state.cars["v"][rows, world.state.ego["car"]] = speeds
    d, _ = world.route.next_stop_line()  # [m] from the front bumper
    assert np.isfinite(d).all() and (d > 1.0).all()
    stopping = world.observe()[0]["stopping"]
    assert stopping.shape == (len(speeds), STOPPING_DIM) and stopping.dtype == np.float32
    need = speeds**2 / (2 * d)  # [m/s^2]
    np.testing.assert_allclose(stopping[:, 0], np.minimum(need / COMFORT_BRAKE / 2, 1.0), rtol=1e-5)
    np.testing.assert_allclose(stopping[:, 1], np.minimum(need / VehicleConfig().max_brake, 1.0), rtol=1e-5)
    assert stopping[0].tolist() == [0.0, 0.0]  # standing: no braking needed


def test_stopping_rises_towards_a_line_the_car_cannot_stop_for():
    world = World(EnvConfig(map=SMALL, observations=("state", "stopping")), 1)
    world.reset(np.array([11]), np.zeros(1))
    car = world.state.ego["car"][0]
    d, _ = world.route.next_stop_line()
    world.state.cars["v"][0, car] = math.sqrt(2 * COMFORT_BRAKE * d[0])  # just comfortable
    np.testing.assert_allclose(world.observe()[0]["stopping"][0], [0.5, COMFORT_BRAKE / VehicleConfig().max_brake],
                               rtol=1e-5)
    world.state.cars["v"][0, car] = math.sqrt(2 * 2 * VehicleConfig().max_brake * d[0])  # twice full braking
    assert world.observe()[0]["stopping"][0].tolist() == [1.0, 1.0]


def test_env_with_stopping_observation_passes_check_env():
    env = gym.make("drivesim/CityDrive-v0", observations=("state", "stopping"), map={"blocks_x": 2, "blocks_y": 2})
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=5)
    assert env.observation_space["stopping"].contains(obs["stopping"])
