"""Behaviour-cloning warm start for PPO: DAgger with the privileged expert as the teacher.

PPO from scratch on this env learns to stand still (early driving collides, and a collision costs
more than waiting; see docs/agents.md). So `drivesim train` first teaches the policy to imitate
the expert (agents/expert.py), which is batched and reads the World, hence demonstrations cost no
more than simulation:

- round r drives the suite with a mix of expert and policy actions (expert share `beta[r]`; the
  executed expert actions get a little Gaussian noise so the data covers recoveries), and records
  (observation, expert action) for every world and step; the dataset grows every round (DAgger);
- after each round the policy's mean action is fitted to the expert's (MSE, or L1: BCConfig.loss)
  on all data so far;
- finally the value head is fitted to the discounted returns of the cloned policy's own episodes,
  so PPO starts with a critic that matches its actor instead of a random one.

Works for every observation mode (feature vectors or camera dicts) through the SB3 policy itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from drivesim.actors.driver import people_on_road_near
from drivesim.agent import ExpertAgent
from drivesim.agents.features_env import SuiteVecEnv
from drivesim.sensors.state import STATE_FIELDS, STOP_LINE_RANGE, state_vector


@dataclass(frozen=True)
class BCConfig:
    rounds: int = 4  # DAgger rounds (round 0 drives with the expert only)
    steps: int = 1500  # steps of the whole suite env per round (samples = steps x n_envs / keep_every)
    keep_every: int = 1  # keep every k-th step (pixels: the images are large)
    beta_decay: float = 0.5  # expert share in round r: beta_decay ** r (the last round is policy only)
    action_noise: float = 0.15  # std of Gaussian noise on executed expert actions
    epochs: int = 4  # passes over the aggregated data after each round
    batch_size: int = 512
    learning_rate: float = 1e-3  # Adam's step for cloning (the value warm start too); SB3's CNN on pixels needs 3e-4
    anneal: bool = False  # the step falls to 0 over each fit (cosine), so a fit ends at a minimum, not
    # wherever the last minibatches left it
    value_steps: int = 1000  # steps of policy-only driving whose returns fit the value head
    value_epochs: int = 4
    log_std: float = -1.6  # initial exploration std for PPO afterwards (exp(-1.6) = 0.2)
    steer_log_std: float | None = None  # the steering's own (None: log_std); small: exploration in the speed
    brake_weight: float = 1.0  # weight of the samples where the expert brakes (brake_weights); 1: plain MSE
    brake_min_speed: float = 0.0  # [m/s] ... only where the car moves at least this fast (0: also standing)
    brake_at_lights: bool = False  # ... or stands before a red or yellow light (brake_weights, ego_holds)
    brake_at_people: bool = False  # ... or stands near a pedestrian on the road (brake_weights, ego_holds)
    loss: str = "mse"  # the actions' regression loss, one of LOSSES (weighted_loss)


def _copy(obs: Any) -> Any:
    """A copy of a batched observation (array, or dict of arrays for camera observations)."""
    return {k: v.copy() for k, v in obs.items()} if isinstance(obs, dict) else obs.copy()


def _stack(batches: list[Any]) -> Any:
    """Batched observations of several steps as one batch (per key for dict observations)."""
    if isinstance(batches[0], dict):
        return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    return np.concatenate(batches)


class _Buffer:
    """Growing (observation, action, ego speed, held by a light or a person: ego_holds) dataset."""

    def __init__(self) -> None:
        self.obs: list[Any] = []
        self.act: list[np.ndarray] = []
        self.speed: list[np.ndarray] = []
        self.held: list[np.ndarray] = []

    def add(self, obs: Any, act: np.ndarray, speed: np.ndarray, held: np.ndarray) -> None:
        self.obs.append(_copy(obs))
        self.act.append(act.astype(np.float32))
        self.speed.append(np.asarray(speed, dtype=np.float32))
        self.held.append(np.asarray(held, dtype=bool))

    def arrays(self) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        return _stack(self.obs), np.concatenate(self.act), np.concatenate(self.speed), np.concatenate(self.held)

    def __len__(self) -> int:
        return sum(len(a) for a in self.act)


def expert_actions(env: SuiteVecEnv, expert: ExpertAgent) -> np.ndarray:
    """(N, 2) expert actions for every world of the suite env, in VecEnv order."""
    return np.concatenate([expert.act(world) for world in env.worlds])


def ego_speeds(env: SuiteVecEnv) -> np.ndarray:
    """(N,) [m/s] the controlled car's speed in every world of the suite env, in VecEnv order."""
    return np.concatenate([world.ego.v for world in env.worlds])


