"""`drivesim train` smoke runs (tiny budgets) for each observation mode, resume, evaluate."""

import subprocess
import sys

import numpy as np
import pytest

from drivesim.agents.features_env import FeatureVecEnv


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.parametrize("obs", ["perception", "oracle", "pixels"])
def test_train_smoke_writes_a_loadable_policy(tmp_path, obs):
    out = _cli("train", "--obs", obs, "--total-steps", "512", "--n-envs", "2", "--n-steps", "128", "--out",
               str(tmp_path / obs), "--no-progress", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    from stable_baselines3 import PPO

    model = PPO.load(tmp_path / obs / "model.zip", device="cpu")
    assert model.num_timesteps >= 512
    from dataclasses import replace

    from drivesim.agents.policy import PolicyAgent
    from drivesim.evaluation import run_scenario
    from drivesim.scenarios.loader import load_scenario

    agent = PolicyAgent.load(str(tmp_path / obs / "model.zip"), device="cpu")  # the evaluate --agent ppo:PATH path
    scenario = load_scenario("red_light")
    records = run_scenario(agent, replace(scenario, config=scenario.config.replace(max_episode_steps=20)), episodes=2)
    assert len(records) == 2


def test_resume_continues_the_step_count_and_evaluate_loads_it(tmp_path):
    """A resumed run keeps the checkpoint's PPO settings except those passed with --resume, and its
    config.json records the ones it ran with."""
    import json

    run = tmp_path / "run"
    assert _cli("train", "--obs", "oracle", "--total-steps", "256", "--n-envs", "2", "--n-steps", "128", "--out",
                str(run), "--no-progress", "--device", "cpu", "--gamma", "0.99").returncode == 0
    out = _cli("train", "--obs", "oracle", "--total-steps", "256", "--n-envs", "2", "--n-steps", "128", "--out",
               str(run), "--no-progress", "--device", "cpu", "--resume", str(run / "model.zip"),
               "--learning-rate", "3e-4", "--n-epochs", "2")
    assert out.returncode == 0, out.stderr
    from stable_baselines3 import PPO

    model = PPO.load(run / "model.zip", device="cpu")
    assert model.num_timesteps >= 512
    assert (model.gamma, model.learning_rate, model.n_epochs) == (0.99, 3e-4, 2)
    config = json.loads((run / "config.json").read_text())
    assert (config["gamma"], config["learning_rate"], config["n_epochs"]) == (0.99, 3e-4, 2)
    assert config["update_precision"] in ("bf16", "fp32") and config["batch_size"] == model.batch_size == 256
    fixed = _cli("train", "--obs", "oracle", "--total-steps", "256", "--n-envs", "2", "--out", str(run),
                 "--no-progress", "--device", "cpu", "--resume", str(run / "model.zip"), "--net-arch", "32,32")
    assert fixed.returncode != 0 and "--net-arch cannot change on resume" in fixed.stderr
    ev = _cli("evaluate", "--agent", f"ppo:{run / 'model.zip'}", "--scenarios", "red_light", "--episodes", "1",
              "--out", str(tmp_path / "eval"))
    assert ev.returncode == 0, ev.stderr
    bad = _cli("train", "--obs", "pixels", "--total-steps", "128", "--n-envs", "2", "--n-steps", "64", "--out",
               str(tmp_path / "px"), "--no-progress", "--device", "cpu", "--resume", str(run / "model.zip"))
    assert bad.returncode != 0 and "trained on observations" in bad.stderr


def test_curriculum_imitation_and_periodic_evaluation_write_the_run_folder(tmp_path):
    run = tmp_path / "run"
    out = _cli("train", "--obs", "oracle", "--scenarios", "red_light,jaywalker", "--curriculum", "--total-steps", "512",
               "--n-envs", "2", "--n-steps", "64", "--bc-steps", "256", "--eval-every", "256", "--eval-episodes", "1",
               "--finetune-log-std", "-2.5", "--out", str(run), "--no-progress", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "BC round 7: expert share 0.00" in out.stdout and "eval at 0 steps" in out.stdout  # 8 rounds by default
    from stable_baselines3 import PPO

    cloned = PPO.load(run / "bc_model.zip", device="cpu")  # PPO starts from the cloned mean with this std
    assert np.allclose(cloned.policy.log_std.detach().numpy(), [-3.0, -2.5])  # the steering's own default
    for name in ("bc_model.zip", "best_model.zip", "model.zip", "imitation.json", "training_curve.png",
                 "ppo_0.monitor.csv", "ppo_1.monitor.csv"):  # curriculum: one monitor file per stage
        assert (run / name).is_file(), name
    rows = (run / "eval.csv").read_text().splitlines()
    assert rows[0].startswith("steps,") and len(rows) >= 3  # after cloning + at least two during PPO


def test_feature_env_terminal_observation_is_a_feature_vector():
    env = FeatureVecEnv(2, "oracle", seed=0, max_episode_steps=3, map={"blocks_x": 2, "blocks_y": 2, "pool_size": 1})
    obs = env.reset()
    for _ in range(3):
        obs, reward, done, infos = env.step(np.zeros((2, 2), dtype=np.float32))
    assert done.all() and infos[0]["terminal_observation"].shape == obs.shape[1:]


def test_sigterm_saves_the_model_and_exits_cleanly(tmp_path):
    import signal
    import time

    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "drivesim.apps.cli", "train", "--obs", "oracle", "--n-envs", "2",
                             "--n-steps", "64", "--total-steps", "1000000", "--out", str(run), "--no-progress",
                             "--device", "cpu", "--bc-steps", "0", "--eval-every", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "tb").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3.0)  # let it learn a little
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "interrupted" in out and (run / "model.zip").exists()


