"""Per-step events (collisions, infractions, route progress) and the named reward terms.

Compiled per world for the step; `detect_collisions` and `reward_terms` run the same functions
over numpy inputs for tools and tests."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from drivesim.actors.driver import CAR_VIEW, PED_RADIUS, PED_VIEW
from drivesim.config import REWARD_MODES, RewardMode
from drivesim.geometry import boxes_overlap
from drivesim.jit import inner, kernel
from drivesim.map.city import DRIVABLE, MapArrays, Surface
from drivesim.metrics import PENALTIES
from drivesim.state import CAR, PEDESTRIAN

EVENT_NAMES = ("collision_vehicle", "collision_pedestrian", "collision_static", "red_light", "off_road",
               "wrong_way", "goal", "off_route", "stuck", "timeout")
REWARD_TERMS = ("progress", "collision", "red_light", "off_road", "wrong_way", "lane_keeping", "speeding",
                "comfort", "goal", "off_route", "stuck")
TERMINATING = ("collision_vehicle", "collision_pedestrian", "collision_static", "goal", "off_route", "stuck")
EV = {name: i for i, name in enumerate(EVENT_NAMES)}  # column of each event in the (B, E) array
TERMINATING_MASK = np.array([name in TERMINATING for name in EVENT_NAMES])
(COLLISION_VEHICLE, COLLISION_PEDESTRIAN, COLLISION_STATIC, RED_LIGHT, OFF_ROAD, WRONG_WAY, GOAL, OFF_ROUTE, STUCK,
 TIMEOUT) = range(len(EVENT_NAMES))
PER_SECOND = ("off_road", "wrong_way", "lane_keeping", "speeding", "comfort")
CARL = REWARD_MODES.index(RewardMode.CARL)  # WORLD.reward_mode of the carl mode (index in REWARD_MODES)
SCORE = REWARD_MODES.index(RewardMode.SCORE)  # ... of the score mode
# score mode: what an episode-ending event multiplies the driving score by (metrics.PENALTIES, the time limit
# included; ending off the road, off the route or stuck costs nothing but the rest of the route, as in the score)
SCORE_FACTORS = np.array([PENALTIES.get(name, 1.0) for name in EVENT_NAMES])
CARL_ENDS = (COLLISION_VEHICLE, COLLISION_PEDESTRIAN, COLLISION_STATIC, RED_LIGHT, OFF_ROAD, OFF_ROUTE, STUCK)
CARL_ENDS_MASK = np.array([i in CARL_ENDS for i in range(len(EVENT_NAMES))])  # events that end a carl episode

DRIVABLE_LUT = np.zeros(256, dtype=np.bool_)
DRIVABLE_LUT[list(DRIVABLE)] = True


class Collisions(NamedTuple):
    vehicle: np.ndarray  # (B,) bool
    pedestrian: np.ndarray  # (B,) bool
    static: np.ndarray  # (B,) bool, hit a building
    off_road: np.ndarray  # (B,) bool, part of the car outside the drivable surface
    car_hit: np.ndarray  # (B, K) bool, which other car was hit
    ped_hit: np.ndarray  # (B, P) bool


class Footprint(NamedTuple):
    """A car's box: centre [m], heading [rad], size [m]."""

    x: float
    y: float
    yaw: float
    length: float
    width: float


class RewardInputs(NamedTuple):
    """What the reward terms of one world's step depend on besides the events."""

    progress_delta: float  # [m] route progress this step
    lateral: float  # [m] lateral error to the route
    speed: float  # [m/s]
    speed_limit: float  # [m/s]
    jerk: float  # [m/s^3]
    steer_rate: float  # [rad/s]
    max_steer_rate: float  # [rad/s]
    lane_width: float  # [m]
    route_total: float  # [m] length of the route (carl mode: progress as a fraction of it)
    completion: float  # route completion after this step, in [0, 1] (score mode)


