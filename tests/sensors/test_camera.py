"""Camera frames and their labels: labels sit on the drawn objects, colours per light state,
pedestrians wide enough to see, heading-up geometry."""

import numpy as np
import pytest

from drivesim.actors.signals import Light
from drivesim.agent import ExpertAgent
from drivesim.config import CameraConfig, EnvConfig, MapConfig, TrafficConfig
from drivesim.render.palette import CAR_RGB, LIGHT_RGB, PED_RGB
from drivesim.sensors.camera import ObjectClass
from drivesim.world import World

SMALL_MAP = MapConfig(blocks_x=3, blocks_y=3, pool_size=2)


def _driven_world(batch=4, steps=80, **traffic):
    world = World(EnvConfig(map=SMALL_MAP, traffic=TrafficConfig(**traffic)), batch)
    world.reset(np.arange(batch) + 21, np.zeros(batch))
    agent = ExpertAgent()
    for _ in range(steps):
        world.step(agent.act(world))
    return world


def _isolated_world():
    world = World(EnvConfig(map=SMALL_MAP, traffic=TrafficConfig(n_cars=2, n_pedestrians=2)), 1)
    world.reset(np.array([5]), np.array([0]))
    world.cars.active[:, 1:] = False  # slot 0 is the ego
    world.peds.active[:] = False
    world.state.signal_offset[:] = 0.0
    return world


def _place_ahead(world, kind, forward, left, yaw_offset=0.0, index=0):
    c, s = np.cos(world.ego.yaw[0]), np.sin(world.ego.yaw[0])
    x = world.ego.x[0] + c * forward - s * left
    y = world.ego.y[0] + s * forward + c * left
    actors = world.cars if kind == "car" else world.peds
    index += kind == "car"  # car slot 0 is the ego
    actors.active[0, index] = True
    actors.x[0, index], actors.y[0, index], actors.yaw[0, index] = x, y, world.ego.yaw[0] + yaw_offset


def test_labels_sit_on_drawn_objects_of_every_class():
    world = _driven_world()
    colours = {ObjectClass.CAR: np.array(CAR_RGB), ObjectClass.PEDESTRIAN: np.array(PED_RGB)}
    hits = {cls: [0, 0] for cls in ObjectClass}
    agent = ExpertAgent()
    for _ in range(30):
        frames, labels = world.camera.render(world)
        for b in range(world.batch_size):
            objects = labels.frame(b)
            for cls, (u, v), light in zip(objects["cls"], objects["centre"], objects["light"], strict=True):
                want = np.array(LIGHT_RGB[Light(light)]) if cls == ObjectClass.TRAFFIC_LIGHT else colours[ObjectClass(cls)]
                got = frames[b, int(v), int(u)].astype(int)
                hits[ObjectClass(cls)][0] += int(np.abs(got - want).max() <= 2)
                hits[ObjectClass(cls)][1] += 1
        world.step(agent.act(world))
    for cls, (ok, total) in hits.items():
        assert total > 10, f"too few {cls.name} labels to check ({total})"
        assert ok / total > 0.9, f"{cls.name}: only {ok}/{total} label centres lie on the object's colour"


def test_car_label_box_matches_drawn_pixels():
    world = _isolated_world()
    _place_ahead(world, "car", forward=10.0, left=0.0, yaw_offset=0.5)
    frames, labels = world.camera.render(world)
    obj = labels.frame(0)
    obj = {k: v[obj["cls"] == ObjectClass.CAR] for k, v in obj.items()}  # traffic lights may be in view
    assert len(obj["cls"]) == 1
    mask = np.all(frames[0] == CAR_RGB, axis=-1)
    rows, cols = np.nonzero(mask)
    assert abs(cols.mean() - obj["centre"][0, 0]) < 0.75 and abs(rows.mean() - obj["centre"][0, 1]) < 0.75
    mpp = world.config.camera.metres_per_pixel
    assert obj["position"][0] == pytest.approx([10.0, 0.0], abs=1e-3)
    length, width = 4.5 / mpp, 1.9 / mpp
    # filled polygons include their boundary pixels: area + half the perimeter
    assert mask.sum() == pytest.approx(length * width + (length + width), rel=0.15)
    assert obj["angle"][0] == pytest.approx(0.5, abs=1e-5)


