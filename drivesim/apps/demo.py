"""`drivesim demo`: the shipped PPO policy drives a few suite scenarios on the shipped perception.

Each scenario runs `--episodes` seeds as one batch (the `drivesim evaluate` metrics); world 0's
episode is filmed from behind the car with a HUD. With a display the frames are shown in a window
as they are made; always they go to `--out/demo.mp4` (H.264, plays in browsers) and a small
`demo.gif` preview, and the evaluation table is printed and written to `--out/report.md` and `--out/report.html` (with the
plots and the film inline). No GPU and no downloads needed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from drivesim.actors.signals import Light
from drivesim.agent import Agent
from drivesim.apps.report import markdown_report, write_report
from drivesim.apps.video import Mp4Writer, write_gif
from drivesim.evaluation import Watch, episode_seeds, run_rows, select_scenarios, suite_metrics
from drivesim.map.city import Turn
from drivesim.render.palette import light_text
from drivesim.render.topdown import follow_image
from drivesim.render.views import PygameWindow
from drivesim.world import World

VIEW_SIZE = 480  # [px]
GIF_SIZE = 240  # [px]
GIF_EVERY = 3  # keep every 3rd frame in the GIF preview
DEFAULT_SCENARIOS = "red_light,pedestrian_crossing,unprotected_left"
def hud(frame: np.ndarray, world: World, b: int, title: str, reward: float) -> np.ndarray:
    """Write the scenario, speed, command, light ahead and progress onto a frame (in place)."""
    dist, light = world.route.next_stop_line()
    lines = [
        f"{title}  t={world.time[b]:5.1f}s  return {reward:7.2f}",
        f"speed {world.ego.v[b] * 3.6:5.1f} km/h   command {Turn(world.route.command()[b]).name.lower()}",
        light_text(float(dist[b]), Light(light[b])),
        f"route {world.progress[b]:6.1f} / {world.route_total[b]:6.1f} m",
    ]
    # a dimmed panel behind the text (an outline drawn thicker would be wider and misalign the glyphs)
    frame[4:8 + 20 * len(lines), 4:360] = (frame[4:8 + 20 * len(lines), 4:360] * 0.35).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(frame, text, (10, 22 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and \
        os.environ.get("SDL_VIDEODRIVER") != "dummy"


class Film:
    """Frames of world 0 to an H.264 MP4, a GIF preview and (with a display) a window."""

    def __init__(self, out: Path, fps: int, window: bool) -> None:
        self.path = out / "demo.mp4"
        self.gif_path = out / "demo.gif"
        self.fps = fps
        self.writer = Mp4Writer(self.path, fps)
        self.gif: list[np.ndarray] = []
        self.window = None
        if window:
            self.window = PygameWindow("drivesim demo", fps=2 * fps)

    @property
    def frames(self) -> int:
        return self.writer.frames

    def watcher(self, title: str) -> Watch:
        def watch(world: World, b: int, reward: float) -> None:
            frame = hud(follow_image(world, b, VIEW_SIZE, 70.0), world, b, title, reward)
            if self.frames % GIF_EVERY == 0:
                self.gif.append(cv2.resize(frame, (GIF_SIZE, GIF_SIZE), interpolation=cv2.INTER_AREA))
            self.writer.write(frame)
            if self.window is not None:
                self.window.show(frame)

        return watch

    def close(self) -> None:
        self.writer.close()
        if self.window is not None:
            self.window.close()
        if self.gif:
            write_gif(self.gif_path, self.gif, self.fps / GIF_EVERY)


def run_demo(args: argparse.Namespace, agent: Agent) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suite = select_scenarios(args.scenarios, args.max_steps)
    window = has_display() and not args.no_window
    film = Film(out, int(round(1 / suite[0].config.dt)), window)
    where = "a window and " if window else ""
    print(f"drivesim demo: agent {args.agent} on {', '.join(s.name for s in suite)} ({args.episodes} episodes each); "
          f"filming the first episode of each to {where}{film.path}")
    start = time.perf_counter()
    records = []
    try:  # one batch per scenario, so the film shows their first episodes one after the other
        for scenario in suite:
            rows = [(scenario, seed) for seed in episode_seeds(scenario, args.episodes, args.seed)]
            records += run_rows(agent, rows, watchers={scenario.name: film.watcher(scenario.name)})
    finally:
        film.close()
    metrics = suite_metrics(records, args.agent, suite, args.episodes, args.seed, time.perf_counter() - start)
    write_report(metrics, out, videos={"demo (first episode of each scenario)": film.path},
                 title=f"drivesim demo: {args.agent}")
    print()
    print(markdown_report(metrics))
    print(f"wrote {film.path} ({film.frames} frames, H.264), {film.gif_path}, {out / 'report.md'}, "
          f"{out / 'report.html'} and plots in {time.perf_counter() - start:.0f} s")
    return 0
