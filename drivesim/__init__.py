"""drivesim: a fast, batched city-driving simulator with Gymnasium environments.

`import drivesim` registers `drivesim/CityDrive-v0` (single env and vector entry point). This
package never imports torch; `perception` and `agents` bring it.
"""

from __future__ import annotations

import gymnasium as gym

from drivesim.config import (
    ConfigError,
    EnvConfig,
    LidarConfig,
    MapConfig,
    RewardConfig,
    TrafficConfig,
    VehicleConfig,
)

__version__ = "0.1.0"
ENV_ID = "drivesim/CityDrive-v0"
MAX_EPISODE_STEPS = EnvConfig().max_episode_steps

if ENV_ID not in gym.registry:
    gym.register(
        id=ENV_ID,
        entry_point="drivesim.envs.city_drive:CityDriveEnv",
        vector_entry_point="drivesim.envs.vector:CityDriveVectorEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
    )

__all__ = ["ENV_ID", "ConfigError", "EnvConfig", "LidarConfig", "MapConfig", "RewardConfig", "TrafficConfig",
           "VehicleConfig", "__version__"]
