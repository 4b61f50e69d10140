"""`drivesim play`: drive one world (batch size 1) in a pygame window, or headless for videos and tests.

Window (1280 x 720 px): the heading-up top-down view on the left; on the right the ego camera with
ground-truth label overlays, a polar plot of the lidar scan and a HUD (speed, route command, light
ahead, reward terms of the last step, episode return, infraction counts, route completion and a
running driving score).

Keys: arrows/WASD drive, Space pause, N single step (paused), R new episode, Tab autopilot,
G overlays, F12 screenshot, V start/stop recording, 1-9 scenario, Esc quit.

Every frame is composed into an RGB array (`Game.compose`), so screenshots, recordings and tests do
not depend on a window. Headless (`SDL_VIDEODRIVER=dummy` or no display) nothing waits for input:
the expert drives (zero actions with an explicit `--agent human`) for `--frames` frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agents.expert import ExpertAgent
from drivesim import metrics
from drivesim.actors.signals import Light
from drivesim.config import EnvConfig
from drivesim.events import EVENT_NAMES, REWARD_TERMS, TERMINATING
from drivesim.map.city import Turn
from drivesim.render.palette import LIGHT_RGB, PED_RGB, light_text
from drivesim.render.views import PygameWindow, full_view
from drivesim.scenarios.loader import list_scenarios, load_scenario
from drivesim.sensors.camera import ObjectClass
from drivesim.sensors.lidar import LidarHit, lidar_scan
from drivesim.sensors.raycast import beam_offsets
from drivesim.world import StepResult, World

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before the first pygame import
import pygame  # noqa: E402

# ---------------------------------------------------------------------------------------- scenarios
# keys 1-9 pick the first nine scenarios of the suite (assets/scenarios); "default" is the plain env
SCENARIOS: dict[str, str | None] = {"default": None, **{sc.name: sc.source for sc in list_scenarios()[:8]}}

# ----------------------------------------------------------------------------------------- layout
WINDOW_SIZE = (1280, 720)  # [px] width, height
MAIN_SIZE = 720  # [px] side of the top-down view
MAIN_METRES = 70.0  # [m] shown across the top-down view
CAMERA_POS, CAMERA_BOX = (728, 24), 288  # [px] top-left and side of the camera panel
LIDAR_POS, LIDAR_SIZE = (1024, 24), 248  # [px] top-left and side of the lidar panel
HUD_LEFT, HUD_RIGHT, HUD_TOP = 728, 1040, 332  # [px] x of the two HUD columns, y of the first line
LINE_HEIGHT = 18  # [px] HUD line spacing
HELP_TOP = 666  # [px] y of the key-help lines
BANNER_SECONDS = 1.0  # [s] of wall time the episode outcome stays on screen

BACKGROUND_RGB = (24, 26, 30)
PANEL_RGB = (12, 14, 18)
TEXT_RGB = (225, 228, 232)
DIM_RGB = (140, 146, 156)
ACCENT_RGB = (90, 230, 230)
WARN_RGB = (255, 200, 60)
BAD_RGB = (250, 80, 80)
GOOD_RGB = (80, 230, 110)
LABEL_RGB = {ObjectClass.CAR: (255, 220, 0), ObjectClass.PEDESTRIAN: (0, 240, 255),
             ObjectClass.TRAFFIC_LIGHT: (255, 255, 255)}  # ground-truth overlay per class
LIDAR_CLASS_RGB = {LidarHit.NONE: (85, 88, 96), LidarHit.BUILDING: (205, 150, 100), LidarHit.CAR: (100, 160, 255),
                   LidarHit.PEDESTRIAN: PED_RGB}
KEY_HELP = ("arrows/WASD drive   Space pause   N step   R reset   Tab autopilot",
            "G overlays   F12 screenshot   V record   1-9 scenario   Esc quit")

# ---------------------------------------------------------------------------------------- controls
STEER_RATE = 3.0  # [1/s] rate the steering command moves toward the key target (full lock in ~0.3 s)
THROTTLE_RATE = 4.0  # [1/s] rate the throttle/brake command moves toward the key target
STEER_KEYS = {pygame.K_LEFT: 1.0, pygame.K_a: 1.0, pygame.K_RIGHT: -1.0, pygame.K_d: -1.0}  # left = +steer
THROTTLE_KEYS = {pygame.K_UP: 1.0, pygame.K_w: 1.0, pygame.K_DOWN: -1.0, pygame.K_s: -1.0}  # down = brake
HEADLESS_FRAMES = 100  # default --frames without a display


def scenario_names() -> list[str]:
    """Scenario names in key order (key 1 = first)."""
    return list(SCENARIOS)


def resolve_scenario(text: str) -> str:
    """A scenario name from '1'-'9', a suite name, or a path to a scenario file; raises ValueError
    naming the choices."""
    names = scenario_names()
    if text.isdigit() and 1 <= int(text) <= len(names):
        return names[int(text) - 1]
    if text in SCENARIOS:
        return text
    if text.endswith(".toml"):
        SCENARIOS[text] = text
        return text
    raise ValueError(f"unknown scenario {text!r}; use 1-{len(names)}, one of {', '.join(names)}, or a .toml path")


def scenario_config(name: str) -> EnvConfig:
    """The EnvConfig of a scenario (the plain default env for "default")."""
    source = SCENARIOS[name]
    return EnvConfig() if source is None else load_scenario(source).config


def driving_score(completion: float, counts: Mapping[str, int]) -> float:
    """Route completion (clipped to [0, 1]) x the product of the CARLA penalty factors of the
    infractions in `counts` (others, e.g. off-road steps, are not penalised), see drivesim.metrics."""
    return metrics.driving_score(completion, {k: int(v) for k, v in counts.items() if k in metrics.PENALTIES})


def episode_outcome(events: Mapping[str, np.ndarray], b: int = 0) -> str:
    """The event that ended episode b (a terminating event or timeout), '-' if none."""
    for name in (*TERMINATING, "timeout"):
        if bool(events[name][b]):
            return name
    return "-"


def approach(value: np.ndarray, target: np.ndarray, max_delta: np.ndarray) -> np.ndarray:
    """Move value toward target by at most max_delta per element (rate limiter)."""
    return value + np.clip(target - value, -max_delta, max_delta)


def key_axis(held: set[int], keys: Mapping[int, float]) -> float:
    """Sum of the directions of the held keys of one axis, clipped to [-1, 1]."""
    return float(np.clip(sum(direction for key, direction in keys.items() if key in held), -1.0, 1.0))


def is_headless() -> bool:
    """True when no window can be shown: SDL's dummy/offscreen driver or, on Linux, no display."""
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return True
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# ----------------------------------------------------------------------------------- pure drawing
def label_corners(centre: np.ndarray, size: np.ndarray, angle: float) -> np.ndarray:
    """(4, 2) [px] corners of a box with centre (u, v), size (length, width) and image heading angle
    [rad] (0 = up, counter-clockwise), as in the camera labels."""
    fwd = np.array([-np.sin(angle), -np.cos(angle)]) * size[0] / 2
    left = np.array([-np.cos(angle), np.sin(angle)]) * size[1] / 2
    return np.stack([centre + fwd + left, centre - fwd + left, centre - fwd - left, centre + fwd - left])