HOLD_DISTANCE = 10.0  # [m] a red or yellow light at a stop line this near, or a person on the road this near,
# holds the car (ego_holds)


def ego_holds(env: SuiteVecEnv, lights: bool = True, people: bool = False) -> np.ndarray:
    """(N,) bool, in VecEnv order: with `lights`, the controlled car's next stop line is at most
    HOLD_DISTANCE ahead and its light red or yellow (as the state vector reads it); with `people`,
    a pedestrian on the road or about to step onto it (the drivers' rule, privileged: these are
    training labels) is within HOLD_DISTANCE of the car."""
    out = []
    for world in env.worlds:
        held = np.zeros(world.batch_size, dtype=bool)
        if lights:
            state = state_vector(world)
            near = state[:, STATE_FIELDS.index("stop_line_distance")] * STOP_LINE_RANGE <= HOLD_DISTANCE
            red, yellow = STATE_FIELDS.index("light_red"), STATE_FIELDS.index("light_yellow")
            held |= near & ((state[:, red] > 0.5) | (state[:, yellow] > 0.5))
        if people:
            held |= people_on_road_near(world.maps.kernel, world.state, HOLD_DISTANCE)
        out.append(held)
    return np.concatenate(out)


def pretrain(model: PPO, env: SuiteVecEnv, venv: VecEnv, cfg: BCConfig, seed: int = 0,
             log: Any = print) -> dict[str, float]:
    """DAgger + value warm start on `model` (in place). `venv` steps the suite env `env` and gives
    the observations as the policy sees them (e.g. images transposed). Returns summary figures."""
    rng = np.random.default_rng(seed)
    expert, data, stats = ExpertAgent(), _Buffer(), {}
    start = time.perf_counter()
    for r in range(cfg.rounds):
        beta = 0.0 if r == cfg.rounds - 1 and cfg.rounds > 1 else cfg.beta_decay ** r
        obs = venv.reset()
        for t in range(cfg.steps):
            target = expert_actions(env, expert)
            if t % cfg.keep_every == 0:
                data.add(obs, target, ego_speeds(env), ego_holds(env, cfg.brake_at_lights, cfg.brake_at_people))
            noisy = np.clip(target + rng.normal(0.0, cfg.action_noise, target.shape), -1.0, 1.0)
            if beta < 1.0:
                own, _ = model.predict(obs, deterministic=True)
                noisy = np.where((rng.random(len(target)) < beta)[:, None], noisy, own)
            obs, _, _, _ = venv.step(noisy)
        obs_all, actions, speeds, held = data.arrays()
        loss = fit_actions(model, obs_all, actions, cfg, rng, speeds, held)
        if len(actions) >= COLLAPSE_CHECK_BATCHES * cfg.batch_size:  # a fit of a few steps is no verdict
            check_not_collapsed(model, obs_all, actions, r, cfg.learning_rate)
        log(f"BC round {r}: expert share {beta:.2f}, {len(data):,} samples, action {cfg.loss.upper()} {loss:.4f} "
            f"({time.perf_counter() - start:.0f} s)")
        stats[f"bc_round_{r}_{cfg.loss}"] = loss
    set_exploration(model, _stack(data.obs[-16:]), cfg.log_std, cfg.steer_log_std)  # the last round's last steps
    stats["value_mse"] = fit_values(model, venv, cfg, rng)
    log(f"value warm start: MSE {stats['value_mse']:.3f} ({time.perf_counter() - start:.0f} s)")
    stats["seconds"] = time.perf_counter() - start
    stats["samples"] = float(len(data))
    return stats


