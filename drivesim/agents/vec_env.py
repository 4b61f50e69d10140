"""Stable-Baselines3 `VecEnv` over the batched environment. It lives in the agents layer because it
imports SB3 (hence torch), which the core never does.

SB3 resets finished environments within the same step and passes the last observation in
`info["terminal_observation"]`; this adapter runs the batched env in `SAME_STEP` mode and converts
its dict-of-arrays info into SB3's list of per-env dicts (with `TimeLimit.truncated`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from drivesim.config import EnvConfig
from drivesim.envs.spaces import row
from drivesim.envs.vector import CityDriveVectorEnv


class BatchedVecEnv(VecEnv):
    """SB3 plumbing shared by VecEnvs over one batched env `self.env` (attribute and method calls
    reach the batched env, once per requested index)."""

    env: CityDriveVectorEnv

    def _take_seed(self) -> int | None:
        """The base seed set by `seed()` for this reset (world i gets seed + i), then forget it."""
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        self._reset_seeds()
        return seed

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.env, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        return [getattr(self.env, method_name)(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


class SB3VecEnv(BatchedVecEnv):
    """`num_envs` worlds stepped as one batch, seen by SB3 as `num_envs` environments."""

    def __init__(self, num_envs: int, config: EnvConfig | None = None, seed: int | None = None,
                 **overrides: Any) -> None:
        self.env = CityDriveVectorEnv(num_envs, config, autoreset_mode=AutoresetMode.SAME_STEP, **overrides)
        super().__init__(num_envs, self.env.single_observation_space, self.env.single_action_space)
        self._actions: np.ndarray | None = None
        if seed is not None:
            self.seed(seed)

    def reset(self) -> VecEnvObs:
        obs, info = self.env.reset(seed=self._take_seed())
        self.reset_infos = [row(info, i) for i in range(self.num_envs)]
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        done = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done.any():
            final_obs, final_info = info["final_obs"], info["final_info"]
            for i in np.flatnonzero(done):
                infos[i] = {
                    "terminal_observation": {k: v[i] for k, v in final_obs.items()},
                    "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                    "events": {k: bool(v[i]) for k, v in final_info["events"].items()},
                    "route_completion": float(final_info["route_completion"][i]),
                }
        return obs, reward.astype(np.float32), done, infos

