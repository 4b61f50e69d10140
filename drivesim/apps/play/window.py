"""The window loop of `drivesim play`: pygame input -> Session commands, Session.tick, Hud.compose,
show and record. Headless (`SDL_VIDEODRIVER=dummy` or no display) nothing waits for input: the
expert drives (zero actions with an explicit `--agent human`) for `--frames` frames."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from drivesim.apps.play.hud import WINDOW_SIZE, Hud
from drivesim.apps.play.keys import Controls, pygame
from drivesim.apps.play.scenarios import ScenarioCatalog
from drivesim.apps.play.session import PlayConfig, Session, save_png
from drivesim.apps.video import Mp4Writer
from drivesim.render.views import PygameWindow


def is_headless() -> bool:
    """True when no window can be shown: SDL's dummy/offscreen driver or, on Linux, no display."""
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return True
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Game:
    """A Session with its key controls and HUD: what the loop drives (and tests poke)."""

    def __init__(self, config: PlayConfig, catalog: ScenarioCatalog | None = None) -> None:
        self.session = Session(config, catalog)
        self.controls = Controls()
        self.hud = Hud()

    def handle_event(self, event: pygame.event.Event) -> None:
        """React to one pygame event: run its command, update the human's key target."""
        command = self.controls.command(event)
        self.session.target = self.controls.target()
        if command is None:
            return
        name, arg = command
        if name == "screenshot":
            self.session.screenshot(self.session.last_frame if self.session.last_frame is not None else self.compose())
        elif arg is not None:
            getattr(self.session, name)(arg)
        else:
            getattr(self.session, name)()

    def compose(self) -> np.ndarray:
        return self.hud.compose(self.session)

    def render_frame(self) -> np.ndarray:
        """Compose the window and hand it to the session (screenshots, V recording)."""
        frame = self.compose()
        self.session.show(frame)
        return frame

    def close(self) -> None:
        self.session.close()


def play_loop(game: Game, window: PygameWindow | None, writer: Mp4Writer | None) -> None:
    """Run frames until quit or the frame limit: input (window only), step, compose, show, record."""
    session = game.session
    limit = session.config.frames
    while session.running and (limit is None or session.frame_count < limit):
        if window is not None:
            for event in pygame.event.get():
                game.handle_event(event)
            if not session.running:
                break
        session.tick()
        frame = game.render_frame()
        if writer is not None:
            writer.write(frame)
        if window is not None:
            window.show(frame)


def run_play(args: argparse.Namespace) -> int:
    """`drivesim play`: returns the exit code."""
    headless = is_headless()
    if headless:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    catalog = ScenarioCatalog()
    try:
        config = PlayConfig.from_args(args, headless, catalog)
    except ValueError as err:
        print(f"drivesim play: {err}", file=sys.stderr)
        return 2
    print(f"drivesim play: scenario {config.scenario}, seed {config.seed}, "
          + (f"headless ({config.agent} drives {config.frames} frames)" if headless else "window (Esc quits)"))
    game = Game(config, catalog)
    if not headless:
        pygame.display.init()  # not pygame.init(): no audio device is needed
    window = None if headless else PygameWindow("drivesim play", config.fps)
    writer = Mp4Writer(config.record, config.fps) if config.record else None
    try:
        play_loop(game, window, writer)
    finally:
        game.close()
        if writer is not None:
            writer.close()
            print(f"wrote {config.record} ({writer.frames} frames, H.264)")
        if window is not None:
            window.close()
    last = game.session.last_frame
    if config.screenshot is not None:
        save_png(config.screenshot, last if last is not None else game.compose())
        print(f"wrote {config.screenshot}")
    return 0


__all__ = ["WINDOW_SIZE", "Game", "is_headless", "play_loop", "run_play"]