def test_perception_extractor_starts_from_the_shipped_cnn_and_fine_tunes_it(tmp_path):
    import gymnasium as gym
    import torch

    from drivesim.agents.extractor import PerceptionExtractor
    from drivesim.perception.detector import shipped_weights
    from drivesim.perception.train import load_checkpoint

    space = gym.spaces.Dict({"camera": gym.spaces.Box(0, 255, (3, 96, 96), np.uint8),
                             "camera_history": gym.spaces.Box(0, 255, (3, 96, 96), np.uint8),
                             "state": gym.spaces.Box(-1, 1, (16,), np.float32)})
    extractor = PerceptionExtractor(space, hidden=64)
    shipped, _ = load_checkpoint(shipped_weights())
    first = extractor.net.stem[0].weight
    assert torch.equal(first, shipped.stem[0].weight)
    out = extractor({"camera": torch.rand(2, 3, 96, 96), "camera_history": torch.rand(2, 3, 96, 96),
                     "state": torch.zeros(2, 16)})
    assert out.shape == (2, 64 + 16) and extractor.features_dim == 80
    out.sum().backward()
    assert first.grad is not None and first.grad.abs().sum() > 0  # gradients reach the perception backbone
    run = tmp_path / "run"
    cli = _cli("train", "--obs", "pixels", "--extractor", "perception", "--total-steps", "128", "--n-envs", "2",
               "--n-steps", "64", "--bc-steps", "64", "--out", str(run), "--no-progress", "--device", "cpu")
    assert cli.returncode == 0, cli.stderr
    from stable_baselines3 import PPO

    assert type(PPO.load(run / "model.zip", device="cpu").policy.features_extractor).__name__ == "PerceptionExtractor"


@pytest.mark.parametrize("item, message", [("bogus=3", "unknown key 'bogus'"), ("collision", "expected TERM=WEIGHT"),
                                           ("collision=-1", "collision")])
def test_reward_overrides_are_validated(tmp_path, item, message):
    out = _cli("train", "--reward", item, "--total-steps", "64", "--n-envs", "2", "--out", str(tmp_path / "r"),
               "--no-progress", "--device", "cpu")
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_reward_overrides_reach_every_training_scenario():
    from drivesim.agents.ppo import training_scenarios, with_reward

    scenarios = with_reward(training_scenarios("red_light,jaywalker"), (("collision", 30.0), ("stuck", 1.0)))
    assert all(c.reward.collision == 30.0 and c.reward.stuck == 1.0 for _, c in scenarios)


