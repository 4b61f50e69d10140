import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from drivesim.agent import ExpertAgent
from drivesim.config import EnvConfig, MapConfig
from drivesim.envs.vector import CityDriveVectorEnv
from drivesim.sensors.clock import CLOCK_DIM
from drivesim.world import World

SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)


def test_clock_reads_the_time_left_of_hand_set_states():
    world = World(EnvConfig(map=SMALL, observations=("clock",), max_episode_steps=400, stuck_time=45.0), 3)
    world.reset(np.arange(3), np.zeros(3))
    stuck = int(world.params.world["stuck_steps"][0])  # 45 s at dt 0.1 s
    assert stuck == 450 and (world.observe()[0]["clock"] == 1.0).all()  # a new episode has all its time
    world.state.clock["t"] = [100, 300, 399]
    world.state.route["last_progress_t"] = [100, 75, 0]
    clock = world.observe()[0]["clock"]
    assert clock.shape == (3, CLOCK_DIM) and clock.dtype == np.float32
    np.testing.assert_allclose(clock[:, 0], [0.75, 0.25, 1 / 400], rtol=1e-6)
    np.testing.assert_allclose(clock[:, 1], [1.0, 1 - 225 / 450, 1 - 399 / 450], rtol=1e-6)
    world.state.clock["t"] = [1000, 1000, 1000]  # past both limits: clipped to 0, never negative
    assert (world.observe()[0]["clock"] == 0.0).all()


def test_clock_runs_down_while_driving_and_restarts_with_the_episode():
    config = EnvConfig(map=SMALL, observations=("state", "clock"), max_episode_steps=30)
    env = CityDriveVectorEnv(num_envs=2, config=config, autoreset_mode=AutoresetMode.SAME_STEP)
    obs, _ = env.reset(seed=4)
    expert = ExpertAgent()
    for t in range(1, 31):
        obs, _, terminated, truncated, info = env.step(expert.act(env.world))
        if t < 30:
            np.testing.assert_allclose(obs["clock"][:, 0], 1 - t / 30, atol=1e-6)
            assert (obs["clock"][:, 1] > 1 - 10 / 450).all()  # the expert makes progress: the stuck timer restarts
    assert truncated.all()
    assert (info["final_obs"]["clock"][:, 0] == 0.0).all()  # the final observation: no time left
    assert (obs["clock"][:, 0] == 1.0).all()  # the autoreset episode starts with its whole time


def test_env_with_clock_observation_passes_check_env():
    env = gym.make("drivesim/CityDrive-v0", observations=("state", "clock"), map={"blocks_x": 2, "blocks_y": 2})
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=1)
    assert env.observation_space["clock"].contains(obs["clock"])