_DETECTOR: list = []


def _detector():  # noqa: ANN202 - returns perception.detector.Detector or None
    """The shipped perception model, loaded once (None if torch or the weights are missing)."""
    if not _DETECTOR:
        try:
            from perception.detector import Detector, shipped_weights

            _DETECTOR.append(Detector(shipped_weights(), device="cpu") if shipped_weights().is_file() else None)
        except ImportError:
            _DETECTOR.append(None)
    return _DETECTOR[0]


def draw_labels(img: np.ndarray, objects: Mapping[str, np.ndarray], scale: float) -> None:
    """Outline objects on a camera image upscaled by `scale` (in place): rotated boxes for cars,
    circles for pedestrians and traffic lights. `objects` is `CameraLabels.frame(b)` (or detections
    with the same cls / centre (u, v) [px] / size [px] / angle [rad] arrays)."""
    for cls, centre, size, angle in zip(objects["cls"], objects["centre"], objects["size"], objects["angle"],
                                        strict=True):
        rgb = LABEL_RGB.get(ObjectClass(int(cls)), (255, 255, 255))
        c = centre * scale + (scale - 1) / 2  # source pixel centre -> upscaled pixel centre
        if cls == ObjectClass.CAR:
            pts = np.round(label_corners(c, size * scale, float(angle))).astype(np.int32)
            cv2.polylines(img, [pts], True, rgb, 2, cv2.LINE_AA)
        else:
            radius = int(round(max(size) * scale / 2)) + 3
            cv2.circle(img, (int(round(c[0])), int(round(c[1]))), radius, rgb, 2, cv2.LINE_AA)


