"""The privileged expert: the core's autopilot (`drivesim.actors.autopilot`: the driver model the
NPC cars follow, on the controlled car's route, plus pure-pursuit steering) as an agent. It reads
the World's state, needs no observation, and is the baseline every learned agent is compared
against and the teacher for behaviour cloning."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drivesim.actors.autopilot import AutopilotConfig, autopilot_actions

if TYPE_CHECKING:
    from drivesim.world import World

ExpertConfig = AutopilotConfig


class ExpertAgent:
    """`act(world) -> (B, 2)` actions in [-1, 1] (privileged: reads the World, needs no observation)."""

    name = "expert"
    observations: tuple[str, ...] | None = None

    def __init__(self, config: AutopilotConfig | None = None) -> None:
        self.cfg = config or AutopilotConfig()

    def reset(self, world: World) -> None:
        return None

    def act(self, world: World, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return autopilot_actions(world, self.cfg)
