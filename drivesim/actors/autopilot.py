"""The autopilot: the driver model (`actors.driver`, the same rules the NPC cars follow) on the
controlled car's route, plus path tracking (pure pursuit) for the steering. Privileged: it reads
the state. Compiled per world; `autopilot_actions` runs it over a batch and returns actions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import prange

from drivesim import route as routing
from drivesim.actors.driver import STOP_MARGIN, Path, Profile, build_scene, decide
from drivesim.geometry import wrap
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapArrays
from drivesim.map.lanes import pose
from drivesim.params import SharedParams, WorldParams
from drivesim.state import SimState
from drivesim.workspace import Workspace

if TYPE_CHECKING:
    from drivesim.world import World


@dataclass(frozen=True)
class AutopilotConfig:
    """How the autopilot drives: the driver-model constants and the path tracking."""

    speed_fraction: float = 0.95  # cruise at this fraction of the speed limit
    turn_speed: float = 4.5  # [m/s] through turns
    time_headway: float = 1.2  # [s] IDM T
    min_gap: float = 3.0  # [m] IDM s0
    accel: float = 2.0  # [m/s^2] IDM a
    decel: float = 3.0  # [m/s^2] IDM b (comfortable braking, yellow lights, turns)
    approach: float = 25.0  # [m] intersection rules apply within this distance of the stop line
    horizon: float = 36.0  # [m] path checked for pedestrians
    path_step: float = 1.5  # [m] spacing of path samples
    ped_clearance: float = 1.0  # [m] lateral margin to pedestrians
    ped_predict: float = 1.2  # [s] also check where pedestrians will be
    crossing_horizon: float = 8.0  # [s] longest look-ahead of people walking on a crossing ahead
    lookahead_min: float = 2.5  # [m] pure-pursuit lookahead (from the rear axle) at standstill
    lookahead_time: float = 0.25  # [s] the lookahead grows with speed
    lookahead_max: float = 8.0  # [m]
    hold_gap: float = 0.5  # [m] closer than this to a stop line or an obstacle it brakes fully


class Tracking(NamedTuple):
    speed_fraction: float
    lookahead_min: float
    lookahead_time: float
    lookahead_max: float
    hold_gap: float


def profile(cfg: AutopilotConfig, shared: SharedParams) -> tuple[Profile, Tracking]:
    return (Profile(cfg.time_headway, cfg.min_gap, cfg.accel, cfg.decel, shared.max_brake, cfg.approach, cfg.turn_speed,
                    cfg.horizon, cfg.path_step, cfg.ped_clearance, cfg.ped_predict, cfg.crossing_horizon),
            Tracking(cfg.speed_fraction, cfg.lookahead_min, cfg.lookahead_time, cfg.lookahead_max, cfg.hold_gap))


@inner
def route_path(state: SimState, w: int) -> Path:
    """The controlled car knows its whole route: its current lane and the two after it."""
    r = state.route[w]
    lanes, route = state.route_lanes, state.route
    return Path(lanes[w, r.i], routing.lane_at(lanes, route, w, r.i + 1), routing.lane_at(lanes, route, w, r.i + 2), r.s)


@inner
def drive(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace, prof: Profile,
          track: Tracking, w: int, out: np.ndarray) -> None:
    """Actions (steer, accel) in [-1, 1] for world w's controlled car into out (2,)."""
    m, e = state.clock[w].map, state.ego[w].car
    world = params.world[w]
    scene = build_scene(maps, state, ws, m, w, 1 + world.n_cars, world.n_peds, state.clock[w].t * shared.dt,
                        (world.green_time, world.yellow_time, world.all_red_time))
    me = state.cars[w, e]
    dec = decide(maps, state, scene, prof, m, w, e, route_path(state, w), track.speed_fraction * world.speed_limit)
    accel = dec.accel
    if dec.stop_gap < track.hold_gap + STOP_MARGIN or dec.obstacle_gap < track.hold_gap:
        accel = -shared.max_brake  # hold at the line / behind the obstacle
    # pure pursuit from the rear axle (it moves along the heading in the kinematic bicycle model):
    # steer = atan(2 L sin(alpha) / Ld) towards the route point Ld ahead
    c, s, half_wb = math.cos(me.yaw), math.sin(me.yaw), 0.5 * shared.wheelbase
    look = min(max(track.lookahead_min + track.lookahead_time * me.v, track.lookahead_min), track.lookahead_max)
    lane, along = routing.position_ahead(maps, state, m, w, look - half_wb, 20.0)
    tx, ty, _ = pose(maps.samples, m, lane, along)
    dx, dy = tx - (me.x - half_wb * c), ty - (me.y - half_wb * s)
    alpha = wrap(math.atan2(dy, dx) - me.yaw)
    steer = math.atan(2.0 * shared.wheelbase * math.sin(alpha) / max(math.hypot(dx, dy), 1e-3)) / shared.max_steer
    throttle = accel / shared.max_accel if accel >= 0 else accel / shared.max_brake
    out[0], out[1] = min(max(steer, -1.0), 1.0), min(max(throttle, -1.0), 1.0)


@parallel_kernel
def _autopilot_batch(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, ws: Workspace,
                     prof: Profile, track: Tracking, out: np.ndarray) -> None:
    for index in prange(out.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        drive(maps, params, shared, state, ws, prof, track, w, out[w])


def autopilot_actions(world: World, config: AutopilotConfig | None = None) -> np.ndarray:
    """(B, 2) actions of the autopilot for every world's controlled car."""
    prof, track = profile(config or AutopilotConfig(), world.shared)
    out = np.empty((world.batch_size, 2))
    _autopilot_batch(world.maps.kernel, world.params, world.shared, world.state, world.workspace, prof, track, out)
    return out
