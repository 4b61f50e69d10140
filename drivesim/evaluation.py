"""The evaluation runner: drives any `drivesim.agent.Agent` through scenarios and returns episode
records and suite metrics (`drivesim evaluate`, the demo and PPO's periodic validation use it;
reports, plots and videos are the apps' business: `drivesim.apps.report`, `drivesim.apps.video`).

All episodes of the suite run as one batch of worlds (each world carries its scenario; episode i
of a scenario = its i-th seed plus `--seed`), one episode per world; the agent acts on the whole
batch each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from drivesim.actors.autopilot import autopilot_actions
from drivesim.agent import Agent, ExpertAgent, check_agent
from drivesim.envs.spaces import observe
from drivesim.metrics import INFRACTIONS, EpisodeRecord, record_to_dict, summarize
from drivesim.scenarios.loader import Scenario, list_scenarios, load_scenario
from drivesim.world import World

STANDING_SPEED = 0.3  # [m/s] below this the car stands (hesitating)
DRIVE_OFF = 0.2  # an autopilot throttle above this drives off (hesitating)


def hesitating(speed: np.ndarray, action: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(B,) bool: the car stands (speed (B,) [m/s] below STANDING_SPEED), its action (B, 2) does not
    try to drive off (throttle <= 0), and the reference action (B, 2) of the autopilot in the same
    state would (throttle above DRIVE_OFF). Time in this state is what a policy loses to waits the
    autopilot would not make: the largest share of the gap between cloned policies and the
    autopilot (docs/agents.md)."""
    return (speed < STANDING_SPEED) & (action[:, 1] <= 0.0) & (reference[:, 1] > DRIVE_OFF)


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
    hesitation: np.ndarray  # [s]
    steps: np.ndarray

    @classmethod
    def new(cls, b: int) -> _Tracker:
        z = lambda: np.zeros(b)  # noqa: E731
        return cls(np.ones(b, dtype=bool), {k: np.zeros(b, dtype=np.int64) for k in INFRACTIONS}, z(), z(), z(), z(),
                   z(), z(), z())


def select_scenarios(spec: str, max_steps: int | None = None) -> list[Scenario]:
    """`all` or a comma-separated list of names/paths; `max_steps` caps every episode (a quick
    look: scores are then not comparable with full-length runs)."""
    suite = list_scenarios() if spec == "all" else [load_scenario(n.strip()) for n in spec.split(",") if n.strip()]
    if max_steps:
        suite = [replace(s, config=s.config.replace(max_episode_steps=max_steps)) for s in suite]
    return suite


Watch = Callable[[World, int, float], None]  # (world, row, return so far) after every step of that row's episode


EXTRA_SEED_STRIDE = 2**32  # the r-th pass through a scenario's seed list adds r x this (fresh episodes)
VALIDATION_SEED_OFFSET = 50_000_000  # validation (training's periodic evaluation, the shipped policy's
# selection): suite seeds + this, neither training nor test seeds


def episode_seeds(scenario: Scenario, episodes: int, seed_offset: int = 0) -> list[int]:
    """The seeds of a scenario's first `episodes` episodes: its seed list, and when more episodes
    are asked for, the list again shifted by EXTRA_SEED_STRIDE per pass. (Until 2026-12-06 the list
    was repeated as it was; episodes are deterministic, so the repeats were copies of the first
    ones and `--episodes 50` held 20 distinct episodes per scenario.)"""
    n = len(scenario.seeds)
    return [scenario.seeds[i % n] + (i // n) * EXTRA_SEED_STRIDE + seed_offset for i in range(episodes)]


def run_scenario(agent: Agent, scenario: Scenario, episodes: int, seed_offset: int = 0,
                 watch: Watch | None = None) -> list[EpisodeRecord]:
    """Run `episodes` episodes of one scenario (batched) and return their records (see `run_rows`)."""
    rows = [(scenario, s) for s in episode_seeds(scenario, episodes, seed_offset)]
    return run_rows(agent, rows, {scenario.name: watch} if watch else None)


def run_rows(agent: Agent, rows: list[tuple[Scenario, int]], watchers: dict[str, Watch] | None = None,
             bar: Any = None) -> list[EpisodeRecord]:
    """One episode per (scenario, seed) row, all rows in one batch of worlds (each with its own
    scenario), or in chunks of `agent.max_batch`. `watchers[name](world, row, return)` is called
    after every step of that scenario's first episode (a video writer, a HUD, a window)."""
    agent = check_agent(agent)
    records: list[EpisodeRecord] = []
    step = agent.max_batch or len(rows)
    first: dict[str, int] = {}
    for i, (scenario, _) in enumerate(rows):
        first.setdefault(scenario.name, i)
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        watch = {i - start: watchers[name] for name, i in first.items()
                 if watchers and name in watchers and start <= i < start + step}
        records += _run_batch(agent, chunk, watch, bar)
    return records


def agent_world(agent: Agent, rows: list[tuple[Scenario, int]]) -> World:
    """One world per (scenario, seed) row with its scenario's config and what `agent` needs (its
    config overrides and observations), reset to the row's seed, the agent reset on it."""
    overrides = dict(agent.config_overrides)
    if agent.observations:
        overrides["observations"] = agent.observations
    world = World([scenario.config.replace(**overrides) if overrides else scenario.config for scenario, _ in rows])
    world.reset(np.array([seed for _, seed in rows], dtype=np.uint64), np.zeros(len(rows), dtype=np.int64))
    agent.reset(world)
    return world


def _run_batch(agent: Agent, rows: list[tuple[Scenario, int]], watch: dict[int, Watch], bar: Any = None
               ) -> list[EpisodeRecord]:
    world = agent_world(agent, rows)
    track = _Tracker.new(len(rows))
    out: list[EpisodeRecord | None] = [None] * len(rows)
    dt = world.config.dt
    returns = np.zeros(len(rows))
    compare = not isinstance(agent, ExpertAgent)  # the autopilot never hesitates against itself
    while track.active.any():
        obs = observe(world)[0] if agent.observations else None
        yaw_before = world.ego.yaw.copy()
        action = agent.act(world, obs)
        speed, reference = (world.ego.v.copy(), autopilot_actions(world)) if compare else (None, None)
        result = world.step(action)  # checks the action
        if reference is not None:
            track.hesitation += dt * (track.active & hesitating(speed, np.asarray(action, dtype=np.float64), reference))
        _accumulate(track, world, result.events, yaw_before, dt)
        returns += np.where(track.active, result.reward, 0.0)
        for b, callback in watch.items():
            if track.active[b]:
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
        mean_abs_lateral_accel=float(track.lat_sum[b]) / steps, hesitation_time=float(track.hesitation[b]))


def run_suite(agent: Agent, agent_name: str, suite: list[Scenario], episodes: int, seed: int = 0,
              watch: Callable[[Scenario], Watch | None] | None = None, progress: bool = True) -> dict[str, Any]:
    """Run `agent` on every scenario of `suite`, all episodes in one batch of worlds, and return the
    metrics (overall, per scenario, per episode). `watch(scenario)` may return a per-step callback
    for the scenario's first episode (see run_rows)."""
    start = time.perf_counter()
    rows = [(scenario, s) for scenario in suite for s in episode_seeds(scenario, episodes, seed)]
    watchers = {sc.name: w for sc in suite if watch and (w := watch(sc))}
    bar = _progress(len(rows), progress)
    records = run_rows(agent, rows, watchers, bar)
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


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="episodes", unit="episode", disable=not enabled)
