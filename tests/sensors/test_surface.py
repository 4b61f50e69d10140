"""The `surface` observation: the map's surface classes around the car, ego frame, heading up."""

import dataclasses
import math

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import drivesim
from drivesim.config import CameraConfig, EnvConfig, MapConfig
from drivesim.map.city import Surface
from drivesim.sensors.surface import CROSSWALK, OFF_ROAD, ROAD, SIDEWALK, SURFACE_FACTOR, surface_shape
from drivesim.world import World

SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)
CLASS = {Surface.OUTSIDE: OFF_ROAD, Surface.BUILDING: OFF_ROAD, Surface.SIDEWALK: SIDEWALK, Surface.ROAD: ROAD,
         Surface.LANE_LINE: ROAD, Surface.CENTRE_LINE: ROAD, Surface.STOP_LINE: ROAD, Surface.CROSSWALK: CROSSWALK}


def _raster_class(world: World, w: int, x: float, y: float) -> int:
    """The class of the map raster cell under world point (x, y) [m], read straight off the CityMap."""
    city = world.maps.maps[world.map_idx[w]]
    col = math.floor((x - city.raster_origin[0]) / city.raster_resolution)
    row = city.raster.shape[0] - 1 - math.floor((y - city.raster_origin[1]) / city.raster_resolution)
    if not (0 <= row < city.raster.shape[0] and 0 <= col < city.raster.shape[1]):
        return OFF_ROAD
    return CLASS[Surface(city.raster[row, col])]


def _place(world: World, w: int, x: float, y: float, yaw: float) -> None:
    car = world.state.cars[w, world.state.ego[w]["car"]]
    car["x"], car["y"], car["yaw"] = x, y, yaw
    world.state.cars[w, world.state.ego[w]["car"]] = car


def test_grid_cells_read_the_raster_under_their_centres_for_hand_placed_poses():
    camera = CameraConfig(width=40, height=32, metres_per_pixel=0.5, ego_row=0.75)
    world = World(EnvConfig(map=SMALL, camera=camera, observations=("surface",)), 3)
    world.reset(np.arange(3), np.zeros(3))
    poses = [(60.0, 3.0, 0.0), (71.5, 48.0, math.pi / 2), (30.0, 80.0, 2.4)]
    for w, pose in enumerate(poses):
        _place(world, w, *pose)
    grid = world.observe()[0]["surface"]
    rows, cols = surface_shape(camera)
    assert grid.shape == (3, rows, cols) == (3, 16, 20) and grid.dtype == np.uint8
    cell = SURFACE_FACTOR * camera.metres_per_pixel  # 1 m
    for w, (x0, y0, yaw) in enumerate(poses):
        c, s = math.cos(yaw), math.sin(yaw)
        for r in range(rows):
            for q in range(cols):
                forward = camera.ego_row * camera.height * camera.metres_per_pixel - (r + 0.5) * cell  # 11.5 .. -3.5 m
                left = camera.width / 2 * camera.metres_per_pixel - (q + 0.5) * cell  # 9.5 .. -9.5 m
                x, y = x0 + c * forward - s * left, y0 + s * forward + c * left
                assert grid[w, r, q] == _raster_class(world, w, x, y), (w, r, q)
    assert len(np.unique(grid)) >= 3  # the poses see road, sidewalk and off-road (not an all-zero grid)


def test_the_car_stands_on_road_and_the_grid_turns_with_it():
    world = World(EnvConfig(map=SMALL, observations=("surface",)), 4)
    world.reset(np.arange(4) + 5, np.zeros(4))
    grid = world.observe()[0]["surface"]
    r0, q0 = int(0.75 * 96 / SURFACE_FACTOR), 96 // SURFACE_FACTOR // 2
    assert (grid[:, r0, q0] >= ROAD).all()  # every episode starts on a lane
    car = world.state.ego[0]["car"]
    world.state.cars[0, car]["yaw"] += math.pi  # turned around on the spot: the grid is the same map, rotated
    turned = world.observe()[0]["surface"][0]
    assert not np.array_equal(turned, grid[0])
    assert turned[r0, q0] >= ROAD


