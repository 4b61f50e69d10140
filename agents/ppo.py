"""PPO (Stable-Baselines3) on drivesim: `drivesim train`.

Observation modes: `perception` (features from the perception CNN, default), `oracle` (the same
layout from ground truth) and `pixels` (SB3's CNN on the camera plus the state vector). Runs go to
`runs/NAME/`: config.json (which also tells `evaluate --agent ppo:PATH` how to build the
observations), checkpoints written atomically, TensorBoard logs, the final `model.zip`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

OBS_MODES = ("perception", "oracle", "pixels")


@dataclass(frozen=True)
class PPOConfig:
    obs: str = "perception"  # perception | oracle | pixels
    n_envs: int = 16  # worlds stepped together
    total_steps: int = 500_000  # environment steps
    out: str = "runs/ppo"  # run folder
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    scenario: str | None = None  # a suite scenario name or path (default: the plain env)
    learning_rate: float = 3e-4
    n_steps: int = 256  # rollout length per env
    batch_size: int = 1024
    n_epochs: int = 5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.005
    clip_range: float = 0.2
    checkpoint_every: int = 50_000  # [env steps]
    k: int = 4  # detections per class in the feature vector


def make_env(cfg: PPOConfig) -> VecEnv:
    """The training env, wrapped in VecMonitor so episode returns and lengths reach the logs."""
    from stable_baselines3.common.vec_env import VecMonitor

    return VecMonitor(_make_env(cfg))


def _make_env(cfg: PPOConfig) -> VecEnv:
    if cfg.obs not in OBS_MODES:
        raise ValueError(f"--obs {cfg.obs!r} unknown; allowed {OBS_MODES}")
    overrides: dict[str, Any] = {"scenario": cfg.scenario} if cfg.scenario else {}
    if cfg.obs == "pixels":
        from drivesim.envs.sb3 import SB3VecEnv

        return SB3VecEnv(cfg.n_envs, seed=cfg.seed, observations=("camera", "state"), **overrides)
    from agents.features_env import FeatureVecEnv

    config = None
    if cfg.scenario:
        from drivesim.scenarios.loader import load_scenario

        config = load_scenario(cfg.scenario).config
    return FeatureVecEnv(cfg.n_envs, cfg.obs, config, k=cfg.k, device=cfg.device, seed=cfg.seed)


class AtomicCheckpoint(BaseCallback):
    """Saves `checkpoint.zip` every `every` steps, atomically."""

    def __init__(self, folder: Path, every: int) -> None:
        super().__init__()
        self.folder, self.every, self.last = folder, every, 0

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last >= self.every:
            self.last = self.num_timesteps
            save_atomic(self.model, self.folder / "checkpoint.zip")
        return True


def save_atomic(model: PPO, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)


def train(cfg: PPOConfig, resume: str | None = None, progress: bool = True) -> Path:
    """Train (or continue `resume`) and return the path of the final model."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    env = make_env(cfg)
    policy = "MultiInputPolicy" if cfg.obs == "pixels" else "MlpPolicy"
    if resume:
        if not Path(resume).is_file():
            raise FileNotFoundError(f"--resume {resume}: no such checkpoint")
        model = PPO.load(resume, device=cfg.device)
        if model.observation_space != env.observation_space:
            raise ValueError(f"{resume}: trained on observations {model.observation_space}, but --obs {cfg.obs} gives "
                             f"{env.observation_space}; resume with the same --obs")
        model.set_env(env)
    else:
        model = PPO(policy, env, learning_rate=cfg.learning_rate, n_steps=cfg.n_steps,
                    batch_size=min(cfg.batch_size, cfg.n_steps * cfg.n_envs), n_epochs=cfg.n_epochs, gamma=cfg.gamma,
                    gae_lambda=cfg.gae_lambda, ent_coef=cfg.ent_coef, clip_range=cfg.clip_range, seed=cfg.seed,
                    device=cfg.device, tensorboard_log=str(out / "tb"), verbose=0)
    callback = AtomicCheckpoint(out, cfg.checkpoint_every)
    _sigterm_as_interrupt()
    try:
        model.learn(cfg.total_steps, callback=callback, reset_num_timesteps=resume is None, progress_bar=progress)
    except KeyboardInterrupt:  # Ctrl-C: keep what was learned
        print(f"interrupted at {model.num_timesteps} steps; saving")
    final = out / "model.zip"
    save_atomic(model, final)
    env.close()
    return final


def _sigterm_as_interrupt() -> None:
    """Treat SIGTERM (e.g. a job scheduler stopping the run) like Ctrl-C: save, then exit."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, handler)
