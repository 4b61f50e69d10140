"""The World: a thin owner of one batch's explicit state, its map pool, per-world parameters and
sensors. Only the compiled kernels (`drivesim.reset`, `drivesim.step`) write the state; the
properties below are read-only views for the Python side (renderers, agents, tools).

A batch may mix scenarios: pass one EnvConfig per world. Worlds share what defines the spaces
(vehicle, lidar, camera, observation keys, dt); everything else is per world. World i seeded s
evolves exactly like a single world with the same config and seed, whatever shares its batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from drivesim.config import EnvConfig
from drivesim.events import EVENT_NAMES, REWARD_TERMS
from drivesim.map.city import MapPool
from drivesim.map.pool import build_pool
from drivesim.params import SharedParams, WorldParams, check_shared, shared_params, world_params
from drivesim.reset import reset_worlds
from drivesim.route import RouteView
from drivesim.sensors.camera import Camera, CameraLabels
from drivesim.sensors.clock import clock_vector
from drivesim.sensors.junction import junction_vector
from drivesim.sensors.raycast import beam_offsets
from drivesim.sensors.signal import signal_vector
from drivesim.sensors.state import STATE_DIM
from drivesim.sensors.stopping import stopping_vector
from drivesim.sensors.surface import surface_grid
from drivesim.sensors.waypoints import ROUTE_DIM, WAYPOINT_DISTANCES
from drivesim.state import SimState, allocate
from drivesim.step import OBSERVE, SKIP, STEP, Sensors, StepOutput, step_batch
from drivesim.workspace import Workspace, allocate_workspace

_EMPTY_F32 = np.zeros((0, 0), dtype=np.float32)
_EMPTY_I64 = np.zeros((0, 0), dtype=np.int64)
_WAYPOINTS = np.array(WAYPOINT_DISTANCES)  # [m]
# observations read off the state on demand
_STATE_VECTORS = {"clock": clock_vector, "junction": junction_vector, "surface": surface_grid,
                  "signal": signal_vector, "stopping": stopping_vector}


class StepResult(NamedTuple):
    reward: np.ndarray  # (B,) float64
    terminated: np.ndarray  # (B,) bool
    truncated: np.ndarray  # (B,) bool
    terms: dict[str, np.ndarray]  # reward term -> (B,) weighted value
    events: dict[str, np.ndarray]  # event -> (B,) bool


class EgoView(NamedTuple):
    """The controlled car of every world (copies, (B,) each)."""

    x: np.ndarray  # [m]
    y: np.ndarray  # [m]
    yaw: np.ndarray  # [rad]
    v: np.ndarray  # [m/s]
    steer: np.ndarray  # [rad]


class World:
    """B worlds stepped together. `World(config, B)` runs B worlds of one config; `World(configs)`
    one world per config (a mixed batch). Call `reset` before `step`."""

    def __init__(self, config: EnvConfig | Sequence[EnvConfig], batch_size: int | None = None) -> None:
        configs = [config] * (1 if batch_size is None else batch_size) if isinstance(config, EnvConfig) else list(config)
        if batch_size is not None and len(configs) != batch_size:
            raise ValueError(f"batch_size={batch_size} but {len(configs)} configs were given")
        if not configs:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.configs = tuple(configs)
        self.config = check_shared(self.configs)
        self.batch_size = len(configs)
        self.maps, first = build_pool([c.map for c in configs])
        self.params: WorldParams = world_params(configs, first)
        self.shared: SharedParams = shared_params(self.config)
        k = self.maps.kernel
        cars = 1 + int(self.params.world["n_cars"].max())
        peds = int(self.params.world["n_peds"].max())
        self.state: SimState = allocate(self.batch_size, cars, peds, self._route_capacity(first), k.nodes.shape[1],
                                        k.lanes.shape[1], self.config.camera.history)
        keys = max(int(self.maps.n_spawn.max()), int(self.maps.n_ped.max()), int(self.maps.n_buildings.max()), cars,
                   peds, 1)
        self.workspace: Workspace = allocate_workspace(self.batch_size, cars, peds, self.shared.lidar_beams, keys,
                                                       k.lanes.shape[1])
        self.route = RouteView(self)
        self._beams = beam_offsets(self.shared.lidar_beams, self.shared.lidar_fov)
        self._sensors: Sensors | None = None  # filled by the last reset/step
        self._camera: Camera | None = None

    def _route_capacity(self, first: dict) -> int:
        """Route lanes a route can need: shortest paths of at most route_length[1] metres."""
        need = 4
        for cfg in set(self.configs):
            lo = first[cfg.map]
            maps = self.maps.maps[lo: lo + cfg.map.pool_size]
            min_link = float(min(m.lane_len[m.link_lanes[:, 0]].min() for m in maps)) + 10.0
            need = max(need, 2 * int(math.ceil(cfg.route_length[1] / min_link)) + 5)
        return need

    # ------------------------------------------------------------------------------- views
    @property
    def pool(self) -> MapPool:
        return self.maps

    @property
    def camera(self) -> Camera:
        """The camera sensor (built on first use)."""
        if self._camera is None:
            self._camera = Camera(self.maps, self.config.camera, self.config.vehicle)
        return self._camera

    @property
    def map_idx(self) -> np.ndarray:
        """(B,) pool index of each world's map."""
        return self.state.clock["map"]

    @property
    def t(self) -> np.ndarray:
        """(B,) steps since reset."""
        return self.state.clock["t"]

    @property
    def time(self) -> np.ndarray:
        """(B,) [s] simulated time since reset."""
        return self.state.clock["t"] * self.shared.dt

    @property
    def pose(self) -> np.ndarray:
        """(B, 3) the controlled car's world pose (x [m], y [m], yaw [rad]), as odometry gives it."""
        ego = self.state.cars[np.arange(self.batch_size), self.state.ego["car"]]
        return np.stack([ego["x"], ego["y"], ego["yaw"]], axis=1)

    @property
    def ego(self) -> EgoView:
        """The controlled cars (copies)."""
        c = self.state.cars[np.arange(self.batch_size), self.state.ego["car"]]
        return EgoView(c["x"], c["y"], c["yaw"], c["v"], c["steer"])

    @property
    def cars(self) -> np.recarray:
        """Every car slot (B, C) as a record view (`cars.x` ...); `controlled` marks the policy's car."""
        return self.state.cars.view(np.recarray)

    @property
    def peds(self) -> np.recarray:
        """Every pedestrian slot (B, P) as a record view."""
        return self.state.peds.view(np.recarray)

    @property
    def lights(self) -> np.ndarray:
        """(B, L) Light facing each lane's end."""
        return self.state.lights

    @property
    def progress(self) -> np.ndarray:
        """(B,) [m] along the route."""
        return self.state.route["progress"]

    @property
    def route_total(self) -> np.ndarray:
        """(B,) [m] route length (progress at the goal)."""
        return self.state.route["total"]

    @property
    def distance(self) -> np.ndarray:
        """(B,) [m] driven this episode."""
        return self.state.ego["distance"]

    @property
    def route_completion(self) -> np.ndarray:
        return np.clip(self.progress / self.route_total, 0.0, 1.0)

    # ------------------------------------------------------------------------------- dynamics
    def reset(self, seeds: np.ndarray, episodes: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Start new episodes in `rows` (default all) from (seed, episode) keys."""
        rows = np.arange(self.batch_size) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size == 0:
            return
        seeds = np.broadcast_to(np.asarray(seeds, dtype=np.uint64).reshape(-1), rows.shape)
        episodes = np.broadcast_to(np.asarray(episodes, dtype=np.int64).reshape(-1), rows.shape)
        reset_worlds(self.maps.kernel, self.params, self.shared, self.state, self.workspace, np.ascontiguousarray(rows),
                     np.ascontiguousarray(seeds), np.ascontiguousarray(episodes))
        # sensors of the other worlds stay valid; the arrays handed out before are never changed
        previous = self._sensors
        self._sensors = self._new_sensors() if previous is None else Sensors(
            previous.lidar.copy(), previous.lidar_class.copy(), previous.state.copy(), self._beams,
            previous.route.copy(), _WAYPOINTS)
        mode = np.full(self.batch_size, SKIP if previous is not None else OBSERVE, dtype=np.int8)
        mode[rows] = OBSERVE
        self._run(np.zeros((self.batch_size, 2)), self._sensors, mode)

    def step(self, action: np.ndarray) -> StepResult:
        """Advance every world by dt with actions (B, 2) in [-1, 1] (already validated); the lidar
        and state observations of the new state are computed in the same pass."""
        sensors = self._new_sensors()
        out = self._run(np.ascontiguousarray(action, dtype=np.float64), sensors,
                        np.full(self.batch_size, STEP, dtype=np.int8))
        self._sensors = sensors
        return StepResult(out.reward, out.terminated, out.truncated,
                          {name: out.terms[:, i] for i, name in enumerate(REWARD_TERMS)},
                          {name: out.events[:, i] for i, name in enumerate(EVENT_NAMES)})

    def _run(self, actions: np.ndarray, sensors: Sensors, mode: np.ndarray) -> StepOutput:
        b = self.batch_size
        out = StepOutput(np.empty(b), np.empty(b, dtype=bool), np.empty(b, dtype=bool),
                         np.empty((b, len(REWARD_TERMS))), np.empty((b, len(EVENT_NAMES)), dtype=bool))
        step_batch(self.maps.kernel, self.params, self.shared, self.state, self.workspace, actions, out, sensors, mode)
        return out

    def _new_sensors(self) -> Sensors:
        keys, b, n = self.config.observations, self.batch_size, self.shared.lidar_beams
        lidar = "lidar" in keys
        return Sensors(np.empty((b, n), dtype=np.float32) if lidar else _EMPTY_F32,
                       np.empty((b, n), dtype=np.int64) if lidar else _EMPTY_I64,
                       np.empty((b, STATE_DIM), dtype=np.float32) if "state" in keys else _EMPTY_F32, self._beams,
                       np.empty((b, ROUTE_DIM), dtype=np.float32) if "route" in keys else _EMPTY_F32, _WAYPOINTS)

    def observe(self, rows: np.ndarray | None = None,
                previous: tuple[dict[str, np.ndarray], CameraLabels | None] | None = None, in_place: bool = False
                ) -> tuple[dict[str, np.ndarray], CameraLabels | None]:
        """Batched observation of the current state (every value has a leading axis B) and, when the
        camera or `camera_labels` is on, the camera's labels (from the same render pass). Call `reset`
        first. With `rows` and `previous` (an observation of the same state except in those worlds,
        e.g. before resetting them) the camera, its labels and the vectors read off the state are
        computed for those worlds only (the rest is copied: bit-identical either way); with
        `in_place` the previous arrays are rewritten in those rows instead of copied (the caller
        gives them up: no one else may hold them)."""
        if self._sensors is None:
            raise RuntimeError("call reset() before observe()")
        last_obs, last_labels = previous if rows is not None and previous is not None else ({}, None)
        obs: dict[str, np.ndarray] = {}
        labels = None
        if "camera" in self.config.observations and self.config.camera.history:
            last = None if last_labels is None else (last_obs["camera"], last_obs["camera_history"], last_labels)
            obs["camera"], obs["camera_history"], labels = self.camera.render_with_history(
                self, rows if last is not None else None, last, in_place)
        elif "camera" in self.config.observations:
            obs["camera"], labels = self.camera.render(self)
        elif self.config.camera_labels:  # labels without frames (the oracle's)
            labels = self.camera.labels(self, rows if last_labels is not None else None, last_labels, in_place)
        for key in self.config.observations:
            if key == "lidar":
                obs["lidar"], obs["lidar_class"] = self._sensors.lidar, self._sensors.lidar_class
            elif key in ("state", "route"):
                obs[key] = getattr(self._sensors, key)
            elif key in _STATE_VECTORS:
                obs[key] = (_STATE_VECTORS[key](self, rows, last_obs[key] if in_place else last_obs[key].copy())
                            if key in last_obs
                            else _STATE_VECTORS[key](self))
        return obs, labels
