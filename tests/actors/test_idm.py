"""Intelligent Driver Model and its use by NPC cars: free road, following, red lights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.actors.driver import CAR_LENGTH
from drivesim.actors.idm import MAX_DECEL, idm_accel
from drivesim.actors.signals import Light, cycle_time
from drivesim.config import TrafficConfig
from drivesim.map.city import LaneKind, Turn
from drivesim.map.lanes import lane_pose
from tests.actors.helpers import place_car, set_light, small_pool, step, traffic_world

CFG = TrafficConfig()
PARAMS = dict(a=CFG.idm_accel, b=CFG.idm_decel, time_headway=CFG.idm_time_headway, min_gap=CFG.idm_min_gap)


def _idm(v, v0, gap, v_lead):
    return idm_accel(np.asarray(v, float), np.asarray(v0, float), np.asarray(gap, float),
                     np.asarray(v_lead, float), **PARAMS)


def test_free_road_acceleration_at_standstill_is_a():
    assert _idm(0.0, 11.0, np.inf, 0.0) == pytest.approx(CFG.idm_accel)


def test_free_road_equilibrium_at_desired_speed():
    assert _idm(11.0, 11.0, np.inf, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert _idm(10.0, 11.0, np.inf, 0.0) > 0.0
    assert _idm(12.0, 11.0, np.inf, 0.0) < 0.0


def test_matches_closed_form():
    v, v0, gap, vl = 8.0, 12.0, 20.0, 5.0
    s_star = CFG.idm_min_gap + v * CFG.idm_time_headway + v * (v - vl) / (2 * math.sqrt(CFG.idm_accel * CFG.idm_decel))
    expected = CFG.idm_accel * (1 - (v / v0) ** 4 - (s_star / gap) ** 2)
    assert _idm(v, v0, gap, vl) == pytest.approx(expected, rel=1e-12)


def test_strong_braking_when_gap_small():
    assert _idm(10.0, 11.0, 2.0, 0.0) == pytest.approx(-MAX_DECEL)  # clipped to the physical limit
    assert _idm(5.0, 11.0, 8.0, 0.0) < -CFG.idm_decel
    # standing at the jam distance behind a stopped leader: no creeping forward
    assert _idm(0.0, 11.0, CFG.idm_min_gap, 0.0) <= 0.0


def test_braking_increases_as_gap_shrinks():
    gaps = np.array([100.0, 50.0, 25.0, 12.0, 6.0, 3.0])
    acc = _idm(np.full(6, 8.0), np.full(6, 11.0), gaps, np.zeros(6))
    assert np.all(np.diff(acc) <= 0.0)
    assert np.all(acc >= -MAX_DECEL) and np.all(acc <= CFG.idm_accel)


def test_faster_leader_reduces_braking():
    assert _idm(8.0, 11.0, 15.0, 12.0) > _idm(8.0, 11.0, 15.0, 0.0)


# --------------------------------------------------------------------------- NPC cars in a world
POOL = small_pool()
M0 = POOL.maps[0]
# a road lane ending at a signalised intersection and long enough for the tests
SIGNAL_LANE = int(next(lane for lane in np.flatnonzero(M0.lane_kind == LaneKind.ROAD)
                       if M0.node_signal[M0.lane_node[lane]] and M0.lane_len[lane] > 40.0))
NODE, AXIS = int(M0.lane_node[SIGNAL_LANE]), int(M0.lane_axis[SIGNAL_LANE])
GREEN, RED, YELLOW = 0.0, CFG.green_time + CFG.yellow_time + 0.5, CFG.green_time + 0.2  # phase times [s]


def _connector(turn: Turn) -> int:
    succ = M0.lane_next[SIGNAL_LANE, : M0.lane_n_next[SIGNAL_LANE]]
    return int(next((c for c in succ if M0.lane_turn[c] == turn), succ[0]))


def _step_with_light(world, phase: float, n: int = 1) -> None:
    """Step while holding the signal of SIGNAL_LANE at `phase` seconds into its cycle."""
    for _ in range(n):
        set_light(world, NODE, AXIS, phase - world.config.dt)
        step(world)


def test_follower_stops_behind_stopped_leader_without_overlap():
    lane = SIGNAL_LANE
    leader_s = 34.0
    world = traffic_world(2)
    place_car(world, 1, lane, leader_s, 0.0)
    place_car(world, 2, lane, 3.0, 11.0)
    c = world.cars
    gaps, speeds = [], []
    for _ in range(300):
        _step_with_light(world, GREEN)
        # the leader has broken down: hold it in place
        place_car(world, 1, lane, leader_s, 0.0)
        assert c.lane[0, 2] == lane, "the follower drove through its leader"
        gaps.append(leader_s - c.s[0, 2] - CAR_LENGTH)
        speeds.append(c.v[0, 2])
    gaps = np.array(gaps)
    assert gaps.min() > 0.0
    assert speeds[-1] < 0.05
    assert 0.5 < gaps[-1] < 2 * CFG.idm_min_gap + 1.0  # stopped close behind, not far back
    assert np.all(np.array(speeds) >= 0.0)


def test_follower_brakes_for_leader_across_an_intersection():
    """Leader stands just after an intersection on the follower's exit lane; the follower, on the
    incoming lane, must not run into it (positions compared along the lane chain)."""
    lane = SIGNAL_LANE
    conn = int(M0.lane_next[lane, 0])
    exit_lane = int(M0.lane_next[conn, 0])
    world = traffic_world(2)
    place_car(world, 1, exit_lane, 6.0, 0.0)
    place_car(world, 2, lane, 10.0, 10.0, nxt=conn)
    c = world.cars
    path = {lane: 0.0, conn: M0.lane_len[lane], exit_lane: M0.lane_len[lane] + M0.lane_len[conn]}
    leader_pos = path[exit_lane] + 6.0
    for _ in range(300):
        _step_with_light(world, GREEN)
        place_car(world, 1, exit_lane, 6.0, 0.0)
        assert int(c.lane[0, 2]) in path
        gap = leader_pos - (path[int(c.lane[0, 2])] + c.s[0, 2]) - CAR_LENGTH
        assert gap > 0.0
    assert c.v[0, 2] < 0.05


def test_car_stops_at_red_light_then_proceeds_on_green():
    lane = SIGNAL_LANE
    length = M0.lane_len[lane]
    world = traffic_world(1)
    place_car(world, 1, lane, 3.0, 10.0)
    c = world.cars
    for _ in range(250):
        _step_with_light(world, RED)
        assert world.lights[0, lane] == Light.RED
        assert c.lane[0, 1] == lane, "ran the red light"
        assert c.s[0, 1] + CAR_LENGTH / 2 <= length + 1e-9, "front bumper over the stop line"
    assert c.v[0, 1] < 0.05
    assert length - (c.s[0, 1] + CAR_LENGTH / 2) < 3.0  # waits at the stop line, not far back
    for _ in range(100):
        _step_with_light(world, GREEN)
        if c.lane[0, 1] != lane:
            break
    assert c.lane[0, 1] in M0.lane_next[lane]
    assert M0.lane_kind[c.lane[0, 1]] == LaneKind.CONNECTOR


def test_car_close_to_stop_line_when_light_turns_red_does_not_stop_impossibly():
    """A car that cannot stop any more (closer than v^2 / (2 MAX_DECEL)) keeps going instead of
    teleport-stopping; a far car on yellow stops."""
    lane = SIGNAL_LANE
    length = M0.lane_len[lane]
    near = length - CAR_LENGTH / 2 - 1.0
    world = traffic_world(2)
    place_car(world, 1, lane, near, 12.0)
    place_car(world, 2, lane, 5.0, 10.0)
    _step_with_light(world, RED)
    assert world.cars.v[0, 1] > 4.0  # did not brake from 12 m/s to 0 in one step
    far = traffic_world(1)
    place_car(far, 1, lane, 3.0, 8.0, nxt=_connector(Turn.STRAIGHT))
    for _ in range(200):
        _step_with_light(far, YELLOW)
        assert world.lights[0, lane] != Light.NONE
        assert far.cars.lane[0, 1] == lane
    assert far.cars.v[0, 1] < 0.05


def test_car_waiting_to_turn_left_clears_on_yellow_before_red():
    """A car at the stop line waiting to turn left goes when its light turns yellow (the oncoming
    stream stops) and crosses the line before red (a car that is not at the line, or goes straight,
    stops for the yellow: see above)."""
    lane = int(next(lane for lane in np.flatnonzero(M0.lane_kind == LaneKind.ROAD) if M0.node_signal[M0.lane_node[lane]]
                    and Turn.LEFT in M0.lane_turn[M0.lane_next[lane, : M0.lane_n_next[lane]]]))
    left = int(next(c for c in M0.lane_next[lane, : M0.lane_n_next[lane]] if M0.lane_turn[c] == Turn.LEFT))
    length = M0.lane_len[lane]
    world = traffic_world(1)
    place_car(world, 1, lane, length - CAR_LENGTH / 2 - 2.0, 0.0, nxt=left)
    set_light(world, int(M0.lane_node[lane]), int(M0.lane_axis[lane]), CFG.green_time)  # yellow starts now
    lights = []
    for _ in range(int(CFG.yellow_time / world.config.dt)):
        step(world)
        lights.append(int(world.lights[0, lane]))
        if world.cars.lane[0, 1] != lane:
            break
    assert world.cars.lane[0, 1] == left and Light.YELLOW in lights and Light.RED not in lights[:-1]


def test_world_car_waits_for_red_light_at_stop_line():
    """Through the World: force the signal phase with the offsets and check the NPC waits on red
    and leaves on green."""
    world = traffic_world(1, seed=3)
    tc = world.config.traffic
    m = int(world.map_idx[0])
    city = world.pool.maps[m]
    lane = int(next(lane for lane in np.flatnonzero(city.lane_kind == LaneKind.ROAD)
                    if city.node_signal[city.lane_node[lane]] and city.lane_len[lane] > 40.0))
    node, axis = int(city.lane_node[lane]), int(city.lane_axis[lane])
    # axis `axis` of `node` turns red at t = 0 and stays red for half a cycle plus the all-red time
    set_light(world, node, axis, tc.green_time + tc.yellow_time)
    red_steps = int((cycle_time(tc) / 2 + tc.all_red_time) / world.config.dt)
    place_car(world, 1, lane, 3.0, 9.0, nxt=int(city.lane_next[lane, 0]))
    c = world.cars
    length = city.lane_len[lane]
    for _ in range(red_steps - 2):
        step(world)
        assert world.lights[0, lane] == Light.RED
        assert c.lane[0, 1] == lane, "NPC ran a red light"
        assert c.s[0, 1] + CAR_LENGTH / 2 <= length + 1e-9
    assert c.v[0, 1] < 0.05
    for _ in range(150):
        step(world)
        if c.lane[0, 1] != lane:
            break
    assert world.lights[0, lane] == Light.GREEN
    assert c.lane[0, 1] != lane, "NPC did not proceed on green"
    x, y, _ = lane_pose(world.pool, np.array([m]), c.lane[:, 1], c.s[:, 1])
    assert x[0] == pytest.approx(c.x[0, 1]) and y[0] == pytest.approx(c.y[0, 1])


def test_car_stopped_over_the_line_waits_for_green():
    """A car standing with its nose 1.5 m over the stop line at red (its centre still before it)
    stays: driving on would run the red. Before 2026-12-07 a car more than the 0.5 m stop margin
    past the line went on at red even from standstill. On green it goes."""
    lane = SIGNAL_LANE
    world = traffic_world(1)
    place_car(world, 1, lane, M0.lane_len[lane] - CAR_LENGTH / 2 + 1.5, 0.0, nxt=_connector(Turn.STRAIGHT))
    c = world.cars
    _step_with_light(world, RED, 100)
    assert c.lane[0, 1] == lane and c.v[0, 1] < 0.05, "the car drove into the junction at red"
    _step_with_light(world, GREEN, 60)
    assert c.lane[0, 1] != lane, "the car did not go on green"