COLLAPSED_SHARE = 0.01  # a clone whose mean actions vary less than this share of the expert's has collapsed
COLLAPSE_CHECK_BATCHES = 10  # ... judged once a round's data fills this many minibatches (an untrained policy
# head is initialised near constant: SB3's action net has gain 0.01)


class CloningCollapsedError(ValueError):
    """Behaviour cloning fitted one constant action for every observation (see check_not_collapsed)."""


def check_not_collapsed(model: PPO, obs: Any, actions: np.ndarray, round_: int, learning_rate: float,
                        n: int = 2048) -> None:
    """Raise CloningCollapsedError when the policy's mean action over the last `n` samples of the data
    (obs, expert actions (N, 2)) varies less than COLLAPSED_SHARE of the expert's in every action
    dimension: the fit found the constant that minimises the loss instead of a function of the
    observation. Seen with SB3's CNN on pixels at the learning rate 1e-3 and the brake weight 10
    (action std 0 against the expert's 0.13 / 0.33; 3e-4 fits; gradient clipping at norm 1 did not
    help; docs/agents.md): a run that goes on from there only burns its budget, so it stops here."""
    tail = np.arange(max(0, len(actions) - n), len(actions))
    own, _ = model.predict(_index(obs, tail), deterministic=True)
    spread, expert = np.asarray(own, dtype=np.float64).std(axis=0), actions[tail].astype(np.float64).std(axis=0)
    if np.all(spread < COLLAPSED_SHARE * expert):
        raise CloningCollapsedError(
            f"behaviour cloning collapsed in round {round_}: the policy gives the same action for every observation "
            f"(std of its actions {np.round(spread, 4).tolist()} against the expert's {np.round(expert, 3).tolist()}); "
            f"the cloning learning rate {learning_rate:g} is too large for this network: lower it with "
            f"--bc-learning-rate (pixels with SB3's CNN: 3e-4)")


def set_exploration(model: PPO, obs: Any, log_std: float, steer_log_std: float | None = None) -> None:
    """Set the policy's exploration std to exp(log_std) for the throttle/brake and exp(steer_log_std)
    for the steering (None: the same). With gSDE (`model.use_sde`) the noise is latent @ W with
    W ~ N(0, sigma^2) per latent feature, so an action's std is sigma * |latent|: sigma is scaled by
    the root mean square |latent| of the policy on `obs` (a batch of observations it will see)."""
    policy = model.policy
    target = torch.full((2,), float(log_std))  # action (steer, accel)
    if steer_log_std is not None:
        target[0] = steer_log_std
    with torch.no_grad():
        if not model.use_sde:
            policy.log_std.copy_(target.to(policy.log_std.device))
            return
        x, _ = policy.obs_to_tensor(obs)
        rms = actor_latent(policy, x).pow(2).sum(dim=1).mean().sqrt().clamp_min(1e-6).cpu()
        policy.log_std.copy_((target - rms.log()).expand_as(policy.log_std).to(policy.log_std.device))


BRAKE_ACTION = -0.3  # an expert action (steer, throttle) with throttle below this brakes


def brake_weights(actions: np.ndarray, weight: float, speeds: np.ndarray | None = None,
                  min_speed: float = 0.0, held: np.ndarray | None = None) -> np.ndarray | None:
    """(N,) sample weights: `weight` where the expert's action (N, 2) brakes and the car moves at
    `min_speed` [m/s] or faster (speeds (N,); None: everywhere) or, with `held` (N,) bool (where a
    red or yellow light or a person on the road holds the car, ego_holds), stands so held; 1 elsewhere;
    None (plain MSE) when `weight` is 1.

    Braking for a pedestrian or a red light is rare in the data and costly to miss; under plain MSE
    a policy that cannot yet tell such a state from its neighbours averages the expert's brake with
    the throttle of the many similar states and rolls on (seen: the cloned policy cruising at 8 m/s
    through 2 s of the expert braking fully, into a jaywalker). Weighting the braking samples moves
    that average towards the brake."""
    if min_speed > 0.0 and speeds is None:
        raise ValueError(f"brake_weights: min_speed={min_speed} needs the samples' speeds")
    if weight == 1.0:
        return None
    brakes = actions[:, 1] < BRAKE_ACTION
    if min_speed > 0.0:
        brakes &= (speeds >= min_speed) | (False if held is None else held)
    return np.where(brakes, weight, 1.0).astype(np.float32)


