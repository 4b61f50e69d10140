"""Driving metrics after the CARLA Leaderboard: pure functions over episode records.

Route completion R in [0, 1] (share of the route driven), infraction penalty P = product over
infractions of coefficient ** count, driving score DS = R x P per episode, averaged over episodes.
See docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

PENALTIES = {  # CARLA Leaderboard 1.0 coefficients
    "collision_pedestrian": 0.50,
    "collision_vehicle": 0.60,
    "collision_static": 0.65,
    "red_light": 0.70,
    "stop_sign": 0.80,
    "timeout": 0.70,  # scenario timeout: the time limit ran out before the goal
}
INFRACTIONS = tuple(PENALTIES)


@dataclass
class EpisodeRecord:
    """What one episode produced. Counts are numbers of events (a collision counts once per
    episode start of contact: the episode ends at the first one)."""

    scenario: str
    seed: int
    route_length: float  # [m]
    route_completion: float  # [0, 1]
    distance: float  # [m] driven
    duration: float  # [s]
    goal: bool
    infractions: dict[str, int] = field(default_factory=dict)  # name in INFRACTIONS -> count
    off_road_time: float = 0.0  # [s] with part of the car off the road
    wrong_way_time: float = 0.0  # [s]
    stuck: bool = False  # ended because it made no progress (CARLA: agent blocked)
    mean_speed: float = 0.0  # [m/s] distance / duration
    mean_abs_jerk: float = 0.0  # [m/s^3]
    max_abs_lateral_accel: float = 0.0  # [m/s^2]
    mean_abs_lateral_accel: float = 0.0  # [m/s^2]
    hesitation_time: float = 0.0  # [s] standing still where the autopilot would drive off (evaluation.hesitating)


def infraction_penalty(infractions: dict[str, int]) -> float:
    """Product of PENALTIES[name] ** count."""
    penalty = 1.0
    for name, count in infractions.items():
        if name not in PENALTIES:
            raise KeyError(f"unknown infraction {name!r}; known: {list(PENALTIES)}")
        penalty *= PENALTIES[name] ** int(count)
    return penalty


def driving_score(route_completion: float, infractions: dict[str, int]) -> float:
    """Route completion x infraction penalty, for one episode."""
    return float(np.clip(route_completion, 0.0, 1.0)) * infraction_penalty(infractions)


def is_success(record: EpisodeRecord) -> bool:
    """Reached the goal with no collision and no red light run."""
    bad = ("collision_pedestrian", "collision_vehicle", "collision_static", "red_light")
    return record.goal and not any(record.infractions.get(name, 0) for name in bad)


def summarize(records: list[EpisodeRecord]) -> dict[str, float]:
    """Aggregate figures over episodes (means of per-episode values; rates per km over the total)."""
    if not records:
        raise ValueError("summarize needs at least one episode record")
    km = sum(r.distance for r in records) / 1000.0
    scores = [driving_score(r.route_completion, r.infractions) for r in records]
    out = {
        "episodes": len(records),
        "driving_score": float(np.mean(scores)),
        "route_completion": float(np.mean([min(r.route_completion, 1.0) for r in records])),
        "infraction_penalty": float(np.mean([infraction_penalty(r.infractions) for r in records])),
        "success_rate": float(np.mean([is_success(r) for r in records])),
        "km_driven": km,
        "mean_speed": float(np.mean([r.mean_speed for r in records])),
        "time_to_goal": float(np.mean([r.duration for r in records if r.goal])) if any(r.goal for r in records)
        else float("nan"),
        "mean_abs_jerk": float(np.mean([r.mean_abs_jerk for r in records])),
        "mean_abs_lateral_accel": float(np.mean([r.mean_abs_lateral_accel for r in records])),
        "off_road_time": float(np.sum([r.off_road_time for r in records])),
        "stuck_rate": float(np.mean([r.stuck for r in records])),
        "hesitation_time": float(np.mean([r.hesitation_time for r in records])),
    }
    for name in INFRACTIONS:
        count = sum(r.infractions.get(name, 0) for r in records)
        out[f"{name}_count"] = int(count)
        out[f"{name}_per_km"] = count / km if km > 0 else float("nan")
    return out


def record_to_dict(record: EpisodeRecord) -> dict:
    d = asdict(record)
    d["driving_score"] = driving_score(record.route_completion, record.infractions)
    d["success"] = is_success(record)
    return d
