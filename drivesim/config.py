"""Typed, frozen configuration for the simulator.

Every knob lives in one of these dataclasses; each field carries its unit and allowed range.
`EnvConfig.from_dict` builds a config from plain (e.g. TOML) data and raises `ConfigError` naming
the field, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, get_type_hints

# sensor names accepted in `observations`
OBSERVATION_KEYS = ("camera", "lidar", "state", "route", "clock", "junction", "surface", "signal", "stopping")


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def _check_range(owner: str, name: str, value: float, lo: float, hi: float) -> None:
    if not (lo <= value <= hi) or (isinstance(value, float) and math.isnan(value)):
        raise ConfigError(f"{owner}.{name}={value!r} is out of range; allowed [{lo}, {hi}]")


@dataclass(frozen=True)
class MapConfig:
    """Procedural grid city."""

    blocks_x: int = 4  # city blocks along x (east); intersections = blocks + 1, in [1, 10]
    blocks_y: int = 4  # city blocks along y (north), in [1, 10]
    block_length: float = 64.0  # [m] distance between neighbouring intersection centres, in [40, 150]
    lane_width: float = 3.5  # [m], in [2.5, 5]
    two_lane_share: float = 0.3  # share of roads with 2 lanes per direction (else 1), in [0, 1]
    removed_road_share: float = 0.15  # share of inner roads removed (makes T intersections), in [0, 0.5]
    signal_share: float = 0.7  # share of 3/4-way intersections with traffic lights, in [0, 1]
    sidewalk_width: float = 3.0  # [m], in [1.5, 6]
    crosswalk_width: float = 3.0  # [m], in [2, 6]
    pool_size: int = 4  # number of distinct maps a World samples from, in [1, 64]
    seed: int = 0  # base seed of the map pool (map m uses seed + m), in [0, 2**31)
    raster_resolution: float = 0.25  # [m/px] of the static map raster, in [0.05, 1]

    def validate(self) -> None:
        _check_range("MapConfig", "blocks_x", self.blocks_x, 1, 10)
        _check_range("MapConfig", "blocks_y", self.blocks_y, 1, 10)
        _check_range("MapConfig", "block_length", self.block_length, 40.0, 150.0)
        _check_range("MapConfig", "lane_width", self.lane_width, 2.5, 5.0)
        _check_range("MapConfig", "two_lane_share", self.two_lane_share, 0.0, 1.0)
        _check_range("MapConfig", "removed_road_share", self.removed_road_share, 0.0, 0.5)
        _check_range("MapConfig", "signal_share", self.signal_share, 0.0, 1.0)
        _check_range("MapConfig", "sidewalk_width", self.sidewalk_width, 1.5, 6.0)
        _check_range("MapConfig", "crosswalk_width", self.crosswalk_width, 2.0, 6.0)
        _check_range("MapConfig", "pool_size", self.pool_size, 1, 64)
        _check_range("MapConfig", "seed", self.seed, 0, 2**31 - 1)
        _check_range("MapConfig", "raster_resolution", self.raster_resolution, 0.05, 1.0)


@dataclass(frozen=True)
class VehicleConfig:
    """Ego vehicle: kinematic bicycle model."""

    length: float = 4.5  # [m], in [2, 10]
    width: float = 1.9  # [m], in [1, 3]
    wheelbase: float = 2.7  # [m], in [1, 6]
    max_steer: float = 0.6  # [rad] steering angle at action +-1, in [0.1, 1.2]
    max_steer_rate: float = 1.5  # [rad/s] steering actuator rate limit, in [0.1, 10]
    max_accel: float = 3.0  # [m/s^2] at action +1, in [0.5, 10]
    max_brake: float = 7.0  # [m/s^2] at action -1, in [0.5, 12]
    max_speed: float = 16.0  # [m/s], in [1, 40]

    def validate(self) -> None:
        _check_range("VehicleConfig", "length", self.length, 2.0, 10.0)
        _check_range("VehicleConfig", "width", self.width, 1.0, 3.0)
        _check_range("VehicleConfig", "wheelbase", self.wheelbase, 1.0, 6.0)
        _check_range("VehicleConfig", "max_steer", self.max_steer, 0.1, 1.2)
        _check_range("VehicleConfig", "max_steer_rate", self.max_steer_rate, 0.1, 10.0)
        _check_range("VehicleConfig", "max_accel", self.max_accel, 0.5, 10.0)
        _check_range("VehicleConfig", "max_brake", self.max_brake, 0.5, 12.0)
        _check_range("VehicleConfig", "max_speed", self.max_speed, 1.0, 40.0)


@dataclass(frozen=True)
class TrafficConfig:
    """NPC cars, pedestrians and traffic lights."""

    n_cars: int = 24  # NPC cars per world, in [0, 128]
    n_pedestrians: int = 24  # pedestrians per world, in [0, 128]
    jaywalk_share: float = 0.1  # share of pedestrians that cross mid-block and ignore signals, in [0, 1]
    speed_limit: float = 11.0  # [m/s] NPC desired speed and ego speed limit, in [1, 30]
    idm_time_headway: float = 1.5  # [s] IDM safe time headway T, in [0.5, 4]
    idm_min_gap: float = 2.5  # [m] IDM jam distance s0, in [0.5, 10]
    idm_accel: float = 1.5  # [m/s^2] IDM maximum acceleration a, in [0.2, 5]
    idm_decel: float = 2.5  # [m/s^2] IDM comfortable deceleration b, in [0.5, 8]
    pedestrian_speed: float = 1.4  # [m/s] mean walking speed, in [0.3, 3]
    green_time: float = 12.0  # [s] green phase per axis, in [3, 120]
    yellow_time: float = 3.0  # [s], in [1, 10]
    all_red_time: float = 1.5  # [s], in [0, 10]

    def validate(self) -> None:
        _check_range("TrafficConfig", "n_cars", self.n_cars, 0, 128)
        _check_range("TrafficConfig", "n_pedestrians", self.n_pedestrians, 0, 128)
        _check_range("TrafficConfig", "jaywalk_share", self.jaywalk_share, 0.0, 1.0)
        _check_range("TrafficConfig", "speed_limit", self.speed_limit, 1.0, 30.0)
        _check_range("TrafficConfig", "idm_time_headway", self.idm_time_headway, 0.5, 4.0)
        _check_range("TrafficConfig", "idm_min_gap", self.idm_min_gap, 0.5, 10.0)
        _check_range("TrafficConfig", "idm_accel", self.idm_accel, 0.2, 5.0)
        _check_range("TrafficConfig", "idm_decel", self.idm_decel, 0.5, 8.0)
        _check_range("TrafficConfig", "pedestrian_speed", self.pedestrian_speed, 0.3, 3.0)
        _check_range("TrafficConfig", "green_time", self.green_time, 3.0, 120.0)
        _check_range("TrafficConfig", "yellow_time", self.yellow_time, 1.0, 10.0)
        _check_range("TrafficConfig", "all_red_time", self.all_red_time, 0.0, 10.0)


@dataclass(frozen=True)
class CameraConfig:
    """Ego-centric, heading-up top-down RGB camera."""

    width: int = 96  # [px], in [16, 1024]
    height: int = 96  # [px], in [16, 1024]
    metres_per_pixel: float = 0.4  # [m/px], in [0.05, 2]
    ego_row: float = 0.75  # ego position as a fraction of the height from the top, in [0.3, 0.95]
    min_pedestrian_px: float = 3.0  # [px] pedestrians are drawn at least this wide, in [1, 20]
    noise_std: float = 0.0  # std of additive Gaussian pixel noise [0-255 units], in [0, 50]
    colour_jitter: float = 0.0  # max relative per-channel gain change per episode, in [0, 0.5]
    dusk: bool = False  # darker, bluish palette with lit traffic lights
    history: int = 0  # [steps] also render the scene this many steps earlier, seen from the current pose
    # (observation `camera_history`: what stands still lines up, what moves shows its motion), in [0, 50]

    def validate(self) -> None:
        _check_range("CameraConfig", "width", self.width, 16, 1024)
        _check_range("CameraConfig", "height", self.height, 16, 1024)
        _check_range("CameraConfig", "metres_per_pixel", self.metres_per_pixel, 0.05, 2.0)
        _check_range("CameraConfig", "ego_row", self.ego_row, 0.3, 0.95)
        _check_range("CameraConfig", "min_pedestrian_px", self.min_pedestrian_px, 1.0, 20.0)
        _check_range("CameraConfig", "noise_std", self.noise_std, 0.0, 50.0)
        _check_range("CameraConfig", "colour_jitter", self.colour_jitter, 0.0, 0.5)
        _check_range("CameraConfig", "history", self.history, 0, 50)


@dataclass(frozen=True)
class LidarConfig:
    """2D lidar on the ego's roof (analytic ray casting)."""

    n_beams: int = 64  # beams per scan, in [4, 1024]
    max_range: float = 50.0  # [m], in [5, 200]
    fov: float = 2 * math.pi  # [rad] field of view centred on the heading, in [0.1, 2*pi]
    max_objects: int = 16  # nearest cars/pedestrians/buildings considered per class, in [1, 128]

    def validate(self) -> None:
        _check_range("LidarConfig", "n_beams", self.n_beams, 4, 1024)
        _check_range("LidarConfig", "max_range", self.max_range, 5.0, 200.0)
        _check_range("LidarConfig", "fov", self.fov, 0.1, 2 * math.pi)
        _check_range("LidarConfig", "max_objects", self.max_objects, 1, 128)


