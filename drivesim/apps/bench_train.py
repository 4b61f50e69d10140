"""`drivesim bench --train`: env-steps per second of PPO training as `drivesim train` runs it, PPO
updates included, with oracle features (ground-truth objects) and with the perception CNN in the
loop (the camera rendered, the CNN run once per step for the whole batch); with the imitation
anchor when the config has one (the default: the expert labels every visited state).

One rollout is run first (compiling, warming the caches), then whole rollouts + updates are timed
for at least `seconds`. Measure with this, never with timed tests.
"""

from __future__ import annotations

import time
from dataclasses import replace

from drivesim.agents.ppo import PPOConfig, expert_anchor, make_env, new_model, training_scenarios, with_reward


def bench_training(obs: str, seconds: float, cfg: PPOConfig | None = None) -> float:
    """Env-steps/s of PPO learning (rollouts and updates) with `obs` features over the whole suite."""
    import tempfile

    cfg = replace(cfg or PPOConfig(), obs=obs)
    with tempfile.TemporaryDirectory(prefix="drivesim-bench-train-") as out:
        cfg = replace(cfg, out=out)
        env = make_env(cfg, with_reward(training_scenarios(cfg.scenarios), cfg.reward, cfg.reward_mode))
        model = new_model(cfg, env, None)
        anchor = expert_anchor(cfg, env)  # as drivesim train runs it
        rollout = cfg.n_steps * env.num_envs
        model.learn(rollout, callback=anchor)  # warm-up: compile, caches, first update
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or steps == 0:
            model.learn(rollout, reset_num_timesteps=False, callback=anchor)
            steps += rollout
        elapsed = time.perf_counter() - start
        env.close()
    return steps / elapsed

