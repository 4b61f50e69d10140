"""The batched world: B independent cities stepped together as arrays with a leading batch axis.

A step is a fixed sequence of vectorised operations (ego dynamics -> route tracking -> NPC cars ->
pedestrians -> events and rewards -> sensors); nothing loops over worlds or actors. Every random
draw is keyed by (world seed, episode, step), so a world evolves identically whatever batch it is in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from drivesim import rng
from drivesim.actors.kinematics import EgoState, actuate, bicycle_step
from drivesim.actors.pedestrians import Pedestrians, choose_next_segment, on_road, pedestrian_pose, step_pedestrians
from drivesim.actors.signals import Light, cycle_time, light_state, walk_signal
from drivesim.actors.traffic import CAR_LENGTH, Cars, Context, Vehicle, choose_next, step_cars
from drivesim.arrays import take
from drivesim.config import EnvConfig, StartKind, TurnKind
from drivesim.events import EVENT_NAMES, TERMINATING, detect_collisions, reward_terms
from drivesim.geometry import wrap_angle
from drivesim.map.city import LaneKind, PedPathKind, Turn, stack_maps
from drivesim.map.generator import generate_city
from drivesim.map.lanes import lane_pose, project_to_lane
from drivesim.map.routing import expand_route
from drivesim.scenarios.events import fire_events
from drivesim.sensors.camera import Camera, CameraLabels

_TURNS = {TurnKind.LEFT: Turn.LEFT, TurnKind.RIGHT: Turn.RIGHT, TurnKind.STRAIGHT: Turn.STRAIGHT}
ON_LANE_DISTANCE = 1.5  # [m] lateral error under which NPCs treat the ego as in its lane
PROGRESS_EPS = 0.5  # [m] progress that resets the stuck timer
COMMAND_DISTANCE = 30.0  # [m] distance before an intersection at which the route command shows
SPAWN_CLEARANCE = 14.0  # [m] no NPC spawns this close to the ego
GRIDLOCK_TIME = 30.0  # [s] standing still before a car far from the ego is moved elsewhere
GRIDLOCK_DISTANCE = 60.0  # [m] beyond the ego's lidar range
LEAD_CAR_GAP = 15.0  # [m] centre distance of the scenario lead car ahead of the ego


class StepResult(NamedTuple):
    reward: np.ndarray  # (B,) float64
    terminated: np.ndarray  # (B,) bool
    truncated: np.ndarray  # (B,) bool
    terms: dict[str, np.ndarray]  # reward term -> (B,) weighted value
    events: dict[str, np.ndarray]  # event -> (B,) bool


class World:
    """B worlds of one EnvConfig. Call `reset` before `step`."""

    def __init__(self, config: EnvConfig, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.config = config
        self.batch_size = batch_size
        mc = config.map
        self.pool = stack_maps([generate_city(mc, mc.seed + i) for i in range(mc.pool_size)])
        self.rasters = np.stack([m.raster for m in self.pool.maps])  # (M, H, W) uint8
        self.raster_origin = self.pool.maps[0].raster_origin
        self.cycle = cycle_time(config.traffic)
        min_link = float(min(m.lane_len[m.link_lanes[:, 0]].min() for m in self.pool.maps)) + 10.0
        self.max_route_lanes = 2 * int(math.ceil(config.route_length[1] / min_link)) + 5
        self._lane_node = np.maximum(self.pool.lane_node, 0)  # (M, L) safe gather indices
        self._lane_axis = np.maximum(self.pool.lane_axis, 0)
        self._lane_is_road = self.pool.lane_kind == LaneKind.ROAD
        self.crossing_approach = _crossing_approaches(self.pool)  # (M, N, 2) an incoming road lane per axis
        self._allocate()
        self._camera: Camera | None = None
        self.camera_labels: CameraLabels | None = None  # labels of the last rendered camera frames

    # ------------------------------------------------------------------------------ state layout
    def _allocate(self) -> None:
        b, k, p = self.batch_size, self.config.traffic.n_cars, self.config.traffic.n_pedestrians
        f, i = np.zeros, np.zeros
        self.seed = np.zeros(b, dtype=np.uint64)
        self.episode = np.zeros(b, dtype=np.int64)
        self.t = np.zeros(b, dtype=np.int64)  # steps since reset
        self.map_idx = np.zeros(b, dtype=np.int64)
        self.ego = EgoState(f(b), f(b), f(b), f(b), f(b))
        self.accel = f(b)  # [m/s^2] applied last step
        self.jerk = f(b)  # [m/s^3]
        self.steer_rate = f(b)  # [rad/s]
        self.route = np.full((b, self.max_route_lanes), -1, dtype=np.int64)
        self.route_n = np.ones(b, dtype=np.int64)
        self.route_cum = f((b, self.max_route_lanes))  # [m] route length before each route lane
        self.route_total = np.ones(b)  # [m] progress at the goal
        self.route_i = i(b, dtype=np.int64)
        self.route_s = f(b)  # [m] along the current route lane
        self.start_s = f(b)  # [m] start position along the first lane
        self.lateral = f(b)  # [m] signed lateral error to the route (left positive)
        self.heading_error = f(b)  # [rad]
        self.progress = f(b)  # [m] along the route
        self.best_progress = f(b)
        self.last_progress_t = i(b, dtype=np.int64)
        self.distance = f(b)  # [m] driven
        self.signal_offset = f((b, self.pool.node_xy.shape[1]))  # [s]
        self.cars = Cars(*(i((b, k), dtype=np.int64) for _ in range(2)), *(f((b, k)) for _ in range(3)),
                         np.zeros((b, k), dtype=bool), f((b, k)), f((b, k)), f((b, k)))
        self.peds = Pedestrians(i((b, p), dtype=np.int64), i((b, p), dtype=np.int64), f((b, p)), f((b, p)),
                                np.zeros((b, p), dtype=bool), np.zeros((b, p), dtype=bool),
                                f((b, p)), f((b, p)), f((b, p)), np.zeros((b, p), dtype=bool))
        self.lights = np.zeros((b, self.pool.lane_len.shape[1]), dtype=np.int8)  # (B, L) Light per lane end
        # scenario state: scripted braking, red-light runners, scripted pedestrians
        self.car_brake_until = np.full((b, k), -1.0)  # [s] episode time until which a car brakes hard
        self.car_ignores_lights = np.zeros((b, k), dtype=bool)
        self.car_stopped_time = np.zeros((b, k))  # [s] standing still (gridlock breaker)
        self.ped_script_left = np.zeros((b, p))  # [m] a scripted pedestrian still walks straight
        self.last_events = {name: np.zeros(b, dtype=bool) for name in EVENT_NAMES}

    @property
    def camera(self) -> Camera:
        """The camera sensor (built on first use)."""
        if self._camera is None:
            self._camera = Camera(self.pool, self.rasters, self.raster_origin, self.config.map.raster_resolution,
                                  self.config.camera)
        return self._camera

    @property
    def time(self) -> np.ndarray:
        """(B,) [s] simulated time since reset."""
        return self.t * self.config.dt

    # ------------------------------------------------------------------------------------- reset
    def reset(self, seeds: np.ndarray, episodes: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Start new episodes in `rows` (default all) from (seed, episode) keys."""
        rows = np.arange(self.batch_size) if rows is None else np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        seed = np.asarray(seeds, dtype=np.uint64).reshape(-1)
        episode = np.asarray(episodes, dtype=np.int64).reshape(-1)
        self.seed[rows], self.episode[rows] = seed, episode
        self.t[rows] = 0
        m = rng.integers(self.config.map.pool_size, seed, episode, rng.Stream.MAP_CHOICE)
        self.map_idx[rows] = m
        self._reset_ego_and_route(rows, m, seed, episode)
        self._reset_cars(rows, m, seed, episode)
        self._reset_peds(rows, m, seed, episode)
        self.car_brake_until[rows] = -1.0
        self.car_ignores_lights[rows] = False
        self.car_stopped_time[rows] = 0.0
        self.ped_script_left[rows] = 0.0
        if self.config.scenario.lead_car and self.config.traffic.n_cars:
            self._place_lead_car(rows)
        n_nodes = self.signal_offset.shape[1]
        self.signal_offset[rows] = self.cycle * rng.uniform(seed[:, None], episode[:, None], rng.Stream.SIGNAL_OFFSET,
                                                            np.arange(n_nodes)[None, :])
        if self.config.scenario.green_at_start:
            self._green_at_start(rows)
        self.update_lights()
        for name in self.last_events:
            self.last_events[name][rows] = False

    def _reset_ego_and_route(self, rows: np.ndarray, m: np.ndarray, seed: np.ndarray, episode: np.ndarray) -> None:
        pool, cfg = self.pool, self.config
        lane, s0 = self._ego_start(m, seed, episode)
        link = pool.lane_link[m, lane]
        dist = pool.link_dist[m, link]  # (R, NL)
        lo, hi = cfg.route_length
        ok = np.isfinite(dist) & (dist >= lo) & (dist <= hi)
        wanted = _TURNS.get(cfg.scenario.first_turn)
        if wanted is not None:  # keep goals whose route starts with the wanted manoeuvre
            first = pool.link_next_hop[m[:, None], link[:, None], np.arange(dist.shape[1])[None, :]]
            conn = pool.lane_to_link_connector[m[:, None], lane[:, None], np.maximum(first, 0)]
            turn_ok = (first >= 0) & (conn >= 0) & (pool.lane_turn[m[:, None], np.maximum(conn, 0)] == wanted)
            ok = np.where((ok & turn_ok).any(axis=1, keepdims=True), ok & turn_ok, ok)
        u = rng.uniform(seed[:, None], episode[:, None], rng.Stream.ROUTE_GOAL, np.arange(dist.shape[1])[None, :])
        finite = np.where(np.isfinite(dist), dist, -1.0)
        goal = np.where(ok.any(axis=1), np.argmax(np.where(ok, u, -1.0), axis=1), np.argmax(finite, axis=1))
        route, n = expand_route(pool.link_next_hop, pool.lane_to_link_connector, pool.lane_next, pool.lane_link,
                                m, lane, goal, self.max_route_lanes)
        lengths = np.where(route >= 0, pool.lane_len[m[:, None], np.maximum(route, 0)], 0.0)
        cum = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(lengths, axis=1)[:, :-1]], axis=1)
        last_len = lengths[np.arange(len(rows)), n - 1]
        self.route[rows], self.route_n[rows], self.route_cum[rows] = route, n, cum
        self.route_total[rows] = cum[np.arange(len(rows)), n - 1] + last_len / 2 - s0
        self.route_i[rows], self.route_s[rows], self.start_s[rows] = 0, s0, s0
        x, y, yaw = lane_pose(pool, m, lane, s0)
        self.ego.x[rows], self.ego.y[rows], self.ego.yaw[rows] = x, y, yaw
        for arr in (self.ego.v, self.ego.steer, self.accel, self.jerk, self.steer_rate, self.lateral,
                    self.heading_error, self.progress, self.best_progress, self.distance):
            arr[rows] = 0.0
        self.last_progress_t[rows] = 0

    def _ego_start(self, m: np.ndarray, seed: np.ndarray, episode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start lane and position: a random spawn slot, or one `start_distance` before the stop line
        of a signalised intersection (scenario.start = before_signal)."""
        pool, sc = self.pool, self.config.scenario
        n_slots = pool.spawn_lane.shape[1]
        if sc.start != StartKind.BEFORE_SIGNAL:
            slot = rng.integers(pool.n_spawn[m], seed, episode, rng.Stream.EGO_SPAWN)
            return pool.spawn_lane[m, slot], pool.spawn_s[m, slot]
        lanes = np.arange(pool.lane_len.shape[1])[None, :]
        ends_at_signal = self._lane_is_road[m] & pool.node_signal[m[:, None], self._lane_node[m]]  # (R, L)
        length = pool.lane_len[m]
        lo, hi = sc.start_distance
        ok = ends_at_signal & (length > lo + 5.0) & (lanes < pool.n_lanes[m][:, None])
        u = rng.uniform(seed[:, None], episode[:, None], rng.Stream.EGO_SPAWN, lanes)
        has = ok.any(axis=1)
        start_lane = np.where(has, np.argmax(np.where(ok, u, -1.0), axis=1),
                              pool.spawn_lane[m, rng.integers(pool.n_spawn[m], seed, episode, rng.Stream.EGO_SPAWN)])
        back = lo + (hi - lo) * rng.uniform(seed, episode, rng.Stream.EGO_SPAWN, n_slots + 1)
        start_len = pool.lane_len[m, start_lane]
        s0 = np.where(has, np.clip(start_len - back, 2.0, start_len - 2.0), np.minimum(4.0, start_len / 2))
        return start_lane, s0

    def _reset_cars(self, rows: np.ndarray, m: np.ndarray, seed: np.ndarray, episode: np.ndarray) -> None:
        pool, k = self.pool, self.config.traffic.n_cars
        if k == 0:
            return
        n_slots = pool.spawn_lane.shape[1]
        slots = np.arange(n_slots)[None, :]
        sx, sy, _ = lane_pose(pool, m[:, None], pool.spawn_lane[m], pool.spawn_s[m])
        near_ego = np.hypot(sx - self.ego.x[rows, None], sy - self.ego.y[rows, None]) < SPAWN_CLEARANCE
        valid = (slots < pool.n_spawn[m][:, None]) & ~near_ego
        u = rng.uniform(seed[:, None], episode[:, None], rng.Stream.CAR_SPAWN, slots)
        order = np.argsort(np.where(valid, u, 2.0), axis=1, kind="stable")[:, :k]  # (R, K) distinct slots
        if order.shape[1] < k:
            order = np.pad(order, ((0, 0), (0, k - order.shape[1])))
        active = take(valid, order) & (np.arange(k)[None, :] < n_slots)
        lane = take(pool.spawn_lane[m], order)
        s = take(pool.spawn_s[m], order)
        idx = np.arange(k)[None, :]
        v0 = self.config.traffic.speed_limit * (0.8 + 0.3 * rng.uniform(seed[:, None], episode[:, None],
                                                                          rng.Stream.CAR_SPEED, idx))
        nxt = choose_next(pool, m[:, None], lane, rng.uniform(seed[:, None], episode[:, None], rng.Stream.CAR_TURN, idx))
        x, y, yaw = lane_pose(pool, m[:, None], lane, s)
        c = self.cars
        for arr, val in ((c.lane, lane), (c.next, nxt), (c.s, s), (c.v, 0.5 * v0), (c.v0, v0), (c.active, active),
                         (c.x, x), (c.y, y), (c.yaw, yaw)):
            arr[rows] = val

    def route_position(self, ahead: float | np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lane and arc length [m] of the route point `ahead` metres past the ego (rows of the batch)."""
        here = self.route_cum[rows, self.route_i[rows]] + self.route_s[rows]
        q = here + ahead
        valid = np.arange(self.max_route_lanes)[None, :] < self.route_n[rows, None]
        cum = np.where(valid, self.route_cum[rows], np.inf)
        j = np.maximum((cum <= q[:, None]).sum(axis=1) - 1, 0)
        lane = self.route[rows, j]
        return lane, np.minimum(q - self.route_cum[rows, j], self.pool.lane_len[self.map_idx[rows], lane])

    def _green_at_start(self, rows: np.ndarray) -> None:
        """Shift the first intersection's cycle so the ego's light starts its green phase now."""
        m = self.map_idx[rows]
        lane = self.route[rows, 0]
        node, axis = self._lane_node[m, lane], self._lane_axis[m, lane]
        self.signal_offset[rows, node] = np.mod(axis * self.cycle / 2, self.cycle)

    def _place_lead_car(self, rows: np.ndarray) -> None:
        """Car slot 0 starts LEAD_CAR_GAP ahead of the ego on its route, at rest; cars close to it
        are removed."""
        lane, s = self.route_position(LEAD_CAR_GAP, rows)
        m = self.map_idx[rows]
        x, y, yaw = lane_pose(self.pool, m, lane, s)
        c = self.cars
        nxt = np.where(self.route_n[rows] > 1, self.route[rows, 1], self.pool.lane_next[m, lane, 0])
        nxt = np.where(self.pool.lane_kind[m, lane] == LaneKind.ROAD, nxt, self.pool.lane_next[m, lane, 0])
        for arr, val in ((c.lane, lane), (c.next, nxt), (c.s, s), (c.v, 0.0), (c.x, x), (c.y, y), (c.yaw, yaw),
                         (c.active, True)):
            arr[rows, 0] = val
        near = np.hypot(c.x[rows] - x[:, None], c.y[rows] - y[:, None]) < CAR_LENGTH + 3.0
        near[:, 0] = False
        c.active[rows] &= ~near

    def _reset_peds(self, rows: np.ndarray, m: np.ndarray, seed: np.ndarray, episode: np.ndarray) -> None:
        pool, p = self.pool, self.config.traffic.n_pedestrians
        if p == 0:
            return
        n_seg = pool.ped_len.shape[1]
        segs = np.arange(n_seg)[None, :]
        valid = (segs < pool.n_ped[m][:, None]) & (pool.ped_kind[m] == PedPathKind.SIDEWALK)
        u = rng.uniform(seed[:, None], episode[:, None], rng.Stream.PED_SPAWN, segs)
        seg = np.argsort(np.where(valid, u, 2.0), axis=1, kind="stable")[:, :p]
        idx = np.arange(p)[None, :]
        keys = (seed[:, None], episode[:, None])
        s = rng.uniform(*keys, rng.Stream.PED_SPAWN, idx + n_seg) * pool.ped_len[m[:, None], seg]
        jay = rng.uniform(*keys, rng.Stream.PED_JAYWALK, idx) < self.config.traffic.jaywalk_share
        speed = self.config.traffic.pedestrian_speed * (0.75 + 0.5 * rng.uniform(*keys, rng.Stream.PED_SPEED, idx))
        nxt = choose_next_segment(pool, m[:, None], seg, jay, rng.uniform(*keys, rng.Stream.PED_TURN, idx))
        x, y, yaw = pedestrian_pose(pool, m[:, None], seg, s)
        active = take(valid, seg)
        q = self.peds
        for arr, val in ((q.seg, seg), (q.next, nxt), (q.s, s), (q.speed, speed), (q.jaywalker, jay),
                         (q.active, active), (q.x, x), (q.y, y), (q.yaw, yaw), (q.moving, active)):
            arr[rows] = val

    # -------------------------------------------------------------------------------------- step
    def step(self, action: np.ndarray) -> StepResult:
        """Advance every world by dt with actions (B, 2) in [-1, 1] (already validated)."""
        cfg, dt = self.config, self.config.dt
        prev_progress, prev_accel, prev_steer = self.progress.copy(), self.accel.copy(), self.ego.steer.copy()
        steer, v, accel = actuate(action, self.ego.steer, self.ego.v, cfg.vehicle, dt)
        self.ego = bicycle_step(self.ego, v, steer, cfg.vehicle.wheelbase, dt)
        self.accel, self.jerk, self.steer_rate = accel, (accel - prev_accel) / dt, (steer - prev_steer) / dt
        self.distance += v * dt
        ran_red = self._track_route()
        self.t += 1
        self.update_lights()
        keys = (self.seed, self.episode, self.t)
        self._step_actors(keys)
        if cfg.scenario.events:
            fire_events(self)
        events = self._events(ran_red)
        terms = reward_terms(events, self.progress - prev_progress, self.lateral, self.ego.v, cfg.traffic.speed_limit,
                             self.jerk, self.steer_rate, cfg.vehicle.max_steer_rate, cfg.map.lane_width, cfg.reward, dt)
        reward = np.zeros(self.batch_size)
        for value in terms.values():  # fixed summation order: bit-identical for any batch size
            reward = reward + value
        terminated = np.logical_or.reduce([events[name] for name in TERMINATING])
        truncated = events["timeout"] & ~terminated
        self.last_events = events
        return StepResult(reward, terminated, truncated, terms, events)

    def _step_actors(self, keys: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        cfg, pool, m = self.config, self.pool, self.map_idx
        ped_vel = np.stack([np.cos(self.peds.yaw), np.sin(self.peds.yaw)], axis=-1) * (
            self.peds.speed * self.peds.moving)[..., None]
        ctx = Context(pool, m, self.lights, np.stack([self.peds.x, self.peds.y], axis=-1), ped_vel,
                      on_road(self.peds, pool, m) | (self.ped_script_left > 0), keys, cfg.traffic, cfg.dt,
                      self.time, self.car_brake_until, self.car_ignores_lights)
        if cfg.traffic.n_cars:
            self.cars = step_cars(self.cars, self.ego_vehicle(), ctx)
            self._break_gridlock(keys)
        if cfg.traffic.n_pedestrians:
            axis = np.arange(2)[None, None, :]
            node_walk = walk_signal(self.time[:, None, None], self.signal_offset[:, :, None], axis,
                                    pool.node_signal[m][:, :, None], cfg.traffic)
            car_xy = np.stack([np.concatenate([self.cars.x, self.ego.x[:, None]], axis=1),
                               np.concatenate([self.cars.y, self.ego.y[:, None]], axis=1)], axis=-1)
            car_v = np.concatenate([self.cars.v, self.ego.v[:, None]], axis=1)
            active = np.concatenate([self.cars.active, np.ones((self.batch_size, 1), dtype=bool)], axis=1)
            scripted = self.ped_script_left > 0
            before = (self.peds.x.copy(), self.peds.y.copy()) if scripted.any() else None
            self.peds = step_pedestrians(self.peds, pool, m, node_walk, car_xy, car_v, active, keys, cfg.dt)
            if before is not None:
                self._walk_scripted(scripted, before, cfg.dt)

    def _break_gridlock(self, keys: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Cars that stood still for GRIDLOCK_TIME far from the ego (out of its sensors' sight) move
        to a free spawn slot elsewhere, so jams that no rule resolves dissolve over time."""
        c, dt = self.cars, self.config.dt
        self.car_stopped_time = np.where(c.v < 0.1, self.car_stopped_time + dt, 0.0)
        far = np.hypot(c.x - self.ego.x[:, None], c.y - self.ego.y[:, None]) > GRIDLOCK_DISTANCE
        b, k = np.nonzero((self.car_stopped_time > GRIDLOCK_TIME) & far & c.active & ~self.car_ignores_lights)
        if b.size == 0:
            return
        pool, m = self.pool, self.map_idx[b]
        slot = rng.integers(pool.n_spawn[m], keys[0][b], keys[1][b], keys[2][b], rng.Stream.CAR_SPAWN, k)
        lane, s = pool.spawn_lane[m, slot], pool.spawn_s[m, slot]
        x, y, yaw = lane_pose(pool, m, lane, s)
        clear = (np.hypot(c.x[b] - x[:, None], c.y[b] - y[:, None]) > 2 * CAR_LENGTH).all(axis=1)
        clear &= np.hypot(x - self.ego.x[b], y - self.ego.y[b]) > GRIDLOCK_DISTANCE
        b, k, m, lane, s, x, y, yaw = (a[clear] for a in (b, k, m, lane, s, x, y, yaw))
        u = rng.uniform(keys[0][b], keys[1][b], keys[2][b], rng.Stream.CAR_TURN, k + 7919)
        for arr, val in ((c.lane, lane), (c.next, choose_next(pool, m, lane, u)), (c.s, s), (c.v, 0.0), (c.x, x),
                         (c.y, y), (c.yaw, yaw)):
            arr[b, k] = val
        self.car_stopped_time[b, k] = 0.0

    def _walk_scripted(self, scripted: np.ndarray, before: tuple[np.ndarray, np.ndarray], dt: float) -> None:
        """Scripted pedestrians walk straight along their heading, then leave the scene."""
        p, step = self.peds, self.peds.speed * dt
        x = np.where(scripted, before[0] + step * np.cos(p.yaw), p.x)
        y = np.where(scripted, before[1] + step * np.sin(p.yaw), p.y)
        self.ped_script_left = np.where(scripted, self.ped_script_left - step, 0.0)
        done = scripted & (self.ped_script_left <= 0)
        self.peds = p._replace(x=x, y=y, active=p.active & ~done, moving=p.moving | scripted)

    def ego_vehicle(self) -> Vehicle:
        """The ego as a lane-bound vehicle for NPC reasoning."""
        rows = np.arange(self.batch_size)
        lane = self.route[rows, self.route_i]
        nxt = np.where(self.route_i + 1 < self.route_n, self.route[rows, np.minimum(self.route_i + 1,
                                                                                    self.max_route_lanes - 1)], -1)
        veh = self.config.vehicle
        on_lane = np.abs(self.lateral) < ON_LANE_DISTANCE
        return Vehicle(lane, nxt, self.route_s, self.ego.v, on_lane, self.ego.x, self.ego.y, self.ego.yaw,
                       veh.length, veh.width)

    def update_lights(self) -> None:
        """Lights per (intersection, axis), then gathered to (B, L) per lane end."""
        m = self.map_idx
        node_lights = light_state(self.time[:, None, None], self.signal_offset[:, :, None], np.arange(2)[None, None, :],
                                  self.pool.node_signal[m][:, :, None], self.config.traffic)  # (B, N, 2)
        rows = np.arange(self.batch_size)[:, None]
        lights = node_lights[rows, self._lane_node[m], self._lane_axis[m]]
        self.lights = np.where(self._lane_is_road[m], lights, Light.NONE).astype(np.int8)

    def _track_route(self) -> np.ndarray:
        """Project the ego onto its current and next route lanes; advance along the route.
        Returns (B,) bool: the ego crossed a stop line on red this step."""
        pool, m, rows = self.pool, self.map_idx, np.arange(self.batch_size)
        i = self.route_i
        has_next = i + 1 < self.route_n
        lane = self.route[rows, i]
        nxt = self.route[rows, np.minimum(i + 1, self.max_route_lanes - 1)]
        s_a, lat_a, d_a = project_to_lane(pool, m, lane, self.ego.x, self.ego.y)
        s_b, lat_b, d_b = project_to_lane(pool, m, np.maximum(nxt, 0), self.ego.x, self.ego.y)
        length = pool.lane_len[m, lane]
        advance = has_next & ((d_b < d_a) | (s_a > length))
        ran_red = advance & (take(self.lights, lane[:, None])[:, 0] == Light.RED)
        self.route_i = np.where(advance, i + 1, i)
        self.route_s = np.where(advance, s_b, np.minimum(s_a, length + 5.0))
        self.lateral = np.where(advance, lat_b, lat_a)
        lane = self.route[rows, self.route_i]
        _, _, lane_yaw = lane_pose(pool, m, lane, self.route_s)
        self.heading_error = wrap_angle(self.ego.yaw - lane_yaw)
        self.progress = self.route_cum[rows, self.route_i] + self.route_s - self.start_s
        improved = self.progress > self.best_progress + PROGRESS_EPS
        self.best_progress = np.where(improved, self.progress, self.best_progress)
        self.last_progress_t = np.where(improved, self.t + 1, self.last_progress_t)
        return ran_red

    def _events(self, ran_red: np.ndarray) -> dict[str, np.ndarray]:
        cfg, pool, m = self.config, self.pool, self.map_idx
        col = detect_collisions(self.ego.x, self.ego.y, self.ego.yaw, cfg.vehicle,
                                (self.cars.x, self.cars.y, self.cars.yaw), self.cars.active,
                                (self.peds.x, self.peds.y), self.peds.active,
                                self.rasters, m, self.raster_origin, cfg.map.raster_resolution)
        lane = self.route[np.arange(self.batch_size), self.route_i]
        on_road = pool.lane_kind[m, lane] == LaneKind.ROAD
        beyond_centre = self.lateral > pool.lane_offset[m, lane] + 0.5
        wrong_way = on_road & ((np.abs(self.heading_error) > 0.5 * np.pi) | beyond_centre)
        stuck_steps = int(round(cfg.stuck_time / cfg.dt))
        return {
            "collision_vehicle": col.vehicle,
            "collision_pedestrian": col.pedestrian,
            "collision_static": col.static,
            "red_light": ran_red,
            "off_road": col.off_road,
            "wrong_way": wrong_way,
            "goal": self.progress >= self.route_total,
            "off_route": np.abs(self.lateral) > cfg.off_route_distance,
            "stuck": self.t - self.last_progress_t >= stuck_steps,
            "timeout": self.t >= cfg.max_episode_steps,
        }

    # ------------------------------------------------------------------------------ route views
    def route_command(self) -> np.ndarray:
        """(B,) Turn: the manoeuvre at the next intersection within COMMAND_DISTANCE, else FOLLOW."""
        pool, m, rows = self.pool, self.map_idx, np.arange(self.batch_size)
        lane = self.route[rows, self.route_i]
        nxt = self.route[rows, np.minimum(self.route_i + 1, self.max_route_lanes - 1)]
        has_next = self.route_i + 1 < self.route_n
        on_connector = pool.lane_kind[m, lane] == LaneKind.CONNECTOR
        near = has_next & (pool.lane_len[m, lane] - self.route_s < COMMAND_DISTANCE)
        upcoming = np.where(near, pool.lane_turn[m, np.maximum(nxt, 0)], Turn.FOLLOW)
        return np.where(on_connector, pool.lane_turn[m, lane], upcoming)

    def next_stop_line(self) -> tuple[np.ndarray, np.ndarray]:
        """(B,) distance [m] from the ego's front to the next stop line on its route (inf if none)
        and (B,) Light facing the ego there."""
        pool, m, rows = self.pool, self.map_idx, np.arange(self.batch_size)
        lane = self.route[rows, self.route_i]
        on_connector = pool.lane_kind[m, lane] == LaneKind.CONNECTOR
        j = np.minimum(self.route_i + on_connector, self.max_route_lanes - 1)
        road = self.route[rows, j]
        exists = (road >= 0) & (self.route_i + on_connector < self.route_n - 1)
        road = np.maximum(road, 0)
        before = np.where(on_connector, pool.lane_len[m, lane] - self.route_s, -self.route_s)
        dist = before + pool.lane_len[m, road] - self.config.vehicle.length / 2
        light = take(self.lights, road[:, None])[:, 0]
        return np.where(exists, dist, np.inf), np.where(exists, light, Light.NONE).astype(np.int8)


def _crossing_approaches(pool) -> np.ndarray:
    """(M, N, 2): for every intersection and travel axis, one incoming road lane (outermost), or -1."""
    out = np.full((*pool.node_xy.shape[:2], 2), -1, dtype=np.int64)
    for mi, city in enumerate(pool.maps):  # once at construction
        for lane in np.flatnonzero(city.lane_kind == LaneKind.ROAD):
            out[mi, city.lane_node[lane], city.lane_axis[lane]] = lane
    return out