class RewardMode(str, Enum):
    ADDITIVE = "additive"  # sum of the weighted named terms
    CARL = "carl"  # route-completion gain x soft penalty factors, episodes end on infractions
    SCORE = "score"  # as carl, but an ending infraction costs what it costs the driving score


REWARD_MODES = tuple(m.value for m in RewardMode)


@dataclass(frozen=True)
class RewardConfig:
    """The reward: `mode` "additive" (default): the sum of the named terms times their weights below;
    "carl": CaRL-style (Jaeger et al. 2025), the step's route-completion gain (fraction of the route)
    times soft penalty factors in [0, 1] (speeding, lane centre, comfort, wrong way), and episodes
    that end on infractions (collisions, red lights, leaving the road, leaving the route, getting
    stuck) with a penalty of `carl_terminal`; "score": the same gains and endings, but the ending
    infraction (or the time limit) costs (1 - its CARLA penalty coefficient) x the route completion so
    far, so that an episode's return is its driving score when the soft factors are 1 (a crash late
    is better than standing still, as in the score); the weights below are not used in either.
    docs/agents.md has the formulas."""

    progress: float = 0.1  # per metre of route progress, in [0, 10]
    collision: float = 10.0  # penalty per collision (terminates), in [0, 1000]
    red_light: float = 5.0  # penalty per red light run, in [0, 1000]
    off_road: float = 0.5  # penalty per second outside the drivable area, in [0, 100]
    wrong_way: float = 0.5  # penalty per second on the wrong side of the road, in [0, 100]
    lane_keeping: float = 0.2  # penalty per second per lane-width of lateral error, in [0, 100]
    speeding: float = 0.5  # penalty per second per (speed above limit / limit), in [0, 100]
    comfort: float = 0.05  # penalty per second per (|jerk| / 10 m/s^3 + |steer rate| / max), in [0, 100]
    goal: float = 10.0  # bonus when the goal is reached, in [0, 1000]
    off_route: float = 5.0  # penalty when the episode ends by leaving the route, in [0, 1000]
    stuck: float = 5.0  # penalty when the episode ends for lack of progress (standing still is not free), in [0, 1000]
    mode: RewardMode = RewardMode.ADDITIVE  # "additive", "carl" or "score"
    carl_terminal: float = 1.0  # carl mode: penalty of an episode-ending infraction (a whole route is worth 1), in [0, 10]

    def validate(self) -> None:
        if self.mode not in REWARD_MODES:
            raise ConfigError(f"RewardConfig.mode={self.mode!r} is not a reward mode; use one of {', '.join(REWARD_MODES)}")
        for f in fields(self):
            if f.name in ("mode", "carl_terminal"):
                continue
            hi = 10.0 if f.name == "progress" else (100.0 if f.name in _PER_SECOND_TERMS else 1000.0)
            _check_range("RewardConfig", f.name, getattr(self, f.name), 0.0, hi)
        _check_range("RewardConfig", "carl_terminal", self.carl_terminal, 0.0, 10.0)


