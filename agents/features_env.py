"""SB3 VecEnv that turns the batched drivesim env into perception feature vectors.

`perception` runs the perception CNN once per step on the whole batch (no gradients) and packs the
K nearest detections per class, the lidar and the state into one vector (perception/features.py);
`oracle` fills the same layout from the camera's ground-truth labels. The rollout buffer therefore
stores small vectors, never images."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from drivesim.config import EnvConfig
from drivesim.envs.sb3 import BatchedVecEnv
from drivesim.envs.vector import CityDriveVectorEnv
from drivesim.sensors.state import STATE_DIM
from perception.features import detections_to_features, oracle_features
from perception.model import N_CLASSES

FEATURE_MODES = ("perception", "oracle")
DEFAULT_K = 4  # nearest detections per class


class FeatureFn:
    """Batched observations (camera, lidar, state) + camera labels -> features (B, F)."""

    def __init__(self, mode: str, config: EnvConfig, k: int = DEFAULT_K, device: str = "auto",
                 weights: str | None = None) -> None:
        if mode not in FEATURE_MODES:
            raise ValueError(f"feature mode {mode!r} unknown; allowed {FEATURE_MODES}")
        self.mode, self.k, self.camera = mode, k, config.camera
        self.size = N_CLASSES * k * 8 + config.lidar.n_beams + STATE_DIM
        self.detector = None
        if mode == "perception":
            from perception.detector import Detector

            self.detector = Detector(weights, device=device)

    def __call__(self, obs: dict[str, np.ndarray], labels: dict[str, np.ndarray] | None) -> np.ndarray:
        if self.mode == "perception":
            return detections_to_features(self.detector(obs["camera"]), self.camera, obs["lidar"], obs["state"], self.k)
        return oracle_features(labels, obs["lidar"], obs["state"], self.k)


def feature_env_config(config: EnvConfig | None, mode: str, overrides: dict[str, Any]) -> EnvConfig:
    base = config or EnvConfig()
    base = base.replace(**overrides) if overrides else base
    return base.replace(observations=("camera", "lidar", "state"), camera_labels=mode == "oracle")


class FeatureVecEnv(BatchedVecEnv):
    """`num_envs` worlds stepped as one batch; observations are feature vectors (num_envs, F)."""

    def __init__(self, num_envs: int, mode: str = "perception", config: EnvConfig | None = None, k: int = DEFAULT_K,
                 device: str = "auto", seed: int | None = None, **overrides: Any) -> None:
        cfg = feature_env_config(config, mode, overrides)
        self.env = CityDriveVectorEnv(num_envs, cfg, autoreset_mode=AutoresetMode.SAME_STEP)
        self.features = FeatureFn(mode, cfg, k, device)
        space = spaces.Box(-np.inf, np.inf, shape=(self.features.size,), dtype=np.float32)
        super().__init__(num_envs, space, self.env.single_action_space)
        self._actions: np.ndarray | None = None
        if seed is not None:
            self.seed(seed)

    def reset(self) -> VecEnvObs:
        obs, info = self.env.reset(seed=self._take_seed())
        return self.features(obs, info.get("camera_labels"))

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        feats = self.features(obs, info.get("camera_labels"))
        done = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done.any():
            final = self.features(info["final_obs"], info["final_info"].get("camera_labels"))
            for i in np.flatnonzero(done):
                infos[i] = {"terminal_observation": final[i],
                            "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                            "route_completion": float(info["final_info"]["route_completion"][i])}
        return feats, reward.astype(np.float32), done, infos
