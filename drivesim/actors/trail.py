"""The actors' recent past: where every car and pedestrian was, and what every light showed, at each
of the last H steps (H = `CameraConfig.history`; nothing is kept when it is 0).

The camera draws the scene as it was H steps ago, seen from the current pose (`camera_history`):
things that stand still line up with the current frame and things that move show how far they
went, which is how the perception CNN reads velocities. The trail is a ring buffer: slot
t % H holds the scene at step t, written at the start of the step that leaves it. A reset fills it
by running every actor back along its heading at its current speed (as if the episode had been
going on), so even the first frame shows motion.
"""

from __future__ import annotations

import math

from drivesim.jit import inner, kernel
from drivesim.state import SimState


@inner
def push_trail(state: SimState, w: int) -> None:
    """Store world w's scene of the current step (before it moves on) in its trail slot."""
    h = state.trail.shape[1]
    if h == 0:
        return
    slot = state.clock[w].t % h
    trail, n_cars = state.trail[w, slot], state.cars.shape[1]
    for j in range(n_cars):
        car = state.cars[w, j]
        rec = trail[j]
        rec.x, rec.y, rec.yaw, rec.active = car.x, car.y, car.yaw, car.active
    for q in range(state.peds.shape[1]):
        ped = state.peds[w, q]
        rec = trail[n_cars + q]
        rec.x, rec.y, rec.yaw, rec.active = ped.x, ped.y, ped.yaw, ped.active
    _copy_lights(state, w, slot)


@inner
def _copy_lights(state: SimState, w: int, slot: int) -> None:
    for lane in range(state.lights.shape[1]):  # element by element: a slice copy would allocate
        state.trail_lights[w, slot, lane] = state.lights[w, lane]


@inner
def fill_trail(state: SimState, w: int, dt: float) -> None:
    """After a reset: the scene k = 1..H steps before now, each actor run back at its current
    velocity (cars along their heading, pedestrians along their last step), the lights as now."""
    h = state.trail.shape[1]
    n_cars = state.cars.shape[1]
    for k in range(1, h + 1):
        slot = (-k) % h
        trail = state.trail[w, slot]
        back = k * dt  # [s]
        for j in range(n_cars):
            car = state.cars[w, j]
            rec = trail[j]
            rec.x, rec.y = car.x - back * car.v * math.cos(car.yaw), car.y - back * car.v * math.sin(car.yaw)
            rec.yaw, rec.active = car.yaw, car.active
        for q in range(state.peds.shape[1]):
            ped = state.peds[w, q]
            rec = trail[n_cars + q]
            rec.x, rec.y, rec.yaw, rec.active = ped.x - back * ped.vx, ped.y - back * ped.vy, ped.yaw, ped.active
        _copy_lights(state, w, slot)


@kernel
def refill_trails(state: SimState, dt: float) -> None:
    """`fill_trail` for every world: for tools and tests that place actors by hand."""
    for w in range(state.clock.shape[0]):
        fill_trail(state, w, dt)
