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
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import prange

from drivesim.arrays import batch_rows
from drivesim.config import CameraConfig
from drivesim.jit import inner, parallel_kernel
from drivesim.map.city import MapPool, Surface
from drivesim.state import SimState

if TYPE_CHECKING:
    from drivesim.world import World

SURFACE_CLASSES = ("off_road", "sidewalk", "road", "crosswalk")  # buildings and outside the map read off_road
SURFACE_FACTOR = 2  # [camera px] per cell side
SOON = 1.5  # [s] the horizon of an object's second surface class: where its velocity takes it (a person 2 m
# from the kerb at walking pace)
OFF_ROAD, SIDEWALK, ROAD, CROSSWALK = range(len(SURFACE_CLASSES))
# Surface (the map raster's classes) -> SURFACE_CLASSES; lane and stop lines are road
_CLASS_OF = np.zeros(max(Surface) + 1, dtype=np.uint8)
_CLASS_OF[[Surface.ROAD, Surface.LANE_LINE, Surface.CENTRE_LINE, Surface.STOP_LINE]] = ROAD
_CLASS_OF[Surface.SIDEWALK] = SIDEWALK
_CLASS_OF[Surface.CROSSWALK] = CROSSWALK


class SurfaceMap(NamedTuple):
    """What the surface kernels read: the pool's map rasters and the grid's geometry for one camera."""

    rasters: np.ndarray  # (M, H, W) uint8 Surface of every map of the pool (shared, not copied)
    origin: np.ndarray  # (M, 2) [m] world position of each raster's south-west corner
    height: np.ndarray  # (M,) int64 [px] rows of each raster
    res: np.ndarray  # (M,) [m/px]
    lut: np.ndarray  # (max(Surface) + 1,) uint8 Surface -> SURFACE_CLASSES
    row0: float  # [cells] the car's row in the grid (grid_geometry)
    col0: float  # [cells] ... and column
    cell: float  # [m] cell side
    rows: int  # grid rows (H/2)
    cols: int  # grid columns (W/2)


def surface_shape(camera: CameraConfig) -> tuple[int, int]:
    """(rows, cols) of the grid for this camera."""
    return camera.height // SURFACE_FACTOR, camera.width // SURFACE_FACTOR


def grid_geometry(camera: CameraConfig) -> tuple[float, float, float]:
    """(row0, col0, cell): the car's place in the grid [cells] and the cell side [m]. The ego-frame
    point (forward, left) [m] lies in cell (floor(row0 - forward / cell), floor(col0 - left / cell));
    the grid (here) and the lookups in it (`grid_classes`, the camera labels' `surface`) all use this."""
    return (camera.ego_row * camera.height / SURFACE_FACTOR, camera.width / 2 / SURFACE_FACTOR,
            camera.metres_per_pixel * SURFACE_FACTOR)


def surface_map(pool: MapPool, camera: CameraConfig) -> SurfaceMap:
    """The SurfaceMap of a World's map pool seen through `camera`."""
    return SurfaceMap(pool.kernel.rasters, pool.arrays["raster_origin"], pool.arrays["raster_height"],
                      pool.arrays["raster_res"], _CLASS_OF, *grid_geometry(camera), *surface_shape(camera))


@inner
def raster_class(sm: SurfaceMap, m: int, x: float, y: float, c: float, s: float, forward: float, left: float) -> int:
    """SURFACE_CLASSES of map m's raster cell under the ego-frame point (forward, left) [m] of a car at
    (x, y) [m] heading (c, s) = (cos, sin) of its yaw; outside the map reads OFF_ROAD."""
    px = x + c * forward - s * left
    py = y + s * forward + c * left
    inv = 1.0 / sm.res[m]
    col = math.floor((px - sm.origin[m, 0]) * inv)
    row = sm.height[m] - 1 - math.floor((py - sm.origin[m, 1]) * inv)  # row 0 is the north edge
    if 0 <= row < sm.height[m] and 0 <= col < sm.rasters.shape[2]:
        return sm.lut[sm.rasters[m, row, col]]
    return OFF_ROAD


@inner
def cell_class(sm: SurfaceMap, m: int, x: float, y: float, c: float, s: float, forward: float, left: float) -> int:
    """The grid's class at the ego-frame point (forward, left) [m]: that of the cell it lies in
    (sampled at the cell's centre, as `surface_grid` samples it), OFF_ROAD outside the grid. The
    grid and this lookup give the same class without the grid being computed."""
    r, q = math.floor(sm.row0 - forward / sm.cell), math.floor(sm.col0 - left / sm.cell)
    if 0 <= r < sm.rows and 0 <= q < sm.cols:
        return raster_class(sm, m, x, y, c, s, (sm.row0 - r - 0.5) * sm.cell, (sm.col0 - q - 0.5) * sm.cell)
    return OFF_ROAD


