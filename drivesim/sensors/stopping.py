"""The `stopping` observation: the braking that a stop at the next stop line on the route needs,
v^2 / (2 d) for a car at speed v with its front bumper d before the line, as shares of
comfortable braking (COMFORT_BRAKE, halved and clipped to [0, 1]: 0.5 is the boundary) and of the
car's full braking (`VehicleConfig.max_brake`, clipped to [0, 1]: 1 means it cannot stop before
the line); zeros where the route has no stop line ahead or the car stands.

Why: at yellow the autopilot stops when it can do so comfortably and goes on when it cannot
(`actors/driver.py` `decide`: d > v^2 / (2 b)), a sharp boundary in speed and distance that the
state vector holds only as two separate values. Policies cloned from it without this went on at
yellow where the autopilot braked, and ran the red (the shipped policy's last red lights,
docs/agents.md, fourteenth session). With the needed braking as one input the boundary is one
threshold. Compiled per world, over the batch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim import route as routing
from drivesim.arrays import batch_rows
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapArrays
from drivesim.params import SharedParams
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

COMFORT_BRAKE = 3.0  # [m/s^2] comfortable braking: the autopilot's IDM b (AutopilotConfig.decel), which at
# yellow stops when this is enough and goes on when it is not
STOPPING_FIELDS = (
    "stop_comfort",  # needed braking / COMFORT_BRAKE / 2, clipped to [0, 1] (0.5: just comfortable)
    "stop_full",  # needed braking / the car's full braking, clipped to [0, 1] (1: it cannot stop before the line)
)
STOPPING_DIM = len(STOPPING_FIELDS)
_MIN_DISTANCE = 0.05  # [m] a line this close (or passed by the front bumper) needs more braking than any car has


@inner
def needed_braking(v: float, d: float) -> float:
    """[m/s^2] the constant deceleration that stops a car at speed v [m/s] in d [m] (inf if d is
    about 0 or less and the car moves, 0 if it stands or d is inf)."""
    if v <= 0.0 or math.isinf(d):
        return 0.0
    if d < _MIN_DISTANCE:
        return math.inf
    return v * v / (2.0 * d)


@inner
def stopping_world(maps: MapArrays, shared: SharedParams, state: SimState, w: int, out: np.ndarray) -> None:
    """World w's stopping vector into out (STOPPING_DIM,) float32."""
    car = state.cars[w, state.ego[w].car]
    d, _, _, _ = routing.next_stop_line(maps, state, state.clock[w].map, w, car.length)
    need = needed_braking(car.v, d)
    out[0] = min(need / COMFORT_BRAKE / 2.0, 1.0)
    out[1] = min(need / shared.max_brake, 1.0)


@parallel_kernel
def _stopping_batch(maps: MapArrays, shared: SharedParams, state: SimState, rows: np.ndarray, out: np.ndarray) -> None:
    for index in prange(rows.shape[0]):
        w = rows[np.int64(index)]  # prange counts in uint64: back to the kernels' int64
        stopping_world(maps, shared, state, w, out[w])


def stopping_vector(world: World, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, STOPPING_DIM) float32 in [0, 1] of the current state.
    With `rows` (R,) int64 only those worlds are computed, into `out` (the others keep its
    values: e.g. after resetting some worlds)."""
    out = np.empty((world.batch_size, STOPPING_DIM), dtype=np.float32) if out is None else out
    _stopping_batch(world.maps.kernel, world.shared, world.state, batch_rows(world.batch_size, rows), out)
    return out
