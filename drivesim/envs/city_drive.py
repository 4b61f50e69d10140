"""`drivesim/CityDrive-v0`: drive a route through a procedural city (single world)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from drivesim.config import EnvConfig
from drivesim.envs.spaces import action_space, make_config, observation_space, observe, row, step_info, validate_actions
from drivesim.render.views import PygameWindow, full_view
from drivesim.world import World


class CityDriveEnv(gym.Env):
    """
    ## Description
    The ego car follows a planned route through a grid city with signalised intersections,
    NPC cars (IDM) and pedestrians. Control runs at 10 Hz (`EnvConfig.dt`).

    ## Action Space
    `Box(-1, 1, (2,), float32)`: steering (positive = left, scaled by `max_steer`) and
    acceleration (positive = throttle up to `max_accel`, negative = brake up to `max_brake`).
    Out-of-range values are clipped; NaN/inf or a wrong shape raises `ValueError`.

    ## Observation Space
    `Dict` with the keys chosen by `observations`: `lidar` (N,) float32 ranges in [0, 1] plus
    `lidar_class` (N,) hit classes (none, building, car, pedestrian), and `state` (16,) float32
    (see `drivesim.sensors.state.STATE_FIELDS`).

    ## Rewards
    The sum of named, weighted terms (`RewardConfig`): progress, collision, red_light, off_road,
    wrong_way, lane_keeping, speeding, comfort, goal, off_route, stuck; each is in `info["reward_terms"]`.

    ## Starting State
    The ego stands still on a random road lane with a random route of `route_length` metres.

    ## Episode End
    Terminated on a collision (car, pedestrian, building), reaching the goal, leaving the route by
    more than `off_route_distance`, or making no progress for `stuck_time`; truncated after
    `max_episode_steps`. `info["events"]` says which.

    ## Arguments
    `config` (EnvConfig), `observations` (tuple of "lidar", "state"), `render_mode`, and any other
    EnvConfig field as a keyword (sub-configs as dicts of overrides, e.g. `traffic={"n_cars": 8}`).

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(self, config: EnvConfig | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not supported; allowed {self.metadata['render_modes']}")
        self.config = make_config(config, overrides)
        self.render_mode = render_mode
        self.world = World(self.config, batch_size=1)
        self.observation_space = observation_space(self.config)
        self.action_space = action_space()
        self._window: PygameWindow | None = None
        self._seed: int | None = None
        self._episode = 0
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._seed, self._episode = int(seed), 0
        elif self._seed is None:
            self._seed, self._episode = int(self.np_random.integers(2**63)), 0
        else:
            self._episode += 1
        self.world.reset(np.array([self._seed], dtype=np.uint64), np.array([self._episode]))
        self._needs_reset = False
        obs, labels = observe(self.world)
        info = row(step_info(self.world, {}, {}, labels), 0)
        obs = {key: value[0] for key, value in obs.items()}
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        act = validate_actions(action, 1, batched=False)
        result = self.world.step(act)
        terminated, truncated = bool(result.terminated[0]), bool(result.truncated[0])
        self._needs_reset = terminated or truncated
        obs, labels = observe(self.world)
        info = row(step_info(self.world, result.terms, result.events, labels), 0)
        obs = {key: value[0] for key, value in obs.items()}
        if self.render_mode == "human":
            self.render()
        return obs, float(result.reward[0]), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """`rgb_array`: the full top-down view (route, lidar rays, camera footprint) as uint8
        (480, 480, 3); `human`: the same view in a pygame window. Costs nothing when not called."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        frame = full_view(self.world, 0)
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            self._window = PygameWindow("drivesim", self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
