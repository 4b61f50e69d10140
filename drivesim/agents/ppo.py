"""PPO (Stable-Baselines3) on drivesim: `drivesim train`.

Pipeline (docs/agents.md):
1. the suite env: `--n-envs` worlds spread over the training scenarios (one batched env per
   scenario, agents/features_env.py), seeded far from every evaluation seed;
2. behaviour-cloning warm start (agents/imitation.py: DAgger with the expert as the teacher, then a
   value warm start), unless `--bc-steps 0`;
3. PPO fine-tuning on the driving reward, optionally with a curriculum (easy scenarios first);
   every `--eval-every` steps the policy is evaluated with the `drivesim evaluate` metrics on
   validation seeds of the suite and the best one is kept as `best_model.zip`.

Observation modes: `perception` (features from the perception CNN, default), `oracle` (the same
layout from ground truth) and `pixels` (SB3's CNN on the camera plus the state vector). Runs go to
`runs/NAME/`: config.json (which also tells `evaluate --agent ppo:PATH` how to build the
observations), checkpoints written atomically, TensorBoard logs, monitor.csv, eval.csv, the final
`model.zip`, `best_model.zip` and `training_curve.png`.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv

from drivesim.agents.anchor import UPDATE_PRECISIONS, AnchoredPPO, ExpertAnchor, update_precision
from drivesim.agents.curves import plot_training
from drivesim.agents.extractor import PerceptionExtractor
from drivesim.agents.features_env import OBS_MODES, Group, SuiteVecEnv
from drivesim.agents.imitation import LOSSES, BCConfig, pretrain
from drivesim.agents.policy import PolicyAgent
from drivesim.config import REWARD_MODES, EnvConfig
from drivesim.evaluation import VALIDATION_SEED_OFFSET, episode_seeds, run_rows, select_scenarios
from drivesim.metrics import summarize
from drivesim.perception.features import FeatureSpec

TRAIN_SEED_BASE = 10_000_000  # training worlds: far above every suite evaluation seed (< 100,000)
EASY_SCENARIOS = ("free_cruise", "red_light", "lead_car_brakes", "long_route")  # curriculum stage 1
EXTRACTORS = ("nature", "perception")
CURRICULUM_FRACTION = 0.25  # share of the PPO steps spent on the easy scenarios with --curriculum


@dataclass(frozen=True)
class PPOConfig:
    obs: str = "perception"  # perception | oracle | pixels
    n_envs: int = 256  # worlds stepped together, spread over the scenarios
    total_steps: int = 2_000_000  # PPO environment steps (after imitation)
    out: str = "runs/ppo"  # run folder
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    scenarios: str = "all"  # "all", comma-separated suite names / .toml paths, or "plain" (the default env)
    curriculum: bool = False  # the first 25 % of PPO steps on the easy scenarios only
    bc_steps: int = -1  # env steps of imitation (DAgger); -1: min(total_steps, 1.6M); 0: none
    bc_rounds: int = 8  # DAgger rounds (imitation.py BCConfig.rounds): most of the data from the policy's own driving
    learning_rate: float = 1e-4  # with 256-step rollouts PPO holds the clone at this rate (64 steps: it drifted)
    n_steps: int = 256  # rollout length per env (x n_envs = 65,536 steps per rollout): a third of an episode, so
    # less of each advantage comes from the critic's estimate at the rollout's end (docs/agents.md)
    batch_size: int = 16384  # large minibatches: CaRL found PPO keeps improving as they grow
    n_epochs: int = 4
    gamma: float = 0.998  # a 50 s horizon: a wait at a crossing shows in the route it costs by the time limit
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    clip_range: float = 0.1
    target_kl: float | None = 0.02  # stop an update early if the policy moves further than this (None: never)
    net_arch: tuple[int, ...] = (256, 256)  # hidden layers of the actor and of the critic
    log_std_init: float = -1.2  # initial log std of the Gaussian policy (std 0.3); cloning sets its own
    initial_throttle: float = 0.3  # from scratch: the untrained policy's mean throttle (it drives off slowly, so
    # progress shows in the first rollouts instead of standing still looking safest)
    checkpoint_every: int = 100_000  # [env steps]
    eval_every: int = 500_000  # [env steps] 0: no periodic evaluation
    eval_episodes: int = 10  # per scenario, on validation seeds (100 episodes: about +-0.03)
    k: int = 4  # detections per class in the feature vector
    velocities: bool = True  # objects in the feature vector carry their velocity (the CNN reads it off two frames)
    route: bool = True  # the route's next waypoints (ego frame) are in the observation
    path: bool = True  # objects carry their place along and across the route (perception/features.py)
    hide_accel: bool = True  # the state's applied acceleration (the previous action) reads 0: no copycat clone
    clock: bool = True  # the observation carries the time left (time limit, stuck rule): sensors/clock.py
    junction: bool = False  # ... and whether the car is inside the intersection, how far through: sensors/junction.py
    surface: bool = True  # objects carry the map's surface under and ahead of them: sensors/surface.py
    signal: bool = True  # ... and the timing of the light at the next stop line: sensors/signal.py
    stopping: bool = True  # ... and the braking a stop at that line needs: sensors/stopping.py
    reward: tuple[tuple[str, float], ...] = ()  # RewardConfig weight overrides for training, e.g. (("collision", 30.0),)
    reward_mode: str = "score"  # RewardConfig.mode for training: score (returns = driving score) | carl | additive
    extractor: str = "nature"  # pixels only: nature (SB3's CNN) | perception (fine-tune the perception CNN end to end)
    anchor: float = 0.5  # weight of the imitation anchor during PPO (agents/anchor.py); 0: none
    anchor_decay: float = 0.99  # the anchor's weight is multiplied by this every rollout
    brake_weight: float | None = None  # cloning and anchor: weight of the samples where the expert brakes
    # (imitation.py); None: 10 on feature observations, 1 on pixels (imitation_brake_weight)
    brake_min_speed: float = 0.5  # [m/s] ... and the car moves at least this fast (0: also when standing)
    brake_at_lights: bool = True  # ... or stands before a red or yellow light (imitation.brake_weights)
    brake_at_people: bool = True  # ... or stands near a pedestrian on the road (imitation.ego_holds)
    bc_learning_rate: float = 1e-3  # cloning's Adam step (imitation.py BCConfig.learning_rate)
    bc_epochs: int = 4  # cloning's passes over the aggregated data after each DAgger round (BCConfig.epochs)
    bc_anneal: bool = False  # cloning's step falls to 0 over each fit (cosine; BCConfig.anneal)
    bc_loss: str = "mse"  # cloning's and the anchor's loss: mse (mean action) | l1 (median; imitation.LOSSES)
    finetune_log_std: float = -2.3  # log std of the policy when PPO starts after cloning (std 0.1)
    finetune_steer_log_std: float | None = -3.0  # the steering's own (std 0.05; None: finetune_log_std)
    timeout_terminal: bool = True  # the time limit ends an episode for the value targets (no bootstrap)
    sde: bool = False  # gSDE exploration: noise linear in the policy's features, redrawn every sde_sample_freq steps
    sde_sample_freq: int = -1  # -1: once per rollout (n_steps), so a push on the throttle lasts and can leave a wait
    update_precision: str = "auto"  # PPO's update: fp32 | bf16 (hidden layers under bfloat16 autocast) | auto
    # (bf16 where the hardware multiplies it natively: agents/anchor.py update_precision; docs/agents.md)

    def validate(self) -> None:
        if self.obs not in OBS_MODES:
            raise ValueError(f"--obs {self.obs!r} unknown; allowed {OBS_MODES}")
        for name in ("n_envs", "total_steps", "n_steps", "batch_size", "n_epochs", "k", "bc_rounds", "bc_epochs",
                     "checkpoint_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"PPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"--extractor {self.extractor!r} unknown; allowed {EXTRACTORS}")
        if self.update_precision not in UPDATE_PRECISIONS:
            raise ValueError(f"--update-precision {self.update_precision!r} unknown; allowed {UPDATE_PRECISIONS}")
        if self.bc_loss not in LOSSES:
            raise ValueError(f"--bc-loss {self.bc_loss!r} unknown; allowed {LOSSES}")
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"--reward-mode {self.reward_mode!r} unknown; allowed {REWARD_MODES}")
        ranges = (  # (holds, message)
            (self.bc_steps >= -1 and self.eval_every >= 0, "--bc-steps must be >= -1 and --eval-every >= 0"),
            (self.anchor >= 0 and 0 < self.anchor_decay <= 1,
             f"--anchor must be >= 0 and --anchor-decay in (0, 1], got {self.anchor}, {self.anchor_decay}"),
            (not self.path or self.obs == "pixels" or (self.route and self.velocities),
             "--path needs the route waypoints and the objects' velocities in the features"),
            (not self.surface or self.obs != "pixels",
             "--surface adds flags to the detected objects of the feature modes; --obs pixels has none (surface=False)"),
            (self.sde_sample_freq == -1 or self.sde_sample_freq >= 1,
             f"--sde-sample-freq must be -1 (once per rollout) or >= 1, got {self.sde_sample_freq}"),
            (self.brake_weight is None or self.brake_weight > 0, f"--brake-weight must be > 0, got {self.brake_weight}"),
            (self.brake_min_speed >= 0, f"--brake-min-speed must be >= 0, got {self.brake_min_speed}"),
            (0 < self.bc_learning_rate < 1, f"--bc-learning-rate must be in (0, 1), got {self.bc_learning_rate}"),
        )
        for holds, message in ranges:
            if not holds:
                raise ValueError(message)

    @property
    def imitation_brake_weight(self) -> float:
        """The brake weight of cloning and the anchor: --brake-weight, else 10 on feature observations
        and 1 on pixels (with 10 at the cloning learning rate 1e-3, SB3's CNN cloned from pixels
        collapsed to one constant action; at 3e-4 it fits, but the pixels ablation ran with 1:
        docs/agents.md, "Ablation")."""
        if self.brake_weight is not None:
            return self.brake_weight
        return 1.0 if self.obs == "pixels" else 10.0

    @property
    def features(self) -> FeatureSpec:
        return FeatureSpec.recorded(asdict(self))

    @property
    def imitation_steps(self) -> int:
        return min(self.total_steps, 1_600_000) if self.bc_steps < 0 else self.bc_steps


def training_scenarios(spec: str) -> list[tuple[str, Any]]:
    """(name, EnvConfig) of the scenarios to train on."""
    if spec == "plain":
        return [("plain", EnvConfig())]
    return [(s.name, s.config) for s in select_scenarios(spec)]


def with_reward(scenarios: list[tuple[str, Any]], reward: tuple[tuple[str, float], ...],
                mode: str = "additive") -> list[tuple[str, Any]]:
    """The scenarios with the reward mode set and RewardConfig weights overridden (validated: an
    unknown term or a weight out of range is a ConfigError naming it)."""
    if not reward and mode == "additive":
        return scenarios
    return [(name, config.replace(reward={"mode": mode, **dict(reward)})) for name, config in scenarios]


def make_env(cfg: PPOConfig, scenarios: list[tuple[str, Any]] | None = None, part: int = 0) -> SuiteVecEnv:
    """`cfg.n_envs` worlds spread round-robin over the scenarios (the first n_envs if fewer); `part`
    (stage or resume number) shifts the seeds so a resumed run does not replay its first episodes."""
    scenarios = scenarios if scenarios is not None else training_scenarios(cfg.scenarios)
    counts = [cfg.n_envs // len(scenarios) + (i < cfg.n_envs % len(scenarios)) for i in range(len(scenarios))]
    groups = [Group(config, n, name) for (name, config), n in zip(scenarios, counts, strict=True) if n > 0]
    seed = TRAIN_SEED_BASE + 1_000_000 * cfg.seed + 1_000 * part
    return SuiteVecEnv(groups, cfg.obs, cfg.features, device=cfg.device, seed=seed, timeout_terminal=cfg.timeout_terminal)


def _monitored(env: SuiteVecEnv, out: Path, part: int) -> VecEnv:
    """VecMonitor logging episodes to out/ppo_<part>.monitor.csv (one file per stage or resume)."""
    from stable_baselines3.common.vec_env import VecMonitor

    return VecMonitor(env, filename=str(out / f"ppo_{part}"))


class AtomicCheckpoint(BaseCallback):
    """Saves `checkpoint.zip` every `every` steps, atomically."""

    def __init__(self, folder: Path, every: int) -> None:
        super().__init__()
        self.folder, self.every, self.last = folder, every, 0

    def _init_callback(self) -> None:
        self.last = self.model.num_timesteps  # counted from the start of this learn() (resume, curriculum stage)

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last >= self.every:
            self.last = self.num_timesteps
            save_atomic(self.model, self.folder / "checkpoint.zip")
        return True


class SuiteEvaluation(BaseCallback):
    """Every `every` steps: driving score on validation seeds of the suite (the `drivesim evaluate`
    metrics), logged to TensorBoard and eval.csv; the best policy is saved as best_model.zip."""

    def __init__(self, cfg: PPOConfig, folder: Path, every: int, log: Any = print) -> None:
        super().__init__()
        self.cfg, self.folder, self.every, self.log = cfg, folder, every, log
        self.last, self.best = 0, -1.0
        best = folder / "eval.csv"
        if best.is_file():  # resuming: keep the best score so far
            rows = list(csv.DictReader(best.open()))
            self.best = max((float(r["driving_score"]) for r in rows), default=-1.0)

    def _init_callback(self) -> None:
        self.last = self.model.num_timesteps

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last >= self.every:
            self.last = self.num_timesteps
            self.evaluate()
        return True

    def evaluate(self) -> float:
        summary = evaluate_policy(self.model, self.cfg)
        score = summary["driving_score"]
        if getattr(self.model, "_logger", None) is not None:  # not before the first learn()
            for key in ("driving_score", "route_completion", "success_rate", "collision_pedestrian_count"):
                self.logger.record(f"eval/{key}", summary[key])
        _append_csv(self.folder / "eval.csv", {"steps": self.model.num_timesteps, "time": time.time(), **{
            k: summary[k] for k in ("driving_score", "route_completion", "infraction_penalty", "success_rate",
                                    "collision_pedestrian_count", "collision_vehicle_count", "red_light_count")}})
        marker = ""
        if score > self.best:
            self.best, marker = score, " (best so far: saved best_model.zip)"
            save_atomic(self.model, self.folder / "best_model.zip")
        self.log(f"eval at {self.model.num_timesteps:,} steps: driving score {score:.3f}, route completion "
                 f"{summary['route_completion']:.3f}, success {summary['success_rate']:.2f}{marker}")
        return score


def evaluate_policy(model: PPO, cfg: PPOConfig) -> dict[str, Any]:
    """The `evaluate` summary of `model` on `cfg.eval_episodes` validation seeds of each training scenario."""
    agent = PolicyAgent(model, cfg.out, cfg.obs if cfg.obs != "pixels" else None,
                        cfg.features)  # pixels: the observation keys come from the policy's space
    spec = "all" if cfg.scenarios == "plain" else cfg.scenarios
    rows = [(sc, s) for sc in select_scenarios(spec) for s in episode_seeds(sc, cfg.eval_episodes, VALIDATION_SEED_OFFSET)]
    return summarize(run_rows(agent, rows))  # the whole validation suite in one batch


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def save_atomic(model: PPO, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)


def new_model(cfg: PPOConfig, env: VecEnv, out: Path | None) -> PPO:
    """A fresh PPO model for `cfg` (TensorBoard logs in out/tb; none without `out`)."""
    policy = "MultiInputPolicy" if cfg.obs == "pixels" else "MlpPolicy"
    arch = list(cfg.net_arch)
    kwargs: dict[str, Any] = {"net_arch": {"pi": arch, "vf": arch}, "log_std_init": cfg.log_std_init}
    if cfg.obs == "pixels" and cfg.extractor == "perception":
        kwargs["features_extractor_class"] = PerceptionExtractor
    model = AnchoredPPO(policy, env, learning_rate=cfg.learning_rate, n_steps=cfg.n_steps,
                        batch_size=_minibatch(cfg.n_steps * env.num_envs, cfg.batch_size),
                n_epochs=cfg.n_epochs, gamma=cfg.gamma,
                gae_lambda=cfg.gae_lambda, ent_coef=cfg.ent_coef, clip_range=cfg.clip_range, target_kl=cfg.target_kl,
                policy_kwargs=kwargs, seed=cfg.seed, device=cfg.device, use_sde=cfg.sde,
                sde_sample_freq=cfg.sde_sample_freq,
                tensorboard_log=None if out is None else str(out / "tb"), verbose=0)
    model.precision = update_precision(cfg.update_precision, model.device)
    with torch.no_grad():  # the untrained policy: straight on, gently on the throttle
        model.policy.action_net.bias[1] += cfg.initial_throttle
    return model


def _minibatch(rollout: int, wanted: int) -> int:
    """About `wanted` samples, a whole share of the rollout (n_steps x n_envs samples)."""
    return rollout // max(1, round(rollout / wanted))


def expert_anchor(cfg: PPOConfig, suite: SuiteVecEnv) -> ExpertAnchor | None:
    """The imitation anchor's callback for PPO on `suite` (agents/anchor.py), None with --anchor 0."""
    if cfg.anchor <= 0:
        return None
    return ExpertAnchor(suite, cfg.anchor, cfg.anchor_decay, brake_weight=cfg.imitation_brake_weight,
                        brake_min_speed=cfg.brake_min_speed, loss=cfg.bc_loss, brake_at_lights=cfg.brake_at_lights,
                        brake_at_people=cfg.brake_at_people)


