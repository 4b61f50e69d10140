"""`drivesim evaluate`: run an agent on the scenario suite and write metrics, a report and plots.

All episodes of the suite run as one batch of worlds (each world carries its scenario; episode i
of a scenario = its i-th seed plus `--seed`), one episode per world; the agent acts on the whole
batch each step.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.envs.spaces import observe
from drivesim.metrics import INFRACTIONS, EpisodeRecord, record_to_dict, summarize
from drivesim.scenarios.loader import Scenario, list_scenarios, load_scenario
from drivesim.world import World


@dataclass
class _Tracker:
    """Per-world accumulators of the running episodes (arrays (B,))."""

    active: np.ndarray
    infractions: dict[str, np.ndarray]
    off_road: np.ndarray
    wrong_way: np.ndarray
    jerk_sum: np.ndarray
    lat_sum: np.ndarray
    lat_max: np.ndarray
    steps: np.ndarray

    @classmethod
    def new(cls, b: int) -> _Tracker:
        z = lambda: np.zeros(b)  # noqa: E731
        return cls(np.ones(b, dtype=bool), {k: np.zeros(b, dtype=np.int64) for k in INFRACTIONS}, z(), z(), z(), z(),
                   z(), z())


def load_agent(spec: str, seed: int = 0) -> Any:
    """`expert`, `random`, `keyboard` or `ppo:PATH` (`ppo` alone: the shipped policy)."""
    if spec == "expert":
        from agents.expert import ExpertAgent

        return ExpertAgent()
    if spec == "random":
        from agents.base import RandomAgent

        return RandomAgent(seed)
    if spec == "keyboard":
        from agents.keyboard import KeyboardAgent

        return KeyboardAgent()
    if spec == "ppo" or spec.startswith("ppo:"):
        from agents.policy import PolicyAgent

        return PolicyAgent.load(spec.partition(":")[2] or None)
    raise ValueError(f"unknown agent {spec!r}; use expert, random, keyboard or ppo:PATH")


def select_scenarios(spec: str) -> list[Scenario]:
    """`all` or a comma-separated list of names/paths."""
    if spec == "all":
        return list_scenarios()
    return [load_scenario(name.strip()) for name in spec.split(",") if name.strip()]


Watch = Callable[[World, int, float], None]  # (world, row, return so far) after every step of that row's episode


def episode_seeds(scenario: Scenario, episodes: int, seed_offset: int = 0) -> list[int]:
    """The seeds of a scenario's first `episodes` episodes (its seed list repeated if shorter)."""
    return [s + seed_offset for s in (scenario.seeds * math.ceil(episodes / len(scenario.seeds)))[:episodes]]


def run_scenario(agent: Any, scenario: Scenario, episodes: int, seed_offset: int = 0,
                 video: Path | None = None, watch: Watch | None = None) -> list[EpisodeRecord]:
    """Run `episodes` episodes of one scenario (batched) and return their records (see `run_rows`)."""
    rows = [(scenario, s) for s in episode_seeds(scenario, episodes, seed_offset)]
    return run_rows(agent, rows, {scenario.name: video} if video else None, {scenario.name: watch} if watch else None)


def run_rows(agent: Any, rows: list[tuple[Scenario, int]], videos: dict[str, Path] | None = None,
             watchers: dict[str, Watch] | None = None, bar: Any = None) -> list[EpisodeRecord]:
    """One episode per (scenario, seed) row, all rows in one batch of worlds (each with its own
    scenario), or in chunks of `agent.max_batch`. `videos[name]`: MP4 of that scenario's first
    episode; `watchers[name](world, row, return)` is called after every step of it."""
    records: list[EpisodeRecord] = []
    step = getattr(agent, "max_batch", None) or len(rows)
    first = {}
    for i, (scenario, _) in enumerate(rows):
        first.setdefault(scenario.name, i)
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        watch: dict[int, list[Watch]] = {}
        writers = []
        for name, i in first.items():
            if start <= i < start + step:
                if videos and name in videos:
                    writers.append(_VideoWriter(videos[name]))
                    watch.setdefault(i - start, []).append(writers[-1])
                if watchers and name in watchers:
                    watch.setdefault(i - start, []).append(watchers[name])
        try:
            records += _run_batch(agent, chunk, watch, bar)
        finally:
            for writer in writers:
                writer.close()
    return records


