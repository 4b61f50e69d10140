"""Privileged rule-based autopilot: the baseline every learned agent is compared against.

It reads the World directly (route, lights, every actor) and drives with pure-pursuit steering and
IDM speed control; it stops for red and (when it can) yellow lights, yields to pedestrians and to
vehicles on conflicting paths through intersections, and does not enter an intersection whose exit
is blocked. Batched over worlds and free of torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from drivesim.actors.idm import idm_accel
from drivesim.actors.pedestrians import PED_RADIUS, on_road
from drivesim.actors.signals import Light
from drivesim.actors.traffic import CAR_LENGTH, CAR_WIDTH, CLAIM_TIME, EXIT_ROOM, exit_blocked
from drivesim.arrays import compact, take
from drivesim.geometry import wrap_angle
from drivesim.map.city import LaneKind, Turn
from drivesim.map.lanes import lane_pose
from drivesim.world import World


@dataclass(frozen=True)
class ExpertConfig:
    lookahead_min: float = 2.5  # [m] pure-pursuit lookahead (from the rear axle) at standstill
    lookahead_time: float = 0.25  # [s] lookahead grows with speed
    speed_fraction: float = 0.95  # cruise at this fraction of the speed limit
    turn_speed: float = 4.5  # [m/s] through turns
    horizon: float = 36.0  # [m] path checked for obstacles
    path_step: float = 1.5  # [m] spacing of path samples
    car_clearance: float = 0.35  # [m] lateral margin to other cars beyond both half-widths
    ped_clearance: float = 1.0  # [m] lateral margin to pedestrians
    ped_predict: float = 1.2  # [s] also check where pedestrians will be
    crossing_horizon: float = 8.0  # [s] longest look-ahead of crossing pedestrians (time to clear the junction)
    approach: float = 25.0  # [m] distance to the stop line at which intersection rules apply
    time_headway: float = 1.2  # [s] IDM
    min_gap: float = 3.0  # [m] IDM jam distance
    accel: float = 2.0  # [m/s^2] IDM max acceleration
    decel: float = 3.0  # [m/s^2] IDM comfortable deceleration


class _Ahead(NamedTuple):
    """What lies ahead on the route, computed once per step."""

    stop: np.ndarray  # (B,) [m] front bumper to the next stop line (inf if none)
    light: np.ndarray  # (B,) Light there
    connector: np.ndarray  # (B,) the next connector (-1 if none or already on one)


class ExpertAgent:
    """`act(world) -> (B, 2)` actions in [-1, 1] (privileged: reads the World, needs no observation)."""

    name = "expert"
    observations: tuple[str, ...] | None = None

    def __init__(self, config: ExpertConfig | None = None) -> None:
        self.cfg = config or ExpertConfig()

    def reset(self, world: World) -> None:
        return None

    def act(self, world: World, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        cfg, veh = self.cfg, world.config.vehicle
        path_x, path_y, path_d = self._path(world)
        steer = self._steer(world)
        ahead = _Ahead(*world.next_stop_line(), self._next_connector(world))  # shared by the checks below
        gap, v_lead = self._obstacles(world, ahead, path_x, path_y, path_d)
        stop = self._stop_line_gap(world, ahead)
        v0 = self._desired_speed(world, ahead)
        v = world.ego.v
        idm = lambda g, vl: idm_accel(v, v0, g, vl, a=cfg.accel, b=cfg.decel,  # noqa: E731
                                      time_headway=cfg.time_headway, min_gap=cfg.min_gap)
        accel = np.minimum(idm(gap, v_lead), idm(stop, np.zeros_like(v)))
        accel = np.where((stop < 1.0) | (gap < 0.5), -veh.max_brake, accel)  # hold at the line
        throttle = np.where(accel >= 0, accel / veh.max_accel, accel / veh.max_brake)
        return np.clip(np.stack([steer, throttle], axis=1), -1.0, 1.0)

    # ------------------------------------------------------------------------------------ path
    def _path(self, world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Route samples ahead of the ego: x, y (B, J) [m] and their distance along the route (J,)."""
        d = np.arange(0.0, self.cfg.horizon, self.cfg.path_step)
        x, y = self._route_point(world, np.broadcast_to(d, (world.batch_size, len(d))))
        return x, y, d

    def _steer(self, world: World) -> np.ndarray:
        """Pure pursuit from the rear axle (which moves along the car's heading in the kinematic
        bicycle model): steer = atan(2 L sin(alpha) / Ld) towards the route point Ld ahead. A short,
        speed-dependent lookahead keeps corner cutting in tight turns to a few decimetres."""
        cfg, veh = self.cfg, world.config.vehicle
        c, s = np.cos(world.ego.yaw), np.sin(world.ego.yaw)
        rx, ry = world.ego.x - 0.5 * veh.wheelbase * c, world.ego.y - 0.5 * veh.wheelbase * s
        look = np.clip(cfg.lookahead_min + cfg.lookahead_time * world.ego.v, cfg.lookahead_min, 8.0)
        tx, ty = self._route_point(world, (look - 0.5 * veh.wheelbase)[:, None])
        dx, dy = tx[:, 0] - rx, ty[:, 0] - ry
        alpha = wrap_angle(np.arctan2(dy, dx) - world.ego.yaw)
        dist = np.maximum(np.hypot(dx, dy), 1e-3)
        return np.arctan(2.0 * veh.wheelbase * np.sin(alpha) / dist) / veh.max_steer

    @staticmethod
    def _route_point(world: World, ahead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World position of the route `ahead` (B, J) [m] past the ego's projection -> x, y (B, J)."""
        rows = np.arange(world.batch_size)[:, None]
        here = world.route_cum[rows[:, 0], world.route_i] + world.route_s
        q = here[:, None] + ahead  # (B, J) route coordinate
        valid = np.arange(world.max_route_lanes)[None, :] < world.route_n[:, None]
        cum = np.where(valid, world.route_cum, np.inf)
        j = np.maximum((cum[:, None, :] <= q[..., None]).sum(axis=2) - 1, 0)  # (B, J) route index
        lane = world.route[rows, j]
        length = world.pool.lane_len[world.map_idx[:, None], lane]
        s = np.minimum(q - world.route_cum[rows, j], length + 20.0)
        x, y, _ = lane_pose(world.pool, world.map_idx[:, None], lane, s)
        return x, y

    # ------------------------------------------------------------------------------- obstacles
    def _obstacles(self, world: World, ahead: _Ahead, path_x: np.ndarray, path_y: np.ndarray, path_d: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Gap [m] to the first car or pedestrian on the path ahead and its speed along it."""
        cfg, veh = self.cfg, world.config.vehicle
        cars, peds = world.cars, world.peds
        car_gap, car_v = self._first_on_path(path_x, path_y, path_d, cars.x, cars.y, cars.active,
                                             veh.width / 2 + CAR_WIDTH / 2 + cfg.car_clearance,
                                             veh.length / 2 + CAR_LENGTH / 2)
        heading = np.cos(cars.yaw - world.ego.yaw[:, None]) * cars.v
        rows = np.arange(world.batch_size)
        v_lead = np.maximum(heading[rows, np.maximum(car_v, 0)], 0.0)
        ped_speed = peds.speed * peds.moving
        px = peds.x + cfg.ped_predict * ped_speed * np.cos(peds.yaw)
        py = peds.y + cfg.ped_predict * ped_speed * np.sin(peds.yaw)
        reach = veh.width / 2 + PED_RADIUS + cfg.ped_clearance
        ped_gap = np.minimum(
            self._first_on_path(path_x, path_y, path_d, peds.x, peds.y, peds.active, reach, veh.length / 2 + 1.0)[0],
            self._first_on_path(path_x, path_y, path_d, px, py, peds.active, reach, veh.length / 2 + 1.0)[0])
        ped_gap = np.minimum(ped_gap, self._occupied_crossing_gap(world, ahead, path_x, path_y, path_d))
        return np.minimum(car_gap, ped_gap), np.where(car_gap <= ped_gap, v_lead, 0.0)

    def _occupied_crossing_gap(self, world: World, ahead: _Ahead, path_x: np.ndarray, path_y: np.ndarray,
                               path_d: np.ndarray) -> np.ndarray:
        """Pedestrians walking on (or stepping onto) a crossing whose next few seconds of walking
        pass near the route: before an intersection, wait at the stop line for them instead of
        stopping on the crosswalk later; elsewhere (jaywalkers mid-block), stop before them."""
        peds, pool, veh = world.peds, world.pool, world.config.vehicle
        walking = on_road(peds, pool, world.map_idx) & peds.moving
        if not walking.any():
            return np.full(world.batch_size, np.inf)
        idx, valid = compact(walking)
        stop, conn = ahead.stop, ahead.connector
        through = stop + world.pool.lane_len[world.map_idx, np.maximum(conn, 0)] + veh.length
        # how long the ego needs to clear the intersection (or the next 15 m), at >= 3 m/s
        clear = np.where(np.isfinite(through) & (conn >= 0), through, 15.0) / np.maximum(world.ego.v, 3.0)
        horizon = np.clip(clear, 2.0, self.cfg.crossing_horizon)[:, None, None]
        x, y, yaw, speed = (take(a, idx) for a in (peds.x, peds.y, peds.yaw, peds.speed))
        a = np.stack([x, y], axis=-1)  # (B, n, 2) where they are ...
        b = a + horizon * (speed[..., None] * np.stack([np.cos(yaw), np.sin(yaw)], axis=-1))
        p = np.stack([path_x, path_y], axis=-1)[:, :, None, :]  # (B, J, 1, 2)
        ab = (b - a)[:, None]  # ... and where they will be
        t = np.clip(((p - a[:, None]) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0.0, 1.0)
        d = p - a[:, None] - t[..., None] * ab
        on = ((d * d).sum(-1) < (veh.width / 2 + self.cfg.ped_clearance) ** 2) & valid[:, None, :]
        first = np.where(on, path_d[None, :, None], np.inf).min(axis=(1, 2))
        at_junction = (conn >= 0) & (stop < self.cfg.approach) & (first < through)
        stoppable = stop > world.ego.v**2 / (2 * veh.max_brake)
        return np.where(at_junction & stoppable, np.maximum(stop, 0.0), np.maximum(first - veh.length / 2 - 1.0, 0.0))

    @staticmethod
    def _first_on_path(path_x: np.ndarray, path_y: np.ndarray, path_d: np.ndarray, ox: np.ndarray, oy: np.ndarray,
                       active: np.ndarray, reach: float, back_off: float) -> tuple[np.ndarray, np.ndarray]:
        """(B,) gap to the nearest object within `reach` of a path sample, and its index (-1)."""
        if ox.shape[1] == 0:
            return np.full(path_x.shape[0], np.inf), np.full(path_x.shape[0], -1)
        dx = path_x[:, :, None] - ox[:, None, :]  # (B, J, K)
        dy = path_y[:, :, None] - oy[:, None, :]
        on = (dx * dx + dy * dy < reach * reach) & active[:, None, :]
        first = np.where(on, path_d[None, :, None], np.inf).min(axis=1)  # (B, K)
        k = np.argmin(first, axis=1)
        gap = first[np.arange(len(k)), k] - back_off
        return np.where(np.isfinite(gap), np.maximum(gap, 0.0), np.inf), np.where(np.isfinite(gap), k, -1)

    # --------------------------------------------------------------------------- intersections
    def _stop_line_gap(self, world: World, ahead: _Ahead) -> np.ndarray:
        """Distance [m] to the stop line where the ego must stop (inf if it may go)."""
        cfg = self.cfg
        dist, light = ahead.stop, ahead.light
        v = world.ego.v
        red = (light == Light.RED) | ((light == Light.YELLOW) & (dist > v**2 / (2 * cfg.decel)))
        near = dist < cfg.approach
        must = near & (red | self._must_yield(world, ahead) | self._exit_blocked(world, ahead.connector))
        can_stop = dist > v**2 / (2 * world.config.vehicle.max_brake) - 1.0
        return np.where(must & can_stop, np.maximum(dist, 0.0), np.inf)

    def _next_connector(self, world: World) -> np.ndarray:
        """(B,) the connector the ego will take next (-1 if none or already on one)."""
        rows = np.arange(world.batch_size)
        i = np.minimum(world.route_i + 1, world.max_route_lanes - 1)
        conn = world.route[rows, i]
        here = world.route[rows, world.route_i]
        ok = (world.route_i + 1 < world.route_n) & (world.pool.lane_kind[world.map_idx, here] == LaneKind.ROAD)
        return np.where(ok, conn, -1)

    def _must_yield(self, world: World, ahead: _Ahead) -> np.ndarray:
        """Yield to a car on, or approaching with priority, a connector that conflicts with the
        ego's next one (same priority order as the NPCs: straight/right before left, then nearer)."""
        pool, m, cars = world.pool, world.map_idx[:, None], world.cars
        conn = ahead.connector
        safe = np.maximum(conn, 0)[:, None]
        kind = pool.lane_kind[m, cars.lane]
        on_conflict = cars.active & (kind == LaneKind.CONNECTOR) & pool.conflict[m, safe, cars.lane]
        to_stop = pool.lane_len[m, cars.lane] - cars.s - CAR_LENGTH / 2
        light = take(world.lights, cars.lane)
        free = ~exit_blocked(pool, world.map_idx, cars.next, cars, world.ego_vehicle())
        horizon = np.maximum(self.cfg.approach, cars.v * CLAIM_TIME)
        unstoppable = cars.v**2 / (2 * self.cfg.decel) > to_stop  # will cross whatever its light says
        coming = (cars.active & free & (kind == LaneKind.ROAD) & (to_stop < horizon)
                  & ((light != Light.RED) | unstoppable)
                  & ((cars.v > 0.3) | (to_stop < 3.0)) & pool.conflict[m, safe, cars.next])
        ego_rank = (pool.lane_turn[world.map_idx, np.maximum(conn, 0)] == Turn.LEFT)[:, None]
        their_rank = pool.lane_turn[m, cars.next] == Turn.LEFT
        first = (their_rank < ego_rank) | ((their_rank == ego_rank) & (to_stop <= ahead.stop[:, None]))
        return (conn >= 0) & (on_conflict | (coming & first)).any(axis=1)

    def _exit_blocked(self, world: World, conn: np.ndarray) -> np.ndarray:
        """The lane after the ego's next connector `conn` (B,) has no room near its start."""
        pool, m, cars = world.pool, world.map_idx, world.cars
        exit_lane = pool.lane_next[m, np.maximum(conn, 0), 0]
        near = cars.active & (cars.lane == exit_lane[:, None]) & (cars.s < EXIT_ROOM)
        return (conn >= 0) & near.any(axis=1)

    def _desired_speed(self, world: World, ahead: _Ahead) -> np.ndarray:
        cfg, pool, m = self.cfg, world.pool, world.map_idx
        rows = np.arange(world.batch_size)
        cruise = cfg.speed_fraction * world.config.traffic.speed_limit
        lane = world.route[rows, world.route_i]
        turning = pool.lane_turn[m, lane]
        on_turn = (turning == Turn.LEFT) | (turning == Turn.RIGHT)
        conn = ahead.connector
        next_turn = pool.lane_turn[m, np.maximum(conn, 0)]
        turn_ahead = (conn >= 0) & ((next_turn == Turn.LEFT) | (next_turn == Turn.RIGHT))
        dist = ahead.stop
        before = np.sqrt(cfg.turn_speed**2 + 2 * cfg.decel * np.maximum(np.where(np.isfinite(dist), dist, 1e3), 0.0))
        v0 = np.where(turn_ahead, np.minimum(cruise, before), cruise)
        return np.where(on_turn, np.minimum(v0, cfg.turn_speed), v0)