RESUME_OVERRIDES = ("learning_rate", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef",
                    "clip_range", "target_kl", "sde_sample_freq")  # PPO settings a resumed checkpoint keeps
# unless they are passed
RESUME_FIXED = ("net_arch", "sde", "log_std_init", "initial_throttle")  # the network: set when it was made


def _load_for_resume(path: str, cfg: PPOConfig, env: VecEnv, overrides: Iterable[str] = ()) -> tuple[PPO, PPOConfig]:
    """The checkpoint at `path` on `env`, with the PPO settings named in `overrides` (RESUME_OVERRIDES:
    the flags given with --resume) taken from `cfg` and the others kept from the checkpoint; returns
    the model and `cfg` with the settings it runs with (what config.json records)."""
    overrides = set(overrides)
    fixed = [name for name in RESUME_FIXED if name in overrides]
    if fixed:
        raise ValueError(f"--resume {path}: {', '.join('--' + n.replace('_', '-') for n in fixed)} cannot change "
                         f"on resume (they set up the network when it was made); leave them out")
    if not Path(path).is_file():
        raise FileNotFoundError(f"--resume {path}: no such checkpoint")
    objects = {name: getattr(cfg, name) for name in RESUME_OVERRIDES if name in overrides and name != "batch_size"}
    try:
        model = AnchoredPPO.load(path, device=cfg.device, custom_objects=objects)
    except Exception as err:  # SB3 raises several types for corrupt archives
        raise ValueError(f"--resume {path}: not a loadable Stable-Baselines3 PPO checkpoint ({err})") from None
    if model.observation_space != env.observation_space:
        raise ValueError(f"{path}: trained on observations {model.observation_space}, but --obs {cfg.obs} gives "
                         f"{env.observation_space}; resume with the same --obs")
    model.set_env(env)
    if "batch_size" in overrides or "n_steps" in overrides:  # about the wanted size, dividing the rollout
        wanted = cfg.batch_size if "batch_size" in overrides else model.batch_size
        model.batch_size = _minibatch(model.n_steps * env.num_envs, wanted)
    model.precision = update_precision(cfg.update_precision, model.device)
    kept = {name: getattr(model, name) for name in RESUME_OVERRIDES}
    kept["clip_range"] = float(model.clip_range(1.0))  # constant schedules
    if callable(kept["learning_rate"]):
        kept["learning_rate"] = float(kept["learning_rate"](1.0))
    arch = model.policy_kwargs.get("net_arch", cfg.net_arch)
    kept["net_arch"] = tuple(arch["pi"] if isinstance(arch, dict) else arch)
    return model, replace(cfg, **kept, sde=model.use_sde, update_precision=model.precision)