def lidar_image(ranges: np.ndarray, classes: np.ndarray, offsets: np.ndarray, size: int) -> np.ndarray:
    """Polar plot of one scan, heading up with the ego at the centre: uint8 (size, size, 3) RGB.
    ranges (N,) normalised to [0, 1]; classes (N,) LidarHit; offsets (N,) [rad] beam angles, left positive.
    Rings mark a quarter, half, three quarters and all of the maximum range."""
    img = np.full((size, size, 3), PANEL_RGB, dtype=np.uint8)
    c = size / 2
    radius = size / 2 - 4  # [px] of the maximum range
    for ring in (0.25, 0.5, 0.75, 1.0):
        cv2.circle(img, (int(c), int(c)), int(ring * radius), (48, 52, 60), 1, cv2.LINE_AA)
    r = np.asarray(ranges, dtype=np.float64) * radius
    u, v = c - np.sin(offsets) * r, c - np.cos(offsets) * r
    pts = np.round(np.stack([u, v], axis=1)).astype(np.int32)
    for p in pts:
        cv2.line(img, (int(c), int(c)), (int(p[0]), int(p[1])), (38, 42, 50), 1, cv2.LINE_AA)
    for p, cls in zip(pts, classes, strict=True):
        cv2.circle(img, (int(p[0]), int(p[1])), 2, LIDAR_CLASS_RGB[LidarHit(int(cls))], -1, cv2.LINE_AA)
    ego = np.array([[c, c - 7], [c - 4, c + 5], [c + 4, c + 5]], dtype=np.int32)
    cv2.fillConvexPoly(img, ego, (240, 240, 250), cv2.LINE_AA)
    return img


def upscale(img: np.ndarray, box: int) -> tuple[np.ndarray, float]:
    """Nearest-neighbour upscale of img to fit a box x box square; returns the image and the scale."""
    scale = box / max(img.shape[:2])
    size = (int(round(img.shape[1] * scale)), int(round(img.shape[0] * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST), scale


def blit_array(surface: pygame.Surface, img: np.ndarray, pos: tuple[int, int]) -> None:
    """Draw an RGB uint8 (H, W, 3) array onto a pygame surface at pos (x, y) [px]."""
    img = np.ascontiguousarray(img)
    surface.blit(pygame.image.frombuffer(img.tobytes(), (img.shape[1], img.shape[0]), "RGB"), pos)


def surface_to_array(surface: pygame.Surface) -> np.ndarray:
    """The surface as an RGB uint8 (H, W, 3) array."""
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).swapaxes(0, 1))


def save_png(path: Path, frame: np.ndarray) -> None:
    """Write an RGB frame as a PNG (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), frame[:, :, ::-1]):
        raise OSError(f"could not write {path}")


class VideoRecorder:
    """MP4 writer (OpenCV, mp4v) for RGB frames of a fixed size."""

    def __init__(self, path: Path, fps: int, size: tuple[int, int]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.size, self.frames = path, size, 0
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise OSError(f"could not open {path} for writing")

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB (H, W, 3) frame of the recorder's (W, H) size."""
        self._writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
        self.frames += 1

    def close(self) -> None:
        self._writer.release()


