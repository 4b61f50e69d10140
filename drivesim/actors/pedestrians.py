"""Pedestrians: walk the sidewalk graph, cross at crosswalks on the walk signal; jaywalkers also
take mid-block paths and ignore signals. Vectorised over (B worlds, P pedestrians)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from drivesim import rng
from drivesim.map.city import MapPool, PedPathKind

PED_RADIUS = 0.35  # [m] footprint radius
CROSSING_CLEARANCE = 2.75  # [m] a car centre this close to a crossing keeps pedestrians on the kerb
CROSSING_LOOK = 1.5  # [s] ... plus the distance a moving car covers in this time


class Pedestrians(NamedTuple):
    """Pedestrian state, every field (B, P)."""

    seg: np.ndarray  # int path segment
    next: np.ndarray  # int segment chosen to take next
    s: np.ndarray  # [m] along the segment
    speed: np.ndarray  # [m/s] walking speed
    jaywalker: np.ndarray  # bool
    active: np.ndarray  # bool
    x: np.ndarray  # [m]
    y: np.ndarray  # [m]
    yaw: np.ndarray  # [rad] walking direction
    moving: np.ndarray  # bool, walked this step (False while waiting at a kerb)


def choose_next_segment(pool: MapPool, map_idx: np.ndarray, seg: np.ndarray, jaywalker: np.ndarray,
                        u: np.ndarray) -> np.ndarray:
    """Random successor of each segment (B, P); only jaywalkers take JAYWALK paths."""
    succ = pool.ped_next[map_idx, seg]  # (B, P, 4)
    n = pool.ped_n_next[map_idx, seg]
    kind = pool.ped_kind[map_idx[..., None], np.maximum(succ, 0)]
    ok = (np.arange(succ.shape[-1]) < n[..., None]) & ((kind != PedPathKind.JAYWALK) | jaywalker[..., None])
    count = ok.sum(axis=-1)
    k = np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
    pick = np.argmax(np.cumsum(ok, axis=-1) > k[..., None], axis=-1)
    return np.take_along_axis(succ, pick[..., None], axis=-1)[..., 0]


def pedestrian_pose(pool: MapPool, map_idx: np.ndarray, seg: np.ndarray, s: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = pool.ped_a[map_idx, seg]
    b = pool.ped_b[map_idx, seg]
    length = np.maximum(pool.ped_len[map_idx, seg], 1e-6)
    f = (s / length)[..., None]
    xy = a + (b - a) * f
    d = b - a
    return xy[..., 0], xy[..., 1], np.arctan2(d[..., 1], d[..., 0])


def step_pedestrians(peds: Pedestrians, pool: MapPool, map_idx: np.ndarray, node_walk: np.ndarray,
                     car_xy: np.ndarray, car_speed: np.ndarray, car_active: np.ndarray,
                     keys: tuple[np.ndarray, np.ndarray, np.ndarray], dt: float) -> Pedestrians:
    """Advance pedestrians by dt [s]. node_walk (B, N, 2) bool: a crosswalk at node n over a road
    whose traffic runs along axis a may be entered now; car_xy (B, K, 2) [m], car_speed (B, K)
    [m/s] and car_active (B, K) (the ego included): a car on or about to reach a crosswalk keeps
    pedestrians on the kerb."""
    m = map_idx[:, None]
    length = pool.ped_len[m, peds.seg]
    s = peds.s + peds.speed * dt
    at_end = s >= length
    next_is_crossing = pool.ped_kind[m, peds.next] == PedPathKind.CROSSWALK
    allowed = ~(at_end & next_is_crossing & ~peds.jaywalker)
    b, p = np.nonzero(~allowed)  # the few pedestrians waiting to cross: check signal and cars
    if b.size:
        nxt = peds.next[b, p]
        mb = map_idx[b]
        walk = node_walk[b, pool.ped_node[mb, nxt], pool.ped_axis[mb, nxt]]
        clear = ~_car_on_path(pool.ped_a[mb, nxt], pool.ped_b[mb, nxt], car_xy[b], car_speed[b], car_active[b])
        allowed[b, p] = walk & clear
    go = at_end & allowed
    wait = at_end & ~allowed
    seg = np.where(go, peds.next, peds.seg)
    s = np.where(go, s - length, np.where(wait, length, s))
    seed, episode, step = (k[:, None] for k in keys)
    u = rng.uniform(seed, episode, step, rng.Stream.PED_TURN, np.arange(seg.shape[1])[None, :])
    nxt = np.where(go, choose_next_segment(pool, m, seg, peds.jaywalker, u), peds.next)
    x, y, yaw = pedestrian_pose(pool, m, seg, s)
    return peds._replace(seg=seg, next=nxt, s=s, x=x, y=y, yaw=yaw, moving=~wait & peds.active)


def on_road(peds: Pedestrians, pool: MapPool, map_idx: np.ndarray, margin: float = 2.0) -> np.ndarray:
    """(B, P) pedestrians on a crossing, or within `margin` [m] of starting one."""
    m = map_idx[:, None]
    crossing = pool.ped_kind[m, peds.seg] != PedPathKind.SIDEWALK
    soon = (pool.ped_kind[m, peds.next] != PedPathKind.SIDEWALK) & (peds.s > pool.ped_len[m, peds.seg] - margin)
    return peds.active & (crossing | soon)


def _car_on_path(a: np.ndarray, b: np.ndarray, car_xy: np.ndarray, car_speed: np.ndarray,
                 car_active: np.ndarray) -> np.ndarray:
    """(n,) any active car centre within CROSSING_CLEARANCE (+ CROSSING_LOOK x speed) of segments
    a->b (n, 2); car_xy (n, K, 2), car_speed and car_active (n, K)."""
    ab = (b - a)[:, None, :]  # (n, 1, 2)
    ap = car_xy - a[:, None, :]  # (n, K, 2)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0.0, 1.0)
    d = ap - t[..., None] * ab
    reach = CROSSING_CLEARANCE + CROSSING_LOOK * car_speed
    return (((d * d).sum(-1) < reach**2) & car_active).any(axis=1)
