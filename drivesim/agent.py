"""The agent protocol (what the evaluation runner, the demo and PPO's validation drive a batch of
worlds with) and the two agents the core provides: the privileged autopilot and random actions.

Like `gymnasium.Env`, the protocol lives in the core and every layer above implements it
(`drivesim.agents.policy.PolicyAgent`, `drivesim.agents.keyboard.KeyboardAgent`). `BaseAgent`
gives the defaults; `check_agent` tells what an object lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from drivesim.actors.autopilot import AutopilotConfig, autopilot_actions

if TYPE_CHECKING:
    from drivesim.world import World


@runtime_checkable
class Agent(Protocol):
    """Drives a batch of worlds.

    name: shown in reports. observations: the observation keys `act` needs, or None for a
    privileged agent that reads the World directly (then `act` gets obs=None). config_overrides:
    EnvConfig fields the agent needs set in every world it drives (e.g. {"camera_labels": True}).
    max_batch: the most worlds it drives at once (None: any number; a human: 1)."""

    name: str
    observations: tuple[str, ...] | None
    config_overrides: Mapping[str, Any]
    max_batch: int | None

    def reset(self, world: World) -> None:
        """Called when new episodes start in all worlds."""

    def act(self, world: World, obs: dict[str, np.ndarray] | None) -> np.ndarray:
        """(B, 2) actions (steer, throttle/brake) in [-1, 1]."""


class BaseAgent:
    """Defaults of the protocol: privileged, no config overrides, any batch size, nothing to reset."""

    name = "agent"
    observations: tuple[str, ...] | None = None
    config_overrides: Mapping[str, Any] = {}
    max_batch: int | None = None

    def reset(self, world: World) -> None:
        return None

    def act(self, world: World, obs: dict[str, np.ndarray] | None) -> np.ndarray:
        raise NotImplementedError


def check_agent(agent: object) -> Agent:
    """`agent` if it implements the protocol, else a TypeError naming what is missing."""
    missing = [name for name in ("name", "observations", "config_overrides", "max_batch", "reset", "act")
               if not hasattr(agent, name)]
    if missing:
        raise TypeError(f"{type(agent).__name__} is not a drivesim Agent: it lacks {', '.join(missing)} "
                        "(subclass drivesim.agent.BaseAgent for the defaults)")
    return agent  # type: ignore[return-value]


class ExpertAgent(BaseAgent):
    """The privileged expert: the core's autopilot (the driver model the NPC cars follow, on the
    controlled car's route, plus pure-pursuit steering). It reads the World's state, needs no
    observation, and is the baseline every learned agent is compared against, the teacher for
    behaviour cloning and the driver of the perception dataset collector."""

    name = "expert"

    def __init__(self, config: AutopilotConfig | None = None) -> None:
        self.cfg = config or AutopilotConfig()

    def act(self, world: World, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return autopilot_actions(world, self.cfg)


class RandomAgent(BaseAgent):
    """Uniformly random steering and throttle/brake: the floor every agent should beat."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, world: World, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(world.batch_size, 2))