@inner
def surface_at(info: np.ndarray, rasters: np.ndarray, m: int, x: float, y: float) -> int:
    """Surface class of map m under the point (x, y) [m] (outside the raster: its edge); info (M,)
    MAP_INFO, rasters (M, H, W)."""
    rec = info[m]
    col = min(max(int((x - rec.origin[0]) / rec.raster_res), 0), rec.raster_width - 1)
    row = min(max(int(rec.raster_height - (y - rec.origin[1]) / rec.raster_res), 0), rec.raster_height - 1)
    return rasters[m, row, col]


@inner
def static_contact(maps: MapArrays, m: int, car: Footprint) -> tuple[bool, bool]:
    """(touches a building, leaves the drivable surface): the raster under the car's corners and
    edge midpoints."""
    c, s = math.cos(car.yaw), math.sin(car.yaw)
    building, off_road = False, False
    for k in range(8):
        # corners counter-clockwise from front-left, then the midpoints of the edges after them
        lx = (0.5, -0.5, -0.5, 0.5, 0.0, -0.5, 0.0, 0.5)[k] * car.length
        ly = (0.5, 0.5, -0.5, -0.5, 0.5, 0.0, -0.5, 0.0)[k] * car.width
        surface = surface_at(maps.info, maps.rasters, m, car.x + c * lx - s * ly, car.y + s * lx + c * ly)
        building |= surface == Surface.BUILDING
        off_road |= not DRIVABLE_LUT[surface]
    return building, off_road


@inner
def hits(car: Footprint, cars: np.ndarray, peds: np.ndarray, car_hit: np.ndarray, ped_hit: np.ndarray
         ) -> tuple[bool, bool]:
    """Which other cars (K,) CAR overlap the car's box and which pedestrians (P,) PEDESTRIAN
    (discs) touch it, into `car_hit` / `ped_hit` (records with a `hit` field); controlled cars are
    not others (their own slot included). Returns (any car, any pedestrian)."""
    c, s = math.cos(car.yaw), math.sin(car.yaw)
    any_car, any_ped = False, False
    for k in range(len(cars)):
        o = cars[k]
        near = abs(o.x - car.x) + abs(o.y - car.y) < car.length + car.width + o.length + o.width
        car_hit[k].hit = near and o.active and not o.controlled and boxes_overlap(
            car.x, car.y, car.yaw, car.length, car.width, o.x, o.y, o.yaw, o.length, o.width)
        any_car |= car_hit[k].hit
    for p in range(len(peds)):
        q = peds[p]
        dx, dy = q.x - car.x, q.y - car.y
        fx, fy = c * dx + s * dy, -s * dx + c * dy
        ped_hit[p].hit = q.active and abs(fx) < car.length / 2 + PED_RADIUS and abs(fy) < car.width / 2 + PED_RADIUS
        any_ped |= ped_hit[p].hit
    return any_car, any_ped


@inner
def _over_limit(inp: RewardInputs) -> float:
    """Speed above the limit as a fraction of the limit (0 at or below it)."""
    return max(inp.speed - inp.speed_limit, 0.0) / inp.speed_limit


@inner
def _discomfort(inp: RewardInputs) -> float:
    """|jerk| / 10 m/s^3 (at most 3) + |steer rate| / max steer rate."""
    return min(abs(inp.jerk) / 10.0, 3.0) + abs(inp.steer_rate) / inp.max_steer_rate


@inner
def carl_factors(events: np.ndarray, inp: RewardInputs) -> float:
    """Product of the CaRL-style soft penalty factors, each in [0, 1]: speeding 1 - min(over / limit,
    1); lane centre 1 - 0.5 min(|lateral| / lane width, 1); comfort 1 - 0.5 min(discomfort / 2, 1)
    (discomfort as in the additive comfort term); wrong way 0.5."""
    over, discomfort = _over_limit(inp), _discomfort(inp)
    speeding = 1.0 - min(over, 1.0)
    lane = 1.0 - 0.5 * min(abs(inp.lateral) / inp.lane_width, 1.0)
    comfort = 1.0 - 0.5 * min(discomfort / 2.0, 1.0)
    wrong_way = 0.5 if events[WRONG_WAY] else 1.0
    return speeding * lane * comfort * wrong_way


