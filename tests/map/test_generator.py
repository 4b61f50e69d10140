"""Procedural city generation: determinism, lane graph, connectors, conflicts, raster, config."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from drivesim.config import ConfigError, EnvConfig, MapConfig
from drivesim.map.city import DRIVABLE, LANE_DS, CityMap, LaneKind, PedPathKind, Surface, Turn, stack_maps
from drivesim.map.generator import generate_city
from drivesim.map.lanes import lane_pose, project_to_lane
from drivesim.map.raster import lookup

SMALL = MapConfig(blocks_x=2, blocks_y=2, pool_size=1)
FOUR_WAY = MapConfig(blocks_x=2, blocks_y=2, pool_size=1, removed_road_share=0.0, two_lane_share=0.5)
MEDIUM = MapConfig(blocks_x=3, blocks_y=3, pool_size=1)
PLAZAS = MapConfig(blocks_x=5, blocks_y=3, pool_size=1, removed_road_share=0.5, two_lane_share=0.5)
CONFIGS = [SMALL, FOUR_WAY, MEDIUM, MapConfig(blocks_x=4, blocks_y=2, pool_size=1, two_lane_share=1.0), PLAZAS]
SEEDS = [0, 5]

_uncached = generate_city.__wrapped__


def _maps():
    return [(cfg, seed, generate_city(cfg, seed)) for cfg in CONFIGS for seed in SEEDS]


MAPS = _maps()
IDS = [f"{c.blocks_x}x{c.blocks_y}-rm{c.removed_road_share}-2l{c.two_lane_share}-s{s}" for c, s, _ in MAPS]


def _array_fields(city: CityMap) -> dict[str, np.ndarray]:
    return {f.name: getattr(city, f.name) for f in fields(CityMap) if isinstance(getattr(city, f.name), np.ndarray)}


# ----------------------------------------------------------------------------------- determinism
def test_same_seed_identical_arrays():
    a, b = _uncached(MEDIUM, 3), _uncached(MEDIUM, 3)
    assert a is not b
    fa, fb = _array_fields(a), _array_fields(b)
    assert fa.keys() == fb.keys() and len(fa) > 20
    for name in fa:
        assert fa[name].dtype == fb[name].dtype, name
        np.testing.assert_array_equal(fa[name], fb[name], err_msg=name)


def test_different_seeds_differ():
    a, b = _uncached(MEDIUM, 3), _uncached(MEDIUM, 4)
    fa, fb = _array_fields(a), _array_fields(b)
    differing = [n for n in fa if fa[n].shape != fb[n].shape or not np.array_equal(fa[n], fb[n])]
    assert "buildings" in differing or "raster" in differing
    assert len(differing) >= 2


def test_generation_is_cached():
    assert generate_city(SMALL, 0) is generate_city(SMALL, 0)


# ------------------------------------------------------------------------------------ lane graph
@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_every_lane_has_a_successor(cfg, seed, city):
    n = len(city.lane_len)
    assert np.all(city.lane_n_next >= 1)
    for lane in range(n):
        k = city.lane_n_next[lane]
        succ = city.lane_next[lane, :k]
        assert np.all((succ >= 0) & (succ < n))
        assert np.all(city.lane_next[lane, k:] == -1)


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_roads_connect_through_connectors(cfg, seed, city):
    for lane in range(len(city.lane_len)):
        succ = city.lane_next[lane, : city.lane_n_next[lane]]
        if city.lane_kind[lane] == LaneKind.ROAD:
            assert np.all(city.lane_kind[succ] == LaneKind.CONNECTOR)
            assert np.all(city.lane_prev[succ] == lane)
            assert city.lane_turn[lane] == Turn.FOLLOW and city.lane_link[lane] >= 0
            assert city.lane_prev[lane] == -1
            # no U-turns: none of the connectors leads back along the opposite direction
            back = [city.link_to[city.lane_link[lane]], city.link_from[city.lane_link[lane]]]
            for c in succ:
                out = city.lane_next[c, 0]
                assert [city.link_from[city.lane_link[out]], city.link_to[city.lane_link[out]]] != back
        else:
            assert city.lane_n_next[lane] == 1
            out = succ[0]
            assert city.lane_kind[out] == LaneKind.ROAD
            assert city.lane_kind[city.lane_prev[lane]] == LaneKind.ROAD
            assert lane in city.lane_next[city.lane_prev[lane]]
            assert city.lane_link[lane] == -1 and city.lane_axis[lane] == -1
            assert city.lane_turn[lane] in (Turn.LEFT, Turn.RIGHT, Turn.STRAIGHT)
            # the connector crosses the node where its incoming lane ends and the outgoing one starts
            node = city.lane_node[lane]
            assert city.lane_node[city.lane_prev[lane]] == node
            assert city.link_from[city.lane_link[out]] == node


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_lane_polylines_are_continuous(cfg, seed, city):
    pool = stack_maps([city])
    n = len(city.lane_len)
    lanes = np.arange(n)
    m = np.zeros(n, dtype=np.int64)
    ex, ey, eyaw = lane_pose(pool, m, lanes, city.lane_len)
    for lane in lanes:
        for nxt in city.lane_next[lane, : city.lane_n_next[lane]]:
            gap = np.hypot(city.lane_pts[nxt, 0, 0] - ex[lane], city.lane_pts[nxt, 0, 1] - ey[lane])
            assert gap < 0.05, f"lane {lane} -> {nxt}: {gap:.3f} m gap"
            dyaw = (city.lane_yaw[nxt, 0] - eyaw[lane] + np.pi) % (2 * np.pi) - np.pi
            assert abs(dyaw) < 0.1, f"lane {lane} -> {nxt}: heading jump {dyaw:.3f} rad"


@pytest.mark.parametrize("cfg,seed,city", MAPS[:2], ids=IDS[:2])
def test_lane_samples_evenly_spaced(cfg, seed, city):
    for lane in range(len(city.lane_len)):
        k = int(city.lane_len[lane] / LANE_DS) + 1
        step = np.linalg.norm(np.diff(city.lane_pts[lane, :k], axis=0), axis=1)
        assert np.all(step <= LANE_DS + 1e-9)
        assert np.all(step > 0.9 * LANE_DS) if city.lane_kind[lane] == LaneKind.ROAD else step.min() > 0.3


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_right_hand_traffic(cfg, seed, city):
    """Road lanes lie to the right of the line between their nodes."""
    for lane in np.flatnonzero(city.lane_kind == LaneKind.ROAD):
        link = city.lane_link[lane]
        a, b = city.node_xy[city.link_from[link]], city.node_xy[city.link_to[link]]
        u = (b - a) / np.linalg.norm(b - a)
        mid = city.lane_pts[lane, int(city.lane_len[lane] / LANE_DS / 2)]
        right = (mid - a) @ np.array([u[1], -u[0]])
        assert right == pytest.approx(city.lane_offset[lane], abs=1e-6) and right > 0
        np.testing.assert_allclose(city.lane_pts[lane, 1] - city.lane_pts[lane, 0], u * LANE_DS, atol=1e-9)


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_link_lanes_consistent(cfg, seed, city):
    for link in range(len(city.link_from)):
        lanes = city.link_lanes[link][city.link_lanes[link] >= 0]
        assert 1 <= len(lanes) <= 2
        assert np.all(city.lane_link[lanes] == link)
        assert np.all(city.lane_node[lanes] == city.link_to[link])
        assert np.all(np.diff(city.lane_offset[lanes]) > 0)  # index from the centre outwards


# ------------------------------------------------------------------------------------- conflicts
@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_conflict_matrix_basic_properties(cfg, seed, city):
    c = city.conflict
    assert np.array_equal(c, c.T)
    assert not np.any(np.diag(c))
    road = city.lane_kind == LaneKind.ROAD
    assert not c[road].any() and not c[:, road].any()
    a, b = np.nonzero(c)
    assert np.all(city.lane_node[a] == city.lane_node[b])


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_connectors_leaving_same_lane_never_conflict(cfg, seed, city):
    conn = np.flatnonzero(city.lane_kind == LaneKind.CONNECTOR)
    same_start = city.lane_prev[conn][:, None] == city.lane_prev[conn][None, :]
    assert not np.any(city.conflict[np.ix_(conn, conn)] & same_start)


def _straights_through(city: CityMap, node: int):
    conn = np.flatnonzero((city.lane_kind == LaneKind.CONNECTOR) & (city.lane_node == node)
                          & (city.lane_turn == Turn.STRAIGHT))
    axis = np.rint(np.abs(np.sin(city.lane_yaw[conn, 0]))).astype(int)  # 0 runs along x, 1 along y
    return conn, axis


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_perpendicular_straight_connectors_conflict(seed):
    city = generate_city(FOUR_WAY, seed)
    four_way = np.flatnonzero(city.node_degree == 4)
    assert len(four_way) == 1
    conn, axis = _straights_through(city, int(four_way[0]))
    assert (axis == 0).sum() >= 2 and (axis == 1).sum() >= 2
    for a in conn[axis == 0]:
        for b in conn[axis == 1]:
            assert city.conflict[a, b], f"straight connectors {a} and {b} cross without conflict"
    # opposite straight connectors (parallel, different sides of the road) do not conflict
    for a in conn[axis == 0]:
        for b in conn[axis == 0]:
            if np.cos(city.lane_yaw[a, 0] - city.lane_yaw[b, 0]) < -0.5:
                assert not city.conflict[a, b]


@pytest.mark.parametrize("seed", [0, 1])
def test_left_turn_conflicts_with_opposing_straight(seed):
    city = generate_city(FOUR_WAY, seed)
    node = int(np.flatnonzero(city.node_degree == 4)[0])
    conn = np.flatnonzero((city.lane_kind == LaneKind.CONNECTOR) & (city.lane_node == node))
    found = 0
    for left in conn[city.lane_turn[conn] == Turn.LEFT]:
        for straight in conn[city.lane_turn[conn] == Turn.STRAIGHT]:
            if np.cos(city.lane_yaw[left, 0] - city.lane_yaw[straight, 0]) < -0.9:  # opposing approach
                assert city.conflict[left, straight]
                found += 1
    assert found >= 4


# ------------------------------------------------------------------------------ routing helpers
@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_spawn_slots_on_road_lanes(cfg, seed, city):
    assert len(city.spawn_lane) > 0
    assert np.all(city.lane_kind[city.spawn_lane] == LaneKind.ROAD)
    assert np.all((city.spawn_s >= 4.0 - 1e-9) & (city.spawn_s <= city.lane_len[city.spawn_lane] - 4.0))


# ---------------------------------------------------------------------------------- pedestrians
@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_pedestrian_graph(cfg, seed, city):
    s = len(city.ped_len)
    assert np.all(city.ped_n_next >= 1)
    for seg in range(s):
        succ = city.ped_next[seg, : city.ped_n_next[seg]]
        assert np.all(succ >= 0) and np.all(succ < s)
        np.testing.assert_allclose(city.ped_a[succ], np.broadcast_to(city.ped_b[seg], (len(succ), 2)))
    np.testing.assert_allclose(city.ped_len, np.linalg.norm(city.ped_b - city.ped_a, axis=1))
    cross = city.ped_kind == PedPathKind.CROSSWALK
    assert np.all(city.ped_node[cross] >= 0) and np.all(city.ped_node[~cross] == -1)
    assert np.all(city.ped_axis[city.ped_kind == PedPathKind.SIDEWALK] == -1)
    assert np.all(np.isin(city.ped_axis[city.ped_kind != PedPathKind.SIDEWALK], [0, 1]))


# --------------------------------------------------------------------------------------- raster
def _lookup(city: CityMap, xy: np.ndarray) -> np.ndarray:
    return lookup(city.raster[None], np.zeros(xy.shape[:-1], dtype=np.int64), xy, city.raster_origin,
                  city.raster_resolution)


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_lane_centres_are_drivable(cfg, seed, city):
    for lane in range(len(city.lane_len)):
        pts = city.lane_pts[lane, : int(city.lane_len[lane] / LANE_DS) + 1]
        surface = _lookup(city, pts)
        bad = ~np.isin(surface, list(DRIVABLE))
        assert not bad.any(), f"lane {lane} ({LaneKind(city.lane_kind[lane]).name}) has non-drivable points " \
                              f"{pts[bad][:3].tolist()} -> {[Surface(v).name for v in surface[bad][:3]]}"


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_building_centres_are_buildings(cfg, seed, city):
    centres = 0.5 * (city.buildings[:, :2] + city.buildings[:, 2:])
    assert np.all(_lookup(city, centres) == Surface.BUILDING)
    assert np.all(city.buildings[:, 2] > city.buildings[:, 0]) and np.all(city.buildings[:, 3] > city.buildings[:, 1])


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_sidewalk_paths_on_sidewalk_and_crosswalks_on_crosswalk(cfg, seed, city):
    """Pedestrian paths drawn on the right surface: sidewalk segments (sampled along their whole
    length) on SIDEWALK, crosswalk midpoints on CROSSWALK."""
    t = np.linspace(0.0, 1.0, 11)[None, :, None]
    pts = city.ped_a[:, None] + t * (city.ped_b - city.ped_a)[:, None]  # (S, 11, 2)
    surface = _lookup(city, pts)
    side = city.ped_kind == PedPathKind.SIDEWALK
    bad = side[:, None] & (surface != Surface.SIDEWALK)
    assert not bad.any(), f"{bad.any(axis=1).sum()} sidewalk segments leave the sidewalk, e.g. at " \
                          f"{np.unique(pts[bad], axis=0)[:4].tolist()} -> " \
                          f"{sorted({Surface(v).name for v in surface[bad]})}"
    mid = 0.5 * (city.ped_a + city.ped_b)
    assert np.all(_lookup(city, mid)[city.ped_kind == PedPathKind.CROSSWALK] == Surface.CROSSWALK)


@pytest.mark.parametrize("cfg,seed,city", MAPS, ids=IDS)
def test_lanes_do_not_touch_buildings(cfg, seed, city):
    b = city.buildings
    for lane in range(len(city.lane_len)):
        pts = city.lane_pts[lane, : int(city.lane_len[lane] / LANE_DS) + 1]
        inside = ((pts[:, None, 0] > b[None, :, 0] - 1.0) & (pts[:, None, 0] < b[None, :, 2] + 1.0)
                  & (pts[:, None, 1] > b[None, :, 1] - 1.0) & (pts[:, None, 1] < b[None, :, 3] + 1.0))
        assert not inside.any()


def test_project_to_lane_inverts_lane_pose():
    city = generate_city(SMALL, 0)
    pool = stack_maps([city])
    lanes = np.arange(len(city.lane_len))
    s = 0.37 * city.lane_len
    m = np.zeros_like(lanes)
    x, y, yaw = lane_pose(pool, m, lanes, s)
    # offset 0.3 m to the left of the lane
    ps, lat, _ = project_to_lane(pool, m, lanes, x - 0.3 * np.sin(yaw), y + 0.3 * np.cos(yaw))
    np.testing.assert_allclose(ps, s, atol=0.05)
    np.testing.assert_allclose(lat, 0.3, atol=0.02)


# --------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("field,value", [("blocks_x", 0), ("blocks_y", 11), ("block_length", 20.0),
                                         ("lane_width", 10.0), ("pool_size", 0), ("signal_share", 1.5),
                                         ("raster_resolution", float("nan"))])
def test_map_config_validation_names_the_field(field, value):
    cfg = MapConfig(**{field: value})
    with pytest.raises(ConfigError, match=field):
        cfg.validate()
    with pytest.raises(ConfigError, match=field):
        EnvConfig(map=cfg)
    with pytest.raises(ConfigError, match=field):
        EnvConfig.from_dict({"map": {field: value}})


def test_config_from_dict_rejects_unknown_and_wrong_types():
    with pytest.raises(ConfigError, match="blocks_z"):
        EnvConfig.from_dict({"map": {"blocks_z": 3}})
    with pytest.raises(ConfigError, match="blocks_x"):
        EnvConfig.from_dict({"map": {"blocks_x": "3"}})
    cfg = EnvConfig.from_dict({"map": {"blocks_x": 2, "block_length": 50}})
    assert cfg.map.blocks_x == 2 and cfg.map.block_length == 50.0 and isinstance(cfg.map.block_length, float)


def test_valid_map_config_passes():
    MapConfig().validate()
    SMALL.validate()
    MapConfig(blocks_x=1, blocks_y=1, block_length=40.0).validate()
