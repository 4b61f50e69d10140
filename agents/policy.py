"""Learned policies (Stable-Baselines3 checkpoints) behind the agent interface."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from drivesim.world import World

SHIPPED_POLICY = "policy/ppo_drivesim.zip"  # inside drivesim.assets, once trained and shipped


class PolicyAgent:
    """Runs a trained SB3 policy on the observations it was trained with (batched, deterministic)."""

    name = "ppo"

    def __init__(self, model: Any, path: str) -> None:
        self.model, self.path = model, path
        self.observations = tuple(k for k in ("camera", "lidar", "state") if k in model.observation_space.spaces)

    @classmethod
    def load(cls, path: str | None = None, device: str = "auto") -> PolicyAgent:
        from stable_baselines3 import PPO

        if path is None:
            import importlib.resources

            shipped = Path(str(importlib.resources.files("drivesim.assets") / SHIPPED_POLICY))
            if not shipped.is_file():
                raise FileNotFoundError(f"no shipped policy at {shipped} yet; pass --agent ppo:PATH to a trained .zip")
            path = str(shipped)
        if not Path(path).is_file():
            raise FileNotFoundError(f"policy checkpoint {path!r} not found")
        try:
            model = PPO.load(path, device=device)
        except Exception as err:  # SB3 raises several types for corrupt archives
            raise ValueError(f"{path}: not a loadable Stable-Baselines3 PPO checkpoint ({err})") from None
        return cls(model, path)

    def reset(self, world: World) -> None:
        from drivesim.envs.spaces import observation_space

        expected = observation_space(world.config)
        if expected != self.model.observation_space:
            raise ValueError(f"{self.path}: the policy was trained on observations {self.model.observation_space}, "
                             f"but this environment provides {expected}; evaluate with the same observation layout")

    def act(self, world: World, obs: dict[str, np.ndarray] | None) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(action, dtype=np.float64).reshape(world.batch_size, 2)
