"""`drivesim play`: headless runs through the CLI (PNG and MP4 outputs), the key handling, and the
session state machine without pygame."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before pygame is imported
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from drivesim.apps.play.hud import LIDAR_CLASS_RGB, WINDOW_SIZE, lidar_image  # noqa: E402
from drivesim.apps.play.scenarios import ScenarioCatalog  # noqa: E402
from drivesim.apps.play.session import PlayConfig, driving_score  # noqa: E402
from drivesim.apps.play.window import Game  # noqa: E402
from drivesim.sensors.lidar import LidarHit  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _play(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run([sys.executable, "-m", "drivesim.apps.cli", "play", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def _key(game: Game, key: int) -> None:
    game.handle_event(pygame.event.Event(pygame.KEYDOWN, key=key))
    game.handle_event(pygame.event.Event(pygame.KEYUP, key=key))


SCENARIOS = ScenarioCatalog().names()


@pytest.fixture()
def game(tmp_path: Path) -> Iterator[Game]:
    g = Game(PlayConfig(seed=3, agent="expert", out=tmp_path / "out", headless=True))
    yield g
    g.close()


# ------------------------------------------------------------------------------------ subprocess
def test_headless_screenshot(tmp_path: Path) -> None:
    proc = _play(tmp_path, "--frames", "100", "--screenshot", "out.png")
    assert proc.returncode == 0, proc.stderr
    img = cv2.imread(str(tmp_path / "out.png"))
    assert img is not None
    assert img.shape == (WINDOW_SIZE[1], WINDOW_SIZE[0], 3)
    assert img.std() > 10


def test_headless_record_has_every_frame(tmp_path: Path) -> None:
    proc = _play(tmp_path, "--record", "out.mp4", "--frames", "30")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert cap.isOpened()
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame.shape)
    cap.release()
    assert len(frames) == 30
    assert set(frames) == {(WINDOW_SIZE[1], WINDOW_SIZE[0], 3)}


def test_bad_scenario_exits_with_usage_error(tmp_path: Path) -> None:
    proc = _play(tmp_path, "--scenario", "nope", "--frames", "1")
    assert proc.returncode == 2
    assert "unknown scenario" in proc.stderr


# ------------------------------------------------------------------------------------------ keys
def test_tab_toggles_autopilot(game: Game) -> None:
    assert game.session.autopilot
    _key(game, pygame.K_TAB)
    assert not game.session.autopilot
    _key(game, pygame.K_TAB)
    assert game.session.autopilot


def test_space_pauses_and_n_single_steps(game: Game) -> None:
    game.session.tick()
    assert game.session.world.t[0] == 1
    _key(game, pygame.K_SPACE)
    for _ in range(3):
        game.session.tick()
    assert game.session.world.t[0] == 1
    _key(game, pygame.K_n)
    game.session.tick()
    game.session.tick()
    assert game.session.world.t[0] == 2
    _key(game, pygame.K_SPACE)
    game.session.tick()
    assert game.session.world.t[0] == 3


def test_g_toggles_overlays(game: Game) -> None:
    assert game.session.overlays
    _key(game, pygame.K_g)
    assert not game.session.overlays


def test_r_resets_with_the_next_seed(game: Game) -> None:
    for _ in range(5):
        game.session.tick()
    _key(game, pygame.K_r)
    assert game.session.world.t[0] == 0
    assert int(game.session.world.state.clock['seed'][0]) == 4
    assert game.session.episode_return == 0.0


def test_number_key_switches_scenario(game: Game) -> None:
    _key(game, pygame.K_3)
    assert game.session.scenario == list(SCENARIOS)[2]
    want = ScenarioCatalog().config(list(SCENARIOS)[2])  # with the camera's history frame (the detector's velocities)
    assert game.session.world.config == want.replace(camera={"history": 5})
    assert game.session.world.t[0] == 0


def test_arrow_keys_drive_smoothly(game: Game) -> None:
    _key(game, pygame.K_TAB)  # autopilot off
    game.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP))
    game.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LEFT))
    first = game.session.action()[0]
    assert 0.0 < first[0] < 1.0 and 0.0 < first[1] < 1.0  # ramps toward the key target
    for _ in range(10):
        action = game.session.action()[0]
    np.testing.assert_allclose(action, [1.0, 1.0])
    game.handle_event(pygame.event.Event(pygame.KEYUP, key=pygame.K_LEFT))
    assert game.session.action()[0, 0] < 1.0


def test_f12_and_v_write_files(game: Game, tmp_path: Path) -> None:
    game.session.tick()
    game.render_frame()
    _key(game, pygame.K_F12)
    _key(game, pygame.K_v)
    for _ in range(3):
        game.session.tick()
        game.render_frame()
    _key(game, pygame.K_v)
    out = tmp_path / "out"
    assert len(list(out.glob("*.png"))) == 1
    videos = list(out.glob("*.mp4"))
    assert len(videos) == 1
    cap = cv2.VideoCapture(str(videos[0]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()


def test_episode_end_shows_outcome_then_resets(game: Game) -> None:
    game.session.world.cars.x[0, 0] += 50.0  # the ego (car slot 0) far off the route: the episode ends off_route
    game.session.tick()
    assert game.session.outcome == "off_route"
    frame = game.render_frame()
    assert frame.shape == (WINDOW_SIZE[1], WINDOW_SIZE[0], 3)
    for _ in range(game.session.outcome_frames):
        game.session.tick()
    assert game.session.world.t[0] == 0 and int(game.session.world.state.clock['seed'][0]) == 4


def test_escape_quits(game: Game) -> None:
    _key(game, pygame.K_ESCAPE)
    assert not game.session.running


# ----------------------------------------------------------------------------------- pure parts
def test_driving_score_hand_computed() -> None:
    assert driving_score(0.5, {"red_light": 1, "collision_vehicle": 1}) == pytest.approx(0.21)
    assert driving_score(1.0, {}) == pytest.approx(1.0)
    assert driving_score(0.8, {"collision_pedestrian": 1, "collision_static": 1}) == pytest.approx(0.8 * 0.5 * 0.65)
    assert driving_score(1.0, {"red_light": 2}) == pytest.approx(0.49)
    assert driving_score(1.3, {"off_road": 7}) == pytest.approx(1.0)  # clipped; off-road is not penalised
    assert driving_score(-0.1, {}) == 0.0


def test_resolve_scenario() -> None:
    catalog = ScenarioCatalog()
    names = catalog.names()
    assert 1 < len(names) <= 9
    assert catalog.resolve("1") == names[0] == "default"
    assert catalog.resolve("dense_traffic") == "dense_traffic"
    with pytest.raises(ValueError, match="unknown scenario"):
        catalog.resolve(str(len(names) + 1))


def test_a_scenario_file_joins_only_its_own_catalog(tmp_path: Path) -> None:
    from drivesim.scenarios.loader import load_scenario

    path = tmp_path / "mine.toml"
    path.write_text(Path(load_scenario("red_light").source).read_text())
    catalog = ScenarioCatalog()
    assert catalog.resolve(str(path)) == str(path)
    assert str(path) in catalog.names() and str(path) not in ScenarioCatalog().names()  # no module state


def test_session_runs_without_pygame(tmp_path: Path) -> None:
    """The state machine knows nothing of pygame: episodes, autopilot and scenario switching work
    in a process that never imports it."""
    code = ("import sys; from drivesim.apps.play.session import PlayConfig, Session; "
            "s = Session(PlayConfig(seed=3, agent='expert', headless=True)); s.tick(); s.tick(); "
            "assert s.world.t[0] == 2; s.toggle_autopilot(); s.target[:] = (0.0, 1.0); s.tick(); "
            "assert s.last_action[1] > 0; s.select_scenario(1); assert s.world.t[0] == 0; "
            "print('pygame' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_lidar_image_puts_hits_where_the_beams_point() -> None:
    offsets = np.array([0.0, np.pi / 2])  # ahead, left
    img = lidar_image(np.array([0.5, 1.0]), np.array([2, 0]), offsets, 101)
    assert img.shape == (101, 101, 3)
    assert tuple(img[27, 50]) == LIDAR_CLASS_RGB[LidarHit.CAR]  # half the 46.5 px max-range radius ahead
    assert tuple(img[50, 4]) == LIDAR_CLASS_RGB[LidarHit.NONE]  # no hit: at the maximum range to the left


def test_window_loop_reads_keys_and_quits_on_escape(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The windowed path (under SDL's dummy driver): events are read each frame and Esc ends the loop."""
    from drivesim.apps import cli
    from drivesim.apps.play import window as play

    calls = []

    def fake_events() -> list[pygame.event.Event]:
        calls.append(1)
        return [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE)] if len(calls) == 3 else []

    monkeypatch.setattr(play, "is_headless", lambda: False)
    monkeypatch.setattr(play.pygame.event, "get", fake_events)
    args = cli.build_parser().parse_args(["play", "--agent", "expert", "--fps", "1000", "--screenshot",
                                          str(tmp_path / "shot.png")])
    assert play.run_play(args) == 0
    assert len(calls) == 3  # two frames, then Esc before the third
    assert cv2.imread(str(tmp_path / "shot.png")).shape == (WINDOW_SIZE[1], WINDOW_SIZE[0], 3)
