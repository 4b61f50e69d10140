"""The key map of `drivesim play`: pygame events -> session commands and the human's key target.

Keys: arrows/WASD drive, Space pause, N single step (paused), R new episode, Tab autopilot,
G overlays, F12 screenshot, V start/stop recording, 1-9 scenario, Esc quit."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before the first pygame import
import pygame  # noqa: E402

STEER_KEYS = {pygame.K_LEFT: 1.0, pygame.K_a: 1.0, pygame.K_RIGHT: -1.0, pygame.K_d: -1.0}  # left = +steer
THROTTLE_KEYS = {pygame.K_UP: 1.0, pygame.K_w: 1.0, pygame.K_DOWN: -1.0, pygame.K_s: -1.0}  # down = brake
COMMANDS = {pygame.K_ESCAPE: "quit", pygame.K_SPACE: "toggle_pause", pygame.K_n: "request_step",
            pygame.K_r: "next_episode", pygame.K_TAB: "toggle_autopilot", pygame.K_g: "toggle_overlays",
            pygame.K_F12: "screenshot", pygame.K_v: "toggle_recording"}
KEY_HELP = ("arrows/WASD drive   Space pause   N step   R reset   Tab autopilot",
            "G overlays   F12 screenshot   V record   1-9 scenario   Esc quit")


def key_axis(held: set[int], keys: Mapping[int, float]) -> float:
    """Sum of the directions of the held keys of one axis, clipped to [-1, 1]."""
    return float(np.clip(sum(direction for key, direction in keys.items() if key in held), -1.0, 1.0))


class Controls:
    """Keys held down, and what a pygame event asks for."""

    def __init__(self) -> None:
        self.held: set[int] = set()

    def target(self) -> np.ndarray:
        """(steer, throttle) in [-1, 1] of the held driving keys."""
        return np.array([key_axis(self.held, STEER_KEYS), key_axis(self.held, THROTTLE_KEYS)])

    def command(self, event: pygame.event.Event) -> tuple[str, int | None] | None:
        """(command name, argument) for a quit or key press ("select_scenario", index for 1-9), None
        for anything else; tracks held keys (focus loss releases them all)."""
        if event.type == pygame.QUIT:
            return "quit", None
        if event.type == pygame.KEYDOWN:
            self.held.add(event.key)
            if event.key in COMMANDS:
                return COMMANDS[event.key], None
            if pygame.K_1 <= event.key <= pygame.K_9:
                return "select_scenario", event.key - pygame.K_1
        elif event.type == pygame.KEYUP:
            self.held.discard(event.key)
        elif event.type == pygame.WINDOWFOCUSLOST:
            self.held.clear()
        return None