@inner
def cell_classes(sm: SurfaceMap, m: int, x: float, y: float, c: float, s: float, position: np.ndarray,
                 velocity: np.ndarray) -> tuple[int, int]:
    """`cell_class` at an object's ego-frame position (2,) [m] and where its velocity (2,) [m/s] takes
    it in SOON s (the pair the labels and `point_classes` give), in float64 whatever their dtype."""
    fx, fy = np.float64(position[0]), np.float64(position[1])
    vx, vy = np.float64(velocity[0]), np.float64(velocity[1])
    return (cell_class(sm, m, x, y, c, s, fx, fy),
            cell_class(sm, m, x, y, c, s, fx + SOON * vx, fy + SOON * vy))


@parallel_kernel
def _surface_batch(sm: SurfaceMap, state: SimState, rows: np.ndarray, out: np.ndarray) -> None:
    """Grid cell (r, q) of world w: the raster class under its centre, ego frame (forward, left) =
    ((row0 - r - 0.5) cell, (col0 - q - 0.5) cell) [m] (grid_geometry); for the worlds `rows` (R,)."""
    for index in prange(rows.shape[0]):
        w = rows[np.int64(index)]  # prange counts in uint64: back to int64
        e = state.cars[w, state.ego[w].car]
        m = state.clock[w].map
        c, s = math.cos(e.yaw), math.sin(e.yaw)
        for r in range(out.shape[1]):
            forward = (sm.row0 - r - 0.5) * sm.cell
            for q in range(out.shape[2]):
                out[w, r, q] = raster_class(sm, m, e.x, e.y, c, s, forward, (sm.col0 - q - 0.5) * sm.cell)


def surface_grid(world: World, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, H/2, W/2) uint8 SURFACE_CLASSES around every world's car.
    With `rows` (R,) int64 only those worlds are computed, into `out` (the others keep its
    values: e.g. after resetting some worlds)."""
    camera = world.config.camera
    out = np.empty((world.batch_size, *surface_shape(camera)), dtype=np.uint8) if out is None else out
    _surface_batch(surface_map(world.maps, camera), world.state, batch_rows(world.batch_size, rows), out)
    return out


class Places(NamedTuple):
    """Where a batch's cars are, for looking objects up on the map (`point_classes`)."""

    sm: SurfaceMap  # the world's maps and the grid geometry of its camera
    maps: np.ndarray  # (B,) int64 pool index of each world's map
    pose: np.ndarray  # (B, 3) float64 ego x [m], y [m], yaw [rad] (World.pose, info["pose"])


def places(world: World, rows: np.ndarray | None = None, final_info: dict | None = None) -> Places:
    """The Places of the world's current state, or of the worlds `rows` as they ended (their
    `final_info` from a same-step autoreset: the pose and map of the last observation)."""
    if rows is None:
        return Places(world.camera.surface, world.map_idx.copy(), world.pose)
    maps = np.asarray(final_info["map_index"])[rows] + world.params.world["map_first"][rows]
    return Places(world.camera.surface, maps.astype(np.int64), np.asarray(final_info["pose"], dtype=np.float64)[rows])


def point_classes(where: Places, position: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """(B, O, 2) uint8 SURFACE_CLASSES under objects at ego-frame positions (B, O, 2) [m] and where
    their velocities (B, O, 2) [m/s] take them in SOON s: the surface grid's classes there (the grid
    would read the same cells; `cell_class`), without computing the grid."""
    out = np.empty((*position.shape[:2], 2), dtype=np.uint8)
    _point_classes_batch(where.sm, where.maps, where.pose, position, velocity, out)
    return out


@parallel_kernel
def _point_classes_batch(sm: SurfaceMap, maps: np.ndarray, pose: np.ndarray, position: np.ndarray,
                         velocity: np.ndarray, out: np.ndarray) -> None:
    for index in prange(position.shape[0]):
        w = np.int64(index)  # prange counts in uint64: back to int64
        x, y, c, s = pose[w, 0], pose[w, 1], math.cos(pose[w, 2]), math.sin(pose[w, 2])
        for o in range(position.shape[1]):
            out[w, o, 0], out[w, o, 1] = cell_classes(sm, maps[w], x, y, c, s, position[w, o], velocity[w, o])
