"""`drivesim play`: headless runs through the CLI (PNG and MP4 outputs) and the Game's key handling."""

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

from drivesim.render.play import (  # noqa: E402
    LIDAR_CLASS_RGB,
    SCENARIOS,
    WINDOW_SIZE,
    Game,
    PlayConfig,
    driving_score,
    lidar_image,
    resolve_scenario,
    scenario_config,
)
from drivesim.sensors.lidar import LidarHit  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _play(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run([sys.executable, "-m", "drivesim.cli", "play", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def _key(game: Game, key: int) -> None:
    game.handle_event(pygame.event.Event(pygame.KEYDOWN, key=key))
    game.handle_event(pygame.event.Event(pygame.KEYUP, key=key))


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
    assert game.autopilot
    _key(game, pygame.K_TAB)
    assert not game.autopilot
    _key(game, pygame.K_TAB)
    assert game.autopilot


def test_space_pauses_and_n_single_steps(game: Game) -> None:
    game.tick()
    assert game.world.t[0] == 1
    _key(game, pygame.K_SPACE)
    for _ in range(3):
        game.tick()
    assert game.world.t[0] == 1
    _key(game, pygame.K_n)
    game.tick()
    game.tick()
    assert game.world.t[0] == 2
    _key(game, pygame.K_SPACE)
    game.tick()
    assert game.world.t[0] == 3


def test_g_toggles_overlays(game: Game) -> None:
    assert game.overlays
    _key(game, pygame.K_g)
    assert not game.overlays


def test_r_resets_with_the_next_seed(game: Game) -> None:
    for _ in range(5):
        game.tick()
    _key(game, pygame.K_r)
    assert game.world.t[0] == 0
    assert int(game.world.state.clock['seed'][0]) == 4
    assert game.episode_return == 0.0


def test_number_key_switches_scenario(game: Game) -> None:
    _key(game, pygame.K_3)
    assert game.scenario == list(SCENARIOS)[2]
    assert game.world.config == scenario_config(list(SCENARIOS)[2])
    assert game.world.t[0] == 0


def test_arrow_keys_drive_smoothly(game: Game) -> None:
    _key(game, pygame.K_TAB)  # autopilot off
    game.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP))
    game.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LEFT))
    first = game.action()[0]
    assert 0.0 < first[0] < 1.0 and 0.0 < first[1] < 1.0  # ramps toward the key target
    for _ in range(10):
        action = game.action()[0]
    np.testing.assert_allclose(action, [1.0, 1.0])
    game.handle_event(pygame.event.Event(pygame.KEYUP, key=pygame.K_LEFT))
    assert game.action()[0, 0] < 1.0


def test_f12_and_v_write_files(game: Game, tmp_path: Path) -> None:
    game.tick()
    game.render_frame()
    _key(game, pygame.K_F12)
    _key(game, pygame.K_v)
    for _ in range(3):
        game.tick()
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
    game.world.cars.x[0, 0] += 50.0  # the ego (car slot 0) far off the route: the episode ends off_route
    game.tick()
    assert game.outcome == "off_route"
    frame = game.render_frame()
    assert frame.shape == (WINDOW_SIZE[1], WINDOW_SIZE[0], 3)
    for _ in range(game.outcome_frames):
        game.tick()
    assert game.world.t[0] == 0 and int(game.world.state.clock['seed'][0]) == 4


def test_escape_quits(game: Game) -> None:
    _key(game, pygame.K_ESCAPE)
    assert not game.running


# ----------------------------------------------------------------------------------- pure parts
def test_driving_score_hand_computed() -> None:
    assert driving_score(0.5, {"red_light": 1, "collision_vehicle": 1}) == pytest.approx(0.21)
    assert driving_score(1.0, {}) == pytest.approx(1.0)
    assert driving_score(0.8, {"collision_pedestrian": 1, "collision_static": 1}) == pytest.approx(0.8 * 0.5 * 0.65)
    assert driving_score(1.0, {"red_light": 2}) == pytest.approx(0.49)
    assert driving_score(1.3, {"off_road": 7}) == pytest.approx(1.0)  # clipped; off-road is not penalised
    assert driving_score(-0.1, {}) == 0.0


def test_resolve_scenario() -> None:
    names = list(SCENARIOS)
    assert 1 < len(names) <= 9
    assert resolve_scenario("1") == names[0] == "default"
    assert resolve_scenario("dense_traffic") == "dense_traffic"
    with pytest.raises(ValueError, match="unknown scenario"):
        resolve_scenario(str(len(names) + 1))


def test_lidar_image_puts_hits_where_the_beams_point() -> None:
    offsets = np.array([0.0, np.pi / 2])  # ahead, left
    img = lidar_image(np.array([0.5, 1.0]), np.array([2, 0]), offsets, 101)
    assert img.shape == (101, 101, 3)
    assert tuple(img[27, 50]) == LIDAR_CLASS_RGB[LidarHit.CAR]  # half the 46.5 px max-range radius ahead
    assert tuple(img[50, 4]) == LIDAR_CLASS_RGB[LidarHit.NONE]  # no hit: at the maximum range to the left


def test_window_loop_reads_keys_and_quits_on_escape(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The windowed path (under SDL's dummy driver): events are read each frame and Esc ends the loop."""
    from drivesim import cli
    from drivesim.render import play

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