def test_heading_up_geometry():
    """Something ahead is drawn above the ego, something to the left on the left."""
    world = _isolated_world()
    cam = world.config.camera
    _place_ahead(world, "car", forward=12.0, left=4.0)
    obj = world.camera.labels(world).frame(0)
    u, v = obj["centre"][0]
    assert v == pytest.approx(cam.ego_row * cam.height - 12.0 / cam.metres_per_pixel, abs=1e-3)
    assert u == pytest.approx(cam.width / 2 - 4.0 / cam.metres_per_pixel, abs=1e-3)


def test_pedestrians_at_least_3px_wide_at_default_resolution():
    world = _isolated_world()
    _place_ahead(world, "ped", forward=6.0, left=2.0)
    frames, _ = world.camera.render(world)
    mask = np.all(frames[0] == PED_RGB, axis=-1)
    rows, cols = np.nonzero(mask)
    assert cols.max() - cols.min() + 1 >= 3 and rows.max() - rows.min() + 1 >= 3


def test_default_camera_sees_25m_ahead():
    cam = CameraConfig()
    assert cam.ego_row * cam.height * cam.metres_per_pixel >= 25.0


def test_light_colours_distinct_and_match_state():
    rgb = [np.array(LIGHT_RGB[s], dtype=float) for s in (Light.RED, Light.YELLOW, Light.GREEN)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.linalg.norm(rgb[i] - rgb[j]) > 100
    world = _driven_world(batch=6, steps=40)
    seen = set()
    for _ in range(40):
        frames, labels = world.camera.render(world)
        for b in range(world.batch_size):
            obj = labels.frame(b)
            for cls, light in zip(obj["cls"], obj["light"], strict=True):
                if cls == ObjectClass.TRAFFIC_LIGHT:
                    assert light in (Light.RED, Light.YELLOW, Light.GREEN)
                    seen.add(int(light))
        world.step(np.zeros((world.batch_size, 2)))
    assert {Light.RED, Light.GREEN} <= seen


def test_dusk_noise_and_jitter_are_deterministic():
    cfg = EnvConfig(map=SMALL_MAP, camera=CameraConfig(dusk=True, noise_std=8.0, colour_jitter=0.2))
    frames = []
    for _ in range(2):
        world = World(cfg, 3)
        world.reset(np.arange(3), np.zeros(3))
        world.step(np.zeros((3, 2)))
        frames.append(world.camera.render(world)[0])
    assert np.array_equal(frames[0], frames[1])
    plain = World(EnvConfig(map=SMALL_MAP), 3)
    plain.reset(np.arange(3), np.zeros(3))
    plain.step(np.zeros((3, 2)))
    assert frames[0].mean() < plain.camera.render(plain)[0].mean()  # dusk is darker


@pytest.mark.parametrize("dusk", [False, True])
def test_frames_match_the_opencv_reference(dusk):
    """The compiled renderer draws what OpenCV drew (warpAffine + fillConvexPoly / circle, kept as
    a test oracle): a pixel differs by more than 2 levels only on object outlines."""
    from tests.sensors.opencv_camera import render_opencv

    world = World(EnvConfig(map=SMALL_MAP, camera=CameraConfig(dusk=dusk)), 6)
    world.reset(np.arange(6) + 40, np.zeros(6))
    agent = ExpertAgent()
    far, total = 0, 0
    for t in range(60):
        world.step(agent.act(world))
        if t % 15 == 14:
            frames, labels = world.camera.render(world)
            ref = render_opencv(world, labels)
            d = np.abs(frames.astype(int) - ref).max(axis=-1)
            far += int((d > 2).sum())
            total += d.size
            assert np.abs(frames.astype(int) - ref).mean() < 0.5
    assert far / total < 0.005


def test_labels_without_drawing_equal_the_render_labels():
    world = _driven_world(batch=3, steps=30)
    _, drawn = world.camera.render(world)
    alone = world.camera.labels(world)
    for name in drawn._fields:
        assert np.array_equal(getattr(drawn, name), getattr(alone, name)), name


def test_velocity_labels_are_ground_velocity_in_the_ego_frame():
    """A car driving at 8 m/s at 90 degrees to the ego's heading moves to the ego's left at 8 m/s;
    a standing pedestrian has no velocity; traffic lights never move."""
    world = _isolated_world()
    _place_ahead(world, "car", forward=10.0, left=2.0, yaw_offset=np.pi / 2)
    world.cars.v[0, 1] = 8.0
    _place_ahead(world, "ped", forward=6.0, left=-3.0)
    world.peds.vx[0, 0], world.peds.vy[0, 0] = 0.0, 0.0
    labels = world.camera.labels(world)
    obj = labels.frame(0)
    car = obj["velocity"][obj["cls"] == ObjectClass.CAR]
    ped = obj["velocity"][obj["cls"] == ObjectClass.PEDESTRIAN]
    np.testing.assert_allclose(car, [[0.0, 8.0]], atol=1e-5)
    np.testing.assert_allclose(ped, [[0.0, 0.0]], atol=1e-6)
    assert np.all(obj["velocity"][obj["cls"] == ObjectClass.TRAFFIC_LIGHT] == 0.0)


def test_pedestrian_velocity_labels_follow_their_steps():
    """Over a driven run, each pedestrian's velocity label is its displacement over the last step
    (dt 0.1 s) rotated into the ego frame, including the sideways offset of keeping right."""
    world = _driven_world(batch=2, steps=20, n_pedestrians=20)
    agent = ExpertAgent()
    checked = 0
    for _ in range(20):
        before = world.peds.copy()
        world.step(agent.act(world))
        labels = world.camera.labels(world)
        n_cars = world.state.cars.shape[1]
        for b in range(2):
            yaw = world.ego.yaw[b]
            c, s = np.cos(yaw), np.sin(yaw)
            moved = world.peds.active[b] & before.active[b] & (world.peds.script_left[b] <= 0)
            dx = (world.peds.x[b] - before.x[b]) / 0.1
            dy = (world.peds.y[b] - before.y[b]) / 0.1
            want = np.stack([c * dx + s * dy, -s * dx + c * dy], axis=1)[moved]
            got = labels.velocity[b, n_cars:n_cars + len(moved)][moved]
            np.testing.assert_allclose(got, want, atol=1e-4)
            checked += int(moved.sum())
    assert checked > 100


def test_partial_redraw_after_reset_equals_a_full_render():
    """After some worlds restart, `observe(rows, previous)` draws only those worlds and copies the
    rest: bit-identical to drawing every world again, and the previous observation is untouched."""
    cfg = EnvConfig(map=SMALL_MAP, traffic=TrafficConfig(n_cars=4, n_pedestrians=4), camera=CameraConfig(history=5),
                    observations=("camera", "state"))
    world = World(cfg, 4)
    world.reset(np.arange(4), np.zeros(4))
    for _ in range(8):
        world.step(np.tile([0.0, 0.6], (4, 1)))
    before, labels = world.observe()
    kept = {k: v.copy() for k, v in before.items()}
    rows = np.array([1, 3])
    world.reset(np.array([7, 9]), np.ones(2), rows)
    partial, partial_labels = world.observe(rows, (before, labels))
    full, full_labels = world.observe()
    for key in full:
        assert np.array_equal(partial[key], full[key]), key
        assert np.array_equal(before[key], kept[key]), key
    for a, b in zip(partial_labels, full_labels):
        assert np.array_equal(a, b)
    assert not np.array_equal(partial["camera"][1], before["camera"][1])  # the restarted world was drawn anew


def test_partial_observation_of_vectors_and_labels_equals_a_full_one():
    """The same for the vectors read off the state (surface grid, clock, junction, signal, stopping) and the
    camera's labels without frames (the oracle features' inputs)."""
    cfg = EnvConfig(map=SMALL_MAP, traffic=TrafficConfig(n_cars=4, n_pedestrians=4), camera_labels=True,
                    observations=("lidar", "state", "route", "clock", "junction", "surface", "signal", "stopping"))
    world = World(cfg, 4)
    world.reset(np.arange(4), np.zeros(4))
    for _ in range(30):
        world.step(np.tile([0.1, 0.6], (4, 1)))
    before, labels = world.observe()
    assert labels is not None
    rows = np.array([0, 2])
    world.reset(np.array([5, 8]), np.ones(2), rows)
    partial, partial_labels = world.observe(rows, (before, labels))
    full, full_labels = world.observe()
    assert partial.keys() == full.keys()
    for key in full:
        assert np.array_equal(partial[key], full[key]), key
    for a, b in zip(partial_labels, full_labels):
        assert np.array_equal(a, b)
    assert not np.array_equal(partial["surface"][0], before["surface"][0])  # a restarted world, computed anew
