"""Seeded multi-episode soak: random and autopilot driving through many resets, no NaN anywhere."""

import numpy as np

from agents.expert import ExpertAgent
from drivesim.envs.vector import CityDriveVectorEnv


def _finite(tree) -> bool:
    if isinstance(tree, dict):
        return all(_finite(v) for v in tree.values())
    arr = np.asarray(tree)
    return not np.issubdtype(arr.dtype, np.floating) or bool(np.isfinite(arr).all())


def test_random_actions_soak_no_nan_and_spaces_hold():
    env = CityDriveVectorEnv(8, max_episode_steps=80, map={"blocks_x": 3, "blocks_y": 3, "pool_size": 3})
    obs, info = env.reset(seed=2024)
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(400):
        actions = rng.uniform(-1.2, 1.2, size=(8, 2)).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(actions)
        assert _finite(obs) and _finite(info) and np.isfinite(reward).all()
        assert env.observation_space.contains(obs)
        episodes += int((terminated | truncated).sum())
    assert episodes >= 30  # many autoresets happened


def test_autopilot_soak_reaches_goals_without_nan():
    env = CityDriveVectorEnv(6, observations=("state",), max_episode_steps=1000)
    env.reset(seed=77)
    agent = ExpertAgent()
    goals = 0
    for _ in range(900):
        obs, reward, terminated, truncated, info = env.step(agent.act(env.world))
        assert _finite(obs) and np.isfinite(reward).all()
        goals += int(info["events"]["goal"].sum())
    assert goals >= 4