def test_gymnasium_check_env_with_the_surface_observation():
    env = gym.make(drivesim.ENV_ID, observations=("state", "surface"), map={"blocks_x": 2, "blocks_y": 2, "pool_size": 2})
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert obs["surface"].shape == (48, 48) and env.observation_space["surface"].contains(obs["surface"])


def test_camera_labels_carry_the_grid_classes_under_and_ahead_of_every_object():
    """labels.surface reads the same cells the surface grid holds at each object's position and where
    its velocity takes it in SOON s, without the grid; hidden objects read off-road."""
    from drivesim.perception.features import grid_classes

    camera = CameraConfig(width=40, height=32, metres_per_pixel=0.5, ego_row=0.75)
    world = World(EnvConfig(map=SMALL, camera=camera, observations=("surface",), camera_labels=True), 6)
    world.reset(np.arange(6) + 11, np.zeros(6))
    rng = np.random.default_rng(3)
    seen = np.zeros(4, dtype=np.int64)
    for t in range(40):
        world.step(np.column_stack([rng.uniform(-0.5, 1.0, 6), rng.uniform(-0.4, 0.4, 6)]))
        if t % 4:
            continue
        obs, labels = world.observe()
        expected = grid_classes(labels.position, labels.velocity, obs["surface"], camera)
        vis = labels.visible
        assert labels.surface.shape == (*vis.shape, 2) and labels.surface.dtype == np.uint8
        np.testing.assert_array_equal(labels.surface[vis], expected[vis])
        assert (labels.surface[~vis] == OFF_ROAD).all()
        seen += np.bincount(labels.surface[vis][:, 0], minlength=4)
    assert (seen[[SIDEWALK, ROAD]] > 0).all()  # people on sidewalks, cars on the road: not all off-road


def test_point_classes_read_the_grid_cells_at_any_point_now_and_as_the_worlds_ended():
    """Perception looks its detections up on the map where the car is (`places`, `point_classes`)
    instead of computing the grid: the classes must be the grid's at the same points, also for the
    worlds that ended in a same-step autoreset (their last pose and map come from final_info)."""
    from gymnasium.vector import AutoresetMode

    from drivesim.envs.vector import CityDriveVectorEnv
    from drivesim.perception.features import grid_classes
    from drivesim.sensors.surface import places, point_classes

    camera = CameraConfig(width=40, height=32, metres_per_pixel=0.5, ego_row=0.75)
    base = EnvConfig(map=dataclasses.replace(SMALL, pool_size=3), camera=camera, observations=("surface",))
    configs = [base.replace(max_episode_steps=n) for n in (4, 30, 4, 30, 7, 30)]
    env = CityDriveVectorEnv(configs=configs, autoreset_mode=AutoresetMode.SAME_STEP)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(4)
    points = lambda: rng.uniform(-20.0, 20.0, (6, 50, 2)).astype(np.float32)  # noqa: E731
    ended = 0
    for _ in range(9):
        obs, _, terminated, truncated, info = env.step(np.column_stack([rng.uniform(0, 1, 6), rng.uniform(-1, 1, 6)]))
        position, velocity = points(), points() / 4
        np.testing.assert_array_equal(point_classes(places(env.world), position, velocity),
                                      grid_classes(position, velocity, obs["surface"], camera))
        rows = np.flatnonzero(terminated | truncated)
        if rows.size:
            ended += rows.size
            final = places(env.world, rows, info["final_info"])
            np.testing.assert_array_equal(point_classes(final, position[rows], velocity[rows]),
                                          grid_classes(position[rows], velocity[rows],
                                                       info["final_obs"]["surface"][rows], camera))
    assert ended >= 4
