"""Fixed-time traffic lights and pedestrian walk signals."""

from __future__ import annotations

import numpy as np
import pytest

from drivesim.actors.signals import Light, cycle_time, light_state, walk_signal
from drivesim.config import TrafficConfig

CFG = TrafficConfig()
CYCLE = cycle_time(CFG)
DT = 0.05
T = np.arange(0.0, 3 * CYCLE, DT)  # three full cycles
SIG = np.bool_(True)  # signalised, as the World passes it (numpy bool)


def _runs(states: np.ndarray) -> list[tuple[int, float]]:
    """(state, duration [s]) of consecutive runs."""
    change = np.flatnonzero(np.diff(states)) + 1
    bounds = np.concatenate([[0], change, [len(states)]])
    return [(int(states[a]), (b - a) * DT) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def test_cycle_time():
    assert pytest.approx(2 * (CFG.green_time + CFG.yellow_time + CFG.all_red_time)) == CYCLE


def test_axis0_phase_sequence_and_durations():
    states = light_state(T, 0.0, 0, True, CFG)
    assert states[0] == Light.GREEN
    runs = _runs(states)
    order = [s for s, _ in runs]
    expected = [Light.GREEN, Light.YELLOW, Light.RED] * 3
    assert order == expected
    for state, duration in runs[:-1]:  # the last red is cut by the end of T
        want = {Light.GREEN: CFG.green_time, Light.YELLOW: CFG.yellow_time,
                Light.RED: CYCLE - CFG.green_time - CFG.yellow_time}[state]
        assert duration == pytest.approx(want, abs=1.5 * DT)


def test_phase_boundaries_exact():
    t = np.array([0.0, CFG.green_time - 1e-6, CFG.green_time, CFG.green_time + CFG.yellow_time - 1e-6,
                  CFG.green_time + CFG.yellow_time, CYCLE - 1e-6, CYCLE])
    np.testing.assert_array_equal(light_state(t, 0.0, 0, True, CFG),
                                  [Light.GREEN, Light.GREEN, Light.YELLOW, Light.YELLOW, Light.RED, Light.RED,
                                   Light.GREEN])


@pytest.mark.parametrize("offset", [0.0, 4.2, 17.0])
def test_axis1_is_offset_by_half_a_cycle(offset):
    a1 = light_state(T, offset, 1, True, CFG)
    a0_shifted = light_state(T + CYCLE / 2, offset, 0, True, CFG)
    np.testing.assert_array_equal(a1, a0_shifted)
    # axis 1 starts green right after axis 0's all-red time
    t = np.array([CYCLE / 2 - 1e-6 - offset, CYCLE / 2 - offset]) % CYCLE
    np.testing.assert_array_equal(light_state(t, offset, 1, True, CFG), [Light.RED, Light.GREEN])


def test_offset_shifts_time():
    np.testing.assert_array_equal(light_state(T, 5.0, 0, True, CFG), light_state(T + 5.0, 0.0, 0, True, CFG))


def test_never_both_axes_green_or_yellow():
    offsets = np.random.default_rng(0).uniform(0, CYCLE, size=(1, 32))
    t = T[:, None]
    a0 = light_state(t, offsets, 0, True, CFG)
    a1 = light_state(t, offsets, 1, True, CFG)
    go0, go1 = a0 != Light.RED, a1 != Light.RED
    assert not np.any(go0 & go1)
    # there is an all-red gap of all_red_time between the two axes
    both_red = (a0 == Light.RED) & (a1 == Light.RED)
    assert both_red.mean() == pytest.approx(2 * CFG.all_red_time / CYCLE, abs=0.01)


def test_unsignalised_is_none():
    states = light_state(T, 3.0, np.array([0, 1])[:, None], False, CFG)
    assert np.all(states == Light.NONE)
    mixed = light_state(np.zeros(3), 0.0, 0, np.array([True, False, True]), CFG)
    np.testing.assert_array_equal(mixed, [Light.GREEN, Light.NONE, Light.GREEN])
    assert mixed.dtype == np.int8


@pytest.mark.parametrize("crossed_axis", [0, 1])
def test_walk_only_during_other_axis_green(crossed_axis):
    offsets = np.array([[0.0, 7.3, 21.9]])
    t = T[:, None]
    walk = walk_signal(t, offsets, crossed_axis, SIG, CFG)
    other = light_state(t, offsets, 1 - crossed_axis, True, CFG)
    crossed = light_state(t, offsets, crossed_axis, True, CFG)
    assert walk.any()
    assert np.all(other[walk] == Light.GREEN)
    assert np.all(crossed[walk] == Light.RED)  # traffic over the crosswalk is held
    # walk starts with the other axis' green and stops early enough to finish crossing before it ends
    col = walk[:, 0]
    starts = np.flatnonzero(col[1:] & ~col[:-1]) + 1
    ends = np.flatnonzero(~col[1:] & col[:-1]) + 1
    assert len(starts) >= 2 and len(ends) >= 2
    first_end = ends[ends > starts[0]][0]
    assert (first_end - starts[0]) * DT == pytest.approx(CFG.green_time - 6.0, abs=1.5 * DT)
    assert other[starts[0] - 1, 0] != Light.GREEN  # starts together with the other axis' green


def test_walk_always_at_unsignalised():
    walk = walk_signal(T[:, None], 0.0, np.array([[0, 1]]), np.bool_(False), CFG)
    assert walk.all()


def test_walk_signal_accepts_python_bool_signalised():
    """`signalised` broadcasts like in light_state: a plain Python bool must work too (``~True`` is
    -2 for a Python bool, which would turn every signalised crosswalk into a permanent walk)."""
    t = np.array([0.0, CYCLE / 4, CYCLE / 2 + 1.0])
    np.testing.assert_array_equal(walk_signal(t, 0.0, 0, True, CFG), walk_signal(t, 0.0, 0, SIG, CFG))
    assert walk_signal(t, 0.0, 0, True, CFG).dtype == bool
    assert walk_signal(t, 0.0, 0, False, CFG).all()


def test_walk_never_when_green_too_short_to_cross():
    cfg = TrafficConfig(green_time=5.0)
    walk = walk_signal(T, 0.0, 0, SIG, cfg, crossing_time=6.0)
    assert not walk.any()
