"""The `signal` observation: the timing of the light at the next stop line on the route, as a
connected car reads it from the intersection's signal phase and timing broadcast (SPaT, SAE J2735)
or a countdown display: how long the light has shown its colour and how long until it changes,
in seconds / SIGNAL_SCALE, clipped to [0, 1]; zeros where that stop line has no light.

Why: the light's colour alone does not say whether a car waiting at its line can still cross on
yellow. The autopilot turns left from the line when its light turns yellow only if it crosses
before red (`actors/driver.py` `clears_on_yellow`), which the colour cannot tell, and policies
cloned from it without the timing went on yellow from the line when the autopilot braked (the
eleventh session's red lights on the suite). The state vector keeps its 16 values (the layout of
shipped policies); the timing is read only when asked. Compiled per world, over the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim import route as routing
from drivesim.actors.signals import Light, colour_span, phase
from drivesim.arrays import batch_rows
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapArrays
from drivesim.params import SharedParams, WorldParams
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

SIGNAL_SCALE = 20.0  # [s] times are divided by this and clipped to 1 (a default red lasts 18 s)
SIGNAL_FIELDS = (
    "signal_elapsed",  # time since the light at the next stop line took its colour / 20 s, clipped (0: no light)
    "signal_left",  # time until it changes colour / 20 s, clipped (0: no light)
)
SIGNAL_DIM = len(SIGNAL_FIELDS)
_NONE = int(Light.NONE)


@inner
def signal_world(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, w: int,
                 out: np.ndarray) -> None:
    """World w's signal timing into out (SIGNAL_DIM,) float32."""
    m, world = state.clock[w].map, params.world[w]
    car = state.cars[w, state.ego[w].car]
    _, light, road, _ = routing.next_stop_line(maps, state, m, w, car.length)
    out[:] = 0.0
    if light == _NONE:
        return
    lane = maps.lanes[m, road]
    green, yellow, all_red = world.green_time, world.yellow_time, world.all_red_time
    # the lights were set at this time in the step (and at 0 on reset): the same phase
    tau = phase(state.clock[w].t * shared.dt, state.signal_offset[w, lane.node], lane.axis, green, yellow, all_red)
    start, end = colour_span(light, green, yellow, all_red)
    out[0] = min(max(tau - start, 0.0) / SIGNAL_SCALE, 1.0)
    out[1] = min(max(end - tau, 0.0) / SIGNAL_SCALE, 1.0)


@parallel_kernel
def _signal_batch(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, rows: np.ndarray,
                  out: np.ndarray) -> None:
    for index in prange(rows.shape[0]):
        w = rows[np.int64(index)]  # prange counts in uint64: back to the kernels' int64
        signal_world(maps, params, shared, state, w, out[w])


def signal_vector(world: World, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, SIGNAL_DIM) float32 in [0, 1] of the current state.
    With `rows` (R,) int64 only those worlds are computed, into `out` (the others keep its
    values: e.g. after resetting some worlds)."""
    out = np.empty((world.batch_size, SIGNAL_DIM), dtype=np.float32) if out is None else out
    _signal_batch(world.maps.kernel, world.params, world.shared, world.state, batch_rows(world.batch_size, rows),
                  out)
    return out
