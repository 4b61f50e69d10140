import numpy as np

from drivesim.agents.vec_env import SB3VecEnv

SMALL = {"map": {"blocks_x": 2, "blocks_y": 2, "pool_size": 1}}


def test_sb3_vecenv_resets_in_the_same_step_with_terminal_observation():
    env = SB3VecEnv(3, max_episode_steps=4, seed=5, **SMALL)
    obs = env.reset()
    assert obs["state"].shape == (3, 16)
    for _ in range(4):
        obs, reward, done, infos = env.step(np.zeros((3, 2), dtype=np.float32))
    assert done.all() and reward.dtype == np.float32
    assert all(info["TimeLimit.truncated"] for info in infos)
    assert infos[0]["terminal_observation"]["state"].shape == (16,)
    # the returned observation is already the first of the next episode: route completion 0
    assert np.allclose(obs["state"][:, -1], 0.0)


def test_sb3_ppo_learns_a_few_steps():
    from stable_baselines3 import PPO

    env = SB3VecEnv(2, seed=0, **SMALL)
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=32, n_epochs=1, device="cpu", verbose=0)
    model.learn(total_timesteps=64)
    action, _ = model.predict(env.reset(), deterministic=True)
    assert action.shape == (2, 2)
