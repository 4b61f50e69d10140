"""Behaviour cloning from the expert (DAgger) and the multi-scenario suite env it trains on."""

import numpy as np
import pytest
import torch

from drivesim.agent import ExpertAgent
from drivesim.agents.features_env import Group, SuiteVecEnv
from drivesim.agents.imitation import (
    BCConfig,
    CloningCollapsedError,
    brake_weights,
    check_not_collapsed,
    expert_actions,
    fit_actions,
    pretrain,
    weighted_loss,
)
from drivesim.scenarios.loader import load_scenario

SMALL = {"blocks_x": 2, "blocks_y": 2, "pool_size": 1}


def _suite(n=(2, 1), mode="oracle", seed=0):
    names = ["red_light", "free_cruise"][: len(n)]
    groups = [Group(load_scenario(name).config.replace(map=SMALL), k, name) for name, k in zip(names, n)]
    return SuiteVecEnv(groups, mode, seed=seed)


def test_suite_env_concatenates_groups_in_order():
    env = _suite((2, 3))
    obs = env.reset()
    assert obs.shape == (5, env.observation_space.shape[0]) and env.num_envs == 5
    assert env.world.batch_size == 5 and env.bounds.tolist() == [0, 2, 5]  # one batch, groups in order
    assert [c.scenario for c in env.world.configs] == [env.groups[0].config.scenario] * 2 + [
        env.groups[1].config.scenario] * 3
    obs, reward, done, infos = env.step(np.zeros((5, 2), dtype=np.float32))
    assert reward.shape == (5,) and done.shape == (5,) and len(infos) == 5
    assert expert_actions(env, ExpertAgent()).shape == (5, 2)


def test_suite_env_is_deterministic_and_groups_get_distinct_seeds():
    a, b = _suite(seed=3), _suite(seed=3)
    oa, ob = a.reset(), b.reset()
    for _ in range(5):
        act = np.random.default_rng(0).uniform(-1, 1, (3, 2)).astype(np.float32)
        oa, *_ = a.step(act)
        ob, *_ = b.step(act)
    np.testing.assert_array_equal(oa, ob)
    assert a.world.route_total[0] != a.world.route_total[2]  # different scenario, different seed


def test_suite_env_terminal_observations_per_group():
    groups = [Group(load_scenario("red_light").config.replace(map=SMALL, max_episode_steps=3), 2),
              Group(load_scenario("free_cruise").config.replace(map=SMALL, max_episode_steps=5), 1)]
    env = SuiteVecEnv(groups, "oracle", seed=0)
    env.reset()
    for step in range(5):
        obs, _, done, infos = env.step(np.zeros((3, 2), dtype=np.float32))
        if step == 2:
            assert done.tolist() == [True, True, False]
            assert infos[0]["terminal_observation"].shape == obs.shape[1:]
            assert infos[0]["TimeLimit.truncated"] and "route_completion" in infos[1]
    assert done.tolist() == [False, False, True]


def test_suite_env_time_limit_can_be_a_termination():
    """timeout_terminal: the episode still ends at its limit, but SB3 is not told to bootstrap it."""
    config = load_scenario("free_cruise").config.replace(map=SMALL, max_episode_steps=3)
    for terminal in (False, True):
        env = SuiteVecEnv([Group(config, 2)], "oracle", seed=0, timeout_terminal=terminal)
        env.reset()
        for _ in range(3):
            _, _, done, infos = env.step(np.zeros((2, 2), dtype=np.float32))
        assert done.tolist() == [True, True]
        assert [info["TimeLimit.truncated"] for info in infos] == [not terminal] * 2


def test_pixels_mode_gives_camera_its_history_state_and_route():
    env = _suite(mode="pixels")
    obs = env.reset()
    assert set(obs) == {"camera", "camera_history", "state", "route"} and obs["camera"].shape == (3, 96, 96, 3)
    assert obs["camera_history"].shape == (3, 96, 96, 3)


@pytest.mark.parametrize("anneal", [False, True])
def test_cloning_imitates_the_expert_better_than_the_initial_policy(anneal):
    from stable_baselines3 import PPO

    env = _suite((3, 3))
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    rng = np.random.default_rng(0)
    obs, acts = [], []
    o = env.reset()
    expert = ExpertAgent()
    for _ in range(150):
        a = expert_actions(env, expert)
        obs.append(o)
        acts.append(a)
        o, *_ = env.step(a)
    x, y = np.concatenate(obs), np.concatenate(acts).astype(np.float32)
    order = rng.permutation(len(y))  # held-out samples from the same drives
    train, test = order[:600], order[600:]

    def mse() -> float:
        with torch.no_grad():
            return float(((model.predict(x[test], deterministic=True)[0] - y[test]) ** 2).mean())

    before = mse()
    fit_actions(model, x[train], y[train], BCConfig(epochs=30, batch_size=64, anneal=anneal), rng)
    assert mse() < 0.5 * before


