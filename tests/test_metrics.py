"""Metrics against hand-computed CARLA Leaderboard examples."""

import math

import pytest

from drivesim.metrics import EpisodeRecord, driving_score, infraction_penalty, is_success, summarize


def test_red_light_and_vehicle_collision_at_half_completion():
    # 0.5 x 0.70 (red light) x 0.60 (vehicle) = 0.21
    assert driving_score(0.5, {"red_light": 1, "collision_vehicle": 1}) == pytest.approx(0.21)


def test_penalties_multiply_per_count():
    assert infraction_penalty({}) == 1.0
    assert infraction_penalty({"collision_pedestrian": 2}) == pytest.approx(0.25)
    assert infraction_penalty({"collision_static": 1, "timeout": 1}) == pytest.approx(0.65 * 0.70)
    assert infraction_penalty({"stop_sign": 1}) == pytest.approx(0.80)
    with pytest.raises(KeyError, match="unknown infraction"):
        infraction_penalty({"speeding": 1})


def test_completion_is_clipped():
    assert driving_score(1.3, {}) == 1.0
    assert driving_score(-0.1, {}) == 0.0


def _record(completion, goal, distance, **infractions):
    return EpisodeRecord("s", 0, 100.0, completion, distance, 50.0, goal, infractions, mean_speed=distance / 50.0)


def test_summary_means_success_and_rates_per_km():
    records = [_record(1.0, True, 500.0), _record(0.5, False, 250.0, red_light=1, collision_vehicle=1),
               _record(1.0, True, 250.0, collision_pedestrian=1)]
    s = summarize(records)
    assert s["driving_score"] == pytest.approx((1.0 + 0.21 + 0.5) / 3)
    assert s["route_completion"] == pytest.approx(2.5 / 3)
    assert s["infraction_penalty"] == pytest.approx((1.0 + 0.42 + 0.5) / 3)
    assert s["success_rate"] == pytest.approx(1 / 3)  # the goal with a pedestrian collision is no success
    assert s["km_driven"] == pytest.approx(1.0)
    assert s["red_light_per_km"] == pytest.approx(1.0) and s["collision_pedestrian_per_km"] == pytest.approx(1.0)
    assert s["time_to_goal"] == pytest.approx(50.0)
    assert not is_success(records[2]) and is_success(records[0])


def test_summary_of_nothing_raises():
    with pytest.raises(ValueError):
        summarize([])


def test_no_goal_time_is_nan():
    assert math.isnan(summarize([_record(0.2, False, 10.0)])["time_to_goal"])
