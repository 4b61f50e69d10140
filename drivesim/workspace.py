"""Per-world scratch space the kernels reuse every step, allocated once per World.

The kernels below the entry points allocate nothing: they are compiled without numba's reference
counting (which costs an atomic increment and decrement on every array a function touches, about
a quarter of a microsecond per call) and write their temporaries into rows of these tables. Each
world uses only its own row, so worlds stepped in parallel never share a buffer."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from drivesim.actors.driver import CAR_VIEW, MAX_SAMPLES, PED_VIEW

KEY = np.dtype([("key", np.float64), ("order", np.int64), ("taken", np.bool_)], align=True)  # k-smallest selection
BEAM = np.dtype([
    ("offset", np.float64),  # [rad] relative to the heading
    ("cos", np.float64), ("sin", np.float64),  # world-frame direction
    ("range", np.float64),  # [m] nearest hit so far
    ("cls", np.int64),  # LidarHit of that hit
], align=True)


class Workspace(NamedTuple):
    cars: np.ndarray  # (B, C) CAR_VIEW: what the drivers see of every car this step, NPC accelerations, hits
    peds: np.ndarray  # (B, P) PED_VIEW: pedestrian velocities, the ones near the road, hits
    keys: np.ndarray  # (B, K) KEY: sort keys (spawn slots, lidar candidates)
    beams: np.ndarray  # (B, N) BEAM
    samples: np.ndarray  # (B, MAX_SAMPLES, 2) [m] points along a driver's path
    lane_head: np.ndarray  # (B, L) int: the first car of each lane (lists through CAR_VIEW.next_on_lane)


def allocate_workspace(b: int, cars: int, peds: int, beams: int, keys: int, lanes: int) -> Workspace:
    """Scratch for b worlds of up to `cars` cars and `peds` pedestrians, `beams` lidar beams, and
    `keys` sort keys (the largest of spawn slots, pedestrian segments, buildings and actors)."""
    return Workspace(np.zeros((b, cars), dtype=CAR_VIEW), np.zeros((b, peds), dtype=PED_VIEW),
                     np.zeros((b, keys), dtype=KEY), np.zeros((b, beams), dtype=BEAM), np.zeros((b, MAX_SAMPLES, 2)),
                     np.full((b, lanes), -1, dtype=np.int64))
