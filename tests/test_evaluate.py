"""`drivesim evaluate` smoke runs with tiny budgets, and scripted events firing on time."""

import json
import subprocess
import sys

import numpy as np
import pytest

from drivesim import evaluation
from drivesim.agent import ExpertAgent, RandomAgent
from drivesim.config import EventConfig, EventKind, ScenarioConfig
from drivesim.metrics import summarize
from drivesim.scenarios.loader import Scenario, load_scenario
from drivesim.world import World


def _short(name: str, seconds: float = 12.0) -> Scenario:
    sc = load_scenario(name)
    return Scenario(sc.name, sc.description, sc.config.replace(max_episode_steps=int(seconds / sc.config.dt)),
                    sc.seeds, sc.source)


def test_more_episodes_than_the_seed_list_get_fresh_seeds():
    sc = load_scenario("free_cruise")  # seeds 1000-1019
    seeds = evaluation.episode_seeds(sc, 45, seed_offset=777)
    assert seeds[:20] == [s + 777 for s in sc.seeds] == evaluation.episode_seeds(sc, 20, 777)
    assert len(set(seeds)) == 45  # no episode twice (episodes are deterministic: a repeat adds nothing)
    stride = evaluation.EXTRA_SEED_STRIDE
    assert seeds[20] == 1000 + 777 + stride and seeds[44] == 1004 + 777 + 2 * stride


@pytest.mark.parametrize("agent", [ExpertAgent(), RandomAgent(0)], ids=["expert", "random"])
def test_run_scenario_records_each_episode(agent):
    records = evaluation.run_scenario(agent, _short("free_cruise"), episodes=3)
    assert len(records) == 3 and {r.seed for r in records} == {1000, 1001, 1002}
    for r in records:
        assert 0.0 <= r.route_completion <= 1.0 and r.duration > 0
    if isinstance(agent, ExpertAgent):
        assert max(r.distance for r in records) > 30.0  # the expert drives off
        assert all(sum(r.infractions.values()) <= 1 for r in records)


def test_hesitating_is_standing_without_trying_where_the_autopilot_would_go():
    speed = np.array([0.0, 0.0, 0.0, 0.0, 2.0])
    action = np.array([[0, -1.0], [0, 0.0], [0, 0.5], [0, -1.0], [0, -1.0]])
    autopilot = np.array([[0, 0.6], [0, 0.6], [0, 0.6], [0, -1.0], [0, 0.6]])
    # stands and brakes / stands and coasts (both wait) | tries to go | the autopilot waits too | moving
    assert evaluation.hesitating(speed, action, autopilot).tolist() == [True, True, False, False, False]


class _Constant(RandomAgent):
    def __init__(self, throttle: float) -> None:
        super().__init__(0)
        self.throttle = throttle

    def act(self, world, obs):
        return np.tile([0.0, self.throttle], (world.batch_size, 1))


def test_episode_records_the_waits_the_autopilot_would_not_make():
    """On free_cruise the autopilot drives off at once: a car that holds the brake waits the whole
    episode where it would drive off (less any seconds of red at its start); one that drives never does."""
    sc = _short("free_cruise", 8.0)
    held = evaluation.run_scenario(_Constant(-1.0), sc, episodes=3)
    driven = evaluation.run_scenario(_Constant(0.3), sc, episodes=3)
    expert = evaluation.run_scenario(ExpertAgent(), sc, episodes=3)
    assert all(r.distance < 0.5 for r in held) and max(r.hesitation_time for r in held) > 4.0
    assert all(0.0 <= r.hesitation_time <= r.duration + 1e-9 for r in held)
    assert all(r.hesitation_time == 0.0 for r in driven + expert)
    assert summarize(held)["hesitation_time"] == pytest.approx(np.mean([r.hesitation_time for r in held]))


