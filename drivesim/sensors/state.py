"""The `state` observation: ego dynamics, route command and what lies ahead, normalised to [-1, 1]."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drivesim.actors.signals import Light
from drivesim.map.city import Turn

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


def state_vector(world: World) -> np.ndarray:
    """(B, STATE_DIM) float32."""
    cfg = world.config
    veh = cfg.vehicle
    command = np.eye(4, dtype=np.float32)[world.route_command()]
    dist, light = world.next_stop_line()
    light_1h = np.eye(4, dtype=np.float32)[light]
    assert len(Turn) == 4 and len(Light) == 4
    columns = [
        world.ego.v / veh.max_speed,
        world.ego.steer / veh.max_steer,
        world.accel / veh.max_brake,
        np.clip(world.lateral / (2 * cfg.map.lane_width), -1.0, 1.0),
        world.heading_error / np.pi,
        np.clip(dist, 0.0, STOP_LINE_RANGE) / STOP_LINE_RANGE,
        np.full(world.batch_size, min(cfg.traffic.speed_limit / veh.max_speed, 1.0)),
        np.clip(world.progress / world.route_total, -1.0, 1.0),
    ]
    cols = np.stack(columns, axis=1).astype(np.float32)
    out = np.concatenate([cols[:, :3], command, cols[:, 3:6], light_1h, cols[:, 6:]], axis=1)
    return np.clip(out, -1.0, 1.0)
