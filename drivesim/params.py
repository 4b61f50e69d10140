"""Per-world parameters of a batch, as arrays the kernels read.

Every world carries its own scenario: traffic and pedestrian counts (up to the batch capacity),
IDM and light timing, speed limit, start constraints, scripted events, reward weights, time
limit. What defines the observation and action spaces (vehicle, lidar, camera, observation keys,
control period) is shared by the batch (`SharedParams`) and must agree across its configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from drivesim.config import REWARD_MODES, ConfigError, EnvConfig, EventKind, MapConfig, StartKind, TurnKind
from drivesim.events import REWARD_TERMS

EVENT_KINDS = tuple(EventKind)  # kernel code of an event = its index here
START_KINDS = tuple(StartKind)
FIRST_TURNS = {TurnKind.ANY: 0, TurnKind.LEFT: 1, TurnKind.RIGHT: 2, TurnKind.STRAIGHT: 3}  # = map.city.Turn
SHARED_FIELDS = ("vehicle", "lidar", "camera", "observations", "camera_labels", "dt")


WORLD = np.dtype([
    ("map_first", np.int64),  # first pool map of the world's MapConfig
    ("map_count", np.int64),  # number of maps it samples from (MapConfig.pool_size)
    ("n_cars", np.int64),  # NPC cars (car slots 1..n_cars; slot 0 is the controlled car)
    ("n_peds", np.int64),  # pedestrians (slots 0..n_peds-1)
    ("jaywalk_share", np.float64),  # [0, 1]
    ("speed_limit", np.float64),  # [m/s]
    ("idm_time_headway", np.float64),  # [s]
    ("idm_min_gap", np.float64),  # [m]
    ("idm_accel", np.float64),  # [m/s^2]
    ("idm_decel", np.float64),  # [m/s^2]
    ("ped_speed", np.float64),  # [m/s] mean walking speed
    ("green_time", np.float64), ("yellow_time", np.float64), ("all_red_time", np.float64),  # [s]
    ("max_steps", np.int64),  # time limit [steps]
    ("stuck_steps", np.int64),  # steps without progress that end the episode
    ("off_route_distance", np.float64),  # [m]
    ("route_min", np.float64), ("route_max", np.float64),  # [m] sampled route length
    ("start_kind", np.int64),  # index in START_KINDS
    ("start_min", np.float64), ("start_max", np.float64),  # [m] before the stop line (before_signal)
    ("first_turn", np.int64),  # Turn wanted at the first intersection (0 = any)
    ("lead_car", np.bool_),  # car slot 1 starts just ahead of the controlled car
    ("green_at_start", np.bool_),
    ("n_events", np.int64),  # scripted events of the world
    ("reward", np.float64, (len(REWARD_TERMS),)),  # weights in REWARD_TERMS order
    ("reward_mode", np.int64),  # index in REWARD_MODES (0 additive, 1 carl)
    ("carl_terminal", np.float64),  # carl mode: penalty of an episode-ending infraction
], align=True)
EVENT = np.dtype([
    ("kind", np.int64),  # index in EVENT_KINDS
    ("time", np.float64),  # [s] after the episode start
    ("distance", np.float64),  # [m] ahead of the controlled car (pedestrian_steps_out)
    ("duration", np.float64),  # [s] (lead_car_brakes)
], align=True)


class WorldParams(NamedTuple):
    world: np.ndarray  # (B,) WORLD
    events: np.ndarray  # (B, E) EVENT, the first `n_events` of each world


class SharedParams(NamedTuple):
    """What the whole batch shares (scalars)."""

    dt: float  # [s] control period
    length: float  # [m] controlled car
    width: float  # [m]
    wheelbase: float  # [m]
    max_steer: float  # [rad]
    max_steer_rate: float  # [rad/s]
    max_accel: float  # [m/s^2]
    max_brake: float  # [m/s^2]
    max_speed: float  # [m/s]
    lidar_beams: int
    lidar_range: float  # [m]
    lidar_fov: float  # [rad]
    lidar_max_objects: int


def check_shared(configs: Sequence[EnvConfig]) -> EnvConfig:
    """All configs of a batch must agree on what defines its spaces; returns the first."""
    first = configs[0]
    for i, cfg in enumerate(configs[1:], start=1):
        for name in SHARED_FIELDS:
            if getattr(cfg, name) != getattr(first, name):
                raise ConfigError(f"world {i} of the batch has EnvConfig.{name}={getattr(cfg, name)!r} but world 0 has "
                                  f"{getattr(first, name)!r}; every world of a batch must share {SHARED_FIELDS}")
    return first


def shared_params(config: EnvConfig) -> SharedParams:
    v, lidar = config.vehicle, config.lidar
    return SharedParams(float(config.dt), v.length, v.width, v.wheelbase, v.max_steer, v.max_steer_rate, v.max_accel,
                        v.max_brake, v.max_speed, int(lidar.n_beams), float(lidar.max_range), float(lidar.fov),
                        int(lidar.max_objects))


def world_params(configs: Sequence[EnvConfig], map_first: dict[MapConfig, int]) -> WorldParams:
    """Per-world records from one EnvConfig per world."""
    world = np.zeros(len(configs), dtype=WORLD)
    events = np.zeros((len(configs), max((len(c.scenario.events) for c in configs), default=0)), dtype=EVENT)
    for b, c in enumerate(configs):
        t, sc = c.traffic, c.scenario
        world[b] = (map_first[c.map], c.map.pool_size, t.n_cars, t.n_pedestrians, t.jaywalk_share, t.speed_limit,
                    t.idm_time_headway, t.idm_min_gap, t.idm_accel, t.idm_decel, t.pedestrian_speed, t.green_time,
                    t.yellow_time, t.all_red_time, c.max_episode_steps, int(round(c.stuck_time / c.dt)),
                    c.off_route_distance, c.route_length[0], c.route_length[1], START_KINDS.index(sc.start),
                    sc.start_distance[0], sc.start_distance[1], FIRST_TURNS[sc.first_turn], sc.lead_car,
                    sc.green_at_start, len(sc.events), [getattr(c.reward, name) for name in REWARD_TERMS],
                    REWARD_MODES.index(c.reward.mode), c.reward.carl_terminal)
        for e, event in enumerate(sc.events):
            events[b, e] = (EVENT_KINDS.index(event.kind), event.time, event.distance, event.duration)
    return WorldParams(world, events)