def _run_batch(agent: Any, rows: list[tuple[Scenario, int]], watch: dict[int, list[Watch]], bar: Any = None
               ) -> list[EpisodeRecord]:
    overrides = {}
    if getattr(agent, "observations", None):
        overrides = {"observations": agent.observations, **getattr(agent, "config_overrides", {})}
    world = World([scenario.config.replace(**overrides) if overrides else scenario.config for scenario, _ in rows])
    world.reset(np.array([seed for _, seed in rows], dtype=np.uint64), np.zeros(len(rows), dtype=np.int64))
    agent.reset(world)
    track = _Tracker.new(len(rows))
    out: list[EpisodeRecord | None] = [None] * len(rows)
    dt = world.config.dt
    returns = np.zeros(len(rows))
    while track.active.any():
        obs = observe(world)[0] if getattr(agent, "observations", None) else None
        yaw_before = world.ego.yaw.copy()
        result = world.step(agent.act(world, obs))
        _accumulate(track, world, result.events, yaw_before, dt)
        returns += np.where(track.active, result.reward, 0.0)
        for b, callbacks in watch.items():
            if track.active[b]:
                for callback in callbacks:
                    callback(world, b, float(returns[b]))
        done = track.active & (result.terminated | result.truncated)
        for b in np.flatnonzero(done):
            scenario, seed = rows[b]
            out[b] = _record(scenario.name, seed, world, track, b, result.events, dt)
        track.active &= ~done
        if bar is not None and done.any():
            bar.update(int(done.sum()))
    return [r for r in out if r is not None]


def _accumulate(track: _Tracker, world: World, events: dict[str, np.ndarray], yaw_before: np.ndarray,
                dt: float) -> None:
    a = track.active
    for name in ("collision_pedestrian", "collision_vehicle", "collision_static", "red_light"):  # event == infraction
        track.infractions[name] += a & events[name]
    track.infractions["timeout"] += a & events["timeout"] & ~events["goal"]
    track.off_road += dt * (a & events["off_road"])
    track.wrong_way += dt * (a & events["wrong_way"])
    yaw_rate = np.angle(np.exp(1j * (world.ego.yaw - yaw_before))) / dt
    lateral = np.abs(world.ego.v * yaw_rate)  # [m/s^2]
    track.jerk_sum += a * np.abs(world.state.ego["jerk"])
    track.lat_sum += a * lateral
    track.lat_max = np.where(a, np.maximum(track.lat_max, lateral), track.lat_max)
    track.steps += a


def _record(name: str, seed: int, world: World, track: _Tracker, b: int, events: dict[str, np.ndarray],
            dt: float) -> EpisodeRecord:
    steps = max(float(track.steps[b]), 1.0)
    duration = steps * dt
    return EpisodeRecord(
        scenario=name, seed=int(seed), route_length=float(world.route_total[b]),
        route_completion=float(np.clip(world.progress[b] / world.route_total[b], 0.0, 1.0)),
        distance=float(world.distance[b]), duration=duration, goal=bool(events["goal"][b]),
        infractions={k: int(v[b]) for k, v in track.infractions.items()},
        off_road_time=float(track.off_road[b]), wrong_way_time=float(track.wrong_way[b]),
        stuck=bool(events["stuck"][b]), mean_speed=float(world.distance[b]) / duration,
        mean_abs_jerk=float(track.jerk_sum[b]) / steps, max_abs_lateral_accel=float(track.lat_max[b]),
        mean_abs_lateral_accel=float(track.lat_sum[b]) / steps)


