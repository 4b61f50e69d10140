"""scripts/yellow_light_lapses.py on the shipped policy, one episode per scenario."""

import importlib.util
from pathlib import Path

import pytest

from drivesim.agents.policy import PolicyAgent

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "yellow_light_lapses.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("yellow_light_lapses", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_lapses_within_the_yellow_approaches_of_every_scenario(script):
    yellow, lapse, flagged, episodes = script.lapses(PolicyAgent.load().path, seed=20000, episodes=1)
    assert episodes == 10 and 0 <= flagged <= episodes
    assert yellow > 0 and 0 <= lapse <= yellow  # the suite has red_light and signalised junctions
    assert (lapse > 0) == (flagged > 0)
