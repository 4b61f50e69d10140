"""Gymnasium environments over the batched World."""

from drivesim.envs.city_drive import CityDriveEnv
from drivesim.envs.vector import CityDriveVectorEnv

__all__ = ["CityDriveEnv", "CityDriveVectorEnv"]