class _VideoWriter:
    """MP4 of one world's episode in the full top-down view (a watcher)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = None

    def __call__(self, world: World, b: int, episode_return: float) -> None:
        import cv2

        from drivesim.render.views import full_view

        frame = full_view(world, b)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"),
                                          int(round(1 / world.config.dt)), (frame.shape[1], frame.shape[0]))
        self.writer.write(frame[:, :, ::-1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


# ----------------------------------------------------------------------------------- reports
def evaluate(agent_spec: str, scenarios: str = "all", episodes: int = 20, seed: int = 0, out: str | Path = "runs/eval",
             video: bool = False, progress: bool = True) -> dict[str, Any]:
    """Evaluate and write DIR/metrics.json, DIR/report.md and DIR/*.png; returns the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = run_suite(load_agent(agent_spec, seed), agent_spec, select_scenarios(scenarios), episodes, seed,
                        out / "videos" if video else None, progress=progress)
    write_report(metrics, out)
    return metrics


def run_suite(agent: Any, agent_name: str, suite: list[Scenario], episodes: int, seed: int = 0,
              video_dir: Path | None = None, watch: Callable[[Scenario], Watch] | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Run `agent` on every scenario of `suite`, all episodes in one batch of worlds, and return the
    metrics (overall, per scenario, per episode). `watch(scenario)` may return a per-step callback
    for the scenario's first episode (see run_rows)."""
    start = time.perf_counter()
    rows = [(scenario, s) for scenario in suite for s in episode_seeds(scenario, episodes, seed)]
    videos = {sc.name: video_dir / f"{sc.name}.mp4" for sc in suite} if video_dir is not None else None
    watchers = {sc.name: watch(sc) for sc in suite} if watch else None
    bar = _progress(len(rows), progress)
    records = run_rows(agent, rows, videos, {k: v for k, v in (watchers or {}).items() if v}, bar)
    bar.close()
    return suite_metrics(records, agent_name, suite, episodes, seed, time.perf_counter() - start)


def suite_metrics(records: list[EpisodeRecord], agent_name: str, suite: list[Scenario], episodes: int, seed: int,
                  wall_time: float) -> dict[str, Any]:
    """Metrics overall, per scenario and per episode from episode records."""
    per_scenario = {sc.name: summarize([r for r in records if r.scenario == sc.name]) for sc in suite}
    overall = summarize(records)
    return {
        "agent": agent_name, "episodes_per_scenario": episodes, "seed_offset": seed, "wall_time_s": wall_time,
        **{k: overall[k] for k in ("driving_score", "route_completion", "infraction_penalty", "success_rate")},
        "overall": overall, "per_scenario": per_scenario,
        "episodes": [record_to_dict(r) for r in records],
    }


def write_report(metrics: dict[str, Any], out: Path, plots: bool = True) -> None:
    """DIR/metrics.json, DIR/report.md and (with `plots`) DIR/*.png."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=True))
    (out / "report.md").write_text(markdown_report(metrics))
    if plots:
        write_plots(metrics, out)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="episodes", unit="episode", disable=not enabled)


TABLE_COLUMNS = (("driving_score", "DS", "{:.3f}"), ("route_completion", "RC", "{:.3f}"),
                 ("infraction_penalty", "IP", "{:.3f}"), ("success_rate", "success", "{:.0%}"),
                 ("collision_pedestrian_per_km", "ped coll/km", "{:.2f}"),
                 ("collision_vehicle_per_km", "veh coll/km", "{:.2f}"), ("collision_static_per_km", "static/km", "{:.2f}"),
                 ("red_light_per_km", "red/km", "{:.2f}"), ("timeout_count", "timeouts", "{:d}"),
                 ("mean_speed", "speed m/s", "{:.1f}"), ("mean_abs_jerk", "jerk m/s³", "{:.2f}"))


def markdown_report(metrics: dict[str, Any]) -> str:
    head = "| scenario | episodes | " + " | ".join(c[1] for c in TABLE_COLUMNS) + " |"
    lines = [f"# Evaluation of `{metrics['agent']}`", "",
             f"{metrics['episodes_per_scenario']} episodes per scenario, seed offset {metrics['seed_offset']}. "
             "DS = driving score (route completion x infraction penalty, CARLA Leaderboard), RC = route completion, "
             "IP = infraction penalty; see docs/metrics.md.", "", head, "|" + "---|" * (len(TABLE_COLUMNS) + 2)]
    rows = list(metrics["per_scenario"].items()) + [("**all**", metrics["overall"])]
    for name, m in rows:
        cells = [fmt.format(int(m[key]) if fmt == "{:d}" else m[key]) for key, _, fmt in TABLE_COLUMNS]
        lines.append(f"| {name} | {m['episodes']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_plots(metrics: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics["per_scenario"])
    ds = [metrics["per_scenario"][n]["driving_score"] for n in names]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(names, ds, color="#4a7bd0")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("driving score")
    ax.set_title(f"{metrics['agent']}: driving score per scenario (mean {metrics['driving_score']:.3f})")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / "driving_score.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    bottom = np.zeros(len(names))
    for name in INFRACTIONS:
        counts = np.array([metrics["per_scenario"][n][f"{name}_count"] for n in names], dtype=float)
        if counts.any():
            ax.bar(names, counts, bottom=bottom, label=name)
            bottom += counts
    ax.set_ylabel("infractions (count)")
    ax.set_title(f"{metrics['agent']}: infractions per scenario")
    ax.tick_params(axis="x", rotation=30)
    if bottom.any():
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "infractions.png", dpi=100)
    plt.close(fig)


def compare(dirs: list[str]) -> str:
    """Side-by-side Markdown table of driving score / route completion / success per scenario."""
    runs = []
    for d in dirs:
        path = Path(d) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no metrics.json (run `drivesim evaluate --out {d}` first)")
        runs.append(json.loads(path.read_text()))
    names = list(dict.fromkeys(n for r in runs for n in r["per_scenario"]))
    head = "| scenario | " + " | ".join(f"{r['agent']} DS / RC / success" for r in runs) + " |"
    lines = [head, "|---|" + "---|" * len(runs)]
    for name in [*names, "all"]:
        cells = []
        for r in runs:
            m = r["overall"] if name == "all" else r["per_scenario"].get(name)
            cells.append("-" if m is None else f"{m['driving_score']:.3f} / {m['route_completion']:.3f} / "
                                               f"{m['success_rate']:.0%}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