# ------------------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class PlayConfig:
    """Options of `drivesim play`."""

    seed: int = 0  # seed of the first episode; each new episode uses the next seed
    agent: str = "human"  # who drives at start: "human" or "expert" (autopilot on)
    scenario: str = "default"  # a SCENARIOS name
    frames: int | None = None  # frames (loop iterations) to run before exiting; None = until quit
    screenshot: Path | None = None  # PNG of the window written at exit
    record: Path | None = None  # MP4 of every frame
    out: Path = Path("runs/play")  # folder for F12 screenshots and V recordings
    fps: int = 10  # [frames/s] of the window and of recordings
    headless: bool = False  # no window and no input

    @classmethod
    def from_args(cls, args: argparse.Namespace, headless: bool) -> PlayConfig:
        """Build from the parsed CLI options; raises ValueError on bad values."""
        frames = args.frames if args.frames is not None or not headless else HEADLESS_FRAMES
        if frames is not None and frames < 1:
            raise ValueError(f"--frames must be >= 1, got {frames}")
        if args.fps < 1:
            raise ValueError(f"--fps must be >= 1, got {args.fps}")
        agent = args.agent or ("expert" if headless else "human")
        opt_path = lambda p: Path(p) if p else None  # noqa: E731
        return cls(args.seed, agent, resolve_scenario(str(args.scenario)), frames, opt_path(args.screenshot),
                   opt_path(args.record), Path(args.out), args.fps, headless)


