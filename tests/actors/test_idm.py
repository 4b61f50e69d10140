"""Intelligent Driver Model and its use by NPC cars: free road, following, red lights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.actors.idm import MAX_DECEL, idm_accel
from drivesim.actors.signals import Light
from drivesim.actors.traffic import CAR_LENGTH, step_cars
from drivesim.config import TrafficConfig
from drivesim.map.city import LaneKind
from drivesim.map.lanes import lane_pose
from drivesim.world import World
from tests.actors.helpers import far_ego, make_cars, make_ctx, move_ego_away, small_env_config, small_pool

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


# --------------------------------------------------------------------------- cars with step_cars
POOL = small_pool()
M0 = POOL.maps[0]
# a signalised road lane ending at a signalised intersection and long enough for the tests
SIGNAL_LANE = int(next(lane for lane in np.flatnonzero(M0.lane_kind == LaneKind.ROAD)
                       if M0.node_signal[M0.lane_node[lane]] and M0.lane_len[lane] > 40.0))


def test_follower_stops_behind_stopped_leader_without_overlap():
    lane = SIGNAL_LANE
    leader_s = 34.0
    cars = make_cars(POOL, [[lane, lane]], s=[[leader_s, 3.0]], v=[[0.0, 11.0]], v0=[[11.0, 11.0]])
    ego = far_ego(1)
    gaps, speeds = [], []
    for step in range(300):
        cars = step_cars(cars, ego, make_ctx(POOL, 1, step=step + 1))
        # the leader has broken down: hold it in place
        cars.s[0, 0], cars.v[0, 0], cars.lane[0, 0] = leader_s, 0.0, lane
        assert cars.lane[0, 1] == lane, "the follower drove through its leader"
        gaps.append(leader_s - cars.s[0, 1] - CAR_LENGTH)
        speeds.append(cars.v[0, 1])
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
    cars = make_cars(POOL, [[exit_lane, lane]], s=[[6.0, 10.0]], v=[[0.0, 10.0]],
                     nxt=[[M0.lane_next[exit_lane, 0], conn]])
    ego = far_ego(1)
    path = {lane: 0.0, conn: M0.lane_len[lane], exit_lane: M0.lane_len[lane] + M0.lane_len[conn]}
    leader_pos = path[exit_lane] + 6.0
    for step in range(300):
        cars = step_cars(cars, ego, make_ctx(POOL, 1, step=step + 1))
        cars.s[0, 0], cars.v[0, 0], cars.lane[0, 0] = 6.0, 0.0, exit_lane
        assert int(cars.lane[0, 1]) in path
        gap = leader_pos - (path[int(cars.lane[0, 1])] + cars.s[0, 1]) - CAR_LENGTH
        assert gap > 0.0
    assert cars.v[0, 1] < 0.05


def _lights(state: int) -> np.ndarray:
    lights = np.zeros((1, POOL.lane_len.shape[1]), dtype=np.int8)
    lights[0, SIGNAL_LANE] = state
    return lights


def test_car_stops_at_red_light_then_proceeds_on_green():
    lane = SIGNAL_LANE
    length = M0.lane_len[lane]
    cars = make_cars(POOL, [[lane]], s=3.0, v=10.0)
    ego = far_ego(1)
    step = 0
    for _ in range(250):
        step += 1
        cars = step_cars(cars, ego, make_ctx(POOL, 1, lights=_lights(Light.RED), step=step))
        assert cars.lane[0, 0] == lane, "ran the red light"
        assert cars.s[0, 0] + CAR_LENGTH / 2 <= length + 1e-9, "front bumper over the stop line"
    assert cars.v[0, 0] < 0.05
    assert length - (cars.s[0, 0] + CAR_LENGTH / 2) < 3.0  # waits at the stop line, not far back
    for _ in range(100):
        step += 1
        cars = step_cars(cars, ego, make_ctx(POOL, 1, lights=_lights(Light.GREEN), step=step))
        if cars.lane[0, 0] != lane:
            break
    assert cars.lane[0, 0] == M0.lane_next[lane, 0] or cars.lane[0, 0] in M0.lane_next[lane]
    assert M0.lane_kind[cars.lane[0, 0]] == LaneKind.CONNECTOR


def test_car_close_to_stop_line_when_light_turns_red_does_not_stop_impossibly():
    """A car that cannot stop any more (closer than v^2 / (2 MAX_DECEL)) keeps going instead of
    teleport-stopping; a far car on yellow stops."""
    lane = SIGNAL_LANE
    length = M0.lane_len[lane]
    near = length - CAR_LENGTH / 2 - 1.0
    cars = make_cars(POOL, [[lane, lane]], s=[[near, 5.0]], v=[[12.0, 10.0]])
    cars = step_cars(cars, far_ego(1), make_ctx(POOL, 1, lights=_lights(Light.RED), step=1))
    assert cars.v[0, 0] > 4.0  # did not brake from 12 m/s to 0 in one step
    far = make_cars(POOL, [[lane]], s=3.0, v=8.0)
    for step in range(200):
        far = step_cars(far, far_ego(1), make_ctx(POOL, 1, lights=_lights(Light.YELLOW), step=step + 1))
        assert far.lane[0, 0] == lane
    assert far.v[0, 0] < 0.05


def test_world_car_waits_for_red_light_at_stop_line():
    """Through the World: force the signal phase with `signal_offset` and check the NPC waits on red
    and leaves on green."""
    cfg = small_env_config(n_cars=1, n_pedestrians=0)
    world = World(cfg, 1)
    world.reset(np.array([3]), np.array([0]))
    move_ego_away(world)
    tc = cfg.traffic
    m = int(world.map_idx[0])
    city = world.pool.maps[m]
    lane = int(next(lane for lane in np.flatnonzero(city.lane_kind == LaneKind.ROAD)
                    if city.node_signal[city.lane_node[lane]] and city.lane_len[lane] > 40.0))
    node, axis = int(city.lane_node[lane]), int(city.lane_axis[lane])
    cycle = world.cycle
    # axis `axis` of `node` turns red at t = 0 and stays red for half a cycle plus the all-red time
    world.signal_offset[0, node] = (tc.green_time + tc.yellow_time + axis * cycle / 2) % cycle
    red_steps = int((cycle / 2 + tc.all_red_time) / cfg.dt)
    c = world.cars
    c.lane[0, 0], c.s[0, 0], c.v[0, 0], c.next[0, 0] = lane, 3.0, 9.0, city.lane_next[lane, 0]
    length = city.lane_len[lane]
    for _ in range(red_steps - 2):
        world.step(np.zeros((1, 2)))
        assert world.lights[0, lane] == Light.RED
        assert world.cars.lane[0, 0] == lane, "NPC ran a red light"
        assert world.cars.s[0, 0] + CAR_LENGTH / 2 <= length + 1e-9
    assert world.cars.v[0, 0] < 0.05
    for _ in range(150):
        world.step(np.zeros((1, 2)))
        if world.cars.lane[0, 0] != lane:
            break
    assert world.lights[0, lane] == Light.GREEN
    assert world.cars.lane[0, 0] != lane, "NPC did not proceed on green"
    x, y, _ = lane_pose(world.pool, np.array([m]), world.cars.lane[:, 0], world.cars.s[:, 0])
    assert x[0] == pytest.approx(world.cars.x[0, 0]) and y[0] == pytest.approx(world.cars.y[0, 0])
