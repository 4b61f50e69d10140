"""The state machine of a `drivesim play` session, with no pygame: one World (batch size 1) per
scenario, episodes and their counters, scenario switching, the autopilot toggle, pause and single
step, the smoothed human controls, recording and screenshots, status messages. The window loop
feeds it commands and key targets; the HUD draws it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drivesim import metrics
from drivesim.agent import ExpertAgent
from drivesim.apps.play.scenarios import ScenarioCatalog
from drivesim.apps.video import Mp4Writer
from drivesim.events import EVENT_NAMES, REWARD_TERMS, TERMINATING
from drivesim.perception.inputs import HISTORY as PERCEPTION_HISTORY
from drivesim.world import StepResult, World

STEER_RATE = 3.0  # [1/s] rate the steering command moves toward the key target (full lock in ~0.3 s)
THROTTLE_RATE = 4.0  # [1/s] rate the throttle/brake command moves toward the key target
BANNER_SECONDS = 1.0  # [s] of wall time the episode outcome stays on screen
HEADLESS_FRAMES = 100  # default --frames without a display


@dataclass(frozen=True)
class PlayConfig:
    """Options of `drivesim play`."""

    seed: int = 0  # seed of the first episode; each new episode uses the next seed
    agent: str = "human"  # who drives at start: "human" or "expert" (autopilot on)
    scenario: str = "default"  # a ScenarioCatalog name or .toml path
    frames: int | None = None  # frames (loop iterations) to run before exiting; None = until quit
    screenshot: Path | None = None  # PNG of the window written at exit
    record: Path | None = None  # MP4 of every frame
    out: Path = Path("runs/play")  # folder for F12 screenshots and V recordings
    fps: int = 10  # [frames/s] of the window and of recordings
    headless: bool = False  # no window and no input

    @classmethod
    def from_args(cls, args: argparse.Namespace, headless: bool, catalog: ScenarioCatalog) -> PlayConfig:
        """Build from the parsed CLI options; raises ValueError on bad values."""
        frames = args.frames if args.frames is not None or not headless else HEADLESS_FRAMES
        if frames is not None and frames < 1:
            raise ValueError(f"--frames must be >= 1, got {frames}")
        if args.fps < 1:
            raise ValueError(f"--fps must be >= 1, got {args.fps}")
        agent = args.agent or ("expert" if headless else "human")
        opt_path = lambda p: Path(p) if p else None  # noqa: E731
        return cls(args.seed, agent, catalog.resolve(str(args.scenario)), frames, opt_path(args.screenshot),
                   opt_path(args.record), Path(args.out), args.fps, headless)


def driving_score(completion: float, counts: Mapping[str, int]) -> float:
    """Route completion (clipped to [0, 1]) x the product of the CARLA penalty factors of the
    infractions in `counts` (others, e.g. off-road steps, are not penalised), see drivesim.metrics."""
    return metrics.driving_score(completion, {k: int(v) for k, v in counts.items() if k in metrics.PENALTIES})


def episode_outcome(events: Mapping[str, np.ndarray], b: int = 0) -> str:
    """The event that ended episode b (a terminating event, a red light or leaving the road in the
    carl reward mode, or the timeout), '-' if none."""
    for name in (*TERMINATING, "red_light", "off_road", "timeout"):
        if bool(events[name][b]):
            return name
    return "-"


def approach(value: np.ndarray, target: np.ndarray, max_delta: np.ndarray) -> np.ndarray:
    """Move value toward target by at most max_delta per element (rate limiter)."""
    return value + np.clip(target - value, -max_delta, max_delta)


def save_png(path: Path, frame: np.ndarray) -> None:
    """Write an RGB frame as a PNG (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), frame[:, :, ::-1]):
        raise OSError(f"could not write {path}")


class Session:
    """One interactive session. Commands: quit, toggle_pause, request_step, next_episode,
    toggle_autopilot, toggle_overlays, select_scenario(i), screenshot(frame), toggle_recording.
    `target` is the human's (steer, throttle) key target in [-1, 1]; `tick()` advances a frame."""

    def __init__(self, config: PlayConfig, catalog: ScenarioCatalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or ScenarioCatalog()
        self.agent = ExpertAgent()
        self.autopilot = config.agent == "expert"
        self.paused = self.step_once = False
        self.overlays = True
        self.running = True
        self.target = np.zeros(2)  # human key target (steer, throttle)
        self.control = np.zeros(2)  # smoothed human action (steer, throttle) in [-1, 1]
        self.recorder: Mp4Writer | None = None  # toggled with V
        self.message, self.message_frames = "", 0  # transient status line
        self.frame_count = 0  # frames (ticks) so far
        self.last_frame: np.ndarray | None = None  # the last composed window (screenshots)
        self.episode = 0  # episodes started after the first; the episode's seed is config.seed + episode
        self._worlds: dict[str, World] = {}
        self.scenario = self.catalog.resolve(config.scenario)
        self.world = self._world_for(self.scenario)
        self.new_episode()

    # ------------------------------------------------------------------------------ episodes
    def _world_for(self, scenario: str) -> World:
        if scenario not in self._worlds:  # cached: maps are generated once per scenario
            config = self.catalog.config(scenario)  # with the camera's history frame, for the detector's velocities
            self._worlds[scenario] = World(config.replace(camera={"history": PERCEPTION_HISTORY}), batch_size=1)
        return self._worlds[scenario]

    @property
    def seed(self) -> int:
        """Seed of the current episode."""
        return self.config.seed + self.episode

    @property
    def scenario_index(self) -> int:
        """1-based key of the current scenario."""
        return self.catalog.names().index(self.scenario) + 1

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
        names = self.catalog.names()
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

    # ------------------------------------------------------------------------------ commands
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

    def screenshot(self, frame: np.ndarray) -> Path:
        """F12: save `frame` (the window) as a PNG in the output folder."""
        path = self._stamped(".png")
        save_png(path, frame)
        self.notify(f"saved {path}")
        return path

    def toggle_recording(self) -> None:
        """V: start or stop writing every frame to an MP4 in the output folder."""
        if self.recorder is None:
            self.recorder = Mp4Writer(self._stamped(".mp4"), self.config.fps)
            self.notify(f"recording {self.recorder.path}")
        else:
            self.recorder.close()
            self.notify(f"saved {self.recorder.path} ({self.recorder.frames} frames)")
            self.recorder = None

    def show(self, frame: np.ndarray) -> None:
        """The window composed for this frame: kept for screenshots and fed to a V recording."""
        self.last_frame = frame
        if self.recorder is not None:
            self.recorder.write(frame)

    # ------------------------------------------------------------------------------ stepping
    def action(self) -> np.ndarray:
        """(1, 2) action: the autopilot's, or the human controls smoothed toward `target`."""
        if self.autopilot:
            return self.agent.act(self.world)
        self.control = approach(self.control, self.target, np.array([STEER_RATE, THROTTLE_RATE]) * self.world.config.dt)
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

    def close(self) -> None:
        """Finish a running V recording."""
        if self.recorder is not None:
            self.toggle_recording()
