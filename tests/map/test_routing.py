"""Link routing: Floyd-Warshall, reachability and route expansion into lane chains."""

from __future__ import annotations

import numpy as np
import pytest

from drivesim.config import MapConfig
from drivesim.map.city import LaneKind, stack_maps
from drivesim.map.generator import generate_city
from drivesim.map.routing import expand_route, floyd_warshall

INF = np.inf
CONFIGS = [MapConfig(blocks_x=2, blocks_y=2, pool_size=1), MapConfig(blocks_x=3, blocks_y=2, pool_size=1,
                                                                        two_lane_share=0.6)]
CITIES = [generate_city(cfg, seed) for cfg in CONFIGS for seed in (0, 7)]
IDS = [f"{c.config.blocks_x}x{c.config.blocks_y}-s{c.seed}" for c in CITIES]


# -------------------------------------------------------------------------------- floyd-warshall
def test_floyd_warshall_hand_made_graph():
    #  0 -1-> 1 -2-> 2 -1-> 3 ; 0 -5-> 2 ; 3 -10-> 0 ; 4 isolated
    cost = np.full((5, 5), INF)
    cost[0, 1], cost[1, 2], cost[0, 2], cost[2, 3], cost[3, 0] = 1.0, 2.0, 5.0, 1.0, 10.0
    dist, nxt = floyd_warshall(cost)
    expected = np.array([
        [0, 1, 3, 4, INF],
        [13, 0, 2, 3, INF],
        [11, 12, 0, 1, INF],
        [10, 11, 13, 0, INF],
        [INF, INF, INF, INF, 0],
    ])
    np.testing.assert_array_equal(dist, expected)
    assert nxt[0, 2] == 1 and nxt[0, 3] == 1 and nxt[0, 1] == 1
    assert nxt[1, 0] == 2 and nxt[2, 0] == 3 and nxt[3, 2] == 0
    assert np.all(np.diag(nxt) == -1)
    assert np.all(nxt[4, :4] == -1) and np.all(nxt[:4, 4] == -1)
    assert cost[0, 2] == 5.0  # input not modified


def test_floyd_warshall_next_hops_reconstruct_shortest_paths():
    rng = np.random.default_rng(1)
    n = 9
    cost = np.where(rng.random((n, n)) < 0.35, rng.uniform(1, 10, (n, n)), INF)
    np.fill_diagonal(cost, INF)
    dist, nxt = floyd_warshall(cost)
    # brute-force reference: Bellman-Ford relaxation
    ref = np.where(np.isfinite(cost), cost, INF)
    np.fill_diagonal(ref, 0.0)
    for _ in range(n):
        ref = np.minimum(ref, (ref[:, :, None] + ref[None, :, :]).min(axis=1))
    np.testing.assert_allclose(dist, ref)
    for a in range(n):
        for b in range(n):
            if a == b or not np.isfinite(dist[a, b]):
                continue
            total, node = 0.0, a
            for _ in range(n):
                hop = nxt[node, b]
                total += cost[node, hop]
                node = hop
                if node == b:
                    break
            assert node == b and total == pytest.approx(dist[a, b])


# ------------------------------------------------------------------------------------ city graph
@pytest.mark.parametrize("city", CITIES, ids=IDS)
def test_every_link_reachable(city):
    n = len(city.link_from)
    assert city.link_dist.shape == (n, n)
    assert np.all(np.isfinite(city.link_dist)), "some links cannot reach each other"
    assert np.all(np.diag(city.link_dist) == 0.0)
    off = ~np.eye(n, dtype=bool)
    assert np.all(city.link_dist[off] > 0.0)
    assert np.all(city.link_next_hop[off] >= 0) and np.all(np.diag(city.link_next_hop) == -1)


@pytest.mark.parametrize("city", CITIES, ids=IDS)
def test_lane_to_link_connector_table(city):
    for lane in range(len(city.lane_len)):
        row = city.lane_to_link_connector[lane]
        if city.lane_kind[lane] == LaneKind.CONNECTOR:
            assert np.all(row == -1)
            continue
        for link in np.flatnonzero(row >= 0):
            conn = row[link]
            assert conn in city.lane_next[lane, : city.lane_n_next[lane]]
            assert city.lane_link[city.lane_next[conn, 0]] == link


