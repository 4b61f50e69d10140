"""The small interface every driving agent implements, and the simple baselines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from drivesim.world import World


class Agent(Protocol):
    """Drives a batch of worlds. `observations` names the observation keys `act` needs (None:
    privileged, reads the World directly)."""

    name: str
    observations: tuple[str, ...] | None

    def reset(self, world: World) -> None:
        """Called when new episodes start in all worlds."""

    def act(self, world: World, obs: dict[str, np.ndarray] | None) -> np.ndarray:
        """(B, 2) actions in [-1, 1]."""


class RandomAgent:
    """Uniformly random steering and throttle/brake: the floor every agent should beat."""

    name = "random"
    observations: tuple[str, ...] | None = None

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, world: World) -> None:
        return None

    def act(self, world: World, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(world.batch_size, 2))
