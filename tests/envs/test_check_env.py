import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import drivesim
from drivesim.envs.city_drive import CityDriveEnv

SMALL = {"map": {"blocks_x": 2, "blocks_y": 2, "pool_size": 2}}


@pytest.mark.parametrize("observations", [("camera", "lidar", "state"), ("lidar", "state"), ("state",), ("camera",),
                                          ("state", "route", "clock", "junction", "signal", "stopping")])
def test_gymnasium_check_env(observations):
    env = gym.make(drivesim.ENV_ID, observations=observations, **SMALL)
    check_env(env.unwrapped, skip_render_check=True)


def test_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(CityDriveEnv(**SMALL), warn=True)


def test_registered_with_time_limit():
    spec = gym.spec(drivesim.ENV_ID)
    assert spec.max_episode_steps == drivesim.MAX_EPISODE_STEPS
    assert spec.vector_entry_point is not None


def test_make_vec_vector_entry_point_autoresets():
    env = gym.make_vec(drivesim.ENV_ID, num_envs=8, vectorization_mode="vector_entry_point",
                       max_episode_steps=5, **SMALL)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = env.reset(seed=3)
    assert obs["state"].shape == (8, 16) and obs["lidar"].shape == (8, 64) and obs["camera"].shape == (8, 96, 96, 3)
    actions = np.zeros((8, 2), dtype=np.float32)
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(actions)
    assert truncated.all() and not terminated.any()
    obs, reward, terminated, truncated, info = env.step(actions)
    assert (reward == 0).all() and not (terminated | truncated).any()
    assert (info["time"] == 0).all()  # the step after the end starts the next episode
    assert env.observation_space.contains(obs)


def test_same_step_autoreset_reports_final_obs():
    from drivesim.envs.vector import CityDriveVectorEnv

    env = CityDriveVectorEnv(4, autoreset_mode=AutoresetMode.SAME_STEP, max_episode_steps=3, **SMALL)
    env.reset(seed=0)
    for _ in range(3):
        obs, _, _, truncated, info = env.step(np.zeros((4, 2)))
    assert truncated.all() and info["_final_obs"].all()
    assert (info["time"] == 0).all()  # already restarted
    assert info["final_info"]["time"][0] == pytest.approx(0.3)