LOSSES = ("mse", "l1")
# mse: the fit is the (weighted) mean of the targets seen in alike states; l1: their (weighted) median.
# Where the expert's actions in alike states form two modes (standing at a stop line it holds, or it
# drives off) the mean is a slow start between them that neither would make; the median is one of
# the modes (the heavier). Measured on oracle clones (docs/agents.md, tenth session): no gain over
# weighting the brake samples only while moving, so mse stays the default.


def weighted_loss(prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None,
                  kind: str = "mse") -> torch.Tensor:
    """Mean squared (kind "mse") or absolute ("l1") error of (n,) or (n, d) predictions; with (n,)
    weights, weighted per sample (normalised by the weights' sum, so the loss keeps its scale)."""
    if kind not in LOSSES:
        raise ValueError(f"loss {kind!r} unknown; allowed {LOSSES}")
    error = (prediction - target).pow(2) if kind == "mse" else (prediction - target).abs()
    if error.dim() > 1:
        error = error.flatten(1).mean(dim=1)
    if weights is None:
        return error.mean()
    return (weights * error).sum() / weights.sum()


def _batches(n: int, size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for i in range(0, n, size):
        yield order[i:i + size]


def _index(obs: Any, idx: np.ndarray) -> Any:
    return {k: v[idx] for k, v in obs.items()} if isinstance(obs, dict) else obs[idx]


def actor_latent(policy: Any, x: Any) -> torch.Tensor:
    """The actor's last hidden layer for a batch of policy inputs (gSDE's noise is linear in it)."""
    return policy.mlp_extractor.forward_actor(policy.extract_features(x, policy.pi_features_extractor))


def actor_mean(policy: Any, x: Any) -> torch.Tensor:
    """The policy's mean action for a batch of policy inputs (what cloning and the anchor fit)."""
    return policy.action_net(actor_latent(policy, x))


def regression_pass(policy: Any, opt: torch.optim.Optimizer, predict: Any, obs: Any, targets: np.ndarray,
                    weights: np.ndarray | None, batch_size: int, rng: np.random.Generator,
                    schedule: Any = None, loss_kind: str = "mse") -> float:
    """One pass over (obs, targets) in shuffled minibatches, each an `opt` step on
    weighted_loss(predict(policy input), targets, kind=loss_kind) (and a `schedule` step, a torch LR
    scheduler); returns the mean loss."""
    target_all = torch.as_tensor(targets, dtype=torch.float32)
    weight_all = None if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    losses = []
    for idx in _batches(len(target_all), batch_size, rng):
        x, _ = policy.obs_to_tensor(_index(obs, idx))
        prediction = predict(x)
        w = None if weight_all is None else weight_all[idx].to(prediction.device)
        loss = weighted_loss(prediction, target_all[idx].to(prediction.device), w, loss_kind)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if schedule is not None:
            schedule.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def _regress(model: PPO, params: Any, predict: Any, obs: Any, targets: np.ndarray, epochs: int, cfg: BCConfig,
             rng: np.random.Generator, weights: np.ndarray | None = None, loss_kind: str = "mse") -> float:
    """Minimise weighted_loss(predict(policy input), targets) (weighted per sample with `weights`)
    over `params` in minibatches; returns the last epoch's mean loss."""
    policy = model.policy
    policy.set_training_mode(True)
    opt = torch.optim.Adam(params, lr=cfg.learning_rate)
    schedule = None
    if cfg.anneal:  # over every minibatch step of the fit
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * -(-len(targets) // cfg.batch_size))
    mean_loss = 0.0
    for _ in range(epochs):
        mean_loss = regression_pass(policy, opt, predict, obs, targets, weights, cfg.batch_size, rng, schedule,
                                    loss_kind)
    policy.set_training_mode(False)
    return mean_loss


def fit_actions(model: PPO, obs: Any, actions: np.ndarray, cfg: BCConfig, rng: np.random.Generator,
                speeds: np.ndarray | None = None, held: np.ndarray | None = None) -> float:
    """Fit the policy's mean action to `actions` (`cfg.loss`, the braking samples weighted by
    `cfg.brake_weight`, where the car moves at `cfg.brake_min_speed` or faster: speeds (N,), or
    stands held by a light or a person (`cfg.brake_at_lights`, `cfg.brake_at_people`): held (N,),
    ego_holds); returns the last epoch's mean loss."""
    policy = model.policy
    weights = brake_weights(actions, cfg.brake_weight, speeds, cfg.brake_min_speed,
                            held if cfg.brake_at_lights or cfg.brake_at_people else None)
    return _regress(model, policy.parameters(), lambda x: actor_mean(policy, x), obs, actions, cfg.epochs, cfg, rng,
                    weights, cfg.loss)


def value_targets(rewards: np.ndarray, dones: np.ndarray, truncated: np.ndarray, terminal_values: np.ndarray,
                  last_values: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return targets (T, N) of a rollout: rewards, dones, truncated (T, N); at a
    time-limit truncation the episode did not end, so its return is bootstrapped with the value of
    its last observation, terminal_values (T, N) (read there only); at a real termination nothing
    follows; after the last step the rollout is bootstrapped with last_values (N,)."""
    targets = np.zeros_like(rewards, dtype=np.float64)
    returns = np.asarray(last_values, dtype=np.float64)
    for t in range(len(rewards) - 1, -1, -1):
        after = np.where(dones[t], np.where(truncated[t], terminal_values[t], 0.0), returns)
        returns = rewards[t] + gamma * after
        targets[t] = returns
    return targets


def fit_values(model: PPO, venv: VecEnv, cfg: BCConfig, rng: np.random.Generator) -> float:
    """Drive with the cloned policy and fit the value head to its discounted returns (episodes cut
    by a time limit or by the end of the drive are bootstrapped with the current value estimate).
    Only every `cfg.keep_every`-th step's observations are kept for the fit, as in cloning: with
    pixels, 400k camera observations held at once took more than 24 GB (killed)."""
    policy, gamma = model.policy, model.gamma
    obs = venv.reset()
    seen: list[Any] = []
    shape = (cfg.value_steps, venv.num_envs)
    rewards, dones, truncated = np.zeros(shape), np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    terminal_values = np.zeros(shape)

    def values(batch: Any) -> np.ndarray:
        with torch.no_grad():
            return policy.predict_values(policy.obs_to_tensor(batch)[0]).cpu().numpy().ravel()

    if model.use_sde:
        policy.reset_noise(venv.num_envs)
    for t in range(cfg.value_steps):
        if t % cfg.keep_every == 0:
            seen.append(_copy(obs))
        action, _ = model.predict(obs, deterministic=False)
        obs, rewards[t], dones[t], infos = venv.step(action)
        for i in np.flatnonzero(dones[t]):
            if infos[i].get("TimeLimit.truncated", False):
                truncated[t, i] = True
                last = infos[i]["terminal_observation"]
                last = {k: v[None] for k, v in last.items()} if isinstance(last, dict) else last[None]
                terminal_values[t, i] = values(last)[0]
    targets = value_targets(rewards, dones, truncated, terminal_values, values(obs), gamma)
    params = list(policy.mlp_extractor.value_net.parameters()) + list(policy.value_net.parameters())
    if not policy.share_features_extractor:
        params += list(policy.vf_features_extractor.parameters())
    return _regress(model, params, lambda x: policy.predict_values(x).ravel(), _stack(seen),
                    targets[::cfg.keep_every].reshape(-1), cfg.value_epochs, cfg, rng)