def test_evaluate_cli_writes_outputs_and_compare(tmp_path):
    for agent in ("expert", "random"):
        out = subprocess.run([sys.executable, "-m", "drivesim.apps.cli", "evaluate", "--agent", agent, "--scenarios",
                              "red_light,jaywalker", "--episodes", "2", "--out", str(tmp_path / agent)],
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        metrics = json.loads((tmp_path / agent / "metrics.json").read_text())
        for key in ("driving_score", "route_completion", "infraction_penalty", "success_rate", "per_scenario"):
            assert key in metrics
        assert set(metrics["per_scenario"]) == {"red_light", "jaywalker"}
        assert (tmp_path / agent / "report.md").read_text().count("| red_light |") == 1
        assert (tmp_path / agent / "driving_score.png").stat().st_size > 1000
        page = (tmp_path / agent / "report.html").read_text()
        assert "<table id='summary'>" in page and "driving_score.png" in page and page.count("<tr>") >= 5
    cmp = subprocess.run([sys.executable, "-m", "drivesim.apps.cli", "evaluate", "--compare", str(tmp_path / "expert"),
                          str(tmp_path / "random")], capture_output=True, text=True, timeout=60)
    assert cmp.returncode == 0 and "expert DS" in cmp.stdout and "random DS" in cmp.stdout


def test_unknown_agent_is_a_clear_error():
    from drivesim.apps.cli import make_agent

    with pytest.raises(ValueError, match="unknown agent"):
        make_agent("genius")


def test_runner_names_what_a_non_agent_lacks():
    class Half:
        name = "half"

        def act(self, world, obs):
            return np.zeros((world.batch_size, 2))

    with pytest.raises(TypeError, match="lacks observations, config_overrides, max_batch, reset"):
        evaluation.run_scenario(Half(), _short("free_cruise", 1.0), episodes=1)


def test_runner_drives_any_protocol_agent_with_its_config_overrides():
    """An agent outside drivesim (only the protocol) gets the observations and config it asks for."""
    from drivesim.agent import Agent, BaseAgent

    class Cruise(BaseAgent):
        name = "cruise"
        observations = ("state",)
        config_overrides = {"camera_labels": False}
        max_batch = 2
        seen: list = []

        def act(self, world, obs):
            self.seen.append((world.batch_size, sorted(obs), world.config.observations))
            return np.tile([0.0, 0.3], (world.batch_size, 1))

    agent = Cruise()
    assert isinstance(agent, Agent)
    records = evaluation.run_scenario(agent, _short("free_cruise", 1.0), episodes=3)
    assert len(records) == 3
    assert {b for b, _, _ in agent.seen} == {2, 1}  # chunks of max_batch
    assert all(keys == ["state"] and cfg == ("state",) for _, keys, cfg in agent.seen)


def _world_with(event: EventConfig, **scenario) -> World:
    sc = load_scenario("free_cruise")
    cfg = sc.config.replace(scenario=ScenarioConfig(events=(event,), **scenario), observations=("state",))
    world = World(cfg, 2)
    world.reset(np.array([3, 4], dtype=np.uint64), np.zeros(2))
    return world


def test_pedestrian_steps_out_at_its_time():
    world = _world_with(EventConfig(EventKind.PEDESTRIAN_STEPS_OUT, time=2.0, distance=20.0))
    p = world.peds.x.shape[1] - 1
    for _ in range(19):
        world.step(np.zeros((2, 2)))
    assert (world.peds.script_left[:, p] == 0).all()
    world.step(np.zeros((2, 2)))  # t = 2.0 s
    assert (world.peds.script_left[:, p] > 0).all() and world.peds.active[:, p].all()
    ahead = np.hypot(world.peds.x[:, p] - world.ego.x, world.peds.y[:, p] - world.ego.y)
    assert np.all((ahead > 15.0) & (ahead < 30.0))
    x0 = world.peds.x[:, p].copy(), world.peds.y[:, p].copy()
    world.step(np.zeros((2, 2)))
    dx, dy = world.peds.x[:, p] - x0[0], world.peds.y[:, p] - x0[1]
    assert np.allclose(np.hypot(dx, dy), 0.18, atol=1e-6)  # 1.8 m/s x 0.1 s, walking straight ...
    along = np.abs(dx * np.cos(world.ego.yaw) + dy * np.sin(world.ego.yaw)) / 0.18
    assert np.all(along < 0.1)  # ... across the road (the ego drives along it)


def test_lead_car_brakes_at_its_time():
    world = _world_with(EventConfig(EventKind.LEAD_CAR_BRAKES, time=3.0, duration=2.0), lead_car=True)
    for _ in range(30):
        world.step(np.zeros((2, 2)))
    assert (world.cars.brake_until[:, 1] == pytest.approx(5.0))  # the lead car: the first NPC slot
    v = world.cars.v[:, 1].copy()
    world.step(np.zeros((2, 2)))
    assert np.all(world.cars.v[:, 1] <= np.maximum(v - 0.5, 0.0))


def test_light_turns_red_at_its_time():
    world = _world_with(EventConfig(EventKind.LIGHT_TURNS_RED, time=1.0), start="before_signal")
    for _ in range(10):
        world.step(np.zeros((2, 2)))
    _, light = world.route.next_stop_line()
    assert (light == 2).all()  # yellow now, red after the yellow time


def test_ppo_agent_loads_a_policy_and_rejects_a_mismatched_layout(tmp_path):
    from stable_baselines3 import PPO

    from drivesim.agents.policy import PolicyAgent
    from drivesim.agents.vec_env import SB3VecEnv

    env = SB3VecEnv(2, observations=("state",), map={"blocks_x": 2, "blocks_y": 2, "pool_size": 1})
    PPO("MultiInputPolicy", env, n_steps=16, batch_size=16, n_epochs=1, device="cpu").save(tmp_path / "p.zip")
    agent = PolicyAgent.load(str(tmp_path / "p.zip"), device="cpu")
    records = evaluation.run_scenario(agent, _short("red_light", 3.0), episodes=2)
    assert len(records) == 2
    lidar = load_scenario("red_light").config.replace(observations=("lidar", "state"))
    with pytest.raises(ValueError, match="trained on observations"):
        agent.reset(World(lidar, 1))
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a loadable"):
        PolicyAgent.load(str(tmp_path / "bad.zip"))


def test_car_runs_red_places_a_fast_car_on_a_crossing_approach():
    world = _world_with(EventConfig(EventKind.CAR_RUNS_RED, time=0.5), start="before_signal", green_at_start=True)
    for _ in range(5):
        world.step(np.zeros((2, 2)))
    pool, m = world.pool, world.map_idx
    lane = world.cars.lane[:, 1]  # the red-light runner: the first NPC slot
    assert world.cars.ignores_lights[:, 1].all() and world.cars.active[:, 1].all()
    ego_lane = world.state.route_lanes[:, 0]
    assert (pool.lane_node[m, lane] == pool.lane_node[m, ego_lane]).all()  # same intersection ...
    assert (pool.lane_axis[m, lane] != pool.lane_axis[m, ego_lane]).all()  # ... from the crossing road
    assert (world.lights[np.arange(2), lane] == 3).all()  # facing red (the ego has green)
    s0 = world.cars.s[:, 1].copy()
    for _ in range(10):
        world.step(np.zeros((2, 2)))
    moved = world.cars.s[:, 1] - s0
    assert (moved > 5.0).all() | (world.cars.lane[:, 1] != lane).all()  # it keeps going on red


def test_shipped_policy_loads_as_a_perception_agent_and_drives():
    import importlib.resources

    from drivesim.agents.policy import SHIPPED_POLICY, PolicyAgent

    path = importlib.resources.files("drivesim.assets") / SHIPPED_POLICY
    assert path.is_file() and path.stat().st_size < 5e6  # small enough to ship in the wheel
    agent = PolicyAgent.load(device="cpu")
    assert agent.feature_mode == "perception"
    records = evaluation.run_scenario(agent, _short("free_cruise", 8.0), episodes=2)
    assert len(records) == 2 and all(r.distance > 5.0 for r in records)  # it drives, not stands still
