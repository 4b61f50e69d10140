import numpy as np
import pytest

from drivesim.envs.city_drive import CityDriveEnv
from drivesim.envs.vector import CityDriveVectorEnv

SMALL = {"map": {"blocks_x": 3, "blocks_y": 3, "pool_size": 2}, "max_episode_steps": 60}


def _actions(n_steps: int, batch: int, seed: int = 123) -> np.ndarray:
    a = np.random.default_rng(seed).uniform(-1, 1, size=(n_steps, batch, 2))
    a[..., 1] = np.abs(a[..., 1])  # drive forward so the ego meets traffic
    return a.astype(np.float32)


def _flatten(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = np.asarray(v)
    return out


def _rollout_vector(batch: int, seed: int, actions: np.ndarray, **extra):
    env = CityDriveVectorEnv(batch, **SMALL, **extra)
    obs, _ = env.reset(seed=seed)
    frames = [(_flatten(obs), None, None, None)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        frames.append((_flatten(obs), reward.copy(), (terminated | truncated).copy(), _flatten(info)))
    return frames


def test_same_seed_same_rollout_bit_identical():
    actions = _actions(130, 4)  # spans an autoreset (max_episode_steps=60)
    a, b = _rollout_vector(4, 7, actions), _rollout_vector(4, 7, actions)
    for fa, fb in zip(a, b):
        for key in fa[0]:
            assert np.array_equal(fa[0][key], fb[0][key]), key
        if fa[1] is not None:
            assert np.array_equal(fa[1], fb[1])
            for key in fa[3]:
                assert np.array_equal(fa[3][key], fb[3][key]), key


def test_different_seeds_differ():
    actions = _actions(5, 2)
    a, b = _rollout_vector(2, 1, actions), _rollout_vector(2, 2, actions)
    assert not np.array_equal(a[-1][0]["state"], b[-1][0]["state"])


def _assert_single_env_equals_row(env: CityDriveEnv, seed: int, row: int, actions: np.ndarray, frames: list) -> None:
    """A single env seeded `seed` reproduces row `row` of a batched rollout bit for bit, across
    the NEXT_STEP autoreset (the single env resets without a seed: its next episode)."""
    obs, _ = env.reset(seed=seed)
    for key, value in _flatten(obs).items():
        assert np.array_equal(value, frames[0][0][key][row]), (row, key)
    needs_reset = False
    for t, a in enumerate(actions, start=1):
        if needs_reset:
            obs, _ = env.reset()
            reward, done = 0.0, False
        else:
            obs, reward, terminated, truncated, info = env.step(a[row].astype(np.float32))
            done = terminated or truncated
            for key, value in _flatten(info).items():
                assert np.array_equal(np.asarray(value), frames[t][3][key][row]), (row, t, key)
        needs_reset = done
        for key, value in _flatten(obs).items():
            assert np.array_equal(value, frames[t][0][key][row]), (row, t, key)
        assert reward == frames[t][1][row]
        assert done == frames[t][2][row]


@pytest.mark.parametrize("row", [0, 2])
def test_single_env_matches_row_of_batch(row):
    """World `row` of a batch seeded s behaves exactly like a single env seeded s + row."""
    batch, seed = 3, 11
    actions = _actions(130, batch)
    _assert_single_env_equals_row(CityDriveEnv(**SMALL), seed + row, row, actions, _rollout_vector(batch, seed, actions))


def test_history_frames_are_deterministic_per_world():
    """The camera's history frame (the actors' trail) is per world state too: a single env equals its
    row of the batch, across the autoreset that refills the trail."""
    batch, seed, history = 3, 4, {"camera": {"history": 5}}
    actions = _actions(75, batch)
    frames = _rollout_vector(batch, seed, actions, **history)
    assert "camera_history" in frames[-1][0]
    _assert_single_env_equals_row(CityDriveEnv(**SMALL, **history), seed + 1, 1, actions, frames)


def test_batch_size_does_not_change_a_world():
    actions = _actions(40, 8)
    small = _rollout_vector(2, 5, actions[:, :2])
    large = _rollout_vector(8, 5, actions)
    for fs, fl in zip(small, large):
        for key in fs[0]:
            assert np.array_equal(fs[0][key], fl[0][key][:2]), key


def test_mixed_scenario_batch_rows_equal_single_envs():
    """One batch of different scenarios (different maps, traffic, scripted events, time limits):
    every row equals a single env of that row's scenario and seed, bit for bit, across autoresets."""
    from drivesim.scenarios.loader import load_scenario

    names = ["red_light", "long_route", "jaywalker", "lead_car_brakes", "busy_intersection"]
    configs = [load_scenario(n).config.replace(observations=("lidar", "state"), max_episode_steps=45 + 10 * i)
               for i, n in enumerate(names)]
    seeds = [31, 7, 1234, 5, 99]
    actions = _actions(110, len(names))
    env = CityDriveVectorEnv(configs=configs)
    obs, _ = env.reset(seed=seeds)
    frames = [(_flatten(obs), None, None, None)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        frames.append((_flatten(obs), reward.copy(), (terminated | truncated).copy(), _flatten(info)))
    for row, (config, seed) in enumerate(zip(configs, seeds, strict=True)):
        _assert_single_env_equals_row(CityDriveEnv(config), seed, row, actions, frames)