_PER_SECOND_TERMS = ("off_road", "wrong_way", "lane_keeping", "speeding", "comfort")


class EventKind(str, Enum):
    """Scripted scenario events."""

    PEDESTRIAN_STEPS_OUT = "pedestrian_steps_out"  # a pedestrian walks onto the road `distance` m ahead
    LEAD_CAR_BRAKES = "lead_car_brakes"  # the car ahead of the ego brakes hard for `duration` s
    CAR_RUNS_RED = "car_runs_red"  # a car on a crossing approach of the next intersection ignores its red light
    LIGHT_TURNS_RED = "light_turns_red"  # the ego's next light turns yellow now (red after the yellow time)


class StartKind(str, Enum):
    ANYWHERE = "anywhere"  # a random road lane
    BEFORE_SIGNAL = "before_signal"  # `start_distance` m before the stop line of a signalised intersection


class TurnKind(str, Enum):
    ANY = "any"
    LEFT = "left"
    RIGHT = "right"
    STRAIGHT = "straight"


@dataclass(frozen=True)
class EventConfig:
    """One scripted event, fired for every world when its time comes."""

    kind: EventKind  # what happens
    time: float  # [s] after the episode start, in [0, 3600]
    distance: float = 20.0  # [m] ahead of the ego (pedestrian_steps_out), in [5, 100]
    duration: float = 4.0  # [s] of hard braking (lead_car_brakes), in [0.5, 60]

    def __post_init__(self) -> None:
        if isinstance(self.kind, str) and not isinstance(self.kind, EventKind) and self.kind in {k.value for k in EventKind}:
            object.__setattr__(self, "kind", EventKind(self.kind))

    def validate(self) -> None:
        if not isinstance(self.kind, EventKind):
            raise ConfigError(f"EventConfig.kind={self.kind!r} is not allowed; allowed {[k.value for k in EventKind]}")
        _check_range("EventConfig", "time", self.time, 0.0, 3600.0)
        _check_range("EventConfig", "distance", self.distance, 5.0, 100.0)
        _check_range("EventConfig", "duration", self.duration, 0.5, 60.0)