@pytest.mark.parametrize("anneal", [False, True])
def test_an_annealed_fit_ends_with_a_zero_step_and_a_plain_one_keeps_it(monkeypatch, anneal):
    from stable_baselines3 import PPO

    import drivesim.agents.imitation as imitation

    env = _suite((2,))
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    rates = []
    plain = imitation.regression_pass

    def spy(policy, opt, *args):
        loss = plain(policy, opt, *args)
        rates.append(opt.param_groups[0]["lr"])
        return loss

    monkeypatch.setattr(imitation, "regression_pass", spy)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, env.observation_space.shape[0])).astype(np.float32)
    fit_actions(model, x, np.zeros((100, 2), np.float32), BCConfig(epochs=3, batch_size=32, learning_rate=1e-3,
                                                                     anneal=anneal), rng)
    assert len(rates) == 3
    if anneal:  # cosine over 3 epochs x 4 minibatches: 1e-3 * (1 + cos(pi * k / 12)) / 2 after k steps
        assert rates == pytest.approx([1e-3 * (1 + np.cos(np.pi * k / 12)) / 2 for k in (4, 8, 12)], abs=1e-12)
    else:
        assert rates == [1e-3] * 3


def test_a_clone_that_gives_one_action_for_every_observation_stops_with_a_clear_error():
    """The pixels failure of the sixth session: the fit found a constant. It must stop the run and
    name the learning rate, not go on to PPO."""
    from stable_baselines3 import PPO

    env = _suite((3, 3))
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    obs, acts, o, expert = [], [], env.reset(), ExpertAgent()
    for _ in range(60):
        a = expert_actions(env, expert)
        obs.append(o)
        acts.append(a)
        o, *_ = env.step(a)
    x, y = np.concatenate(obs), np.concatenate(acts)
    check_not_collapsed(model, x, y, 0, 1e-3)  # a policy that varies with the observation passes
    with torch.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.fill_(-0.2)
    with pytest.raises(CloningCollapsedError, match="round 3.*--bc-learning-rate"):
        check_not_collapsed(model, x, y, 3, 1e-3)


def test_pretrain_stops_at_the_round_whose_fit_collapsed_once_the_data_can_tell(monkeypatch):
    from stable_baselines3 import PPO

    import drivesim.agents.imitation as imitation

    def constant_fit(model, *args, **kwargs):
        with torch.no_grad():
            model.policy.action_net.weight.zero_()
        return 0.0

    monkeypatch.setattr(imitation, "fit_actions", constant_fit)
    env = _suite((2, 1))
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    lines = []
    with pytest.raises(CloningCollapsedError, match="round 1"):  # round 0's 48 samples < 10 minibatches of 8
        pretrain(model, env, env, BCConfig(rounds=3, steps=16, value_steps=8, batch_size=8), log=lines.append)
    assert len(lines) == 1 and "BC round 0" in lines[0]


def test_pretrain_runs_dagger_rounds_and_sets_exploration():
    from stable_baselines3 import PPO

    env = _suite()
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    lines = []
    stats = pretrain(model, env, env, BCConfig(rounds=3, steps=8, value_steps=8, log_std=-1.0, steer_log_std=-2.5,
                                               brake_weight=4.0), log=lines.append)
    assert stats["samples"] == 3 * 8 * 3 and len(lines) == 4  # three rounds + the value warm start
    assert "expert share 1.00" in lines[0] and "expert share 0.00" in lines[2]
    assert "action MSE" in lines[0] and {f"bc_round_{r}_mse" for r in range(3)} <= set(stats)
    assert model.policy.log_std.tolist() == [-2.5, -1.0]  # (steer, accel)



def test_value_warm_start_keeps_every_kth_observation_like_cloning(monkeypatch):
    """With keep_every k the value fit holds 1/k of the driven states (pixels ran out of memory
    holding all of them), with the return targets of exactly those steps."""
    from stable_baselines3 import PPO

    import drivesim.agents.imitation as imitation

    env = _suite()
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    fitted = {}

    def regress(model, params, predict, obs, targets, epochs, cfg, rng):
        fitted["obs"], fitted["targets"] = obs, targets
        return 0.0

    monkeypatch.setattr(imitation, "_regress", regress)
    imitation.fit_values(model, env, BCConfig(value_steps=10, keep_every=4), np.random.default_rng(0))
    assert fitted["obs"].shape == (3 * 3, env.observation_space.shape[0])  # steps 0, 4, 8 of 3 worlds
    assert fitted["targets"].shape == (9,)


