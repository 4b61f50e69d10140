"""SB3 VecEnvs that turn batched drivesim envs into agent observations.

`SuiteVecEnv` steps several batched envs (one per scenario, each with its own config) and shows
them to SB3 as one VecEnv, so a policy trains on the whole scenario suite at once. Observations
are built once per step for all worlds together:

- `perception` runs the perception CNN on every camera frame of the step in one batch (no
  gradients) and packs the K nearest detections per class, the lidar and the state into one
  vector (perception/features.py);
- `oracle` fills the same layout from the camera's ground-truth labels;
- `pixels` passes the camera image and the state vector (SB3's CNN learns from the pixels).

The rollout buffer therefore stores small vectors in the feature modes, never images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from drivesim.config import EnvConfig
from drivesim.envs.sb3 import BatchedVecEnv
from drivesim.envs.spaces import observation_space
from drivesim.envs.vector import CityDriveVectorEnv
from drivesim.sensors.state import STATE_DIM
from drivesim.world import World
from perception.features import detections_to_features, oracle_features
from perception.model import N_CLASSES

FEATURE_MODES = ("perception", "oracle")
OBS_MODES = ("perception", "oracle", "pixels")
DEFAULT_K = 4  # nearest detections per class
GROUP_SEED_STRIDE = 100_000  # group g's worlds are seeded seed + g * stride + i


def obs_size(config: EnvConfig, k: int) -> int:
    """Length of the feature vector: K objects x 8 values per class, the lidar, the state."""
    return N_CLASSES * k * 8 + config.lidar.n_beams + STATE_DIM


class FeatureFn:
    """Batched observations (camera, lidar, state) + camera labels -> features (B, F)."""

    def __init__(self, mode: str, config: EnvConfig, k: int = DEFAULT_K, device: str = "auto",
                 weights: str | None = None) -> None:
        if mode not in FEATURE_MODES:
            raise ValueError(f"feature mode {mode!r} unknown; allowed {FEATURE_MODES}")
        self.mode, self.k, self.camera = mode, k, config.camera
        self.size = obs_size(config, k)
        self.detector = None
        if mode == "perception":
            from perception.detector import Detector

            self.detector = Detector(weights, device=device)

    def __call__(self, obs: dict[str, np.ndarray], labels: dict[str, np.ndarray] | None) -> np.ndarray:
        if self.mode == "perception":
            return detections_to_features(self.detector(obs["camera"]), self.camera, obs["lidar"], obs["state"], self.k)
        return oracle_features(labels, obs["lidar"], obs["state"], self.k)

    def many(self, obs: list[dict[str, np.ndarray]], labels: list[dict[str, np.ndarray] | None]) -> np.ndarray:
        """Features of several batches (one per group), concatenated: the CNN runs once on all frames."""
        if self.mode == "perception":
            merged = {key: np.concatenate([o[key] for o in obs]) for key in ("camera", "lidar", "state")}
            return self(merged, None)
        return np.concatenate([self(o, lab) for o, lab in zip(obs, labels, strict=True)])


def obs_env_config(config: EnvConfig, mode: str) -> EnvConfig:
    """The env config a given observation mode needs (camera always; labels for the oracle)."""
    if mode not in OBS_MODES:
        raise ValueError(f"observation mode {mode!r} unknown; allowed {OBS_MODES}")
    if mode == "pixels":
        return config.replace(observations=("camera", "state"), camera_labels=False)
    return config.replace(observations=("camera", "lidar", "state"), camera_labels=mode == "oracle")


@dataclass(frozen=True)
class Group:
    """`n` worlds of one config (one scenario) inside a SuiteVecEnv."""

    config: EnvConfig
    n: int
    name: str = "env"


class SuiteVecEnv(BatchedVecEnv):
    """Groups of worlds (one batched env per config) seen by SB3 as one VecEnv of sum(n) envs."""

    def __init__(self, groups: list[Group], mode: str = "perception", k: int = DEFAULT_K, device: str = "auto",
                 seed: int | None = None) -> None:
        if not groups or any(g.n < 1 for g in groups):
            raise ValueError("SuiteVecEnv needs at least one group of at least one world")
        self.mode, self.groups = mode, groups
        self.envs = [CityDriveVectorEnv(g.n, obs_env_config(g.config, mode), autoreset_mode=AutoresetMode.SAME_STEP)
                     for g in groups]
        self.env = self.envs[0]  # attribute/method plumbing of BatchedVecEnv
        self.bounds = np.cumsum([0] + [g.n for g in groups])
        first = self.envs[0].config
        if mode == "pixels":
            space = observation_space(first)
            self.features = None
        else:
            self.features = FeatureFn(mode, first, k, device)
            space = spaces.Box(-np.inf, np.inf, shape=(self.features.size,), dtype=np.float32)
        for env in self.envs[1:]:
            if mode == "pixels" and observation_space(env.config) != space:
                raise ValueError("all groups of a SuiteVecEnv need the same camera and state layout")
            if self.features is not None and obs_size(env.config, k) != self.features.size:
                raise ValueError("all groups of a SuiteVecEnv need the same lidar and state layout")
        super().__init__(int(self.bounds[-1]), space, self.env.single_action_space)
        self._actions: np.ndarray | None = None
        if seed is not None:
            self.seed(seed)

    @property
    def worlds(self) -> list[World]:
        return [env.world for env in self.envs]

    def _observe(self, obs: list[dict[str, np.ndarray]], labels: list[dict[str, np.ndarray] | None]) -> VecEnvObs:
        if self.features is None:
            return {key: np.concatenate([o[key] for o in obs]) for key in obs[0]}
        return self.features.many(obs, labels)

    def reset(self) -> VecEnvObs:
        seed = self._take_seed()
        out = [env.reset(seed=None if seed is None else seed + g * GROUP_SEED_STRIDE) for g, env in enumerate(self.envs)]
        self._reset_options()
        return self._observe([o for o, _ in out], [i.get("camera_labels") for _, i in out])

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        results = [env.step(self._actions[lo:hi]) for env, lo, hi in zip(self.envs, self.bounds[:-1], self.bounds[1:])]
        obs = self._observe([r[0] for r in results], [r[4].get("camera_labels") for r in results])
        reward = np.concatenate([r[1] for r in results]).astype(np.float32)
        terminated = np.concatenate([r[2] for r in results])
        truncated = np.concatenate([r[3] for r in results])
        done = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done.any():
            self._final_infos(results, terminated, truncated, infos)
        return obs, reward, done, infos

    def _final_infos(self, results: list[tuple], terminated: np.ndarray, truncated: np.ndarray,
                     infos: list[dict[str, Any]]) -> None:
        """SB3's per-env dicts for the envs whose episode ended (terminal observation, truncation)."""
        ended = [bool((r[2] | r[3]).any()) for r in results]
        finals = [r[4]["final_obs"] if e else None for r, e in zip(results, ended, strict=True)]
        labels = [r[4]["final_info"].get("camera_labels") if e else None for r, e in zip(results, ended, strict=True)]
        groups = [g for g, e in enumerate(ended) if e]
        final = self._observe([finals[g] for g in groups], [labels[g] for g in groups])
        offset = 0
        for g in groups:
            info, lo = results[g][4], self.bounds[g]
            for i in np.flatnonzero(results[g][2] | results[g][3]):
                j = lo + i
                term = {k: v[offset + i] for k, v in final.items()} if isinstance(final, dict) else final[offset + i]
                infos[j] = {"terminal_observation": term,
                            "TimeLimit.truncated": bool(truncated[j] and not terminated[j]),
                            "route_completion": float(info["final_info"]["route_completion"][i]),
                            "events": {k: bool(v[i]) for k, v in info["final_info"]["events"].items()}}
            offset += self.groups[g].n


class FeatureVecEnv(SuiteVecEnv):
    """`num_envs` worlds of one config, observations as feature vectors (num_envs, F)."""

    def __init__(self, num_envs: int, mode: str = "perception", config: EnvConfig | None = None, k: int = DEFAULT_K,
                 device: str = "auto", seed: int | None = None, **overrides: Any) -> None:
        if mode not in FEATURE_MODES:
            raise ValueError(f"feature mode {mode!r} unknown; allowed {FEATURE_MODES}")
        base = config or EnvConfig()
        if overrides:
            base = base.replace(**overrides)
        super().__init__([Group(base, num_envs)], mode, k, device, seed)
