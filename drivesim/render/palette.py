"""Colours shared by the camera sensor and the human-facing views (RGB), and the names the views
print for lights."""

from __future__ import annotations

import numpy as np

from drivesim.actors.signals import Light
from drivesim.map.city import Surface

PALETTE = np.zeros((256, 3), dtype=np.uint8)  # RGB per Surface class
PALETTE[Surface.OUTSIDE] = (58, 92, 52)
PALETTE[Surface.ROAD] = (72, 72, 76)
PALETTE[Surface.SIDEWALK] = (168, 164, 156)
PALETTE[Surface.BUILDING] = (120, 92, 70)
PALETTE[Surface.CROSSWALK] = (215, 215, 215)
PALETTE[Surface.LANE_LINE] = (235, 235, 235)
PALETTE[Surface.CENTRE_LINE] = (222, 204, 120)  # pale, so yellow lights stand out
PALETTE[Surface.STOP_LINE] = (245, 245, 245)
LIGHT_RGB = {Light.GREEN: (30, 230, 60), Light.YELLOW: (255, 185, 0), Light.RED: (240, 30, 30)}
CAR_RGB = (70, 130, 230)
EGO_RGB = (240, 240, 250)
PED_RGB = (230, 60, 200)
ROUTE_RGB = (90, 230, 230)
LIDAR_RGB = (120, 200, 120)
LIDAR_HIT_RGB = (250, 90, 90)
FOOTPRINT_RGB = (255, 255, 120)

LIGHT_NAMES = {Light.NONE: "none", Light.GREEN: "green", Light.YELLOW: "yellow", Light.RED: "red"}


def light_text(dist: float, light: Light) -> str:
    """HUD line for the next stop line on the route: distance [m] and the light facing the ego there."""
    if not np.isfinite(dist):
        return "no stop line ahead"
    if light == Light.NONE:
        return f"stop line in {dist:5.1f} m (no signal)"
    return f"light ahead {LIGHT_NAMES[light]} in {dist:5.1f} m"
