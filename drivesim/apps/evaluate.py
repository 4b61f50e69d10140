"""`drivesim evaluate`: run an agent on the scenario suite (the core's runner) and write metrics,
report.md, report.html, plots and, with `--video`, an H.264 MP4 of each scenario's first episode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivesim.agent import Agent
from drivesim.apps.report import write_report
from drivesim.apps.video import Mp4Writer
from drivesim.evaluation import run_suite, select_scenarios
from drivesim.render.views import full_view
from drivesim.scenarios.loader import Scenario
from drivesim.world import World


class EpisodeFilm:
    """A runner watcher: one world's episode in the full top-down view, to an MP4."""

    def __init__(self, path: Path, fps: float) -> None:
        self.writer = Mp4Writer(path, fps)

    def __call__(self, world: World, b: int, episode_return: float) -> None:
        self.writer.write(full_view(world, b))

    def close(self) -> None:
        self.writer.close()


def evaluate(agent: Agent, agent_name: str, scenarios: str = "all", episodes: int = 20, seed: int = 0,
             out: str | Path = "runs/eval", video: bool = False, progress: bool = True,
             max_steps: int | None = None) -> dict[str, Any]:
    """Evaluate and write DIR/metrics.json, report.md, report.html, *.png (and DIR/videos/*.mp4);
    returns the metrics. `max_steps` caps every episode (a quick look; scores are not comparable)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suite = select_scenarios(scenarios, max_steps)
    films: dict[str, EpisodeFilm] = {}

    def watch(scenario: Scenario) -> EpisodeFilm | None:
        if not video:
            return None
        films[scenario.name] = EpisodeFilm(out / "videos" / f"{scenario.name}.mp4", round(1 / scenario.config.dt))
        return films[scenario.name]

    try:
        metrics = run_suite(agent, agent_name, suite, episodes, seed, watch, progress=progress)
    finally:
        for film in films.values():
            film.close()
    write_report(metrics, out, videos={name: film.writer.path for name, film in films.items()})
    return metrics
