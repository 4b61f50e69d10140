"""The `drivesim play` window, drawn from a Session (1280 x 720 px): the heading-up top-down view on
the left; on the right the ego camera with detection (or ground-truth label) overlays, a polar plot
of the lidar scan and a HUD (speed, route command, light ahead, reward terms of the last step,
episode return, infraction counts, route completion and a running driving score).

Every frame is composed into an RGB array (`Hud.compose`), so screenshots, recordings and tests do
not depend on a window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from drivesim.actors.signals import Light
from drivesim.apps.play.keys import KEY_HELP, pygame
from drivesim.apps.play.session import Session, driving_score
from drivesim.map.city import Turn
from drivesim.render.palette import LIGHT_RGB, PED_RGB, light_text
from drivesim.render.views import full_view
from drivesim.sensors.camera import ObjectClass
from drivesim.sensors.lidar import LidarHit, lidar_scan
from drivesim.sensors.raycast import beam_offsets

# ----------------------------------------------------------------------------------------- layout
WINDOW_SIZE = (1280, 720)  # [px] width, height
MAIN_SIZE = 720  # [px] side of the top-down view
MAIN_METRES = 70.0  # [m] shown across the top-down view
CAMERA_POS, CAMERA_BOX = (728, 24), 288  # [px] top-left and side of the camera panel
LIDAR_POS, LIDAR_SIZE = (1024, 24), 248  # [px] top-left and side of the lidar panel
HUD_LEFT, HUD_RIGHT, HUD_TOP = 728, 1040, 332  # [px] x of the two HUD columns, y of the first line
LINE_HEIGHT = 18  # [px] HUD line spacing
HELP_TOP = 666  # [px] y of the key-help lines

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


# ----------------------------------------------------------------------------------- pure drawing
def label_corners(centre: np.ndarray, size: np.ndarray, angle: float) -> np.ndarray:
    """(4, 2) [px] corners of a box with centre (u, v), size (length, width) and image heading angle
    [rad] (0 = up, counter-clockwise), as in the camera labels."""
    fwd = np.array([-np.sin(angle), -np.cos(angle)]) * size[0] / 2
    left = np.array([-np.cos(angle), np.sin(angle)]) * size[1] / 2
    return np.stack([centre + fwd + left, centre - fwd + left, centre - fwd - left, centre + fwd - left])


def draw_labels(img: np.ndarray, objects: Mapping[str, np.ndarray], scale: float, mpp: float = 0.4) -> None:
    """Outline objects on a camera image upscaled by `scale` (in place): rotated boxes for cars,
    circles for pedestrians and traffic lights, and a line to where each one's velocity takes it in
    one second. `objects` is `CameraLabels.frame(b)` (or detections with the same cls / centre
    (u, v) [px] / size [px] / angle [rad] / velocity (forward, left) [m/s] arrays); mpp [m/px]."""
    for cls, centre, size, angle, (vx, vy) in zip(objects["cls"], objects["centre"], objects["size"], objects["angle"],
                                                  objects["velocity"], strict=True):
        rgb = LABEL_RGB.get(ObjectClass(int(cls)), (255, 255, 255))
        c = centre * scale + (scale - 1) / 2  # source pixel centre -> upscaled pixel centre
        if vx * vx + vy * vy > 0.04:
            end = c + np.array([-vy, -vx]) / mpp * scale  # 1 s ahead: left is -u, forward is -v
            cv2.line(img, tuple(int(round(a)) for a in c), tuple(int(round(a)) for a in end), rgb, 1, cv2.LINE_AA)
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



def load_detector() -> Any:
    """The shipped perception model (a Detector), or None if torch or the weights are missing."""
    try:
        from drivesim.perception.detector import Detector, shipped_weights  # torch: optional for play
    except ImportError:
        return None
    return Detector(shipped_weights(), device="cpu") if shipped_weights().is_file() else None


class Hud:
    """Draws a Session into the window image. The detector is loaded once, on first use."""

    def __init__(self) -> None:
        pygame.font.init()
        self.fonts = {"text": _font(14), "bold": _font(14, bold=True), "small": _font(12), "big": _font(28, bold=True)}
        self._detector: list[Any] = []

    def detector(self) -> Any:
        if not self._detector:
            self._detector.append(load_detector())
        return self._detector[0]

    def compose(self, session: Session) -> np.ndarray:
        """The whole window as an RGB uint8 (720, 1280, 3) array."""
        surface = pygame.Surface(WINDOW_SIZE)
        surface.fill(BACKGROUND_RGB)
        blit_array(surface, full_view(session.world, 0, MAIN_SIZE, MAIN_METRES), (0, 0))
        self.draw_camera_panel(surface, session)
        self.draw_lidar_panel(surface, session)
        self.draw_hud(surface, session)
        self.draw_banners(surface, session)
        return surface_to_array(surface)

    def text(self, surface: pygame.Surface, text: str, pos: tuple[int, int], rgb: tuple[int, int, int] = TEXT_RGB,
             font: str = "text", right: bool = False) -> None:
        """Draw one line of text at pos (x, y) [px]; right=True aligns its right edge to x."""
        img = self.fonts[font].render(text, True, rgb)
        surface.blit(img, (pos[0] - img.get_width(), pos[1]) if right else pos)

    def draw_camera_panel(self, surface: pygame.Surface, session: Session) -> None:
        """The camera frame, upscaled, with the perception detections overlaid (ground-truth labels
        when no trained weights are available), toggled with G."""
        world = session.world
        frames, history, labels = world.camera.render_with_history(world)
        img, scale = upscale(frames[0], CAMERA_BOX)
        if session.overlays:
            detector = self.detector()
            objects = detector(frames[:1], history[:1]).frame(0) if detector is not None else labels.frame(0)
            draw_labels(img, objects, scale, world.config.camera.metres_per_pixel)
        cam = session.world.config.camera
        x, y = CAMERA_POS
        self.text(surface, f"camera {cam.width}x{cam.height}", (x, y - 20), font="bold")
        what = "detections" if self.detector() is not None else "labels"
        self.text(surface, f"{what} {'on' if session.overlays else 'off'} (G)", (x + CAMERA_BOX, y - 19), DIM_RGB,
                  "small", right=True)
        blit_array(surface, img, (x, y))

    def draw_lidar_panel(self, surface: pygame.Surface, session: Session) -> None:
        """Polar plot of the lidar scan with hit classes and a colour legend."""
        ranges, classes = lidar_scan(session.world)
        cfg = session.world.config.lidar
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

    def draw_hud(self, surface: pygame.Surface, session: Session) -> None:
        """Driving status, infractions and score (left column), reward terms (right), key help (bottom)."""
        for i, (line, rgb, font) in enumerate(status_lines(session)):
            self.text(surface, line, (HUD_LEFT, HUD_TOP + i * LINE_HEIGHT), rgb, font)
        self.draw_reward_terms(surface, session)
        if session.message_frames > 0:
            self.text(surface, _clip(session.message, 68), (HUD_LEFT, HELP_TOP - 22), WARN_RGB, "small")
        for i, line in enumerate(KEY_HELP):
            self.text(surface, line, (HUD_LEFT, HELP_TOP + i * 16), DIM_RGB, "small")

    def draw_reward_terms(self, surface: pygame.Surface, session: Session) -> None:
        """The named reward terms of the last step and their sum (right HUD column)."""
        x, y, right = HUD_RIGHT, HUD_TOP, WINDOW_SIZE[0] - 12
        self.text(surface, "reward terms (last step)", (x, y), ACCENT_RGB, "bold")
        for i, (name, value) in enumerate(session.last_terms.items(), start=1):
            shown = round(value, 3) + 0.0  # + 0.0 turns -0.0 into 0.0
            rgb = BAD_RGB if shown < 0 else (GOOD_RGB if shown > 0 else DIM_RGB)
            self.text(surface, name, (x, y + i * LINE_HEIGHT), TEXT_RGB)
            self.text(surface, f"{shown:+.3f}", (right, y + i * LINE_HEIGHT), rgb, right=True)
        total_y = y + (len(session.last_terms) + 1) * LINE_HEIGHT + 4
        pygame.draw.line(surface, DIM_RGB, (x, total_y - 3), (right, total_y - 3))
        self.text(surface, "sum", (x, total_y), TEXT_RGB, "bold")
        total = round(sum(session.last_terms.values()), 3) + 0.0
        self.text(surface, f"{total:+.3f}", (right, total_y), TEXT_RGB, "bold", right=True)

    def draw_banners(self, surface: pygame.Surface, session: Session) -> None:
        """Episode outcome and pause banners over the top-down view."""
        if session.outcome_frames > 0:
            rgb = GOOD_RGB if session.outcome == "goal" else BAD_RGB
            self._banner(surface, f"episode over: {session.outcome.replace('_', ' ')}", rgb, MAIN_SIZE // 2 - 30)
        if session.paused:
            self._banner(surface, "PAUSED  (Space resume, N step)", WARN_RGB, 16)

    def _banner(self, surface: pygame.Surface, text: str, rgb: tuple[int, int, int], y: int) -> None:
        img = self.fonts["big"].render(text, True, rgb)
        box = pygame.Surface((img.get_width() + 32, img.get_height() + 16), pygame.SRCALPHA)
        box.fill((0, 0, 0, 170))
        x = (MAIN_SIZE - box.get_width()) // 2
        surface.blit(box, (x, y))
        surface.blit(img, (x + 16, y + 8))

def status_lines(session: Session) -> list[tuple[str, tuple[int, int, int], str]]:
    """HUD lines of the left column as (text, colour, font)."""
    w = session.world
    dist, light = w.route.next_stop_line()
    light_rgb = LIGHT_RGB.get(Light(int(light[0])), TEXT_RGB)
    c = session.counts
    collisions = c["collision_vehicle"] + c["collision_pedestrian"] + c["collision_static"]
    score = session.score()
    index = session.scenario_index
    return [
        (f"{index}: {session.scenario}  seed {session.seed}", ACCENT_RGB, "bold"),
        (mode_text(session), WARN_RGB if session.paused or session.recorder else TEXT_RGB, "bold"),
        (f"time {w.time[0]:6.1f} s   step {int(w.t[0])}", TEXT_RGB, "text"),
        (f"speed {w.ego.v[0] * 3.6:5.1f} km/h (limit {w.config.traffic.speed_limit * 3.6:.0f})", TEXT_RGB, "text"),
        (f"command {Turn(int(w.route.command()[0])).name.lower()}", TEXT_RGB, "text"),
        (light_text(float(dist[0]), Light(int(light[0]))), light_rgb, "text"),
        (f"route {w.progress[0]:5.0f} / {w.route_total[0]:.0f} m ({100 * session.completion():.0f} %)", TEXT_RGB,
         "text"),
        (f"action steer {session.last_action[0]:+.2f} throttle {session.last_action[1]:+.2f}", DIM_RGB, "text"),
        (f"return {session.episode_return:+.2f}", TEXT_RGB, "text"),
        ("infractions", ACCENT_RGB, "bold"),
        (f"red lights {c['red_light']}   off-road steps {c['off_road']}", _alarm(c["red_light"]), "text"),
        (f"collisions veh {c['collision_vehicle']}  ped {c['collision_pedestrian']}  "
         f"static {c['collision_static']}", _alarm(collisions), "text"),
        (f"driving score {score:.3f}", GOOD_RGB if score > 0 else TEXT_RGB, "bold"),
        (f"  = completion {session.completion():.2f} x penalties {driving_score(1.0, c):.2f}", DIM_RGB, "text"),
    ]

def mode_text(session: Session) -> str:
    """Who drives, and the paused / recording flags."""
    parts = ["AUTOPILOT" if session.autopilot else "HUMAN"]
    if session.paused:
        parts.append("PAUSED")
    if session.recorder is not None:
        parts.append("REC")
    return "  ".join(parts)


def _font(size: int, bold: bool = False) -> pygame.font.Font:
    """A monospace system font, or pygame's default font when none is installed."""
    return pygame.font.SysFont("dejavusansmono,liberationmono,couriernew,monospace", size, bold=bold)


def _alarm(count: int) -> tuple[int, int, int]:
    return BAD_RGB if count else TEXT_RGB


def _clip(text: str, n: int) -> str:
    """Text shortened to n characters, keeping the end (paths end in the interesting part)."""
    return text if len(text) <= n else "..." + text[-(n - 3):]


