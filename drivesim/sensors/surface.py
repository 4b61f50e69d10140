"""The `surface` observation: the static map around the car as a bird's-eye grid of surface
classes, ego frame, heading up, over the camera's footprint at half its resolution: (H/2, W/2)
uint8 of SURFACE_CLASSES (cell (0, 0) the front left corner, the car at `ego_row` of the height).

Why: the autopilot holds for a pedestrian on a crossing, or about to step onto one, and drives past
people on the sidewalk; a policy that sees only where people stand relative to itself cannot tell
a person on the corner who will cross from one who will not, and waits at green lights for both
(docs/agents.md, tenth session). The map is known to the car (an HD map and its localisation, not
privileged state), so the features can ask which surface a detected object stands on and where its
velocity takes it (`perception/features.py`, `FeatureLayout.surface`). The grid is also a compact
semantic map for policies of your own. Compiled, per world over the batch (nearest raster cell).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import prange

from drivesim.arrays import batch_rows
from drivesim.config import CameraConfig
from drivesim.jit import parallel_kernel
from drivesim.map.city import Surface
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

SURFACE_CLASSES = ("off_road", "sidewalk", "road", "crosswalk")  # buildings and outside the map read off_road
SURFACE_FACTOR = 2  # [camera px] per cell side
OFF_ROAD, SIDEWALK, ROAD, CROSSWALK = range(len(SURFACE_CLASSES))
# Surface (the map raster's classes) -> SURFACE_CLASSES; lane and stop lines are road
_CLASS_OF = np.zeros(max(Surface) + 1, dtype=np.uint8)
_CLASS_OF[[Surface.ROAD, Surface.LANE_LINE, Surface.CENTRE_LINE, Surface.STOP_LINE]] = ROAD
_CLASS_OF[Surface.SIDEWALK] = SIDEWALK
_CLASS_OF[Surface.CROSSWALK] = CROSSWALK


def surface_shape(camera: CameraConfig) -> tuple[int, int]:
    """(rows, cols) of the grid for this camera."""
    return camera.height // SURFACE_FACTOR, camera.width // SURFACE_FACTOR


def grid_geometry(camera: CameraConfig) -> tuple[float, float, float]:
    """(row0, col0, cell): the car's place in the grid [cells] and the cell side [m]. The ego-frame
    point (forward, left) [m] lies in cell (floor(row0 - forward / cell), floor(col0 - left / cell));
    the grid (here) and the features' lookups in it (perception/features.py) both use this."""
    return (camera.ego_row * camera.height / SURFACE_FACTOR, camera.width / 2 / SURFACE_FACTOR,
            camera.metres_per_pixel * SURFACE_FACTOR)


@parallel_kernel
def _surface_batch(rasters: np.ndarray, origin: np.ndarray, height: np.ndarray, res: np.ndarray, lut: np.ndarray,
                   state: SimState, row0: float, col0: float, cell: float, rows: np.ndarray, out: np.ndarray) -> None:
    """Grid cell (r, q) of world w: the raster class under its centre, ego frame (forward, left) =
    ((row0 - r - 0.5) cell, (col0 - q - 0.5) cell) [m] (grid_geometry), rotated and shifted by the
    car's pose; for the worlds `rows` (R,)."""
    for index in prange(rows.shape[0]):
        w = rows[np.int64(index)]  # prange counts in uint64: back to int64
        e = state.cars[w, state.ego[w].car]
        m = state.clock[w].map
        c, s = math.cos(e.yaw), math.sin(e.yaw)
        inv = 1.0 / res[m]
        for r in range(out.shape[1]):
            forward = (row0 - r - 0.5) * cell
            for q in range(out.shape[2]):
                left = (col0 - q - 0.5) * cell
                x = e.x + c * forward - s * left
                y = e.y + s * forward + c * left
                col = math.floor((x - origin[m, 0]) * inv)
                row = height[m] - 1 - math.floor((y - origin[m, 1]) * inv)  # row 0 is the north edge
                inside = 0 <= row < height[m] and 0 <= col < rasters.shape[2]
                out[w, r, q] = lut[rasters[m, row, col]] if inside else OFF_ROAD


def surface_grid(world: World, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, H/2, W/2) uint8 SURFACE_CLASSES around every world's car.
    With `rows` (R,) int64 only those worlds are computed, into `out` (the others keep its
    values: e.g. after resetting some worlds)."""
    camera, pool = world.config.camera, world.maps
    out = np.empty((world.batch_size, *surface_shape(camera)), dtype=np.uint8) if out is None else out
    _surface_batch(pool.kernel.rasters, pool.arrays["raster_origin"], pool.arrays["raster_height"],
                   pool.arrays["raster_res"], _CLASS_OF, world.state, *grid_geometry(camera),
                   batch_rows(world.batch_size, rows), out)
    return out
