"""The `signal` observation: how long the light at the next stop line has shown its colour and how
long until it changes."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from drivesim.actors.signals import Light
from drivesim.agent import ExpertAgent
from drivesim.config import EnvConfig, MapConfig, TrafficConfig
from drivesim.sensors.signal import SIGNAL_DIM, SIGNAL_SCALE
from drivesim.sensors.state import STATE_FIELDS
from drivesim.world import World

SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)
LIGHT = slice(STATE_FIELDS.index("light_none"), STATE_FIELDS.index("light_red") + 1)  # one-hot NONE, GREEN, YELLOW, RED
TRAFFIC = TrafficConfig()
DURATION = {Light.GREEN: TRAFFIC.green_time, Light.YELLOW: TRAFFIC.yellow_time,  # [s] each colour's length
            Light.RED: TRAFFIC.green_time + TRAFFIC.yellow_time + 2 * TRAFFIC.all_red_time}


def _signalised_world(n: int) -> World:
    """n worlds whose first stop line on the route has a light."""
    world = World(EnvConfig(map=SMALL, observations=("state", "signal")), n)
    seeds = np.arange(200)
    for start in range(0, 200, n):
        world.reset(seeds[start:start + n], np.zeros(n))
        if (world.observe()[0]["state"][:, LIGHT][:, 0] == 0).all():
            return world
    raise AssertionError("no seeds with a signalised first junction")


@pytest.mark.parametrize(("colour", "elapsed"), [(Light.GREEN, 0.5), (Light.GREEN, 11.0), (Light.YELLOW, 1.0),
                                                 (Light.RED, 0.25), (Light.RED, 17.0)])
def test_signal_reads_a_hand_set_phase(colour, elapsed):
    world = _signalised_world(2)
    w, t = 1, world.time[1]
    road = world.state.route_lanes[w, world.state.route["i"][w]]  # the car starts on a road lane
    lane = world.maps.kernel.lanes[world.map_idx[w], road]
    cycle = 2 * (TRAFFIC.green_time + TRAFFIC.yellow_time + TRAFFIC.all_red_time)
    start = {Light.GREEN: 0.0, Light.YELLOW: TRAFFIC.green_time, Light.RED: TRAFFIC.green_time + TRAFFIC.yellow_time}
    tau = start[colour] + elapsed  # [s] the phase time wanted: (t + offset - axis * cycle / 2) mod cycle
    world.state.signal_offset[w, lane["node"]] = tau - t + lane["axis"] * cycle / 2
    world.state.lights[w, road] = colour
    signal = world.observe()[0]["signal"]
    assert signal.shape == (2, SIGNAL_DIM) and signal.dtype == np.float32
    left = DURATION[colour] - elapsed
    np.testing.assert_allclose(signal[w], [elapsed / SIGNAL_SCALE, left / SIGNAL_SCALE], atol=1e-5)


def test_signal_is_zero_without_a_light_and_counts_through_the_phases():
    world = World(EnvConfig(map=SMALL, observations=("state", "signal")), 8)
    world.reset(np.arange(8) + 3, np.zeros(8))
    agent, dt = ExpertAgent(), world.shared.dt
    previous = None
    changes = continued = 0
    for _ in range(400):
        obs, _ = world.observe()
        light, signal = obs["state"][:, LIGHT].argmax(axis=1), obs["signal"] * SIGNAL_SCALE
        assert ((obs["signal"] >= 0) & (obs["signal"] <= 1)).all()
        assert (signal[light == Light.NONE] == 0).all()
        for colour, duration in DURATION.items():  # elapsed + left = the colour's length
            np.testing.assert_allclose(signal[light == colour].sum(axis=1), duration, atol=1e-3)
        if previous is not None:
            counting = np.abs(signal[:, 0] - previous[1][:, 0] - dt) < 1e-3
            continued += int(((light == previous[0]) & (light != Light.NONE) & counting).sum())
            changed = (light != previous[0]) & (previous[0] != Light.NONE) & (light != Light.NONE)
            # a colour that changed at this line starts its count (a new line may show any count)
            fresh = changed & (np.abs(signal[:, 0]) <= dt + 1e-3)
            changes += int(fresh.sum())
        previous = (light, signal)
        world.step(agent.act(world))
    assert continued > 1000 and changes >= 3


def test_env_with_signal_observation_passes_check_env():
    env = gym.make("drivesim/CityDrive-v0", observations=("state", "signal"), map={"blocks_x": 2, "blocks_y": 2})
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=5)
    assert env.observation_space["signal"].contains(obs["signal"])