def test_carl_reward_mode_reaches_training_and_trains(tmp_path):
    """`--reward-mode carl`: every training world gets the CaRL-style reward; a tiny run trains, and
    the training rewards are route fractions (|r| <= the terminal penalty), not metres x weights."""
    from drivesim.agents.features_env import SuiteVecEnv
    from drivesim.agents.ppo import PPOConfig, make_env, training_scenarios, with_reward

    scenarios = with_reward(training_scenarios("red_light,jaywalker"), (("carl_terminal", 2.0),), "carl")
    assert all(c.reward.mode == "carl" and c.reward.carl_terminal == 2.0 for _, c in scenarios)
    env = make_env(PPOConfig(obs="oracle", n_envs=2, reward_mode="carl"), scenarios)
    assert isinstance(env, SuiteVecEnv)
    env.reset()
    rewards = np.concatenate([env.step(np.tile([0.0, 0.6], (2, 1)))[1] for _ in range(30)])
    assert np.all(np.abs(rewards) <= 2.0) and rewards.max() < 0.05  # a step gains a small fraction of the route
    env.close()
    out = _cli("train", "--obs", "oracle", "--reward-mode", "carl", "--total-steps", "256", "--n-envs", "2",
               "--n-steps", "128", "--bc-steps", "0", "--eval-every", "0", "--out", str(tmp_path / "carl"),
               "--no-progress", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "carl" / "model.zip").is_file()


def _anchored_model(suite, **kwargs):
    from drivesim.agents.anchor import AnchoredPPO

    kwargs = {"n_steps": 32, "batch_size": 64, "n_epochs": 2, "device": "cpu", "seed": 0,
              "policy_kwargs": {"net_arch": [32, 32]}} | kwargs
    return AnchoredPPO("MlpPolicy", suite, **kwargs)


def _free_cruise(worlds: int = 4):
    from drivesim.agents.features_env import Group, SuiteVecEnv
    from drivesim.scenarios.loader import load_scenario

    return SuiteVecEnv([Group(load_scenario("free_cruise").config, worlds, "free_cruise")], "oracle", seed=3)


def test_anchored_ppo_update_is_ppo_plus_the_imitation_term():
    """With a negligible anchor weight AnchoredPPO's own update moves the weights as SB3's PPO update
    does (same rollout, optimizer state and minibatch order), so the only difference is the term."""
    import copy

    import torch
    from stable_baselines3 import PPO

    suite = _free_cruise()
    model = _anchored_model(suite, learning_rate=3e-4)
    model.learn(32 * 4)  # one rollout and SB3's update; the buffer keeps the rollout
    before = copy.deepcopy(model.policy.state_dict()), copy.deepcopy(model.policy.optimizer.state_dict())
    model.anchor_data = (torch.zeros(32 * 4, 2), None)  # one expert action per state in the buffer
    model.anchor_weight = 1e-12
    np.random.seed(7)
    model.train()
    ours = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.policy.load_state_dict(before[0])
    model.policy.optimizer.load_state_dict(before[1])
    np.random.seed(7)
    PPO.train(model)
    for key, value in model.policy.state_dict().items():
        assert torch.allclose(ours[key], value, atol=1e-6), key
    assert any(not torch.equal(before[0][k], v) for k, v in ours.items())  # and it did move