# -------------------------------------------------------------------------------------------- game
class Game:
    """State of an interactive session over one World (batch size 1) and its drawing."""

    def __init__(self, config: PlayConfig) -> None:
        pygame.font.init()
        self.config = config
        self.agent = ExpertAgent()
        self.autopilot = config.agent == "expert"
        self.paused = self.step_once = False
        self.overlays = True
        self.running = True
        self.held: set[int] = set()  # keys held down
        self.control = np.zeros(2)  # smoothed human action (steer, throttle) in [-1, 1]
        self.recorder: VideoRecorder | None = None  # toggled with V
        self.message, self.message_frames = "", 0  # transient status line
        self.frame_count = 0  # frames (ticks) so far
        self.last_frame: np.ndarray | None = None
        self.episode = 0  # episodes started after the first; the episode's seed is config.seed + episode
        self.fonts = {"text": _font(14), "bold": _font(14, bold=True), "small": _font(12), "big": _font(28, bold=True)}
        self._worlds: dict[str, World] = {}
        self.scenario = config.scenario
        self.world = self._world_for(self.scenario)
        self._keys: dict[int, Callable[[], object]] = {
            pygame.K_ESCAPE: self.quit, pygame.K_SPACE: self.toggle_pause, pygame.K_n: self.request_step,
            pygame.K_r: self.next_episode, pygame.K_TAB: self.toggle_autopilot, pygame.K_g: self.toggle_overlays,
            pygame.K_F12: self.screenshot, pygame.K_v: self.toggle_recording,
        }
        self.new_episode()

    # ------------------------------------------------------------------------------ episodes
    def _world_for(self, scenario: str) -> World:
        if scenario not in self._worlds:  # cached: maps are generated once per scenario
            self._worlds[scenario] = World(scenario_config(scenario), batch_size=1)
        return self._worlds[scenario]

    @property
    def seed(self) -> int:
        """Seed of the current episode."""
        return self.config.seed + self.episode

    def new_episode(self) -> None:
        """Reset the world with the current seed and clear the episode's counters."""
        self.world.reset(np.array([self.seed], dtype=np.uint64), np.array([0]))
        self.episode_return = 0.0
        self.counts = {name: 0 for name in EVENT_NAMES}  # steps with each event this episode
        self.last_terms = {name: 0.0 for name in REWARD_TERMS}
        self.last_action = np.zeros(2)
        self.control = np.zeros(2)
        self.outcome, self.outcome_frames = "", 0

    def next_episode(self) -> None:
        """R: a new episode with the next seed."""
        self.episode += 1
        self.new_episode()
        self.notify(f"new episode, seed {self.seed}")

    def select_scenario(self, index: int) -> None:
        """1-9: switch to the index-th scenario (0-based) and restart the episode with the same seed."""
        names = scenario_names()
        if not 0 <= index < len(names):
            self.notify(f"no scenario {index + 1}")
            return
        self.scenario = names[index]
        self.world = self._world_for(self.scenario)
        self.new_episode()
        self.notify(f"scenario {index + 1}: {self.scenario}")

    def completion(self) -> float:
        """Route completion in [0, 1]."""
        return float(np.clip(self.world.progress[0] / self.world.route_total[0], 0.0, 1.0))

    def score(self) -> float:
        """Running driving score of the episode."""
        return driving_score(self.completion(), self.counts)

    # -------------------------------------------------------------------------------- input
    def handle_event(self, event: pygame.event.Event) -> None:
        """React to one pygame event (quit, key down/up, focus loss)."""
        if event.type == pygame.QUIT:
            self.quit()
        elif event.type == pygame.KEYDOWN:
            self.held.add(event.key)
            self.handle_key(event.key)
        elif event.type == pygame.KEYUP:
            self.held.discard(event.key)
        elif event.type == pygame.WINDOWFOCUSLOST:
            self.held.clear()

    def handle_key(self, key: int) -> None:
        """Run the command bound to a key (driving keys act through `held`)."""
        if key in self._keys:
            self._keys[key]()
        elif pygame.K_1 <= key <= pygame.K_9:
            self.select_scenario(key - pygame.K_1)

    def quit(self) -> None:
        self.running = False

    def toggle_pause(self) -> None:
        self.paused = not self.paused

    def request_step(self) -> None:
        """N: advance one step while paused."""
        if self.paused:
            self.step_once = True

    def toggle_autopilot(self) -> None:
        self.autopilot = not self.autopilot
        self.control = self.last_action.copy()  # hand over smoothly
        self.notify("autopilot on" if self.autopilot else "autopilot off: you drive")

    def toggle_overlays(self) -> None:
        self.overlays = not self.overlays

    def notify(self, text: str, seconds: float = 3.0) -> None:
        """Show a status message for a while [s of wall time at the configured fps]."""
        self.message, self.message_frames = text, max(1, int(seconds * self.config.fps))

    def _stamped(self, suffix: str) -> Path:
        return self.config.out / f"play_{time.strftime('%Y%m%d-%H%M%S')}_{self.frame_count:06d}{suffix}"

    def screenshot(self) -> Path:
        """F12: save the current window as a PNG in the output folder."""
        path = self._stamped(".png")
        save_png(path, self.last_frame if self.last_frame is not None else self.compose())
        self.notify(f"saved {path}")
        return path

    def toggle_recording(self) -> None:
        """V: start or stop writing every frame to an MP4 in the output folder."""
        if self.recorder is None:
            self.recorder = VideoRecorder(self._stamped(".mp4"), self.config.fps, WINDOW_SIZE)
            self.notify(f"recording {self.recorder.path}")
        else:
            self.recorder.close()
            self.notify(f"saved {self.recorder.path} ({self.recorder.frames} frames)")
            self.recorder = None

    # -------------------------------------------------------------------------------- stepping
    def action(self) -> np.ndarray:
        """(1, 2) action: the autopilot's, or the smoothed key controls."""
        if self.autopilot:
            return self.agent.act(self.world)
        target = np.array([key_axis(self.held, STEER_KEYS), key_axis(self.held, THROTTLE_KEYS)])
        self.control = approach(self.control, target, np.array([STEER_RATE, THROTTLE_RATE]) * self.world.config.dt)
        return self.control[None, :].copy()

    def tick(self) -> None:
        """One frame: step the world unless paused, or count down the episode-end banner and reset."""
        self.frame_count += 1
        self.message_frames = max(self.message_frames - 1, 0)
        if self.paused and not self.step_once:
            return
        self.step_once = False
        if self.outcome_frames > 0:
            self.outcome_frames -= 1
            if self.outcome_frames == 0:
                self.episode += 1
                self.new_episode()
            return
        self.step()

    def step(self) -> StepResult:
        """Advance the world one step and update the episode's counters."""
        action = self.action()
        result = self.world.step(action)
        self.last_action = np.asarray(action[0], dtype=np.float64)
        self.last_terms = {name: float(value[0]) for name, value in result.terms.items()}
        self.episode_return += float(result.reward[0])
        for name, value in result.events.items():
            self.counts[name] += int(value[0])
        if result.terminated[0] or result.truncated[0]:
            self.outcome = episode_outcome(result.events)
            self.outcome_frames = max(1, int(round(BANNER_SECONDS * self.config.fps)))
        return result

    # --------------------------------------------------------------------------------- drawing
    def compose(self) -> np.ndarray:
        """The whole window as an RGB uint8 (720, 1280, 3) array."""
        surface = pygame.Surface(WINDOW_SIZE)
        surface.fill(BACKGROUND_RGB)
        blit_array(surface, full_view(self.world, 0, MAIN_SIZE, MAIN_METRES), (0, 0))
        self.draw_camera_panel(surface)
        self.draw_lidar_panel(surface)
        self.draw_hud(surface)
        self.draw_banners(surface)
        return surface_to_array(surface)

    def render_frame(self) -> np.ndarray:
        """Compose the window, keep it as the last frame and feed the V recording."""
        self.last_frame = self.compose()
        if self.recorder is not None:
            self.recorder.write(self.last_frame)
        return self.last_frame

    def text(self, surface: pygame.Surface, text: str, pos: tuple[int, int], rgb: tuple[int, int, int] = TEXT_RGB,
             font: str = "text", right: bool = False) -> None:
        """Draw one line of text at pos (x, y) [px]; right=True aligns its right edge to x."""
        img = self.fonts[font].render(text, True, rgb)
        surface.blit(img, (pos[0] - img.get_width(), pos[1]) if right else pos)

    def draw_camera_panel(self, surface: pygame.Surface) -> None:
        """The camera frame, upscaled, with the perception detections overlaid (ground-truth labels
        when no trained weights are available), toggled with G."""
        frames, labels = self.world.camera.render(self.world)
        img, scale = upscale(frames[0], CAMERA_BOX)
        if self.overlays:
            detector = _detector()
            draw_labels(img, detector(frames[:1])[0] if detector is not None else labels.frame(0), scale)
        cam = self.world.config.camera
        x, y = CAMERA_POS
        self.text(surface, f"camera {cam.width}x{cam.height}", (x, y - 20), font="bold")
        what = "detections" if _detector() is not None else "labels"
        self.text(surface, f"{what} {'on' if self.overlays else 'off'} (G)", (x + CAMERA_BOX, y - 19), DIM_RGB,
                  "small", right=True)
        blit_array(surface, img, (x, y))

    def draw_lidar_panel(self, surface: pygame.Surface) -> None:
        """Polar plot of the lidar scan with hit classes and a colour legend."""
        ranges, classes = lidar_scan(self.world)
        cfg = self.world.config.lidar
        x, y = LIDAR_POS
        self.text(surface, f"lidar {cfg.n_beams} beams", (x, y - 20), font="bold")
        self.text(surface, f"rings {cfg.max_range / 4:g} m", (x + LIDAR_SIZE, y - 19), DIM_RGB, "small", right=True)
        blit_array(surface, lidar_image(ranges[0], classes[0], beam_offsets(cfg.n_beams, cfg.fov), LIDAR_SIZE), (x, y))
        legend = ((LidarHit.BUILDING, "building"), (LidarHit.CAR, "car"), (LidarHit.PEDESTRIAN, "pedestrian"),
                  (LidarHit.NONE, "no hit"))
        for i, (cls, name) in enumerate(legend):
            lx, ly = x + (i % 2) * 124, y + LIDAR_SIZE + 4 + (i // 2) * 16
            pygame.draw.circle(surface, LIDAR_CLASS_RGB[cls], (lx + 5, ly + 8), 4)
            self.text(surface, name, (lx + 14, ly), DIM_RGB, "small")

    def draw_hud(self, surface: pygame.Surface) -> None:
        """Driving status, infractions and score (left column), reward terms (right), key help (bottom)."""
        for i, (line, rgb, font) in enumerate(self.status_lines()):
            self.text(surface, line, (HUD_LEFT, HUD_TOP + i * LINE_HEIGHT), rgb, font)
        self.draw_reward_terms(surface)
        if self.message_frames > 0:
            self.text(surface, _clip(self.message, 68), (HUD_LEFT, HELP_TOP - 22), WARN_RGB, "small")
        for i, line in enumerate(KEY_HELP):
            self.text(surface, line, (HUD_LEFT, HELP_TOP + i * 16), DIM_RGB, "small")

    def status_lines(self) -> list[tuple[str, tuple[int, int, int], str]]:
        """HUD lines of the left column as (text, colour, font)."""
        w = self.world
        dist, light = w.route.next_stop_line()
        light_rgb = LIGHT_RGB.get(Light(int(light[0])), TEXT_RGB)
        c = self.counts
        collisions = c["collision_vehicle"] + c["collision_pedestrian"] + c["collision_static"]
        score = self.score()
        index = scenario_names().index(self.scenario) + 1
        return [
            (f"{index}: {self.scenario}  seed {self.seed}", ACCENT_RGB, "bold"),
            (self.mode_text(), WARN_RGB if self.paused or self.recorder else TEXT_RGB, "bold"),
            (f"time {w.time[0]:6.1f} s   step {int(w.t[0])}", TEXT_RGB, "text"),
            (f"speed {w.ego.v[0] * 3.6:5.1f} km/h (limit {w.config.traffic.speed_limit * 3.6:.0f})", TEXT_RGB, "text"),
            (f"command {Turn(int(w.route.command()[0])).name.lower()}", TEXT_RGB, "text"),
            (light_text(float(dist[0]), Light(int(light[0]))), light_rgb, "text"),
            (f"route {w.progress[0]:5.0f} / {w.route_total[0]:.0f} m ({100 * self.completion():.0f} %)", TEXT_RGB,
             "text"),
            (f"action steer {self.last_action[0]:+.2f} throttle {self.last_action[1]:+.2f}", DIM_RGB, "text"),
            (f"return {self.episode_return:+.2f}", TEXT_RGB, "text"),
            ("infractions", ACCENT_RGB, "bold"),
            (f"red lights {c['red_light']}   off-road steps {c['off_road']}", _alarm(c["red_light"]), "text"),
            (f"collisions veh {c['collision_vehicle']}  ped {c['collision_pedestrian']}  "
             f"static {c['collision_static']}", _alarm(collisions), "text"),
            (f"driving score {score:.3f}", GOOD_RGB if score > 0 else TEXT_RGB, "bold"),
            (f"  = completion {self.completion():.2f} x penalties {driving_score(1.0, c):.2f}", DIM_RGB, "text"),
        ]

    def mode_text(self) -> str:
        """Who drives, and the paused / recording flags."""
        parts = ["AUTOPILOT" if self.autopilot else "HUMAN"]
        if self.paused:
            parts.append("PAUSED")
        if self.recorder is not None:
            parts.append("REC")
        return "  ".join(parts)

    def draw_reward_terms(self, surface: pygame.Surface) -> None:
        """The named reward terms of the last step and their sum (right HUD column)."""
        x, y, right = HUD_RIGHT, HUD_TOP, WINDOW_SIZE[0] - 12
        self.text(surface, "reward terms (last step)", (x, y), ACCENT_RGB, "bold")
        for i, (name, value) in enumerate(self.last_terms.items(), start=1):
            shown = round(value, 3) + 0.0  # + 0.0 turns -0.0 into 0.0
            rgb = BAD_RGB if shown < 0 else (GOOD_RGB if shown > 0 else DIM_RGB)
            self.text(surface, name, (x, y + i * LINE_HEIGHT), TEXT_RGB)
            self.text(surface, f"{shown:+.3f}", (right, y + i * LINE_HEIGHT), rgb, right=True)
        total_y = y + (len(self.last_terms) + 1) * LINE_HEIGHT + 4
        pygame.draw.line(surface, DIM_RGB, (x, total_y - 3), (right, total_y - 3))
        self.text(surface, "sum", (x, total_y), TEXT_RGB, "bold")
        total = round(sum(self.last_terms.values()), 3) + 0.0
        self.text(surface, f"{total:+.3f}", (right, total_y), TEXT_RGB, "bold", right=True)

    def draw_banners(self, surface: pygame.Surface) -> None:
        """Episode outcome and pause banners over the top-down view."""
        if self.outcome_frames > 0:
            rgb = GOOD_RGB if self.outcome == "goal" else BAD_RGB
            self._banner(surface, f"episode over: {self.outcome.replace('_', ' ')}", rgb, MAIN_SIZE // 2 - 30)
        if self.paused:
            self._banner(surface, "PAUSED  (Space resume, N step)", WARN_RGB, 16)

    def _banner(self, surface: pygame.Surface, text: str, rgb: tuple[int, int, int], y: int) -> None:
        img = self.fonts["big"].render(text, True, rgb)
        box = pygame.Surface((img.get_width() + 32, img.get_height() + 16), pygame.SRCALPHA)
        box.fill((0, 0, 0, 170))
        x = (MAIN_SIZE - box.get_width()) // 2
        surface.blit(box, (x, y))
        surface.blit(img, (x + 16, y + 8))

    def close(self) -> None:
        """Finish a running V recording."""
        if self.recorder is not None:
            self.toggle_recording()


def _font(size: int, bold: bool = False) -> pygame.font.Font:
    """A monospace system font, or pygame's default font when none is installed."""
    return pygame.font.SysFont("dejavusansmono,liberationmono,couriernew,monospace", size, bold=bold)


def _alarm(count: int) -> tuple[int, int, int]:
    return BAD_RGB if count else TEXT_RGB


def _clip(text: str, n: int) -> str:
    """Text shortened to n characters, keeping the end (paths end in the interesting part)."""
    return text if len(text) <= n else "..." + text[-(n - 3):]


# ------------------------------------------------------------------------------------------- run
def play_loop(game: Game, window: PygameWindow | None, writer: VideoRecorder | None) -> None:
    """Run frames until quit or the frame limit: input (window only), step, compose, show, record."""
    limit = game.config.frames
    while game.running and (limit is None or game.frame_count < limit):
        if window is not None:
            for event in pygame.event.get():
                game.handle_event(event)
            if not game.running:
                break
        game.tick()
        frame = game.render_frame()
        if writer is not None:
            writer.write(frame)
        if window is not None:
            window.show(frame)


def run_play(args: argparse.Namespace) -> int:
    """`drivesim play`: returns the exit code."""
    headless = is_headless()
    if headless:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        config = PlayConfig.from_args(args, headless)
    except ValueError as err:
        print(f"drivesim play: {err}", file=sys.stderr)
        return 2
    print(f"drivesim play: scenario {config.scenario}, seed {config.seed}, "
          + (f"headless ({config.agent} drives {config.frames} frames)" if headless else "window (Esc quits)"))
    game = Game(config)
    if not headless:
        pygame.display.init()  # not pygame.init(): no audio device is needed
    window = None if headless else PygameWindow("drivesim play", config.fps)
    writer = VideoRecorder(config.record, config.fps, WINDOW_SIZE) if config.record else None
    try:
        play_loop(game, window, writer)
    finally:
        game.close()
        if writer is not None:
            writer.close()
            print(f"wrote {config.record} ({writer.frames} frames)")
        if window is not None:
            window.close()
    if config.screenshot is not None:
        save_png(config.screenshot, game.last_frame if game.last_frame is not None else game.compose())
        print(f"wrote {config.screenshot}")
    return 0
