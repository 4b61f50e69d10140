"""The `route` observation: the route's next waypoints in the ego frame."""

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

from drivesim.agent import ExpertAgent
from drivesim.config import EnvConfig, MapConfig
from drivesim.map.lanes import lane_pose
from drivesim.sensors.waypoints import ROUTE_DIM, ROUTE_SCALE, WAYPOINT_DISTANCES
from drivesim.world import World

SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)


def _reference(world: World) -> np.ndarray:
    """The same waypoints from the numpy route view and lane poses (B, ROUTE_DIM)."""
    lane, s = world.route.position_ahead(np.tile(np.array(WAYPOINT_DISTANCES), (world.batch_size, 1)))
    x, y, _ = lane_pose(world.pool, world.map_idx[:, None], lane, s)
    ego = world.ego
    c, sn = np.cos(ego.yaw)[:, None], np.sin(ego.yaw)[:, None]
    dx, dy = x - ego.x[:, None], y - ego.y[:, None]
    fwd, left = (c * dx + sn * dy) / ROUTE_SCALE, (c * dy - sn * dx) / ROUTE_SCALE
    return np.clip(np.stack([fwd, left], axis=-1).reshape(world.batch_size, -1), -2, 2)


def test_waypoints_follow_the_route_in_the_ego_frame():
    world = World(EnvConfig(map=SMALL, observations=("state", "route")), 6)
    world.reset(np.arange(6) + 3, np.zeros(6))
    agent = ExpertAgent()
    turned = False
    for _ in range(150):
        obs, _ = world.observe()
        route = obs["route"]
        assert route.shape == (6, ROUTE_DIM) and route.dtype == np.float32
        np.testing.assert_allclose(route, _reference(world), atol=1e-5)
        pts = route.reshape(6, -1, 2) * ROUTE_SCALE
        gaps = np.linalg.norm(np.diff(pts, axis=1), axis=-1)
        assert (gaps <= np.diff(WAYPOINT_DISTANCES) + 0.2).all()  # along the route, never further apart
        turned |= bool((np.abs(pts[:, -1, 1]) > 10.0).any())  # the path bends through a junction
        world.step(agent.act(world))
    assert turned


def test_first_waypoint_is_just_ahead_at_the_start():
    world = World(EnvConfig(map=SMALL, observations=("route",)), 4)
    world.reset(np.arange(4), np.zeros(4))
    pts = world.observe()[0]["route"].reshape(4, -1, 2) * ROUTE_SCALE
    np.testing.assert_allclose(pts[:, 0, 0], WAYPOINT_DISTANCES[0], atol=0.5)  # on the lane, facing along it
    np.testing.assert_allclose(pts[:, 0, 1], 0.0, atol=0.5)


def test_env_with_route_observation_passes_check_env():
    env = gym.make("drivesim/CityDrive-v0", observations=("lidar", "state", "route"), map={"blocks_x": 2, "blocks_y": 2})
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=1)
    assert env.observation_space["route"].contains(obs["route"])