def test_expert_anchor_pulls_the_actor_towards_the_expert():
    """The anchor records the expert's action for every state of a rollout, in the rollout buffer's
    order (the ego speed it records with them is the one in the buffer's observations), and hands
    them to the update that follows, weighted coef * decay^k; that update (the same rollout,
    optimizer state and minibatch order) brings the actor's mean nearer the expert's actions the
    larger the weight. Weight 0 records nothing."""
    import copy

    import torch

    from drivesim.agents.anchor import ExpertAnchor
    from drivesim.agents.imitation import actor_mean

    suite = _free_cruise()
    model = _anchored_model(suite, learning_rate=1e-3, n_epochs=10)
    anchor = ExpertAnchor(suite, coef=2.0, decay=0.5)
    model.learn(32 * 4 * 2, callback=anchor)
    assert anchor.rollouts == 2 and np.isfinite(model.anchor_mse) and model.anchor_weight == pytest.approx(1.0)
    expert, _ = model.anchor_data
    assert expert.shape == (32 * 4, 2)
    obs = model.rollout_buffer.observations  # (N, F) in the order the minibatches index
    speed = obs[:, suite.features.layout.slices()["state"].start]  # v / max_speed
    max_speed = suite.groups[0].config.vehicle.max_speed
    np.testing.assert_allclose(speed * max_speed, anchor.speeds, atol=1e-4)
    assert anchor.speeds.std() > 0.5  # moving and standing states: the order is tested
    state = copy.deepcopy(model.policy.state_dict()), copy.deepcopy(model.policy.optimizer.state_dict())

    def error_after_update(weight: float) -> float:
        model.policy.load_state_dict(state[0])
        model.policy.optimizer.load_state_dict(state[1])
        model.anchor_weight = weight
        np.random.seed(0)
        model.train()
        with torch.no_grad():
            return float(((actor_mean(model.policy, model.policy.obs_to_tensor(obs)[0]) - expert) ** 2).mean())

    assert error_after_update(10.0) < 0.5 * error_after_update(1e-9)
    idle = ExpertAnchor(suite, coef=0.0)
    model.learn(32 * 4, callback=idle)
    assert idle.rollouts == 0 and idle.records == [] and model.anchor_data is None


def test_a_bf16_update_moves_the_weights_as_the_fp32_update_does():
    """With precision bf16 the hidden layers run under bfloat16 autocast and the heads, the
    log-probabilities and the losses in float32: the same rollout, optimizer state and minibatch order
    give the fp32 (SB3) update's weight changes to within bfloat16's rounding, and the policy's
    log-probabilities of the rollout's actions (the ratio's numerator) stay within a hundredth."""
    import copy

    import torch
    from stable_baselines3 import PPO

    suite = _free_cruise()
    model = _anchored_model(suite, learning_rate=3e-4, policy_kwargs={"net_arch": [64, 64]})
    model.learn(32 * 4)
    before = copy.deepcopy(model.policy.state_dict()), copy.deepcopy(model.policy.optimizer.state_dict())
    batch = next(model.rollout_buffer.get(None))
    logp = {}
    for precision in ("fp32", "bf16"):
        model.precision = precision
        with torch.no_grad():
            dist, values, logp[precision], _ = model.evaluate(batch.observations, batch.actions)
        assert dist.distribution.mean.dtype == values.dtype == logp[precision].dtype == torch.float32
    assert 0 < float((logp["bf16"] - logp["fp32"]).abs().max()) < 0.01

    def change(update) -> torch.Tensor:
        model.policy.load_state_dict(before[0])
        model.policy.optimizer.load_state_dict(before[1])
        np.random.seed(7)
        update()
        return torch.cat([(v - before[0][k]).flatten() for k, v in model.policy.state_dict().items()])

    model.precision = "bf16"
    bf16 = change(model.train)
    fp32 = change(lambda: PPO.train(model))
    assert torch.nn.functional.cosine_similarity(bf16, fp32, dim=0) > 0.95
    assert 0.8 < float(bf16.norm() / fp32.norm()) < 1.25


def test_update_precision_auto_is_bf16_where_the_hardware_has_it():
    import torch

    from drivesim.agents.anchor import cpu_has_native_bf16, update_precision

    zen4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    skylake = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"  # bf16 emulated there
    sapphire = "processor\t: 0\nflags\t\t: fpu avx512f amx_tile amx_bf16 amx_int8\n"
    assert cpu_has_native_bf16(zen4) and cpu_has_native_bf16(sapphire)
    assert not cpu_has_native_bf16(skylake) and not cpu_has_native_bf16("")
    assert update_precision("auto", torch.device("cpu")) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert update_precision("fp32", torch.device("cpu")) == "fp32"
    assert update_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(ValueError, match="--update-precision 'fp16' unknown"):
        update_precision("fp16", torch.device("cpu"))