def _model(cfg: PPOConfig, env: VecEnv, out: Path, resume: str | None,
           overrides: Iterable[str]) -> tuple[PPO, PPOConfig]:
    """The model to train (new, or `resume`d) and cfg with the settings it runs with (precision: what
    `auto` chose here)."""
    if resume:
        return _load_for_resume(resume, cfg, env, overrides)
    model = new_model(cfg, env, out)
    return model, replace(cfg, update_precision=model.precision)


RUN_FILES = ("eval.csv", "best_model.zip", "model.zip", "checkpoint.zip", "bc_model.zip")  # a run's results


def _check_new_run(out: Path, resume: str | None) -> None:
    """A new run in a folder holding an old one would mix their results (and keep the old best model)."""
    previous = [name for name in RUN_FILES if (out / name).exists()]
    if previous and not resume:
        raise FileExistsError(f"--out {out} already holds a training run ({', '.join(previous)}): pass --resume "
                              f"{out / 'checkpoint.zip'} to continue it, or choose another --out")


def train(cfg: PPOConfig, resume: str | None = None, progress: bool = True, log: Any = print,
          resume_overrides: Iterable[str] = ()) -> Path:
    """Train (or continue `resume` for another cfg.total_steps, with the PPO settings named in
    `resume_overrides` from cfg and the rest from the checkpoint) and return the final model's path."""
    cfg.validate()
    out = Path(cfg.out)
    _check_new_run(out, resume)
    out.mkdir(parents=True, exist_ok=True)
    scenarios = with_reward(training_scenarios(cfg.scenarios), cfg.reward, cfg.reward_mode)
    easy = [s for s in scenarios if s[0] in EASY_SCENARIOS] if cfg.curriculum and not resume else []
    stages = ([(easy, int(cfg.total_steps * CURRICULUM_FRACTION)),
               (scenarios, cfg.total_steps - int(cfg.total_steps * CURRICULUM_FRACTION))] if easy
              else [(scenarios, cfg.total_steps)])
    part = len(list(out.glob("ppo_*.monitor.csv")))
    suite = make_env(cfg, stages[0][0], part)
    env = _monitored(suite, out, part)
    model, cfg = _model(cfg, env, out, resume, resume_overrides)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    timing: dict[str, float] = {}
    _sigterm_as_interrupt()
    if not resume and cfg.imitation_steps > 0:
        try:
            timing["imitation_seconds"] = _imitate(cfg, model, suite, out, log)
        except KeyboardInterrupt:
            log("interrupted during behaviour cloning; saving")
            save_atomic(model, out / "model.zip")
            env.close()
            return out / "model.zip"
    callbacks: list[BaseCallback] = [AtomicCheckpoint(out, cfg.checkpoint_every)]
    anchor = expert_anchor(cfg, suite)
    if anchor is not None:
        callbacks.append(anchor)
    if 0 < cfg.eval_every <= cfg.total_steps:  # a run shorter than one period is not evaluated
        evaluation = SuiteEvaluation(cfg, out, cfg.eval_every, log)
        callbacks.append(evaluation)
        if not resume:
            evaluation.model = model
            evaluation.evaluate()  # the cloned policy: PPO has to beat it to replace best_model.zip
    start = time.perf_counter()
    try:
        for i, (stage, steps) in enumerate(stages):
            if i:  # curriculum: from the easy scenarios to the whole suite, same number of worlds
                env.close()
                suite = make_env(cfg, stage, part + i)
                env = _monitored(suite, out, part + i)
                model.set_env(env)
                if anchor is not None:
                    anchor.suite = suite
            model.learn(steps, callback=CallbackList(callbacks), reset_num_timesteps=resume is None and i == 0,
                        progress_bar=progress)
    except KeyboardInterrupt:  # Ctrl-C: keep what was learned
        log(f"interrupted at {model.num_timesteps} steps; saving")
    timing["ppo_seconds"] = time.perf_counter() - start
    final = out / "model.zip"
    save_atomic(model, final)
    (out / f"timing_{part}.json").write_text(json.dumps(timing, indent=2))
    env.close()

    plot_training(out)
    return final


