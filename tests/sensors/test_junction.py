"""The `junction` observation: inside the intersection, and how far through it."""

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

from drivesim.agent import ExpertAgent
from drivesim.config import EnvConfig, MapConfig
from drivesim.map.city import LaneKind
from drivesim.sensors.junction import JUNCTION_DIM, JUNCTION_SCALE
from drivesim.sensors.state import STATE_FIELDS
from drivesim.world import World

SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)
STOP_LINE = STATE_FIELDS.index("stop_line_distance")


def _lanes(world: World) -> np.ndarray:
    """(B,) every world's current route lane record (its kind and length)."""
    return world.maps.kernel.lanes[world.map_idx, world.route.current_lane()]


def test_junction_reads_hand_placed_route_positions():
    world = World(EnvConfig(map=SMALL, observations=("junction",)), 3)
    world.reset(np.arange(3), np.zeros(3))
    assert (world.observe()[0]["junction"] == 0.0).all()  # every episode starts on a road lane
    route = world.state.route
    route["i"] = [1, 1, 0]  # routes run road, connector, road...: worlds 0 and 1 inside their first junction
    lengths = _lanes(world)["length"]
    assert (_lanes(world)["kind"][:2] == LaneKind.CONNECTOR).all()
    route["s"] = [0.25 * lengths[0], lengths[1] - 3.0, 5.0]
    junction = world.observe()[0]["junction"]
    assert junction.shape == (3, JUNCTION_DIM) and junction.dtype == np.float32
    np.testing.assert_allclose(junction[0], [1.0, 0.25, min(0.75 * lengths[0] / JUNCTION_SCALE, 1.0)], rtol=1e-5)
    np.testing.assert_allclose(junction[1], [1.0, 1 - 3.0 / lengths[1], 3.0 / JUNCTION_SCALE], rtol=1e-5)
    assert (junction[2] == 0.0).all()  # on a road lane, 5 m along it
    route["s"] = [-1.0, lengths[1] + 2.0, 5.0]  # the projection a little outside the connector: clipped
    junction = world.observe()[0]["junction"]
    np.testing.assert_allclose(junction[:2], [[1.0, 0.0, min(lengths[0] / JUNCTION_SCALE, 1.0)], [1.0, 1.0, 0.0]])


def test_junction_is_on_exactly_while_the_expert_drives_past_the_stop_line():
    world = World(EnvConfig(map=SMALL, observations=("state", "junction")), 4)
    world.reset(np.arange(4) + 7, np.zeros(4))
    agent, entered = ExpertAgent(), 0
    before = np.zeros(4, dtype=bool)
    for _ in range(300):
        obs, _ = world.observe()
        junction = obs["junction"]
        inside = _lanes(world)["kind"] == LaneKind.CONNECTOR
        assert ((junction >= 0) & (junction <= 1)).all()
        np.testing.assert_array_equal(junction[:, 0] == 1.0, inside)
        assert (junction[~inside] == 0.0).all()
        entering = inside & ~before
        entered += int(entering.sum())
        # past the stop line the state's stop-line distance already reads the next junction's
        assert (obs["state"][entering, STOP_LINE] > 0.3).all()
        before = inside
        world.step(agent.act(world))
    assert entered >= 2


def test_env_with_junction_observation_passes_check_env():
    env = gym.make("drivesim/CityDrive-v0", observations=("state", "junction"), map={"blocks_x": 2, "blocks_y": 2})
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=1)
    assert env.observation_space["junction"].contains(obs["junction"])
