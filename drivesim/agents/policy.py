"""Learned policies (Stable-Baselines3 checkpoints) behind the agent interface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drivesim.agent import BaseAgent
from drivesim.agents.features_env import FeatureFn
from drivesim.config import OBSERVATION_KEYS
from drivesim.envs.spaces import observation_space
from drivesim.perception.features import FeatureSpec
from drivesim.perception.inputs import HISTORY
from drivesim.sensors.surface import places

if TYPE_CHECKING:
    from drivesim.world import World

SHIPPED_POLICY = "policy/ppo_drivesim.zip"  # inside drivesim.assets, once trained and shipped


class PolicyAgent(BaseAgent):
    """Runs a trained SB3 policy on the observations it was trained with (batched, deterministic)."""

    name = "ppo"

    def __init__(self, model: Any, path: str, feature_mode: str | None = None,
                 spec: FeatureSpec | None = None) -> None:
        self.model, self.path, self.spec = model, path, spec or FeatureSpec()
        self.feature_mode = feature_mode  # "perception"/"oracle" for feature policies, else None (dict observations)
        self.features = None
        self.config_overrides: dict[str, Any] = {}
        if self.feature_mode is None:
            self.observations = tuple(k for k in OBSERVATION_KEYS if k in model.observation_space.spaces)
            if "camera_history" in model.observation_space.spaces:  # trained with the camera's history frame
                self.config_overrides = {"camera": {"history": HISTORY}}
        else:
            oracle = self.feature_mode == "oracle"
            self.observations = ("lidar", "state") if oracle else ("camera", "lidar", "state")
            self.observations += self.spec.observations(self.feature_mode)
            self.config_overrides = {"camera_labels": oracle}
            if not oracle:  # the CNN reads velocities off the camera's history frame
                self.config_overrides["camera"] = {"history": HISTORY}

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
        mode, spec = _run_config(path)
        return cls(model, path, mode, spec)

    def reset(self, world: World) -> None:
        if self.feature_mode is not None:
            self.features = FeatureFn(self.feature_mode, world.config, self.spec)
            if self.model.observation_space.shape != (self.features.size,):
                raise ValueError(f"{self.path}: the policy was trained on observations {self.model.observation_space}, "
                                 f"but this environment provides {self.features.size} features")
            return
        expected = observation_space(world.config)
        if not _same_layout(self.model.observation_space, expected):
            raise ValueError(f"{self.path}: the policy was trained on observations {self.model.observation_space}, "
                             f"but this environment provides {expected}; evaluate with the same observation layout")

    def act(self, world: World, obs: dict[str, np.ndarray] | None) -> np.ndarray:
        if self.features is not None:
            labels = world.camera.labels(world)._asdict() if self.feature_mode == "oracle" else None
            obs = self.features(obs, labels, places(world))
        action, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(action, dtype=np.float64).reshape(world.batch_size, 2)


def _same_layout(trained: Any, provided: Any) -> bool:
    """Equal spaces, allowing images that SB3 stored channels-first (VecTransposeImage): predict()
    transposes channels-last observations itself."""
    from stable_baselines3.common.preprocessing import is_image_space

    if trained == provided:
        return True
    if not (hasattr(trained, "spaces") and hasattr(provided, "spaces")) or set(trained.spaces) != set(provided.spaces):
        return False
    for key, space in provided.spaces.items():
        other = trained.spaces[key]
        if other == space:
            continue
        transposed = is_image_space(space) and other.shape == (space.shape[2], *space.shape[:2])
        if not (transposed and other.dtype == space.dtype):
            return False
    return True


def _run_config(path: str) -> tuple[str | None, FeatureSpec]:
    """The feature mode and the FeatureSpec recorded in the run folder's config.json by `drivesim
    train` (a shipped policy has the same file next to it); a field missing there (a run from before
    it existed) is off. (None, FeatureSpec()) for dict-observation policies."""
    config = Path(path).with_name("config.json")
    if not config.is_file():
        return None, FeatureSpec()
    try:
        data = json.loads(config.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{config}: not valid JSON ({err})") from None
    mode = data.get("obs")
    return (mode if mode in ("perception", "oracle") else None), FeatureSpec.recorded(data)
