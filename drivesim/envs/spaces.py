"""Observation/action spaces, batched observation assembly and action validation, shared by the
single and the vector environment."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces

from drivesim.config import EnvConfig
from drivesim.scenarios.loader import load_scenario
from drivesim.sensors.camera import CameraLabels
from drivesim.sensors.clock import CLOCK_DIM
from drivesim.sensors.junction import JUNCTION_DIM
from drivesim.sensors.lidar import N_HIT_CLASSES
from drivesim.sensors.signal import SIGNAL_DIM
from drivesim.sensors.state import STATE_DIM
from drivesim.sensors.stopping import STOPPING_DIM
from drivesim.sensors.surface import SURFACE_CLASSES, surface_shape
from drivesim.sensors.waypoints import ROUTE_DIM
from drivesim.world import World

ACTION_DIM = 2  # steer, accel/brake


def action_space() -> spaces.Box:
    """[-1, 1]^2: steer (+ left) and accel (+) / brake (-)."""
    return spaces.Box(-1.0, 1.0, shape=(ACTION_DIM,), dtype=np.float32)


UNIT_VECTORS = {  # observations of values in [0, 1] -> their size
    "clock": CLOCK_DIM,  # the time left before the time limit and the stuck rule (drivesim/sensors/clock.py)
    "junction": JUNCTION_DIM,  # inside the intersection and how far through it (drivesim/sensors/junction.py)
    "signal": SIGNAL_DIM,  # the timing of the light at the next stop line (drivesim/sensors/signal.py)
    "stopping": STOPPING_DIM,  # the braking a stop at the next stop line needs (drivesim/sensors/stopping.py)
}


def observation_space(config: EnvConfig) -> spaces.Dict:
    """Dict space of one world; keys follow `config.observations` ('lidar' adds 'lidar' ranges and
    'lidar_class' hit classes; 'camera' with `camera.history` > 0 adds 'camera_history')."""
    entries: dict[str, spaces.Space[Any]] = {}
    for key in config.observations:
        if key == "lidar":
            n = config.lidar.n_beams
            entries["lidar"] = spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32)
            entries["lidar_class"] = spaces.MultiDiscrete(np.full(n, N_HIT_CLASSES, dtype=np.int64))
        elif key == "state":
            entries["state"] = spaces.Box(-1.0, 1.0, shape=(STATE_DIM,), dtype=np.float32)
        elif key == "route":  # the route's next waypoints in the ego frame (drivesim/sensors/waypoints.py)
            entries["route"] = spaces.Box(-2.0, 2.0, shape=(ROUTE_DIM,), dtype=np.float32)
        elif key in UNIT_VECTORS:
            entries[key] = spaces.Box(0.0, 1.0, shape=(UNIT_VECTORS[key],), dtype=np.float32)
        elif key == "surface":  # the map's surface classes around the car, ego frame (drivesim/sensors/surface.py)
            entries["surface"] = spaces.Box(0, len(SURFACE_CLASSES) - 1, shape=surface_shape(config.camera), dtype=np.uint8)
        elif key == "camera":
            c = config.camera
            entries["camera"] = spaces.Box(0, 255, shape=(c.height, c.width, 3), dtype=np.uint8)
            if c.history:  # the scene `history` steps earlier, seen from the current pose
                entries["camera_history"] = spaces.Box(0, 255, shape=(c.height, c.width, 3), dtype=np.uint8)
    return spaces.Dict(entries)


def observe(world: World) -> tuple[dict[str, np.ndarray], CameraLabels | None]:
    """Batched observation (every value has a leading axis B) and the camera labels (or None)."""
    return world.observe()


def validate_actions(action: Any, batch_size: int, batched: bool) -> np.ndarray:
    """Check and clip actions. Returns (B, 2) float64 in [-1, 1].

    Raises ValueError naming what was received for a wrong shape, a non-numeric type, or NaN/inf."""
    expected = (batch_size, ACTION_DIM) if batched else (ACTION_DIM,)
    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"action must be numeric with shape {expected}, got {action!r}") from None
    if arr.shape != expected:
        raise ValueError(f"action must have shape {expected} (steer, accel), got shape {arr.shape}: {action!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"action contains NaN or inf: {action!r}")
    return np.clip(arr.reshape(batch_size, ACTION_DIM), -1.0, 1.0)


def make_config(config: EnvConfig | None, overrides: dict[str, Any]) -> EnvConfig:
    """Apply keyword overrides (as given to gymnasium.make) to a config. `scenario="NAME"` or a
    path loads a scenario file first."""
    scenario = overrides.get("scenario")
    if isinstance(scenario, (str, os.PathLike)):
        overrides = {k: v for k, v in overrides.items() if k != "scenario"}
        base_cfg = load_scenario(scenario).config
        return base_cfg.replace(**overrides) if overrides else base_cfg
    base = config if config is not None else EnvConfig()
    if not isinstance(base, EnvConfig):
        raise TypeError(f"config must be an EnvConfig, got {type(base).__name__}")
    return base.replace(**overrides) if overrides else base


def step_info(world: World, terms: dict[str, np.ndarray], events: dict[str, np.ndarray],
              labels: CameraLabels | None = None) -> dict[str, Any]:
    """Batched info: named reward terms, events and route figures, each (B,); the camera labels
    when `camera_labels` is on."""
    info: dict[str, Any] = {
        "reward_terms": terms,
        "events": events,
        "progress": world.progress.copy(),  # [m]
        "route_length": world.route_total.copy(),  # [m]
        "route_completion": world.route_completion,
        "distance": world.distance.copy(),  # [m] driven
        "speed": world.ego.v,  # [m/s]
        "pose": world.pose,  # (B, 3) ego x, y [m], yaw [rad] in the world frame (odometry)
        "time": world.time.astype(np.float64),  # [s]
        "steps": world.t.copy(),  # steps since the episode's reset
        "map_index": world.map_idx - world.params.world["map_first"],  # map seed = MapConfig.seed + map_index
    }
    if world.config.camera_labels:
        info["camera_labels"] = (labels if labels is not None else world.camera.labels(world))._asdict()
    return info


def row(tree: Any, i: int) -> Any:
    """Row i of a nested dict of batched arrays, as Python/numpy scalars and arrays."""
    if isinstance(tree, dict):
        return {k: row(v, i) for k, v in tree.items()}
    value = tree[i]
    return value.item() if isinstance(value, np.generic) else value
