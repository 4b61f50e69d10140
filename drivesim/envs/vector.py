"""Batched `drivesim/CityDrive-v0`: one World of B cities behind the gymnasium VectorEnv API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from drivesim.config import EnvConfig
from drivesim.envs.spaces import action_space, make_config, observation_space, observe, step_info, validate_actions
from drivesim.world import World


class CityDriveVectorEnv(VectorEnv):
    """B worlds stepped together; world i behaves exactly like a `CityDriveEnv` seeded `seed + i`.
    `configs` (one EnvConfig per world) makes a mixed batch, e.g. the whole scenario suite: the
    worlds must agree on vehicle, sensors, observation keys and dt, and may differ in everything
    else (traffic, map, scenario, rewards, time limit).

    Autoreset: `AutoresetMode.NEXT_STEP` by default (the step after an episode ends returns the
    first observation of the next one, with zero reward), or `SAME_STEP` (the ended episodes' last
    observations and infos go to `info["final_obs"]` / `info["final_info"]`, rows `info["_final_obs"]`;
    the other rows of the final observation and of its camera labels read zero).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": [], "render_fps": 10}

    def __init__(self, num_envs: int = 1, config: EnvConfig | None = None, render_mode: str | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 configs: Sequence[EnvConfig] | None = None, **overrides: Any) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode={render_mode!r} is not supported by the vector env")
        mode = AutoresetMode(autoreset_mode)
        if mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode DISABLED is not supported; use NEXT_STEP or SAME_STEP")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        if configs is not None:
            if config is not None or overrides:
                raise ValueError("pass either configs (one per world) or config/overrides, not both")
            configs = [make_config(c, {}) for c in configs]
            self.num_envs = len(configs)
            self.world = World(configs)
        else:
            self.num_envs = int(num_envs)
            self.world = World(make_config(config, overrides), batch_size=self.num_envs)
        self.config = self.world.config
        self.render_mode = None
        self.single_observation_space = observation_space(self.config)
        self.single_action_space = action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._seeds: np.ndarray | None = None
        self._episodes = np.zeros(self.num_envs, dtype=np.int64)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._started = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed if isinstance(seed, int) else None)
        mask = np.ones(self.num_envs, dtype=bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            if mask.shape != (self.num_envs,):
                raise ValueError(f"options['reset_mask'] must have shape ({self.num_envs},), got {mask.shape}")
        if seed is not None:
            seeds = np.atleast_1d(np.asarray(seed, dtype=np.int64))
            if seeds.size == 1:
                seeds = seeds[0] + np.arange(self.num_envs)
            if seeds.shape != (self.num_envs,) or (seeds < 0).any():
                raise ValueError(f"seed must be a non-negative int or a list of {self.num_envs} of them, got {seed!r}")
            self._seeds = seeds.astype(np.uint64)
            self._episodes[mask] = 0
        elif self._seeds is None:
            self._seeds = self.np_random.integers(2**63, size=self.num_envs).astype(np.uint64)
        else:
            self._episodes[mask] += 1
        rows = np.flatnonzero(mask)
        self.world.reset(self._seeds[rows], self._episodes[rows], rows)
        self._autoreset[mask] = False
        self._started = True
        obs, labels = observe(self.world)
        return obs, step_info(self.world, {}, {}, labels)

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        act = validate_actions(actions, self.num_envs, batched=True)
        result = self.world.step(act)
        reward, terminated, truncated = result.reward, result.terminated, result.truncated
        if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP:
            restart = np.flatnonzero(self._autoreset)
            self._restart(restart)
            reward, terminated, truncated = reward.copy(), terminated.copy(), truncated.copy()
            reward[restart], terminated[restart], truncated[restart] = 0.0, False, False
            for table in (result.terms, result.events):
                for value in table.values():
                    value[restart] = 0
            self._autoreset = terminated | truncated
            obs, labels = observe(self.world)
            return obs, reward, terminated, truncated, step_info(self.world, result.terms, result.events, labels)
        # SAME_STEP: report the final observation, then restart at once
        obs, labels = observe(self.world)
        info = step_info(self.world, result.terms, result.events, labels)
        done = terminated | truncated
        if done.any():
            rows = np.flatnonzero(done)
            # the ended worlds' rows of the observation and labels (the rest zero), so that the
            # restarted worlds can be redrawn into the step's own arrays instead of a copy of the batch
            if "camera_labels" in info:
                info = {**info, "camera_labels": {k: _rows_of(v, rows) for k, v in info["camera_labels"].items()}}
            final = {"final_obs": {k: _rows_of(v, rows) for k, v in obs.items()}, "final_info": info,
                     "_final_obs": done, "_final_info": done}
            self._restart(rows)
            obs, labels = self.world.observe(rows, (obs, labels), in_place=True)  # redraws the restarted worlds only
            info = {**step_info(self.world, result.terms, result.events, labels), **final}
        return obs, reward, terminated, truncated, info

    def _restart(self, rows: np.ndarray) -> None:
        if rows.size:
            self._episodes[rows] += 1
            self.world.reset(self._seeds[rows], self._episodes[rows], rows)


def _rows_of(batch: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A zero array like `batch` holding its `rows` (calloc'd: the untouched rows cost no memory traffic)."""
    out = np.zeros(batch.shape, dtype=batch.dtype)
    out[rows] = batch[rows]
    return out