def test_pretrain_sets_the_gsde_exploration_std_on_the_states_it_will_see():
    """With gSDE an action's std is sigma * |policy latent|; after cloning, the root mean square std
    over the data is the one asked for, per action, and the noise is drawn once per env."""
    from stable_baselines3 import PPO

    from drivesim.agents.imitation import set_exploration

    env = _suite()
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu", use_sde=True)
    pretrain(model, env, env, BCConfig(rounds=2, steps=8, value_steps=8, log_std=-2.3, steer_log_std=-3.0),
             log=lambda line: None)
    obs = np.stack([env.reset() for _ in range(4)]).reshape(-1, env.observation_space.shape[0])
    set_exploration(model, obs, -2.3, -3.0)
    with torch.no_grad():
        std = model.policy.get_distribution(model.policy.obs_to_tensor(obs)[0]).distribution.stddev
    rms = std.pow(2).mean(dim=0).sqrt().tolist()
    assert rms == pytest.approx([np.exp(-3.0), np.exp(-2.3)], rel=1e-3)  # SB3 adds 1e-6 to the variance
    model.policy.reset_noise(len(obs))
    first = model.predict(obs, deterministic=False)[0]
    assert np.allclose(first, model.predict(obs, deterministic=False)[0])  # the same draw until reset_noise


def test_suite_env_rejects_empty_groups():
    with pytest.raises(ValueError, match="at least one"):
        SuiteVecEnv([], "oracle")


def test_value_targets_bootstrap_at_time_limits_not_at_terminations():
    """Hand-computed, gamma 0.5, two envs over three steps: env 0 is truncated at t=1 (its target
    there bootstraps with the value 8 of its last observation), env 1 terminates at t=1 (nothing
    follows); both are bootstrapped with the last values (4, 6) after t=2."""
    from drivesim.agents.imitation import value_targets

    rewards = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    dones = np.array([[False, False], [True, True], [False, False]])
    truncated = np.array([[False, False], [True, False], [False, False]])
    terminal_values = np.array([[0.0, 0.0], [8.0, 99.0], [0.0, 0.0]])  # 99: a terminated env's value is never read
    targets = value_targets(rewards, dones, truncated, terminal_values, np.array([4.0, 6.0]), 0.5)
    np.testing.assert_allclose(targets[2], [3 + 0.5 * 4, 3 + 0.5 * 6])
    np.testing.assert_allclose(targets[1], [2 + 0.5 * 8, 2.0])
    np.testing.assert_allclose(targets[0], [1 + 0.5 * 6.0, 1 + 0.5 * 2.0])


def test_brake_weights_and_weighted_losses_by_hand():
    actions = np.array([[0.0, -1.0], [0.2, 0.5], [0.0, -0.2], [0.1, -0.31]], dtype=np.float32)
    assert brake_weights(actions, 4.0).tolist() == [4.0, 1.0, 1.0, 4.0]  # throttle below -0.3 brakes
    speeds = np.array([0.2, 5.0, 5.0, 3.0])  # [m/s]: the first sample brakes while standing
    assert brake_weights(actions, 4.0, speeds, 0.5).tolist() == [1.0, 1.0, 1.0, 4.0]
    assert brake_weights(actions, 4.0, speeds, 0.0).tolist() == [4.0, 1.0, 1.0, 4.0]
    assert brake_weights(actions, 1.0, speeds, 0.5) is None
    with pytest.raises(ValueError, match="needs the samples' speeds"):  # not silently weighted everywhere
        brake_weights(actions, 4.0, None, 0.5)
    lights = np.array([True, True, False, False])  # the first two stand or drive before a red or yellow light
    assert brake_weights(actions, 4.0, speeds, 0.5, lights).tolist() == [4.0, 1.0, 1.0, 4.0]  # a brake, standing
    pred, target = torch.tensor([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    # per-sample squared errors 1 and 2; weights 3 and 1: (3 * 1 + 1 * 2) / 4
    assert weighted_loss(pred, target, torch.tensor([3.0, 1.0])).item() == pytest.approx(1.25)
    assert weighted_loss(pred, target, None).item() == pytest.approx(1.5)
    # absolute errors: per sample (1 + 1) / 2 = 1 and (0 + 2) / 2 = 1; with a third sample off by -0.5, 0.25
    pred3, target3 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, 2.0], [0.0, -0.5]])
    assert weighted_loss(pred3, target3, None, "l1").item() == pytest.approx((1 + 1 + 0.25) / 3)
    assert weighted_loss(pred3, target3, torch.tensor([1.0, 1.0, 2.0]), "l1").item() == pytest.approx(2.5 / 4)
    assert weighted_loss(pred3, target3, None, "mse").item() == pytest.approx((1 + 2 + 0.125) / 3)
    with pytest.raises(ValueError, match="loss 'huber' unknown"):
        weighted_loss(pred, target, None, "huber")


