"""SB3 VecEnvs that turn batched drivesim envs into agent observations.

`SuiteVecEnv` steps the worlds of several scenarios as one batch (each world carries its own
scenario) and shows them to SB3 as one VecEnv, so a policy trains on the whole scenario suite at
once. Observations are built once per step for all worlds together:

- `perception` runs the perception CNN on every camera frame of the step (with the camera's history
  frame, from which it reads velocities) in one batch (no gradients) and packs the K nearest
  detections per class, the lidar and the state into one vector (drivesim/perception/features.py);
- `oracle` fills the same layout from the camera's ground-truth labels;
- `pixels` passes the camera image, its history frame and the state vector (SB3's CNN learns from
  the pixels).

The rollout buffer therefore stores small vectors in the feature modes, never images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from drivesim.agents.vec_env import BatchedVecEnv
from drivesim.config import ConfigError, EnvConfig
from drivesim.envs.spaces import observation_space
from drivesim.envs.vector import CityDriveVectorEnv
from drivesim.perception.detector import Detector
from drivesim.perception.features import FeatureLayout, FeatureSpec, detections_to_features, oracle_features
from drivesim.perception.inputs import perception_camera
from drivesim.sensors.clock import CLOCK_DIM
from drivesim.sensors.junction import JUNCTION_DIM
from drivesim.sensors.signal import SIGNAL_DIM
from drivesim.sensors.state import STATE_DIM
from drivesim.sensors.stopping import STOPPING_DIM
from drivesim.sensors.surface import Places, places
from drivesim.sensors.waypoints import ROUTE_DIM
from drivesim.world import World

FEATURE_MODES = ("perception", "oracle")
OBS_MODES = ("perception", "oracle", "pixels")
GROUP_SEED_STRIDE = 100_000  # group g's worlds are seeded seed + g * stride + i


def feature_layout(config: EnvConfig, spec: FeatureSpec) -> FeatureLayout:
    return FeatureLayout(spec.k, config.lidar.n_beams, STATE_DIM, spec.velocities, ROUTE_DIM if spec.route else 0,
                         spec.path, spec.hide_accel, CLOCK_DIM if spec.clock else 0,
                         JUNCTION_DIM if spec.junction else 0, spec.surface, SIGNAL_DIM if spec.signal else 0,
                         STOPPING_DIM if spec.stopping else 0)


class FeatureFn:
    """Batched observations (camera and its history frame, lidar, state) + camera labels -> features (B, F)."""

    def __init__(self, mode: str, config: EnvConfig, spec: FeatureSpec | None = None, device: str = "auto",
                 weights: str | None = None) -> None:
        if mode not in FEATURE_MODES:
            raise ValueError(f"feature mode {mode!r} unknown; allowed {FEATURE_MODES}")
        self.mode, self.camera = mode, config.camera
        self.layout = feature_layout(config, spec or FeatureSpec())
        self.size = self.layout.size
        self.detector = Detector(weights, device=device) if mode == "perception" else None

    def __call__(self, obs: dict[str, np.ndarray], labels: dict[str, np.ndarray] | None,
                 where: Places | None = None) -> np.ndarray:
        """Features of the observation's worlds; `where` the cars are (`sensors.surface.places`) for
        perception's surface flags (without it they come from a `surface` observation)."""
        if self.mode == "perception":
            if "camera_history" not in obs:
                raise ValueError("perception features need the camera's history frame: CameraConfig.history = "
                                 f"{perception_camera(self.camera).history} (obs_env_config sets it)")
            if self.layout.surface and where is None and "surface" not in obs:
                raise ValueError("perception's surface flags need where the cars are (sensors.surface.places) "
                                 "or the surface observation")
            det = self.detector(obs["camera"], obs["camera_history"])
            return detections_to_features(det, self.camera, obs, self.layout, where)
        return oracle_features(labels, obs, self.layout, self.camera)


def obs_env_config(config: EnvConfig, mode: str, spec: FeatureSpec | None = None) -> EnvConfig:
    """The env config a given observation mode needs: perception the camera and its history frame,
    the oracle only the camera's labels (no frames to draw; they carry each object's surface
    classes), pixels the camera frames; and the vectors `spec` reads (the route waypoints, the
    clock, the junction, the signal timing, the braking a stop needs, the surface grid)."""
    if mode not in OBS_MODES:
        raise ValueError(f"observation mode {mode!r} unknown; allowed {OBS_MODES}")
    extra = (spec or FeatureSpec()).observations(mode)
    camera = perception_camera(config.camera)
    if mode == "pixels":  # the camera and its history frame (motion), and the state
        return config.replace(observations=("camera", "state", *extra), camera_labels=False, camera=camera)
    if mode == "oracle":
        return config.replace(observations=("lidar", "state", *extra), camera_labels=True)
    return config.replace(observations=("camera", "lidar", "state", *extra), camera_labels=False, camera=camera)


