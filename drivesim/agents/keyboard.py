"""Drive with the keyboard (arrows/WASD) in a pygame window: one world at a time."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from drivesim.agent import BaseAgent
from drivesim.render.views import PygameWindow, full_view

if TYPE_CHECKING:
    from drivesim.world import World


class KeyboardAgent(BaseAgent):
    """Human driver for `drivesim evaluate --agent keyboard` (needs a display)."""

    name = "keyboard"
    max_batch = 1  # a human drives one world at a time

    def __init__(self) -> None:
        if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen") or not (
                os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.name == "nt"):
            raise RuntimeError("the keyboard agent needs a display; use `drivesim play` interactively, or "
                               "--agent expert|random|ppo:PATH headless")
        self.window = PygameWindow("drivesim evaluate: keyboard")
        self.action = np.zeros(2)

    def reset(self, world: World) -> None:
        self.action[:] = 0.0

    def act(self, world: World, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        import pygame

        self.window.show(full_view(world, 0))
        keys = pygame.key.get_pressed()
        steer = float(keys[pygame.K_LEFT] or keys[pygame.K_a]) - float(keys[pygame.K_RIGHT] or keys[pygame.K_d])
        throttle = float(keys[pygame.K_UP] or keys[pygame.K_w]) - float(keys[pygame.K_DOWN] or keys[pygame.K_s])
        self.action += np.clip(np.array([steer, throttle]) - self.action, -0.3, 0.3)  # smooth key presses
        return np.tile(self.action, (world.batch_size, 1))
