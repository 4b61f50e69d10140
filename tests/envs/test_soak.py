"""Seeded multi-episode soak: random and autopilot driving through many resets, no NaN anywhere."""

import os

import numpy as np
import pytest

from drivesim.agent import ExpertAgent
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


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["random", "expert"])
def test_million_steps_of_the_mixed_suite(driver):
    """1M env-steps of one B=256 batch mixing every scenario of the suite: no NaN, no crash, and
    memory that stays flat after the warm-up."""
    from drivesim.scenarios.loader import list_scenarios

    suite = [s.config.replace(observations=("lidar", "state")) for s in list_scenarios()]
    env = CityDriveVectorEnv(configs=[suite[i % len(suite)] for i in range(256)])
    env.reset(seed=4242)
    agent, rng = ExpertAgent(), np.random.default_rng(1)
    episodes, rss = 0, []
    for step in range(1_000_000 // 256):
        actions = rng.uniform(-1.2, 1.2, size=(256, 2)) if driver == "random" else agent.act(env.world)
        obs, reward, terminated, truncated, info = env.step(actions)
        if step % 50 == 0:
            assert _finite(obs) and _finite(info) and np.isfinite(reward).all(), f"non-finite values at step {step}"
        episodes += int((terminated | truncated).sum())
        if step in (500, 3900):
            rss.append(_rss_mb())
    assert episodes > 100
    assert rss[1] - rss[0] < 64, f"memory grew from {rss[0]:.0f} to {rss[1]:.0f} MiB"