@pytest.mark.parametrize("weight", [1.0, 4.0])
def test_brake_weight_moves_an_ambiguous_state_towards_the_brake(weight):
    """Identical observations labelled once with a full brake and once with throttle 0.5: the fitted
    mean action is the weighted mean of the labels, (-w + 0.5) / (w + 1)."""
    from stable_baselines3 import PPO

    env = _suite()
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    o = env.reset()
    x = np.repeat(o[:1], 64, axis=0)
    y = np.tile(np.array([[0.0, -1.0], [0.0, 0.5]], dtype=np.float32), (32, 1))
    fit_actions(model, x, y, BCConfig(epochs=150, batch_size=64, brake_weight=weight), np.random.default_rng(0))
    with torch.no_grad():
        throttle = model.predict(x[:1], deterministic=True)[0][0, 1]
    assert throttle == pytest.approx((-weight + 0.5) / (weight + 1), abs=0.03)


@pytest.mark.parametrize("weight, brakes", [(1.0, 20), (1.0, 44), (4.0, 10)])
def test_l1_cloning_picks_the_heavier_mode_of_an_ambiguous_state(weight, brakes):
    """Identical observations labelled `brakes` of 64 times with a full brake and otherwise with
    throttle 0.5: the L1 fit is the weighted median, the mode with more weight (with weight 4, 10
    brakes (40) outweigh 54 starts), not the mean between them that MSE fits."""
    from stable_baselines3 import PPO

    env = _suite()
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, seed=0, device="cpu")
    x = np.repeat(env.reset()[:1], 64, axis=0)
    y = np.array([[0.0, -1.0]] * brakes + [[0.0, 0.5]] * (64 - brakes), dtype=np.float32)
    fit_actions(model, x, y, BCConfig(epochs=300, batch_size=64, brake_weight=weight, loss="l1"),
                np.random.default_rng(0))
    with torch.no_grad():
        throttle = model.predict(x[:1], deterministic=True)[0][0, 1]
    heavier = -1.0 if weight * brakes > 64 - brakes else 0.5
    assert throttle == pytest.approx(heavier, abs=0.05)


def test_light_holds_mark_the_expert_standing_at_red_lights_and_nothing_past_10_m():
    from drivesim.agents.imitation import HOLD_DISTANCE, ego_holds, ego_speeds
    from drivesim.sensors.state import STATE_FIELDS, STOP_LINE_RANGE, state_vector

    env = SuiteVecEnv([Group(load_scenario("red_light").config, 4)], "oracle", seed=5)
    env.reset()
    expert, standing_at_red = ExpertAgent(), 0
    red, distance = STATE_FIELDS.index("light_red"), STATE_FIELDS.index("stop_line_distance")
    for _ in range(200):
        holds, state = ego_holds(env), state_vector(env.world)
        assert not holds[state[:, distance] * STOP_LINE_RANGE > HOLD_DISTANCE + 1e-4].any()
        standing_at_red += int((holds & (ego_speeds(env) < 0.1) & (state[:, red] > 0.5)).sum())
        env.step(expert.act(env.world).astype(np.float32))
    assert standing_at_red > 0  # the red_light scenario holds the expert at its line


def test_people_holds_need_a_pedestrian_on_the_road_within_10_m():
    from drivesim.agents.imitation import HOLD_DISTANCE, ego_holds

    env = SuiteVecEnv([Group(load_scenario("pedestrian_crossing").config, 4)], "oracle", seed=5)
    env.reset()
    expert, held_steps = ExpertAgent(), 0
    for _ in range(150):
        holds = ego_holds(env, lights=False, people=True)
        world = env.world
        ego = world.state.cars[np.arange(4), world.state.ego["car"]]
        peds = world.state.peds
        near = peds["active"] & (np.hypot(peds["x"] - ego["x"][:, None], peds["y"] - ego["y"][:, None]) <= HOLD_DISTANCE)
        assert not holds[~near.any(axis=1)].any()  # nobody near: no hold (near people on the sidewalk may not hold)
        held_steps += int(holds.sum())
        env.step(expert.act(world).astype(np.float32))
    assert held_steps > 0  # the scenario's crossing pedestrian holds the car
    assert not ego_holds(env, lights=False, people=False).any()
