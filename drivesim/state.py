"""The simulator's explicit state: a NamedTuple of typed record tables with a leading batch axis B.

`World` owns one `SimState`; only the compiled reset and step kernels write it. Car slot
`ego[b].car` of world b is the car the policy controls (a kinematic bicycle); every other active
slot is an NPC driven by the driver model. Capacities (C cars, P pedestrians, R route lanes) are
the batch maxima; a world only ever touches its own slots (`WorldParams` n_cars, n_peds), so its
evolution does not depend on what else shares the batch.

Each table is a structured array (one record per world, car or pedestrian) rather than one array
per field: the kernels read `cars[w, i].x`, the Python side `state.cars["x"]` or the recarray
views of `World`. (numba compiles every function for its argument types, and the time grows with
the number of arrays in the signature; see docs/design.md.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CLOCK = np.dtype([
    ("seed", np.uint64),  # world seed
    ("episode", np.int64),  # episode counter (keys the random draws of an episode)
    ("t", np.int64),  # steps since reset
    ("map", np.int64),  # pool index of the world's map
], align=True)
CAR = np.dtype([
    ("x", np.float64), ("y", np.float64),  # [m] centre
    ("yaw", np.float64),  # [rad]
    ("v", np.float64),  # [m/s]
    ("steer", np.float64),  # [rad] front wheel angle (controlled cars)
    ("accel", np.float64),  # [m/s^2] applied last step
    ("lane", np.int64),  # lane (NPC: where it drives; controlled: its current route lane)
    ("next", np.int64),  # successor lane already chosen (-1: none known)
    ("s", np.float64),  # [m] centre position along `lane`
    ("v0", np.float64),  # [m/s] desired speed (NPC)
    ("length", np.float64), ("width", np.float64),  # [m]
    ("active", np.bool_),  # the slot holds a car
    ("controlled", np.bool_),  # driven by actions, not by the driver model
    ("on_lane", np.bool_),  # close enough to `lane` for the others to treat it as in it
    ("brake_until", np.float64),  # [s] episode time until which the car brakes hard (scripted)
    ("ignores_lights", np.bool_),  # runs red lights and claims right of way (scripted)
    ("stopped_time", np.float64),  # [s] standing still (gridlock breaker)
    ("holding", np.bool_),  # decided last step to wait at its stop line (it claims no right of way then)
], align=True)
ROUTE = np.dtype([
    ("n", np.int64),  # number of route lanes (road, connector, road, ...)
    ("total", np.float64),  # [m] progress at the goal
    ("i", np.int64),  # index of the current route lane
    ("s", np.float64),  # [m] along the current route lane
    ("start_s", np.float64),  # [m] start position along the first lane
    ("lateral", np.float64),  # [m] signed lateral error to the route (left positive)
    ("heading_error", np.float64),  # [rad]
    ("progress", np.float64),  # [m] along the route
    ("best_progress", np.float64),  # [m]
    ("last_progress_t", np.int64),  # step of the last progress (stuck detection)
], align=True)
EGO = np.dtype([
    ("car", np.int64),  # car slot the policy controls
    ("jerk", np.float64),  # [m/s^3]
    ("steer_rate", np.float64),  # [rad/s]
    ("distance", np.float64),  # [m] driven this episode
], align=True)
PEDESTRIAN = np.dtype([
    ("seg", np.int64),  # path segment
    ("next", np.int64),  # segment chosen to take next
    ("s", np.float64),  # [m] along the segment
    ("speed", np.float64),  # [m/s] walking speed
    ("jaywalker", np.bool_),
    ("active", np.bool_),
    ("x", np.float64), ("y", np.float64),  # [m] path point + sideways offset
    ("yaw", np.float64),  # [rad] walking direction
    ("ox", np.float64), ("oy", np.float64),  # [m] sideways offset from the path's centre line (keeping right)
    ("vx", np.float64), ("vy", np.float64),  # [m/s] velocity over the last step (world frame)
    ("moving", np.bool_),  # walked this step (False while waiting at a kerb)
    ("script_left", np.float64),  # [m] a scripted pedestrian still walks straight this far (0: not scripted)
    ("blocker", np.int64),  # pedestrian it waited for last step to keep its personal space (-1: none)
], align=True)


TRAIL = np.dtype([
    ("x", np.float64), ("y", np.float64),  # [m]
    ("yaw", np.float64),  # [rad]
    ("active", np.bool_),
], align=True)


class SimState(NamedTuple):
    clock: np.ndarray  # (B,) CLOCK
    cars: np.ndarray  # (B, C) CAR
    route: np.ndarray  # (B,) ROUTE, the controlled car's route and its progress
    route_lanes: np.ndarray  # (B, R) int lane ids of the route, padded with -1
    route_cum: np.ndarray  # (B, R) [m] route length before each route lane
    ego: np.ndarray  # (B,) EGO
    peds: np.ndarray  # (B, P) PEDESTRIAN
    signal_offset: np.ndarray  # (B, N) [s] per-intersection cycle offset
    lights: np.ndarray  # (B, L) int8 Light facing each lane's end (NONE for connectors / unsignalised)
    trail: np.ndarray  # (B, H, C + P) TRAIL: cars, then pedestrians, at each of the last H steps (actors/trail.py)
    trail_lights: np.ndarray  # (B, H, L) int8: the lights at each of the last H steps


def allocate(b: int, cars: int, peds: int, route_lanes: int, nodes: int, lanes: int, history: int = 0) -> SimState:
    """Zeroed state for b worlds with room for `cars` cars (the controlled one included), `peds`
    pedestrians and `route_lanes` route lanes; `nodes` and `lanes` are the map pool's padded sizes;
    `history` steps of actor trail (0: none kept)."""
    car = np.zeros((b, cars), dtype=CAR)
    car["next"], car["brake_until"] = -1, -1.0
    route = np.zeros(b, dtype=ROUTE)
    route["n"], route["total"] = 1, 1.0
    ped = np.zeros((b, peds), dtype=PEDESTRIAN)
    ped["blocker"] = -1
    return SimState(np.zeros(b, dtype=CLOCK), car, route, np.full((b, route_lanes), -1, dtype=np.int64),
                    np.zeros((b, route_lanes)), np.zeros(b, dtype=EGO), ped,
                    np.zeros((b, nodes)), np.zeros((b, lanes), dtype=np.int8),
                    np.zeros((b, history, cars + peds), dtype=TRAIL), np.zeros((b, history, lanes), dtype=np.int8))


def copy_state(state: SimState) -> SimState:
    """A deep copy (snapshots for tests and tools)."""
    return SimState(*(a.copy() for a in state))