@dataclass(frozen=True)
class ScenarioConfig:
    """How episodes start and what is scripted in them (the default: random start and route)."""

    start: StartKind = StartKind.ANYWHERE  # where the ego starts
    start_distance: tuple[float, float] = (25.0, 45.0)  # [m] before the stop line for before_signal
    first_turn: TurnKind = TurnKind.ANY  # manoeuvre at the first intersection of the route
    lead_car: bool = False  # place an NPC car just ahead of the ego in its lane at the start
    green_at_start: bool = False  # the ego's first light turns green as the episode starts
    events: tuple[EventConfig, ...] = ()  # scripted events

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "start_distance", tuple(float(v) for v in self.start_distance))
        for name, kind in (("start", StartKind), ("first_turn", TurnKind)):  # accept plain strings
            value = getattr(self, name)
            if isinstance(value, str) and not isinstance(value, kind) and value in {k.value for k in kind}:
                object.__setattr__(self, name, kind(value))

    def validate(self) -> None:
        if not isinstance(self.start, StartKind):
            raise ConfigError(f"ScenarioConfig.start={self.start!r}; allowed {[k.value for k in StartKind]}")
        if not isinstance(self.first_turn, TurnKind):
            raise ConfigError(f"ScenarioConfig.first_turn={self.first_turn!r}; allowed {[k.value for k in TurnKind]}")
        lo, hi = self.start_distance
        if not 5.0 <= lo <= hi <= 200.0:
            raise ConfigError(f"ScenarioConfig.start_distance={self.start_distance!r} must be (min, max) in [5, 200]")
        for event in self.events:
            event.validate()


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines an environment instance."""

    map: MapConfig = field(default_factory=MapConfig)
    vehicle: VehicleConfig = field(default_factory=VehicleConfig)
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    lidar: LidarConfig = field(default_factory=LidarConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    observations: tuple[str, ...] = ("camera", "lidar", "state")  # subset of OBSERVATION_KEYS
    camera_labels: bool = False  # add the camera's object labels to info["camera_labels"]
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    dt: float = 0.1  # [s] control period (10 Hz), in [0.01, 0.5]
    max_episode_steps: int = 1000  # truncation limit, in [1, 100000]
    route_length: tuple[float, float] = (250.0, 450.0)  # [m] min/max sampled route length, in [20, 5000]
    stuck_time: float = 45.0  # [s] without route progress before the episode ends, in [5, 1000]
    off_route_distance: float = 8.0  # [m] lateral distance from the route that ends the episode, in [2, 50]

    def __post_init__(self) -> None:
        # accept lists (e.g. from TOML / gymnasium.make kwargs) for the tuple fields, and plain
        # dicts of fields for the sub-configs (EnvConfig(traffic={"n_cars": 8}))
        object.__setattr__(self, "observations", tuple(self.observations))
        object.__setattr__(self, "route_length", tuple(float(v) for v in self.route_length))
        hints = get_type_hints(EnvConfig)
        for f in fields(self):
            value, kind = getattr(self, f.name), hints[f.name]
            if isinstance(value, dict) and isinstance(kind, type) and dataclasses.is_dataclass(kind):
                object.__setattr__(self, f.name, _build(kind, value, "EnvConfig", prefix=f"{f.name}."))
        self.validate()

    def validate(self) -> None:
        for sub in (self.map, self.vehicle, self.traffic, self.lidar, self.camera, self.reward, self.scenario):
            sub.validate()
        if not self.observations:
            raise ConfigError(f"EnvConfig.observations is empty; choose from {OBSERVATION_KEYS}")
        for key in self.observations:
            if key not in OBSERVATION_KEYS:
                raise ConfigError(
                    f"EnvConfig.observations contains unknown key {key!r}; allowed {OBSERVATION_KEYS}"
                )
        if len(set(self.observations)) != len(self.observations):
            raise ConfigError(f"EnvConfig.observations has duplicates: {self.observations}")
        _check_range("EnvConfig", "dt", self.dt, 0.01, 0.5)
        _check_range("EnvConfig", "max_episode_steps", self.max_episode_steps, 1, 100_000)
        if len(self.route_length) != 2 or not (20.0 <= self.route_length[0] <= self.route_length[1] <= 5000.0):
            raise ConfigError(
                f"EnvConfig.route_length={self.route_length!r} must be (min, max) with 20 <= min <= max <= 5000"
            )
        _check_range("EnvConfig", "stuck_time", self.stuck_time, 5.0, 1000.0)
        _check_range("EnvConfig", "off_route_distance", self.off_route_distance, 2.0, 50.0)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> EnvConfig:
        """Build from nested plain data; unknown keys and wrong types raise `ConfigError`."""
        return _build(cls, data, source)

    def replace(self, **changes: Any) -> EnvConfig:
        """A copy with top-level fields changed; sub-configs may be given as dicts of overrides."""
        merged: dict[str, Any] = {}
        for name, value in changes.items():
            current = getattr(self, name, None) if name in _field_names(EnvConfig) else None
            if isinstance(value, dict) and dataclasses.is_dataclass(current):
                merged[name] = _build(type(current), {**dataclasses.asdict(current), **value}, "EnvConfig")
            else:
                merged[name] = value
        unknown = set(merged) - set(_field_names(EnvConfig))
        if unknown:
            raise ConfigError(f"unknown EnvConfig field(s) {sorted(unknown)}; allowed {_field_names(EnvConfig)}")
        return dataclasses.replace(self, **merged)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _build(cls: type, data: dict[str, Any], source: str, prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix or cls.__name__} must be a table/dict, got {type(data).__name__}")
    hints = get_type_hints(cls)
    allowed = _field_names(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in allowed:
            raise ConfigError(f"{source}: unknown key {path!r}; allowed keys: {allowed}")
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, source, prefix=f"{path}.")
        else:
            kwargs[key] = _coerce(value, hint, source, path)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    except TypeError as err:  # a required field is missing
        message = str(err).split("__init__() ", 1)[-1]  # e.g. "missing 1 required positional argument: 'time'"
        raise ConfigError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {message}") from None


def _coerce(value: Any, hint: Any, source: str, path: str) -> Any:
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = [k.value for k in hint]
            raise ConfigError(f"{source}: key {path!r} has value {value!r}; allowed {allowed}") from None
    if hint == tuple[EventConfig, ...] and isinstance(value, (list, tuple)):
        return tuple(_build(EventConfig, item, source, prefix=f"{path}[{i}].") for i, item in enumerate(value))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if str(hint).startswith("tuple") and isinstance(value, (list, tuple)):
        return tuple(value)
    raise ConfigError(f"{source}: key {path!r} has wrong type {type(value).__name__} (value {value!r}); expected {hint}")
