"""Fixed-time traffic-light controllers: two axes alternate green -> yellow -> all-red, with a
per-intersection offset. A pure function of time, so no state needs stepping: the numpy forms
serve the Python side and the tests, the compiled forms the step (same arithmetic)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from drivesim.config import TrafficConfig
from drivesim.jit import inner

CROSSING_TIME = 6.0  # [s] a pedestrian needs at least this much walk time left to start crossing


class Light(IntEnum):
    NONE = 0  # no signal
    GREEN = 1
    YELLOW = 2
    RED = 3


def cycle_time(cfg: TrafficConfig) -> float:
    """[s] full cycle (both axes)."""
    return 2.0 * (cfg.green_time + cfg.yellow_time + cfg.all_red_time)


def light_state(t: np.ndarray, offset: np.ndarray, axis: np.ndarray, signalised: np.ndarray,
                cfg: TrafficConfig) -> np.ndarray:
    """Light (int8, Light) facing traffic that travels along `axis` (0 x, 1 y) at time t [s].
    All arguments broadcast; offset [s] per intersection."""
    tau = phase_time(t, offset, axis, cfg)
    state = np.where(tau < cfg.green_time, Light.GREEN,
                     np.where(tau < cfg.green_time + cfg.yellow_time, Light.YELLOW, Light.RED))
    return np.where(signalised, state, Light.NONE).astype(np.int8)


def phase_time(t: np.ndarray, offset: np.ndarray, axis: np.ndarray, cfg: TrafficConfig) -> np.ndarray:
    """[s] time since the start of this axis' green phase, in [0, cycle)."""
    cycle = cycle_time(cfg)
    return np.mod(t + offset - axis * (cycle / 2.0), cycle)


def walk_signal(t: np.ndarray, offset: np.ndarray, crossed_axis: np.ndarray, signalised: np.ndarray,
                cfg: TrafficConfig, crossing_time: float = CROSSING_TIME) -> np.ndarray:
    """True where a pedestrian may start crossing a road whose traffic runs along `crossed_axis`:
    during the other axis' green, early enough to finish before that green ends (or always at an
    unsignalised intersection, where cars yield)."""
    other = 1 - crossed_axis
    tau = phase_time(t, offset, other, cfg)
    return ~np.asarray(signalised, dtype=bool) | (tau < cfg.green_time - crossing_time)


# ------------------------------------------------------------------------------ compiled forms
_NONE, _GREEN, _YELLOW, _RED = (int(light) for light in Light)  # plain ints for the kernels


@inner
def phase(t: float, offset: float, axis: int, green: float, yellow: float, all_red: float) -> float:
    """[s] time since the start of `axis`' green phase (as `phase_time`)."""
    cycle = 2.0 * (green + yellow + all_red)
    return (t + offset - axis * (cycle / 2.0)) % cycle


@inner
def light_at(t: float, offset: float, axis: int, green: float, yellow: float, all_red: float) -> int:
    """Light facing traffic along `axis` of a signalised intersection at time t [s]."""
    tau = phase(t, offset, axis, green, yellow, all_red)
    if tau < green:
        return _GREEN
    return _YELLOW if tau < green + yellow else _RED


@inner
def colour_span(light: int, green: float, yellow: float, all_red: float) -> tuple[float, float]:
    """[s] the phase times (`phase`) where `light` (GREEN, YELLOW or RED) begins and ends on its
    axis, as `light_at` divides the cycle: red runs through both all-red times and the other axis'
    green and yellow."""
    if light == _GREEN:
        return 0.0, green
    if light == _YELLOW:
        return green, green + yellow
    return green + yellow, 2.0 * (green + yellow + all_red)


@inner
def walk_at(t: float, offset: float, crossed_axis: int, green: float, yellow: float, all_red: float) -> bool:
    """A pedestrian may start crossing a road along `crossed_axis` of a signalised intersection."""
    return phase(t, offset, 1 - crossed_axis, green, yellow, all_red) < green - CROSSING_TIME


@inner
def update_lights(lanes: np.ndarray, nodes: np.ndarray, m: int, n_lanes: int, offset: np.ndarray, lights: np.ndarray,
                  time: float, green: float, yellow: float, all_red: float) -> None:
    """Write the light facing the end of each of map m's road lanes at `time` [s] into lights (L,)
    from the per-intersection offsets (N,) [s]; NONE for connectors and unsignalised ends.
    lanes (M, L) LANE, nodes (M, N) NODE."""
    for k in range(n_lanes):
        lane = lanes[m, k]
        if lane.kind == 0 and nodes[m, lane.node].signal:  # LaneKind.ROAD
            lights[k] = light_at(time, offset[lane.node], lane.axis, green, yellow, all_red)
        else:
            lights[k] = _NONE
