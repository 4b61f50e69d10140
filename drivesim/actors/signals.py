"""Fixed-time traffic-light controllers: two axes alternate green -> yellow -> all-red, with a
per-intersection offset. A pure function of time, so no state needs stepping."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from drivesim.config import TrafficConfig


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
                cfg: TrafficConfig, crossing_time: float = 6.0) -> np.ndarray:
    """True where a pedestrian may start crossing a road whose traffic runs along `crossed_axis`:
    during the other axis' green, early enough to finish before that green ends (or always at an
    unsignalised intersection, where cars yield)."""
    other = 1 - crossed_axis
    tau = phase_time(t, offset, other, cfg)
    return ~np.asarray(signalised, dtype=bool) | (tau < cfg.green_time - crossing_time)