def _imitate(cfg: PPOConfig, model: PPO, suite: SuiteVecEnv, out: Path, log: Any) -> float:
    """Behaviour-cloning warm start (agents/imitation.py); writes imitation.json and bc_model.zip."""
    from stable_baselines3.common.base_class import BaseAlgorithm

    steps = max(1, cfg.imitation_steps // (cfg.bc_rounds * suite.num_envs))
    bc = BCConfig(rounds=cfg.bc_rounds, steps=steps, value_steps=steps, keep_every=4 if cfg.obs == "pixels" else 1,
                  brake_weight=cfg.imitation_brake_weight, brake_min_speed=cfg.brake_min_speed,
                  brake_at_lights=cfg.brake_at_lights, brake_at_people=cfg.brake_at_people, log_std=cfg.finetune_log_std,
                  steer_log_std=cfg.finetune_steer_log_std, learning_rate=cfg.bc_learning_rate, epochs=cfg.bc_epochs,
                  anneal=cfg.bc_anneal, loss=cfg.bc_loss)
    start = time.perf_counter()
    stats = pretrain(model, suite, BaseAlgorithm._wrap_env(suite, monitor_wrapper=False), bc, cfg.seed, log)
    (out / "imitation.json").write_text(json.dumps(stats, indent=2))
    save_atomic(model, out / "bc_model.zip")
    return time.perf_counter() - start


def _sigterm_as_interrupt() -> None:
    """Treat SIGTERM (e.g. a job scheduler stopping the run) like Ctrl-C: save, then exit."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, handler)