@inner
def _ending_term(events: np.ndarray, terminal: float, timeout: bool, out: np.ndarray) -> None:
    """carl / score: the episode-ending infraction's -terminal in its own term (the first of them);
    with `timeout` (score) the time limit too, in the `stuck` term (no goal in time)."""
    if events[COLLISION_VEHICLE] or events[COLLISION_PEDESTRIAN] or events[COLLISION_STATIC]:
        out[1] = -terminal
    elif events[RED_LIGHT]:
        out[2] = -terminal
    elif events[OFF_ROAD]:
        out[3] = -terminal
    elif events[OFF_ROUTE]:
        out[9] = -terminal
    elif events[STUCK] or (timeout and events[TIMEOUT] and not events[GOAL]):
        out[10] = -terminal


@inner
def _additive_terms(events: np.ndarray, inp: RewardInputs, weights: np.ndarray, dt: float, out: np.ndarray) -> None:
    collision = events[COLLISION_VEHICLE] or events[COLLISION_PEDESTRIAN] or events[COLLISION_STATIC]
    lateral = min(abs(inp.lateral) / inp.lane_width, 2.0)
    over, discomfort = _over_limit(inp), _discomfort(inp)
    out[0] = weights[0] * inp.progress_delta
    out[1] = -weights[1] * collision
    out[2] = -weights[2] * events[RED_LIGHT]
    out[3] = -weights[3] * dt * events[OFF_ROAD]
    out[4] = -weights[4] * dt * events[WRONG_WAY]
    out[5] = -weights[5] * dt * lateral
    out[6] = -weights[6] * dt * over
    out[7] = -weights[7] * dt * discomfort
    out[8] = weights[8] * events[GOAL]
    out[9] = -weights[9] * events[OFF_ROUTE]
    out[10] = -weights[10] * events[STUCK]


@inner
def reward_terms_into(events: np.ndarray, inp: RewardInputs, weights: np.ndarray, mode: int, terminal: float,
                      dt: float, out: np.ndarray) -> float:
    """Reward terms (REWARD_TERMS order) of one world into `out`; returns their sum (summed in that
    fixed order, so it is bit-identical for any batch).

    additive: weight x term for every named term. carl: `progress` = route-completion gain (a
    fraction of the route) x `carl_factors` when moving forward (the bare loss when going back);
    the episode-ending infraction puts -terminal into its own term (collision, red_light, off_road,
    off_route or stuck, the first of them only); every other term is 0. score: as carl, but the
    ending costs (1 - the product of the events' SCORE_FACTORS) x the route completion, and the
    time limit is an ending too (the score's timeout coefficient, in the `stuck` term)."""
    for k in range(len(out)):
        out[k] = 0.0
    if mode in (CARL, SCORE):
        gain = inp.progress_delta / inp.route_total
        out[0] = gain * carl_factors(events, inp) if gain > 0.0 else gain
        if mode == SCORE:
            factor = 1.0
            for k in range(len(events)):
                if events[k] and not (k == TIMEOUT and events[GOAL]):  # the goal on the last step is in time
                    factor *= SCORE_FACTORS[k]
            terminal = (1.0 - factor) * min(max(inp.completion, 0.0), 1.0)
        _ending_term(events, terminal, mode == SCORE, out)
    else:
        _additive_terms(events, inp, weights, dt, out)
    total = 0.0
    for k in range(len(out)):
        total = total + out[k]
    return total


# ------------------------------------------------------------------------------ numpy forms
@kernel
def _collisions_many(maps: MapArrays, map_idx: np.ndarray, ego: np.ndarray, cars: np.ndarray, peds: np.ndarray,
                     car_hit: np.ndarray, ped_hit: np.ndarray, flags: np.ndarray) -> None:
    for b in range(len(map_idx)):
        car = Footprint(ego[b, 0], ego[b, 1], ego[b, 2], ego[b, 3], ego[b, 4])
        hits(car, cars[b], peds[b], car_hit[b], ped_hit[b])
        flags[b, 0], flags[b, 1] = static_contact(maps, map_idx[b], car)
        flags[b, 2] = False


