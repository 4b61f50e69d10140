"""The `route` observation: the route's next waypoints in the ego frame, so a policy sees the path
it has to take (through a junction too), not only a command and the error to its lane.

WAYPOINT_DISTANCES metres along the route ahead of the controlled car's projection onto it, each
(x forward, y left) / ROUTE_SCALE, clipped to [-2, 2]: (B, 2 * len(WAYPOINT_DISTANCES)) float32.
Past the goal the points stay at the route's end. Compiled per world, in the step's sensor pass.
"""

from __future__ import annotations

import math

import numpy as np

from drivesim import route as routing
from drivesim.jit import inner
from drivesim.map.city import MapArrays
from drivesim.map.lanes import pose
from drivesim.state import SimState

WAYPOINT_DISTANCES = (2.0, 4.0, 6.0, 8.0, 11.0, 14.0, 18.0, 23.0, 29.0, 36.0)  # [m] along the route ahead
ROUTE_SCALE = 30.0  # [m] positions are divided by this
ROUTE_DIM = 2 * len(WAYPOINT_DISTANCES)
_DISTANCES = np.array(WAYPOINT_DISTANCES)


@inner
def waypoints_world(maps: MapArrays, state: SimState, distances: np.ndarray, w: int, out: np.ndarray) -> None:
    """World w's waypoints into out (2 * len(distances),) float32."""
    m = state.clock[w].map
    car = state.cars[w, state.ego[w].car]
    c, s = math.cos(car.yaw), math.sin(car.yaw)
    for k in range(len(distances)):
        lane, arc = routing.position_ahead(maps, state, m, w, distances[k], 0.0)
        x, y, _ = pose(maps.samples, m, lane, arc)
        dx, dy = x - car.x, y - car.y
        out[2 * k] = min(max((c * dx + s * dy) / ROUTE_SCALE, -2.0), 2.0)
        out[2 * k + 1] = min(max((c * dy - s * dx) / ROUTE_SCALE, -2.0), 2.0)
