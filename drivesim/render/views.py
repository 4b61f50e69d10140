"""Human-facing views of one world: the full view behind `render_mode="rgb_array"` and a pygame
window for `render_mode="human"`. Nothing here runs unless rendering is asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drivesim.render.topdown import follow_image
from drivesim.sensors.lidar import lidar_scan

if TYPE_CHECKING:
    from drivesim.world import World

VIEW_SIZE = 480  # [px] of the full view
VIEW_METRES = 70.0  # [m] shown across the full view


def full_view(world: World, b: int = 0, size: int = VIEW_SIZE, metres: float = VIEW_METRES) -> np.ndarray:
    """Heading-up top-down view of world b with route, lidar rays and the camera footprint,
    uint8 (size, size, 3) RGB."""
    ranges, _ = lidar_scan(world)
    return follow_image(world, b, size, metres, lidar=ranges[b], footprint=True)


class PygameWindow:
    """A window that shows RGB frames (opened on first use; `SDL_VIDEODRIVER=dummy` works headless)."""

    def __init__(self, title: str = "drivesim", fps: int = 10) -> None:
        self.title, self.fps = title, fps
        self._screen = None
        self._clock = None

    def show(self, frame: np.ndarray) -> None:
        import pygame

        if self._screen is None:
            pygame.display.init()  # not pygame.init(): no audio device is needed
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self._screen.blit(surface, (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        if self._screen is not None:
            import pygame

            pygame.display.quit()
            self._screen = None
