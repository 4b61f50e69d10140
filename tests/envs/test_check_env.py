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


def test_same_step_autoreset_redraws_the_restarted_worlds_only_and_keeps_their_final_frames():
    """Worlds with different time limits end at different steps; the restarted ones are redrawn in
    the step's own arrays (no copy of the batch), so the final observation must hold the ended
    worlds' last frames and labels (zero elsewhere) and the others' observation must be what an
    env that did not restart anything sees."""
    from drivesim.config import EnvConfig
    from drivesim.envs.vector import CityDriveVectorEnv

    base = EnvConfig(observations=("camera", "state"), camera_labels=True, **SMALL)
    configs = [base.replace(max_episode_steps=n) for n in (3, 50, 3, 50)]
    env = CityDriveVectorEnv(configs=configs, autoreset_mode=AutoresetMode.SAME_STEP)
    plain = CityDriveVectorEnv(configs=configs)  # NEXT_STEP: the ended worlds' last frames are the step's own
    env.reset(seed=7), plain.reset(seed=7)
    for _ in range(3):
        obs, _, _, truncated, info = env.step(np.zeros((4, 2)))
        want, _, _, _, want_info = plain.step(np.zeros((4, 2)))
    assert truncated.tolist() == [True, False, True, False]
    final, labels = info["final_obs"], info["final_info"]["camera_labels"]
    np.testing.assert_array_equal(final["camera"][[0, 2]], want["camera"][[0, 2]])
    np.testing.assert_array_equal(labels["position"][[0, 2]], want_info["camera_labels"]["position"][[0, 2]])
    assert not final["camera"][[1, 3]].any() and not labels["visible"][[1, 3]].any()
    np.testing.assert_array_equal(obs["camera"][[1, 3]], want["camera"][[1, 3]])
    np.testing.assert_array_equal(info["camera_labels"]["position"][[1, 3]],
                                  want_info["camera_labels"]["position"][[1, 3]])
    assert not np.array_equal(obs["camera"][0], final["camera"][0])  # world 0 restarted: a new city view