def detect_collisions(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, length: float, width: float,
                      cars: tuple[np.ndarray, np.ndarray, np.ndarray], car_active: np.ndarray,
                      peds: tuple[np.ndarray, np.ndarray], ped_active: np.ndarray, maps: MapArrays,
                      map_idx: np.ndarray, car_size: tuple[float, float] = (4.5, 1.9)) -> Collisions:
    """The step's collision check for cars (B,) of size length x width [m] against other cars
    (B, K) (x, y, yaw, all of size `car_size`) and pedestrians (B, P) (x, y)."""
    b = len(x)
    k, p = np.shape(car_active)[1], np.shape(ped_active)[1]
    others = np.zeros((b, k), dtype=CAR)
    others["x"], others["y"], others["yaw"], others["active"] = cars[0], cars[1], cars[2], car_active
    others["length"], others["width"] = car_size
    walkers = np.zeros((b, p), dtype=PEDESTRIAN)
    walkers["x"], walkers["y"], walkers["active"] = peds[0], peds[1], ped_active
    ego = np.stack([np.asarray(a, dtype=np.float64) for a in (x, y, yaw)] + [np.full(b, float(length)),
                                                                              np.full(b, float(width))], axis=1)

    car_hit, ped_hit = np.zeros((b, k), dtype=CAR_VIEW), np.zeros((b, p), dtype=PED_VIEW)
    flags = np.zeros((b, 3), dtype=bool)
    _collisions_many(maps, np.ascontiguousarray(map_idx, dtype=np.int64), ego, others, walkers, car_hit, ped_hit,
                     flags)
    return Collisions(car_hit["hit"].any(axis=1), ped_hit["hit"].any(axis=1), flags[:, 0], flags[:, 1],
                      car_hit["hit"], ped_hit["hit"])


@kernel
def _terms_many(events: np.ndarray, inputs: np.ndarray, constants: np.ndarray, weights: np.ndarray, mode: int,
                terminal: float, dt: float, out: np.ndarray) -> None:
    for b in range(len(events)):
        inp = RewardInputs(inputs[b, 0], inputs[b, 1], inputs[b, 2], constants[0], inputs[b, 3], inputs[b, 4],
                           constants[1], constants[2], inputs[b, 5], inputs[b, 6])
        reward_terms_into(events[b], inp, weights, mode, terminal, dt, out[b])


def reward_terms(events: dict[str, np.ndarray], progress_delta: np.ndarray, lateral_error: np.ndarray,
                 speed: np.ndarray, speed_limit: float, jerk: np.ndarray, steer_rate: np.ndarray,
                 max_steer_rate: float, lane_width: float, cfg, dt: float, route_total: np.ndarray | float = 1.0,
                 completion: np.ndarray | float = 0.0) -> dict[str, np.ndarray]:
    """Named reward terms (B,) each (the step's `reward_terms_into` over a batch); cfg is a
    RewardConfig (its mode chooses additive, carl or score); route_total [m] and completion (after
    the step, score mode) (B,) or scalars."""
    ev = np.ascontiguousarray(np.stack([np.asarray(events[name], dtype=bool) for name in EVENT_NAMES], axis=1))
    b = len(ev)
    inputs = np.ascontiguousarray(np.stack([np.broadcast_to(np.asarray(a, dtype=np.float64), (b,)) for a in
                                            (progress_delta, lateral_error, speed, jerk, steer_rate, route_total,
                                             completion)],
                                           axis=1))
    weights = np.array([getattr(cfg, name) for name in REWARD_TERMS], dtype=np.float64)
    out = np.zeros((len(ev), len(REWARD_TERMS)))
    mode = REWARD_MODES.index(cfg.mode)
    _terms_many(ev, inputs, np.array([speed_limit, max_steer_rate, lane_width], dtype=np.float64), weights, mode,
                float(cfg.carl_terminal), float(dt), out)
    return {name: out[:, i] for i, name in enumerate(REWARD_TERMS)}