def test_train_with_the_anchor_and_hyperparameters_from_the_cli(tmp_path):
    run = tmp_path / "run"
    out = _cli("train", "--obs", "oracle", "--scenarios", "red_light", "--total-steps", "256", "--n-envs", "2",
               "--n-steps", "64", "--bc-steps", "0", "--anchor", "0.5", "--brake-weight", "3", "--finetune-log-std", "-2",
               "--net-arch", "32,32", "--no-path", "--timeout-terminal", "--finetune-steer-log-std", "-3",
               "--n-epochs", "2", "--update-precision", "bf16",
               "--learning-rate", "1e-4", "--target-kl", "0", "--out", str(run), "--no-progress", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    import json

    config = json.loads((run / "config.json").read_text())
    assert config["update_precision"] == "bf16"
    assert config["anchor"] == 0.5 and config["net_arch"] == [32, 32] and config["target_kl"] is None
    assert config["brake_weight"] == 3.0 and config["finetune_log_std"] == -2.0
    assert config["timeout_terminal"] and config["finetune_steer_log_std"] == -3.0
    assert config["velocities"] and config["route"] and not config["path"] and config["hide_accel"]


def test_policies_from_before_a_feature_existed_load_with_it_off(tmp_path):
    import json

    from drivesim.agents.policy import _run_config
    from drivesim.perception.features import FeatureSpec

    (tmp_path / "config.json").write_text(json.dumps({"obs": "perception", "k": 3, "velocities": True, "route": True}))
    mode, spec = _run_config(str(tmp_path / "model.zip"))
    assert mode == "perception" and spec == FeatureSpec(k=3, velocities=True, route=True, path=False, hide_accel=False)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        _run_config(str(tmp_path / "model.zip"))


def test_train_rejects_path_features_without_the_route_they_are_measured_along(tmp_path):
    from drivesim.agents.ppo import PPOConfig

    with pytest.raises(ValueError, match="--path needs"):
        PPOConfig(obs="oracle", route=False).validate()
    PPOConfig(obs="oracle", route=False, path=False).validate()
    with pytest.raises(ValueError, match="--bc-loss 'huber' unknown"):  # the Python API, past argparse's choices
        PPOConfig(obs="oracle", bc_loss="huber").validate()
    with pytest.raises(ValueError, match="--surface adds flags"):
        PPOConfig(obs="pixels", surface=True).validate()
    PPOConfig(obs="oracle", surface=True).validate()


def test_a_new_run_refuses_a_folder_holding_an_old_one(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval.csv").write_text("steps,driving_score\n0,0.9\n")  # an old run's best score would shadow the new one's
    out = _cli("train", "--obs", "oracle", "--total-steps", "256", "--n-envs", "2", "--out", str(run), "--no-progress")
    assert out.returncode == 2 and "already holds a training run (eval.csv)" in out.stderr and "--resume" in out.stderr


def test_train_rejects_a_non_positive_brake_weight(tmp_path):
    out = _cli("train", "--obs", "oracle", "--brake-weight", "0", "--out", str(tmp_path / "run"), "--no-progress")
    assert out.returncode != 0 and "--brake-weight" in out.stderr
    out = _cli("train", "--obs", "oracle", "--brake-min-speed", "-1", "--out", str(tmp_path / "run"), "--no-progress")
    assert out.returncode != 0 and "--brake-min-speed must be >= 0" in out.stderr
    out = _cli("train", "--obs", "oracle", "--bc-learning-rate", "0", "--out", str(tmp_path / "run"), "--no-progress")
    assert out.returncode != 0 and "--bc-learning-rate must be in (0, 1)" in out.stderr
    out = _cli("train", "--obs", "oracle", "--bc-epochs", "0", "--out", str(tmp_path / "run"), "--no-progress")
    assert out.returncode != 0 and "bc_epochs must be >= 1" in out.stderr
    out = _cli("train", "--obs", "oracle", "--bc-loss", "huber", "--out", str(tmp_path / "run"), "--no-progress")
    assert out.returncode != 0 and "--bc-loss: invalid choice: 'huber'" in out.stderr


def test_gsde_exploration_trains_after_cloning_with_the_anchor_and_evaluates(tmp_path):
    """Also the cloning options: DAgger rounds, the brake weight only while moving (and standing at
    red lights), the learning rate, the L1 loss (cloning and anchor)."""
    run = tmp_path / "run"
    out = _cli("train", "--obs", "oracle", "--scenarios", "red_light", "--total-steps", "256", "--n-envs", "2",
               "--n-steps", "64", "--bc-steps", "256", "--anchor", "0.5", "--sde", "--sde-sample-freq", "16",
               "--brake-min-speed", "0.5", "--brake-at-lights", "--brake-at-people", "--bc-rounds", "2",
               "--bc-learning-rate", "5e-4",
               "--bc-epochs", "2", "--bc-anneal", "--bc-loss", "l1", "--eval-every", "0", "--out", str(run), "--no-progress",
               "--device", "cpu")
    assert out.returncode == 0, out.stderr
    import json

    from stable_baselines3 import PPO

    config = json.loads((run / "config.json").read_text())
    assert config["sde"] and config["sde_sample_freq"] == 16 and config["brake_min_speed"] == 0.5
    assert config["bc_rounds"] == 2 and config["bc_learning_rate"] == 5e-4 and config["bc_epochs"] == 2
    assert config["bc_anneal"] and config["bc_loss"] == "l1" and config["brake_at_lights"] and config["brake_at_people"]
    model = PPO.load(run / "model.zip", device="cpu")
    assert model.use_sde and model.policy.log_std.shape == (256, 2)  # one sigma per policy feature and action
    ev = _cli("evaluate", "--agent", f"ppo:{run / 'model.zip'}", "--scenarios", "red_light", "--episodes", "1",
              "--max-steps", "20", "--out", str(tmp_path / "eval"))
    assert ev.returncode == 0, ev.stderr
    bad = _cli("train", "--obs", "oracle", "--sde", "--sde-sample-freq", "0", "--out", str(tmp_path / "bad"),
               "--no-progress")
    assert bad.returncode != 0 and "--sde-sample-freq must be -1" in bad.stderr



@pytest.mark.parametrize(("flag", "size"), [("clock", 2), ("junction", 3), ("signal", 2), ("stopping", 2),
                                            ("surface", 3 * 4 * 3)])
def test_train_with_an_optional_vector_records_it_and_evaluate_rebuilds_the_features(tmp_path, flag, size):
    run = tmp_path / "run"
    out = _cli("train", "--obs", "oracle", "--no-clock", "--no-surface", "--no-signal", "--no-stopping", f"--{flag}",
               "--scenarios", "red_light", "--total-steps", "128", "--n-envs", "2", "--n-steps", "64", "--bc-steps", "128",
               "--bc-rounds", "1", "--eval-every", "0", "--out", str(run),
               "--no-progress", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    import json

    from drivesim.agents.policy import PolicyAgent

    assert json.loads((run / "config.json").read_text())[flag]
    agent = PolicyAgent.load(str(run / "model.zip"), device="cpu")
    assert getattr(agent.spec, flag)
    if flag == "surface":  # the oracle reads each object's surface classes off the camera labels, not the grid
        assert "surface" not in agent.observations and agent.config_overrides["camera_labels"]
    else:
        assert agent.observations[-1] == flag
    assert agent.model.observation_space.shape == (256 + size,)  # 256 features of the default layout + the vector's
    # (the surface: 3 flags for each of the 4 objects of 3 classes)
    ev = _cli("evaluate", "--agent", f"ppo:{run / 'model.zip'}", "--scenarios", "red_light", "--episodes", "1",
              "--max-steps", "20", "--out", str(tmp_path / "eval"))
    assert ev.returncode == 0, ev.stderr


def test_the_brake_weight_defaults_to_10_on_features_and_1_on_pixels():
    """With 10, SB3's CNN cloned from pixels collapsed to one constant action (measured, docs/agents.md)."""
    from drivesim.agents.ppo import PPOConfig

    assert PPOConfig().imitation_brake_weight == PPOConfig(obs="oracle").imitation_brake_weight == 10.0
    assert PPOConfig(obs="pixels").imitation_brake_weight == 1.0
    assert PPOConfig(obs="pixels", brake_weight=4.0).imitation_brake_weight == 4.0


def test_the_curve_says_what_step_zero_is(tmp_path):
    from drivesim.agents.curves import step_zero

    assert step_zero(tmp_path) == "the untrained policy"  # from scratch: no bc_model.zip
    (tmp_path / "bc_model.zip").write_bytes(b"")
    assert step_zero(tmp_path) == "after behaviour cloning"