@dataclass(frozen=True)
class Group:
    """`n` worlds of one config (one scenario) inside a SuiteVecEnv."""

    config: EnvConfig
    n: int
    name: str = "env"


class SuiteVecEnv(BatchedVecEnv):
    """Groups of worlds (one scenario each) stepped as one batch and seen by SB3 as one VecEnv of
    sum(n) envs; world i of group g is seeded seed + g * GROUP_SEED_STRIDE + i.

    With `timeout_terminal` an episode that reaches its time limit ends as a termination for SB3
    (no `TimeLimit.truncated`, so no bootstrapping): the driving score counts the route completed
    by the limit, and what is not driven by then is lost, not deferred."""

    def __init__(self, groups: list[Group], mode: str = "perception", spec: FeatureSpec | None = None,
                 device: str = "auto", seed: int | None = None, timeout_terminal: bool = False) -> None:
        if not groups or any(g.n < 1 for g in groups):
            raise ValueError("SuiteVecEnv needs at least one group of at least one world")
        self.mode, self.groups, spec = mode, groups, spec or FeatureSpec()
        self.timeout_terminal = timeout_terminal
        configs = [obs_env_config(g.config, mode, spec) for g in groups for _ in range(g.n)]
        try:
            self.env = CityDriveVectorEnv(configs=configs, autoreset_mode=AutoresetMode.SAME_STEP)
        except ConfigError as err:
            raise ValueError(f"the groups of a SuiteVecEnv must share camera, lidar and state layout: {err}") from None
        self.bounds = np.cumsum([0] + [g.n for g in groups])
        self._offsets = np.concatenate([g_i * GROUP_SEED_STRIDE + np.arange(g.n) for g_i, g in enumerate(groups)])
        first = self.env.config
        if mode == "pixels":
            space = observation_space(first)
            self.features = None
        else:
            self.features = FeatureFn(mode, first, spec, device)
            space = spaces.Box(-np.inf, np.inf, shape=(self.features.size,), dtype=np.float32)
        super().__init__(int(self.bounds[-1]), space, self.env.single_action_space)
        self._actions: np.ndarray | None = None
        if seed is not None:
            self.seed(seed)

    @property
    def world(self) -> World:
        return self.env.world

    @property
    def worlds(self) -> list[World]:
        return [self.env.world]

    def _observe(self, obs: dict[str, np.ndarray], labels: dict[str, np.ndarray] | None,
                 where: Places | None = None) -> VecEnvObs:
        if self.features is None:
            return obs
        return self.features(obs, labels, where)

    def reset(self) -> VecEnvObs:
        seed = self._take_seed()
        obs, info = self.env.reset(seed=None if seed is None else list(seed + self._offsets))
        self._reset_options()
        return self._observe(obs, info.get("camera_labels"), places(self.world))

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        features = self._observe(obs, info.get("camera_labels"), places(self.world))
        done = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done.any():
            final = info["final_info"]
            rows = np.flatnonzero(done)  # only the finished worlds' final observations are needed
            labels = final.get("camera_labels")
            terminal = self._observe({k: v[rows] for k, v in info["final_obs"].items()},
                                     None if labels is None else {k: v[rows] for k, v in labels.items()},
                                     places(self.world, rows, final))
            for n, i in enumerate(rows):
                infos[i] = {"terminal_observation": ({k: v[n] for k, v in terminal.items()} if isinstance(terminal, dict)
                                                     else terminal[n]),
                            "TimeLimit.truncated": bool(truncated[i] and not terminated[i]) and not self.timeout_terminal,
                            "route_completion": float(final["route_completion"][i]),
                            "events": {k: bool(v[i]) for k, v in final["events"].items()}}
        return features, reward.astype(np.float32), done, infos


class FeatureVecEnv(SuiteVecEnv):
    """`num_envs` worlds of one config, observations as feature vectors (num_envs, F)."""

    def __init__(self, num_envs: int, mode: str = "perception", config: EnvConfig | None = None,
                 spec: FeatureSpec | None = None, device: str = "auto", seed: int | None = None,
                 **overrides: Any) -> None:
        if mode not in FEATURE_MODES:
            raise ValueError(f"feature mode {mode!r} unknown; allowed {FEATURE_MODES}")
        base = config or EnvConfig()
        if overrides:
            base = base.replace(**overrides)
        super().__init__([Group(base, num_envs)], mode, spec, device, seed)
