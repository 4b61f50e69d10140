"""The `junction` observation: whether the controlled car is inside an intersection (on a connector,
past its stop line) and how far through it, as values in [0, 1].

Why: inside the junction the driver model no longer holds for the light or the right of way, only
for what is directly in its way, and it drives on through a left turn while oncoming cars wait for
it. The state vector does not say so: past the stop line its stop-line distance jumps to the next
junction's and its light to that junction's light, so a car in mid-turn reads like one on an open
road with oncoming traffic crossing its path (the eighth session traced cloned policies slowing
there and being hit). Measured on oracle clones over two training seeds it did not help (+0.005,
vehicle collisions as many: most are decided at the stop line; docs/agents.md, ninth session), so
policies read it only with `--junction`. Compiled per world, over the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim.arrays import batch_rows
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import LaneKind, MapArrays
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

JUNCTION_SCALE = 30.0  # [m] the distance left to the junction's exit is divided by this, clipped to 1
JUNCTION_FIELDS = (
    "in_junction",  # 1 on a connector (inside the intersection), else 0
    "junction_through",  # the share of the connector's length already driven (0 outside)
    "junction_left",  # the distance left to the connector's end / 30 m, clipped (0 outside)
)
JUNCTION_DIM = len(JUNCTION_FIELDS)
_CONNECTOR = int(LaneKind.CONNECTOR)


@inner
def junction_world(maps: MapArrays, state: SimState, w: int, out: np.ndarray) -> None:
    """World w's junction values into out (JUNCTION_DIM,) float32."""
    r = state.route[w]
    lane = maps.lanes[state.clock[w].map, state.route_lanes[w, r.i]]
    out[:] = 0.0
    if lane.kind == _CONNECTOR:
        s = min(max(r.s, 0.0), lane.length)
        out[0] = 1.0
        out[1] = s / max(lane.length, 1e-6)
        out[2] = min((lane.length - s) / JUNCTION_SCALE, 1.0)


@parallel_kernel
def _junction_batch(maps: MapArrays, state: SimState, rows: np.ndarray, out: np.ndarray) -> None:
    for index in prange(rows.shape[0]):
        w = rows[np.int64(index)]  # prange counts in uint64: back to the kernels' int64
        junction_world(maps, state, w, out[w])


def junction_vector(world: World, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, JUNCTION_DIM) float32 in [0, 1] of the current state.
    With `rows` (R,) int64 only those worlds are computed, into `out` (the others keep its
    values: e.g. after resetting some worlds)."""
    out = np.empty((world.batch_size, JUNCTION_DIM), dtype=np.float32) if out is None else out
    _junction_batch(world.maps.kernel, world.state, batch_rows(world.batch_size, rows), out)
    return out