def _expand_all(city, lane_index: int):
    pool = stack_maps([city])
    n_links = len(city.link_from)
    starts, goals = np.meshgrid(np.arange(n_links), np.arange(n_links), indexing="ij")
    starts, goals = starts.ravel(), goals.ravel()
    start_lane = city.link_lanes[starts, np.where(city.link_lanes[starts, lane_index] >= 0, lane_index, 0)]
    max_lanes = 2 * n_links + 3
    route, n = expand_route(pool, np.zeros(len(starts), dtype=np.int64), start_lane, goals, max_lanes)
    return starts, goals, start_lane, route, n


@pytest.mark.parametrize("city", CITIES, ids=IDS)
@pytest.mark.parametrize("lane_index", [0, 1])
def test_expand_route_is_a_valid_lane_chain_to_the_goal(city, lane_index):
    starts, goals, start_lane, route, n = _expand_all(city, lane_index)
    for k in range(len(starts)):
        r = route[k, : n[k]]
        assert r[0] == start_lane[k]
        assert n[k] % 2 == 1
        assert np.all(route[k, n[k]:] == -1)
        for prev, cur in zip(r[:-1], r[1:], strict=True):
            assert cur in city.lane_next[prev, : city.lane_n_next[prev]], f"{prev} -> {cur} is not a successor"
        kinds = city.lane_kind[r]
        assert np.all(kinds[0::2] == LaneKind.ROAD) and np.all(kinds[1::2] == LaneKind.CONNECTOR)
        assert city.lane_link[r[-1]] == goals[k], \
            f"route {starts[k]} -> {goals[k]} ends on link {city.lane_link[r[-1]]}"
        links = city.lane_link[r[0::2]]
        assert len(set(links.tolist())) == len(links)  # no link visited twice
        if starts[k] == goals[k]:
            assert n[k] == 1


@pytest.mark.parametrize("city", CITIES, ids=IDS)
def test_expanded_route_length_matches_link_dist(city):
    """Routes from a link's first lane follow first lanes, whose lengths define link_dist."""
    starts, goals, _, route, n = _expand_all(city, 0)
    for k in range(len(starts)):
        r = route[k, : n[k]]
        total = city.lane_len[r].sum() - city.lane_len[r[0]] / 2 - city.lane_len[r[-1]] / 2
        assert total == pytest.approx(city.link_dist[starts[k], goals[k]], abs=1e-6)


@pytest.mark.parametrize("city", CITIES[:2], ids=IDS[:2])
def test_link_dist_is_shortest(city):
    """Distances are closed under composition (triangle inequality): no detour via a third link
    is shorter."""
    d = city.link_dist
    n = len(d)
    for a in range(n):
        for b in range(n):
            assert d[a, b] <= (d[a, :] + d[:, b]).min() + 1e-9


def test_expand_route_batched_over_a_pool():
    cfg = MapConfig(blocks_x=2, blocks_y=2, pool_size=2)
    maps = [generate_city(cfg, cfg.seed + i) for i in range(2)]
    pool = stack_maps(maps)
    map_idx = np.array([0, 1, 1, 0])
    goal = np.array([3, 5, 0, 7])
    start_lane = np.array([maps[m].link_lanes[(g + 4) % len(maps[m].link_from), 0]
                           for m, g in zip(map_idx, goal, strict=True)])
    max_lanes = 2 * int(pool.n_links.max()) + 3
    route, n = expand_route(pool, map_idx, start_lane, goal, max_lanes)
    for k in range(4):
        single, n1 = expand_route(pool, map_idx[k : k + 1], start_lane[k : k + 1], goal[k : k + 1], max_lanes)
        np.testing.assert_array_equal(route[k], single[0])
        assert n[k] == n1[0]
        city = maps[map_idx[k]]
        assert city.lane_link[route[k, n[k] - 1]] == goal[k]
