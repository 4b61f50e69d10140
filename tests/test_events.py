"""Collision / off-road detection and the named reward terms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.actors.driver import CAR_LENGTH, CAR_WIDTH, PED_RADIUS
from drivesim.config import ConfigError, EnvConfig, MapConfig, RewardConfig, TrafficConfig, VehicleConfig
from drivesim.events import EVENT_NAMES, REWARD_TERMS, TERMINATING, detect_collisions, reward_terms
from drivesim.geometry import box_corners, obb_overlap
from drivesim.map.city import LaneKind, PedPathKind, Surface, stack_maps
from drivesim.map.generator import generate_city
from drivesim.map.lanes import lane_pose
from drivesim.map.raster import lookup
from drivesim.world import World

VEH = VehicleConfig()
SMALL = MapConfig(blocks_x=2, blocks_y=2, pool_size=1)
CITY = generate_city(SMALL, 0)
POOL = stack_maps([CITY])
RASTERS = CITY.raster[None]


def _road_pose():
    """Middle of the longest road lane (on the drivable surface)."""
    road = np.flatnonzero(CITY.lane_kind == LaneKind.ROAD)
    lane = int(road[np.argmax(CITY.lane_len[road])])
    x, y, yaw = lane_pose(POOL, np.zeros(1, dtype=np.int64), np.array([lane]), np.array([CITY.lane_len[lane] / 2]))
    return float(x[0]), float(y[0]), float(yaw[0])


EGO_X, EGO_Y, EGO_YAW = _road_pose()


def _detect(x, y, yaw, cars=None, car_active=None, peds=None, ped_active=None):
    """detect_collisions for one world; cars [(x, y, yaw)], peds [(x, y)] positions in the world frame."""
    cars = cars or [(-900.0, -900.0, 0.0)]
    peds = peds or [(-900.0, -900.0)]
    c = np.array(cars, dtype=np.float64).T[:, None, :]
    p = np.array(peds, dtype=np.float64).T[:, None, :]
    car_active = np.ones((1, len(cars)), dtype=bool) if car_active is None else np.array([car_active])
    ped_active = np.ones((1, len(peds)), dtype=bool) if ped_active is None else np.array([ped_active])
    return detect_collisions(np.array([x]), np.array([y]), np.array([yaw]), VEH.length, VEH.width, (c[0], c[1], c[2]),
                             car_active, (p[0], p[1]), ped_active, POOL.kernel, np.zeros(1, dtype=np.int64))


def _at(fx, fy, dyaw=0.0):
    """World pose at ego-frame offset (fx forward, fy left) with relative heading dyaw."""
    c, s = math.cos(EGO_YAW), math.sin(EGO_YAW)
    return EGO_X + c * fx - s * fy, EGO_Y + s * fx + c * fy, EGO_YAW + dyaw


# ------------------------------------------------------------------------------------ vehicles
def test_ego_on_road_lane_no_events():
    col = _detect(EGO_X, EGO_Y, EGO_YAW)
    assert not col.vehicle[0] and not col.pedestrian[0] and not col.static[0] and not col.off_road[0]


@pytest.mark.parametrize("fx,fy,dyaw,hit", [
    (4.45, 0.0, 0.0, True), (4.55, 0.0, 0.0, False),          # bumper to bumper: (4.5 + 4.5) / 2
    (-4.45, 0.0, 0.0, True), (-4.55, 0.0, 0.0, False),        # behind
    (0.0, 1.85, 0.0, True), (0.0, 1.95, 0.0, False),          # side by side: (1.9 + 1.9) / 2
    (3.15, 0.0, math.pi / 2, True), (3.25, 0.0, math.pi / 2, False),  # T-bone: 2.25 + 0.95
    (4.45, 0.0, math.pi / 4, True), (4.58, 0.0, math.pi / 4, False),  # 2.25 + (2.25 + 0.95) / sqrt 2
    (4.0, 1.5, math.pi, True), (0.0, 0.0, 1.0, True),
])
def test_vehicle_collision_at_known_distances(fx, fy, dyaw, hit):
    assert VEH.length == CAR_LENGTH and VEH.width == CAR_WIDTH  # the expected distances assume equal boxes
    col = _detect(EGO_X, EGO_Y, EGO_YAW, cars=[(-900.0, -900.0, 0.0), _at(fx, fy, dyaw)])
    assert bool(col.vehicle[0]) is hit
    np.testing.assert_array_equal(col.car_hit[0], [False, hit])


def test_inactive_car_is_ignored():
    col = _detect(EGO_X, EGO_Y, EGO_YAW, cars=[_at(1.0, 0.0)], car_active=[False])
    assert not col.vehicle[0] and not col.car_hit.any()


def _segments_intersect(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def _inside(pt, corners) -> bool:
    signs = [(corners[(i + 1) % 4][0] - corners[i][0]) * (pt[1] - corners[i][1])
             - (corners[(i + 1) % 4][1] - corners[i][1]) * (pt[0] - corners[i][0]) for i in range(4)]
    return all(s > 0 for s in signs) or all(s < 0 for s in signs)


def _brute_overlap(a, b) -> bool:
    if any(_inside(p, b) for p in a) or any(_inside(p, a) for p in b):
        return True
    return any(_segments_intersect(a[i], a[(i + 1) % 4], b[j], b[(j + 1) % 4]) for i in range(4) for j in range(4))


def test_obb_overlap_matches_brute_force_polygon_test():
    rng = np.random.default_rng(42)
    n = 3000
    ax, ay, ayaw = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n), rng.uniform(-np.pi, np.pi, n)
    bx, by, byaw = rng.uniform(-6, 6, n), rng.uniform(-6, 6, n), rng.uniform(-np.pi, np.pi, n)
    alen, awid, blen, bwid = 4.5, 1.9, rng.uniform(0.5, 8, n), rng.uniform(0.5, 3, n)
    got = obb_overlap(ax, ay, ayaw, alen, awid, bx, by, byaw, blen, bwid)
    ca = box_corners(ax, ay, ayaw, alen, awid)
    cb = box_corners(bx, by, byaw, blen, bwid)
    disagree = [i for i in range(n) if bool(got[i]) != _brute_overlap(ca[i], cb[i])]
    # boxes just touching may go either way; anything else must agree
    assert len(disagree) <= 2, disagree[:5]
    assert 0.2 < got.mean() < 0.8  # both outcomes well represented


def test_obb_overlap_symmetric():
    rng = np.random.default_rng(3)
    a = rng.uniform(-5, 5, (3, 500))
    ab = obb_overlap(a[0], a[1], a[2], 4.5, 1.9, a[1] * 0.3, a[0] * 0.2, a[2] * 2, 3.0, 1.0)
    ba = obb_overlap(a[1] * 0.3, a[0] * 0.2, a[2] * 2, 3.0, 1.0, a[0], a[1], a[2], 4.5, 1.9)
    np.testing.assert_array_equal(ab, ba)


# ---------------------------------------------------------------------------------- pedestrians
@pytest.mark.parametrize("fx,fy,hit", [
    (VEH.length / 2 + PED_RADIUS - 0.05, 0.0, True), (VEH.length / 2 + PED_RADIUS + 0.05, 0.0, False),
    (0.0, VEH.width / 2 + PED_RADIUS - 0.05, True), (0.0, -(VEH.width / 2 + PED_RADIUS + 0.05), False),
    (-2.0, 0.5, True),
])
def test_pedestrian_collision(fx, fy, hit):
    px, py, _ = _at(fx, fy)
    col = _detect(EGO_X, EGO_Y, EGO_YAW, peds=[(-900.0, -900.0), (px, py)])
    assert bool(col.pedestrian[0]) is hit
    np.testing.assert_array_equal(col.ped_hit[0], [False, hit])
    assert not col.vehicle[0]


def test_inactive_pedestrian_is_ignored():
    px, py, _ = _at(0.5, 0.0)
    assert not _detect(EGO_X, EGO_Y, EGO_YAW, peds=[(px, py)], ped_active=[False]).pedestrian[0]


# -------------------------------------------------------------------------- buildings, off-road
@pytest.mark.parametrize("k", [0, 1, -1])
def test_ego_inside_building_is_static_collision(k):
    x0, y0, x1, y1 = CITY.buildings[k]
    col = _detect(0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.3)
    assert col.static[0] and col.off_road[0]
    assert not col.vehicle[0] and not col.pedestrian[0]


def test_ego_touching_building_edge_is_static_collision():
    x0, y0, x1, y1 = CITY.buildings[0]
    # ego heading east with its front 0.5 m inside the building's west wall, centred on the wall
    col = _detect(x0 - VEH.length / 2 + 0.5, 0.5 * (y0 + y1), 0.0)
    assert col.static[0]
    col = _detect(x0 - VEH.length / 2 - 0.5, 0.5 * (y0 + y1), 0.0)
    assert not col.static[0]


def test_ego_on_sidewalk_is_off_road():
    side = np.flatnonzero(CITY.ped_kind == PedPathKind.SIDEWALK)
    seg = int(side[np.argmax(CITY.ped_len[side])])
    a, b = CITY.ped_a[seg], CITY.ped_b[seg]
    mid = 0.5 * (a + b)
    yaw = math.atan2(b[1] - a[1], b[0] - a[0])
    assert CITY.ped_len[seg] > VEH.length + 1.0
    surface = lookup(RASTERS, np.zeros(1, dtype=np.int64), mid[None], CITY.raster_origin, CITY.raster_resolution)
    assert surface[0] == Surface.SIDEWALK
    col = _detect(float(mid[0]), float(mid[1]), yaw)
    assert col.off_road[0]
    assert not col.static[0] and not col.vehicle[0] and not col.pedestrian[0]


def test_partly_off_road_counts():
    """Driving with the right wheels over the kerb: centre on the road, outline partly off it."""
    road = np.flatnonzero(CITY.lane_kind == LaneKind.ROAD)
    lane = int(road[np.argmax(CITY.lane_len[road])])
    link = CITY.lane_link[lane]
    half_width = CITY.link_lanes[link][CITY.link_lanes[link] >= 0].size * SMALL.lane_width
    s = CITY.lane_len[lane] / 2
    x, y, yaw = lane_pose(POOL, np.zeros(1, dtype=np.int64), np.array([lane]), np.array([s]))
    right = np.array([math.sin(yaw[0]), -math.cos(yaw[0])])
    shift = half_width - CITY.lane_offset[lane]  # lane centre -> kerb
    on_kerb = np.array([x[0], y[0]]) + right * shift  # ego centre on the kerb line
    col = _detect(float(on_kerb[0]), float(on_kerb[1]), float(yaw[0]))
    assert col.off_road[0]
    inside = np.array([x[0], y[0]]) + right * (shift - VEH.width / 2 - 0.3)
    assert not _detect(float(inside[0]), float(inside[1]), float(yaw[0])).off_road[0]


def test_batched_rows_are_independent():
    bx0, by0, bx1, by1 = CITY.buildings[0]
    x = np.array([EGO_X, 0.5 * (bx0 + bx1)])
    y = np.array([EGO_Y, 0.5 * (by0 + by1)])
    yaw = np.array([EGO_YAW, 0.0])
    cx, cy, cyaw = _at(3.0, 0.0)
    cars = (np.array([[cx], [-900.0]]), np.array([[cy], [-900.0]]), np.array([[cyaw], [0.0]]))
    col = detect_collisions(x, y, yaw, VEH.length, VEH.width, cars, np.ones((2, 1), dtype=bool),
                            (np.full((2, 1), -900.0), np.full((2, 1), -900.0)), np.ones((2, 1), dtype=bool), POOL.kernel,
                            np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(col.vehicle, [True, False])
    np.testing.assert_array_equal(col.static, [False, True])
    np.testing.assert_array_equal(col.off_road, [False, True])


# ------------------------------------------------------------------------------------- rewards
def _events(b: int, **set_rows) -> dict[str, np.ndarray]:
    ev = {name: np.zeros(b, dtype=bool) for name in EVENT_NAMES}
    for name, rows in set_rows.items():
        ev[name][rows] = True
    return ev


def _terms(events, b, progress=None, lateral=None, speed=None, jerk=None, steer_rate=None, cfg=None,
           dt=0.1, limit=11.0):
    z = np.zeros(b)
    return reward_terms(events, z if progress is None else progress, z if lateral is None else lateral,
                        z if speed is None else speed, limit, z if jerk is None else jerk,
                        z if steer_rate is None else steer_rate, VEH.max_steer_rate, SMALL.lane_width,
                        cfg or RewardConfig(), dt)


def test_reward_term_names():
    terms = _terms(_events(2), 2)
    assert tuple(terms) == REWARD_TERMS
    assert all(v.shape == (2,) for v in terms.values())


def test_quiet_step_has_zero_reward():
    terms = _terms(_events(3), 3)
    for name, value in terms.items():
        np.testing.assert_array_equal(value, 0.0, err_msg=name)


def test_collision_negative_goal_positive():
    cfg = RewardConfig()
    ev = _events(5, collision_vehicle=[0], collision_pedestrian=[1], collision_static=[2], goal=[3])
    ev["collision_vehicle"][3] = False
    terms = _terms(ev, 5, cfg=cfg)
    np.testing.assert_allclose(terms["collision"], [-cfg.collision] * 3 + [0.0, 0.0])
    np.testing.assert_allclose(terms["goal"], [0, 0, 0, cfg.goal, 0])
    assert np.all(terms["collision"] <= 0.0) and terms["goal"][3] > 0
    # several collisions at once are one penalty
    both = _terms(_events(1, collision_vehicle=[0], collision_pedestrian=[0], collision_static=[0]), 1)
    np.testing.assert_allclose(both["collision"], [-cfg.collision])


def test_progress_proportional_to_metres():
    cfg = RewardConfig(progress=0.25)
    metres = np.array([0.0, 1.0, 2.0, 10.0, -3.0])
    terms = _terms(_events(5), 5, progress=metres, cfg=cfg)
    np.testing.assert_allclose(terms["progress"], 0.25 * metres)
    assert terms["progress"][4] < 0  # going backwards along the route costs reward


def test_per_second_penalties_scale_with_dt_and_are_negative():
    rng = np.random.default_rng(0)
    b = 64
    ev = {name: rng.random(b) < 0.3 for name in EVENT_NAMES}
    kw = dict(progress=np.zeros(b), lateral=rng.normal(0, 3, b), speed=rng.uniform(0, 20, b),
              jerk=rng.normal(0, 30, b), steer_rate=rng.normal(0, 1, b))
    t1, t2 = _terms(ev, b, dt=0.1, **kw), _terms(ev, b, dt=0.2, **kw)
    for name in REWARD_TERMS:
        if name in ("progress", "goal"):
            continue
        assert np.all(t1[name] <= 0.0), name
    for name in ("off_road", "wrong_way", "lane_keeping", "speeding", "comfort"):
        np.testing.assert_allclose(t2[name], 2 * t1[name], err_msg=name)
    for name in ("collision", "red_light", "goal", "off_route"):
        np.testing.assert_allclose(t2[name], t1[name], err_msg=name)


def test_lane_keeping_speeding_comfort_values():
    cfg, dt = RewardConfig(), 0.1
    w = SMALL.lane_width
    terms = _terms(_events(4), 4, lateral=np.array([0.0, w / 2, -w, 10 * w]), speed=np.array([5.0, 11.0, 16.5, 22.0]),
                   jerk=np.array([0.0, 10.0, -100.0, 0.0]), steer_rate=np.array([0.0, 0.0, 0.0, -VEH.max_steer_rate]),
                   cfg=cfg, dt=dt)
    np.testing.assert_allclose(terms["lane_keeping"], -cfg.lane_keeping * dt * np.array([0.0, 0.5, 1.0, 2.0]))
    np.testing.assert_allclose(terms["speeding"], -cfg.speeding * dt * np.array([0.0, 0.0, 0.5, 1.0]))
    np.testing.assert_allclose(terms["comfort"], -cfg.comfort * dt * np.array([0.0, 1.0, 3.0, 1.0]))


def test_world_reward_is_sum_of_terms_and_building_crash_terminates():
    cfg = EnvConfig(map=SMALL, traffic=TrafficConfig(n_cars=4, n_pedestrians=4), observations=("state",))
    world = World(cfg, 2)
    world.reset(np.array([1, 2]), np.array([0, 0]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        res = world.step(rng.uniform(-1, 1, (2, 2)) * np.array([0.3, 1.0]))
        total = np.zeros(2)
        for name in REWARD_TERMS:
            total = total + res.terms[name]
        np.testing.assert_array_equal(res.reward, total)
        assert set(res.events) == set(EVENT_NAMES)
    x0, y0, x1, y1 = world.pool.maps[int(world.map_idx[1])].buildings[0]
    world.cars.x[1, 0], world.cars.y[1, 0], world.cars.v[1, 0] = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.0  # slot 0: the ego
    res = world.step(np.array([[0.0, 0.0], [0.0, -1.0]]))
    assert res.events["collision_static"][1] and res.terminated[1]
    assert res.terms["collision"][1] == -cfg.reward.collision
    assert "collision_static" in TERMINATING


# ------------------------------------------------------------------------------ CaRL-style mode
CARL = RewardConfig(mode="carl", carl_terminal=1.5)


def test_carl_progress_is_route_fraction_times_penalty_factors():
    """Hand-computed: 2 m of a 200 m route = 0.01; factors per row below (limit 11 m/s, lane 3.5 m
    in SMALL, comfort from |jerk| / 10 m/s^3)."""
    lw = SMALL.lane_width
    progress = np.array([2.0, 2.0, 2.0, 2.0, 2.0, -1.0])
    speed = np.array([10.0, 16.5, 10.0, 10.0, 10.0, 10.0])  # row 1: 50 % over the limit -> 0.5
    lateral = np.array([0.0, 0.0, 0.5 * lw, 0.0, 0.0, 0.0])  # row 2: half a lane -> 1 - 0.5 * 0.5 = 0.75
    jerk = np.array([0.0, 0.0, 0.0, 10.0, 0.0, 0.0])  # row 3: discomfort 1 -> 1 - 0.5 * 0.5 = 0.75
    ev = _events(6, wrong_way=[4])  # row 4: wrong way -> 0.5
    z = np.zeros(6)
    terms = reward_terms(ev, progress, lateral, speed, 11.0, jerk, z, VEH.max_steer_rate, lw, CARL, 0.1,
                         route_total=200.0)
    np.testing.assert_allclose(terms["progress"], [0.01, 0.005, 0.0075, 0.0075, 0.005, -0.005])
    for name in REWARD_TERMS[1:]:  # nothing else without an infraction
        np.testing.assert_array_equal(terms[name], 0.0, err_msg=name)


def test_carl_infraction_costs_the_terminal_penalty_once():
    ev = _events(6, collision_pedestrian=[0], red_light=[1], off_road=[2], off_route=[3], stuck=[4], goal=[5])
    ev["red_light"][0] = ev["off_road"][0] = True  # several at once: one penalty, under collision
    terms = _terms(ev, 6, cfg=CARL)
    total = sum(terms.values())
    np.testing.assert_allclose(total, [-1.5, -1.5, -1.5, -1.5, -1.5, 0.0])
    assert terms["collision"][0] == -1.5 and terms["red_light"][0] == 0.0
    assert terms["red_light"][1] == terms["off_road"][2] == terms["off_route"][3] == terms["stuck"][4] == -1.5


def test_carl_mode_ends_episodes_on_red_lights_and_leaving_the_road():
    cfg = EnvConfig(observations=("state",), reward=CARL, map={"blocks_x": 2, "blocks_y": 2, "pool_size": 1})
    worlds = {mode: World(cfg.replace(reward={"mode": mode}), 1) for mode in ("additive", "carl", "score")}
    ended = {}
    for mode, world in worlds.items():
        world.reset(np.array([3], dtype=np.uint64), np.zeros(1, dtype=np.int64))
        for _ in range(200):  # full throttle, hard left: off the road soon
            result = world.step(np.array([[1.0, 1.0]]))
            if result.events["off_road"][0]:
                ended[mode] = bool(result.terminated[0])
                break
    assert ended == {"additive": False, "carl": True, "score": True}


def test_score_mode_ending_costs_what_the_driving_score_loses():
    """Hand-computed: 2 m of a 200 m route with 40 % done; a pedestrian hit costs (1 - 0.5) x 0.4,
    a car 0.4 x 0.4, a building 0.35 x 0.4, a red light 0.3 x 0.4; a pedestrian hit and a red light
    at once (1 - 0.5 x 0.7) x 0.4; leaving the road or the route, or getting stuck, costs nothing
    but the rest of the route. So an episode's return is its driving score."""
    score = RewardConfig(mode="score")
    ev = _events(8, collision_pedestrian=[0, 4], collision_vehicle=[1], collision_static=[2], red_light=[3, 4],
                 off_road=[5], off_route=[6], stuck=[7])
    z = np.zeros(8)
    terms = reward_terms(ev, np.full(8, 2.0), z, np.full(8, 10.0), 11.0, z, z, VEH.max_steer_rate, SMALL.lane_width,
                         score, 0.1, route_total=200.0, completion=0.4)
    np.testing.assert_allclose(terms["progress"], 0.01)
    ending = sum(terms.values()) - terms["progress"]
    np.testing.assert_allclose(ending, [-0.2, -0.16, -0.14, -0.12, -0.26, 0.0, 0.0, 0.0])
    assert terms["collision"][4] == pytest.approx(-0.26) and terms["red_light"][4] == 0.0
    # a whole episode: 40 % of the route, then a car -> return 0.4 - 0.16 = 0.4 x 0.6, its driving score
    assert 0.4 + ending[1] == pytest.approx(0.4 * 0.6)


def test_score_mode_charges_the_time_limit_as_the_score_does():
    """The time limit with 40 % done costs (1 - 0.7) x 0.4 = 0.12 in the `stuck` term; reaching the
    goal on the last step costs nothing; carl charges nothing for the time limit (PPO bootstraps)."""
    ev = _events(3, timeout=[0, 1], goal=[1])
    z = np.zeros(3)
    args = (np.full(3, 2.0), z, np.full(3, 10.0), 11.0, z, z, VEH.max_steer_rate, SMALL.lane_width)
    score = reward_terms(ev, *args, RewardConfig(mode="score"), 0.1, route_total=200.0, completion=0.4)
    np.testing.assert_allclose(score["stuck"], [-0.12, 0.0, 0.0])
    carl = reward_terms(ev, *args, CARL, 0.1, route_total=200.0, completion=0.4)
    np.testing.assert_array_equal(carl["stuck"], 0.0)


def test_reward_mode_is_checked():
    with pytest.raises(ConfigError, match="RewardConfig.mode='dense' is not a reward mode"):
        RewardConfig(mode="dense").validate()
    with pytest.raises(ConfigError, match="carl_terminal"):
        EnvConfig(reward={"mode": "carl", "carl_terminal": -1.0})
