"""Scenario files: the shipped suite loads and runs; bad files give errors naming file and key."""

import gymnasium as gym
import numpy as np
import pytest

import drivesim
from drivesim.config import ConfigError, EventKind
from drivesim.scenarios.loader import ScenarioError, list_scenarios, load_scenario
from drivesim.world import World

SUITE = list_scenarios()


def test_suite_covers_the_required_situations():
    names = {s.name for s in SUITE}
    assert {"free_cruise", "red_light", "pedestrian_crossing", "jaywalker", "unprotected_left", "dense_traffic",
            "long_route", "busy_intersection"} <= names
    assert all(s.description and len(s.seeds) >= 20 for s in SUITE)
    assert len({s.seeds[0] for s in SUITE}) == len(SUITE)  # distinct evaluation seeds


@pytest.mark.parametrize("scenario", SUITE, ids=[s.name for s in SUITE])
def test_every_shipped_scenario_loads_and_runs(scenario):
    world = World(scenario.config.replace(observations=("state",)), 2)
    world.reset(np.array(scenario.seeds[:2], dtype=np.uint64), np.zeros(2))
    for _ in range(30):
        result = world.step(np.tile([0.0, 0.3], (2, 1)))
        assert np.isfinite(result.reward).all()


def test_gym_make_with_scenario_name_and_path():
    env = gym.make(drivesim.ENV_ID, scenario="red_light", observations=("state",))
    assert env.unwrapped.config.scenario.events[0].kind == EventKind.LIGHT_TURNS_RED
    env.reset(seed=0)
    path = SUITE[0].source
    env = gym.make(drivesim.ENV_ID, scenario=path)
    assert env.unwrapped.config.traffic.n_cars == SUITE[0].config.traffic.n_cars


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "x"\nspeedlimit = 3\n', "speedlimit"),  # unknown top-level key
        ('[traffic]\nn_carz = 3\n', "n_carz"),  # unknown nested key
        ('[traffic]\nn_cars = "many"\n', "traffic.n_cars"),  # wrong type
        ('[traffic]\nn_cars = 999\n', "n_cars"),  # out of range
        ('seeds = [1, -2]\n', "seeds"),  # bad seeds
        ('time_limit = 0\n', "time_limit"),  # out of range
        ('[scenario]\nstart = "roof"\n', "scenario.start"),  # not an allowed value
        ('[[scenario.events]]\nkind = "explosion"\ntime = 1.0\n', "scenario.events[0].kind"),
        ('[[scenario.events]]\nkind = "lead_car_brakes"\n', "time"),  # missing required field
        ('name = "x\n', "malformed TOML"),
    ],
)
def test_bad_scenarios_name_file_and_key(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:  # ScenarioError is a ConfigError
        load_scenario(path)
    assert key in str(err.value) and "bad.toml" in str(err.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(str(tmp_path / "nope.toml"))
    with pytest.raises(ScenarioError, match="available"):
        load_scenario("no_such_scenario")
