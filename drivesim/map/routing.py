"""Shortest-path routing on the directed road links (one link per road direction).

Routes are planned between links (a few dozen per city) with Floyd-Warshall once per map, then
expanded into lanes through the connector table at every reset (`drivesim.route.expand`).
"""

from __future__ import annotations

import numpy as np

from drivesim.map.city import MapPool
from drivesim.route import expand_many


def link_routing(lanes: dict[str, np.ndarray], link_lanes: np.ndarray, link_from: np.ndarray,
                 link_to: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns link_dist (NL, NL) [m] (middle of link a to middle of link b), link_next_hop (NL, NL)
    (the link after a on that path, -1 on the diagonal) and lane_to_link_connector (L, NL)."""
    n_lanes, n_links = len(lanes["lane_len"]), len(link_from)
    lane_to_link = np.full((n_lanes, n_links), -1, dtype=np.int64)
    for lane in range(n_lanes):
        if lanes["lane_link"][lane] < 0:
            continue
        for conn in lanes["lane_next"][lane][: lanes["lane_n_next"][lane]]:
            lane_to_link[lane, lanes["lane_link"][lanes["lane_next"][conn, 0]]] = conn
    length = lanes["lane_len"][link_lanes[:, 0]]
    cost = np.full((n_links, n_links), np.inf)
    for a in range(n_links):
        for b in range(n_links):
            conn = lane_to_link[link_lanes[a, 0], b]
            if conn >= 0:
                cost[a, b] = length[a] / 2 + lanes["lane_len"][conn] + length[b] / 2
    return (*floyd_warshall(cost), lane_to_link)


def floyd_warshall(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs shortest paths on a dense (n, n) cost matrix (inf = no edge).
    Returns (dist (n, n), next_hop (n, n)) with next_hop[a, a] = -1 and -1 where unreachable."""
    n = len(cost)
    dist = cost.copy()
    np.fill_diagonal(dist, 0.0)
    nxt = np.where(np.isfinite(cost), np.arange(n)[None, :], -1)
    for k in range(n):
        via = dist[:, k : k + 1] + dist[k : k + 1, :]
        better = via < dist
        dist = np.where(better, via, dist)
        nxt = np.where(better, nxt[:, k : k + 1], nxt)
    np.fill_diagonal(nxt, -1)
    return dist, nxt


def expand_route(pool: MapPool, map_idx: np.ndarray, start_lane: np.ndarray, goal_link: np.ndarray, max_lanes: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Routes (B, max_lanes) lane ids padded with -1 (road lane, connector, road lane, ...) and
    their lengths n (B,) in lanes, from start road lanes (B,) to goal links (B,) of maps (B,): the
    reset kernel's `drivesim.route.expand` over a batch."""
    route = np.full((len(start_lane), max_lanes), -1, dtype=np.int64)
    n = expand_many(pool.kernel, np.ascontiguousarray(map_idx, dtype=np.int64),
                    np.ascontiguousarray(start_lane, dtype=np.int64), np.ascontiguousarray(goal_link, dtype=np.int64),
                    route)
    return route, n
