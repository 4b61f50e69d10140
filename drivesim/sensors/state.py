"""The `state` observation: the controlled car's dynamics, route command and what lies ahead,
normalised to [-1, 1]. Compiled per world; `state_vector` runs it over a batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim import route as routing
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapArrays
from drivesim.params import SharedParams, WorldParams
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

STOP_LINE_RANGE = 50.0  # [m] stop-line distances are clipped to this and divided by it
STATE_FIELDS = (
    "speed",  # v / max_speed
    "steer",  # steering angle / max_steer
    "accel",  # applied acceleration / max_brake
    "command_follow", "command_left", "command_right", "command_straight",  # one-hot route command
    "lateral_error",  # signed offset from the route lane (left +) / (2 lane widths), clipped
    "heading_error",  # heading minus route heading / pi
    "stop_line_distance",  # distance from the front bumper to the next stop line / 50 m, clipped
    "light_none", "light_green", "light_yellow", "light_red",  # one-hot light at that stop line
    "speed_limit",  # speed limit / max_speed
    "route_completion",  # progress / route length
)
STATE_DIM = len(STATE_FIELDS)


@inner
def _clip(x: float) -> float:
    return min(max(x, -1.0), 1.0)


@inner
def state_world(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, w: int,
                out: np.ndarray) -> None:
    """World w's state vector into out (STATE_DIM,) float32."""
    m, route = state.clock[w].map, state.route[w]
    car = state.cars[w, state.ego[w].car]
    dist, light, _, _ = routing.next_stop_line(maps, state, m, w, car.length)
    out[:] = 0.0
    out[0] = _clip(car.v / shared.max_speed)
    out[1] = _clip(car.steer / shared.max_steer)
    out[2] = _clip(car.accel / shared.max_brake)
    out[3 + routing.command(maps, state, m, w)] = 1.0
    out[7] = _clip(route.lateral / (2 * maps.info[m].lane_width))
    out[8] = _clip(route.heading_error / np.pi)
    out[9] = min(max(dist, 0.0), STOP_LINE_RANGE) / STOP_LINE_RANGE
    out[10 + light] = 1.0
    out[14] = min(params.world[w].speed_limit / shared.max_speed, 1.0)
    out[15] = _clip(route.progress / route.total)


@parallel_kernel
def _state_batch(maps: MapArrays, params: WorldParams, shared: SharedParams, state: SimState, out: np.ndarray
                 ) -> None:
    for index in prange(out.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to the kernels' int64
        state_world(maps, params, shared, state, w, out[w])


def state_vector(world: World) -> np.ndarray:
    """(B, STATE_DIM) float32."""
    out = np.empty((world.batch_size, STATE_DIM), dtype=np.float32)
    _state_batch(world.maps.kernel, world.params, world.shared, world.state, out)
    return out
