"""The actors' trail and the camera's history frame (the scene HISTORY steps earlier, seen from the
current pose)."""

import numpy as np
import pytest

from drivesim.actors.trail import refill_trails
from drivesim.config import CameraConfig, EnvConfig, MapConfig, TrafficConfig
from drivesim.world import World

H = 5  # [steps]
SMALL = MapConfig(blocks_x=3, blocks_y=3, pool_size=1)


def _world(batch=2, **camera):
    config = EnvConfig(map=SMALL, traffic=TrafficConfig(n_cars=12, n_pedestrians=30),
                       camera=CameraConfig(history=H, **camera))
    world = World(config, batch)
    world.reset(np.arange(batch) + 7, np.zeros(batch))
    return world


def test_no_trail_is_kept_without_history():
    world = World(EnvConfig(map=SMALL), 1)
    world.reset(np.array([1]), np.array([0]))
    assert world.state.trail.shape[1] == 0 and world.state.trail_lights.shape[1] == 0
    assert "camera_history" not in world.observe()[0]
    with pytest.raises(ValueError, match="history"):
        world.camera.render_with_history(world)


def test_reset_runs_every_actor_back_along_its_velocity():
    world = _world()
    cars, peds = world.state.cars, world.state.peds
    n_cars = cars.shape[1]
    for k in range(1, H + 1):
        slot = (-k) % H
        trail = world.state.trail[:, slot]
        back = k * 0.1
        np.testing.assert_allclose(trail["x"][:, :n_cars], cars["x"] - back * cars["v"] * np.cos(cars["yaw"]), atol=1e-9)
        np.testing.assert_allclose(trail["y"][:, n_cars:], peds["y"] - back * peds["vy"], atol=1e-9)
        assert (trail["active"][:, :n_cars] == cars["active"]).all()
        assert (world.state.trail_lights[:, slot] == world.state.lights).all()


def test_trail_slot_holds_the_scene_history_steps_ago():
    world = _world()
    snaps = []
    for _ in range(12):
        snaps.append((world.state.cars.copy(), world.state.peds.copy(), world.state.lights.copy()))
        world.step(np.zeros((2, 2)))
    t = int(world.t[0])
    slot = (t - H) % H
    cars, peds, lights = snaps[t - H]
    trail = world.state.trail[:, slot]
    n_cars = cars.shape[1]
    np.testing.assert_array_equal(trail["x"][:, :n_cars], cars["x"])
    np.testing.assert_array_equal(trail["y"][:, n_cars:], peds["y"])
    np.testing.assert_array_equal(world.state.trail_lights[:, slot], lights)


def test_history_frame_of_a_standing_ego_is_the_frame_history_steps_ago():
    """From a pose that does not change, the scene H steps ago looks exactly as the camera saw it then."""
    world = _world(batch=1)
    brake = np.array([[0.0, -1.0]])
    for _ in range(40):  # come to a standstill
        world.step(brake)
    assert world.ego.v[0] == 0.0
    frames = []
    for _ in range(2 * H):
        world.step(brake)
        obs, _ = world.observe()
        frames.append(obs)
    for i in range(H, 2 * H):
        np.testing.assert_array_equal(frames[i]["camera_history"], frames[i - H]["camera"])
    moved = any((frames[i]["camera"] != frames[i - H]["camera"]).any() for i in range(H, 2 * H))
    assert moved  # traffic moved in front of the standing car, so the check above compared something


def test_history_frame_has_its_own_noise_and_the_same_map():
    world = _world(noise_std=8.0)
    for _ in range(3):
        world.step(np.zeros((2, 2)))
    obs, _ = world.observe()
    diff = np.abs(obs["camera"].astype(int) - obs["camera_history"].astype(int))
    assert diff.mean() > 2.0  # independent noise images (keyed by their own steps)
    quiet = _world()
    for _ in range(3):
        quiet.step(np.zeros((2, 2)))
    obs, _ = quiet.observe()
    same = (obs["camera"] == obs["camera_history"]).all(axis=-1).mean()
    assert same > 0.95  # without noise only the moving things differ


def test_refill_after_hand_placement_shows_the_motion():
    world = _world(batch=1)
    cars = world.state.cars
    cars["v"][0, 1], cars["yaw"][0, 1] = 8.0, 0.0
    refill_trails(world.state, 0.1)
    slot = (int(world.t[0]) - H) % H
    assert world.state.trail[0, slot, 1]["x"] == pytest.approx(cars["x"][0, 1] - 8.0 * 0.5)
