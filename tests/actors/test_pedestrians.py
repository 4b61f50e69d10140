"""Pedestrians: path following, jaywalking, waiting for the walk signal at crosswalks."""

from __future__ import annotations

import numpy as np
import pytest

from drivesim.actors.pedestrians import Pedestrians, choose_next_segment, pedestrian_pose, step_pedestrians
from drivesim.actors.signals import walk_signal
from drivesim.map.city import PedPathKind
from drivesim.world import World
from tests.actors.helpers import move_ego_away, small_env_config, small_pool

POOL = small_pool()
M0 = POOL.maps[0]
DT = 0.1


def _segment_distance(px, py, a, b):
    ab = b - a
    t = np.clip(((px - a[..., 0]) * ab[..., 0] + (py - a[..., 1]) * ab[..., 1]) / np.maximum((ab**2).sum(-1), 1e-12),
                0.0, 1.0)
    return np.hypot(px - (a[..., 0] + t * ab[..., 0]), py - (a[..., 1] + t * ab[..., 1]))


@pytest.fixture(scope="module")
def ped_run():
    """A seeded multi-world run with many pedestrians (half of them jaywalkers) and a few cars.
    Yields per-step snapshots of the pedestrians plus what is needed to check the signals."""
    cfg = small_env_config(n_cars=6, n_pedestrians=40, jaywalk_share=0.5)
    batch = 3
    world = World(cfg, batch)
    world.reset(np.arange(batch) + 11, np.zeros(batch))
    move_ego_away(world)
    snaps = [world.peds]
    times, actions = [world.time.copy()], np.zeros((batch, 2))
    for _ in range(1200):
        world.step(actions)
        snaps.append(world.peds)
        times.append(world.time.copy())
    return world, snaps, times


def test_pedestrians_stay_on_their_segments(ped_run):
    world, snaps, _ = ped_run
    m = world.map_idx[:, None]
    for peds in snaps:
        a, b = world.pool.ped_a[m, peds.seg], world.pool.ped_b[m, peds.seg]
        length = world.pool.ped_len[m, peds.seg]
        act = peds.active
        assert np.all(peds.seg[act] < world.pool.n_ped[world.map_idx][:, None].repeat(peds.seg.shape[1], 1)[act])
        assert np.all(_segment_distance(peds.x, peds.y, a, b)[act] < 1e-9)
        assert np.all((peds.s[act] >= 0.0) & (peds.s[act] <= length[act] + 1e-9))
        for arr in (peds.x, peds.y, peds.s, peds.yaw):
            assert np.all(np.isfinite(arr))
        # the next segment starts where the current one ends
        nxt_a = world.pool.ped_a[m, peds.next]
        assert np.allclose(nxt_a[act], b[act])


def test_non_jaywalkers_never_enter_jaywalk_paths(ped_run):
    world, snaps, _ = ped_run
    m = world.map_idx[:, None]
    assert not snaps[0].jaywalker.all() and snaps[0].jaywalker.any()
    for peds in snaps:
        kind = world.pool.ped_kind[m, peds.seg]
        next_kind = world.pool.ped_kind[m, peds.next]
        law_abiding = peds.active & ~peds.jaywalker
        assert not np.any(law_abiding & (kind == PedPathKind.JAYWALK))
        assert not np.any(law_abiding & (next_kind == PedPathKind.JAYWALK))


def test_jaywalkers_do_jaywalk(ped_run):
    world, snaps, _ = ped_run
    m = world.map_idx[:, None]
    on_jaywalk = np.zeros(snaps[0].seg.shape, dtype=bool)
    for peds in snaps:
        on_jaywalk |= peds.active & (world.pool.ped_kind[m, peds.seg] == PedPathKind.JAYWALK)
    assert on_jaywalk.sum() >= 3


def test_pedestrians_walk_and_cross(ped_run):
    world, snaps, _ = ped_run
    first, last = snaps[0], snaps[-1]
    act = first.active
    assert np.mean(first.seg[act] != last.seg[act]) > 0.9  # nearly everybody moved on
    m = world.map_idx[:, None]
    crossed = np.zeros(first.seg.shape, dtype=bool)
    for peds in snaps:
        crossed |= world.pool.ped_kind[m, peds.seg] == PedPathKind.CROSSWALK
    assert crossed[act & ~first.jaywalker].sum() >= 3


def test_law_abiding_pedestrians_enter_signalised_crosswalks_only_on_walk(ped_run):
    world, snaps, times = ped_run
    pool, m = world.pool, world.map_idx
    entries = 0
    for k in range(1, len(snaps)):
        prev, cur = snaps[k - 1], snaps[k]
        entered = (cur.seg != prev.seg) & cur.active & ~cur.jaywalker
        entered &= pool.ped_kind[m[:, None], cur.seg] == PedPathKind.CROSSWALK
        rows, cols = np.nonzero(entered)
        if rows.size == 0:
            continue
        seg = cur.seg[rows, cols]
        node, axis = pool.ped_node[m[rows], seg], pool.ped_axis[m[rows], seg]
        signalised = pool.node_signal[m[rows], node]
        walk = walk_signal(times[k][rows], world.signal_offset[rows, node], axis, signalised, world.config.traffic)
        assert np.all(walk), f"step {k}: pedestrians {list(zip(rows, cols, strict=True))} crossed against the signal"
        entries += int(signalised.sum())
    assert entries >= 1  # the check above actually ran on signalised crosswalks


# ------------------------------------------------------------------------ a single pedestrian
def _kerb_setup():
    """A sidewalk segment whose successors include a crosswalk."""
    for seg in np.flatnonzero(M0.ped_kind == PedPathKind.SIDEWALK):
        succ = M0.ped_next[seg, : M0.ped_n_next[seg]]
        cross = [c for c in succ if M0.ped_kind[c] == PedPathKind.CROSSWALK]
        if cross:
            return int(seg), int(cross[0])
    raise AssertionError("no crosswalk in the test map")


def _one_ped(seg, nxt, s, jaywalker=False, speed=1.4):
    i = lambda v: np.array([[v]], dtype=np.int64)  # noqa: E731
    f = lambda v: np.array([[v]], dtype=np.float64)  # noqa: E731
    b = lambda v: np.array([[v]], dtype=bool)  # noqa: E731
    x, y, yaw = pedestrian_pose(POOL, np.zeros((1, 1), dtype=np.int64), i(seg), f(s))
    return Pedestrians(i(seg), i(nxt), f(s), f(speed), b(jaywalker), b(True), x, y, yaw, b(True))


def _step(peds, walk: bool, car_xy=(-500.0, -500.0), step=1, car_speed=0.0):
    node_walk = np.full((1, POOL.node_xy.shape[1], 2), walk)
    car = np.array([[car_xy]], dtype=np.float64)
    keys = (np.array([0], dtype=np.uint64), np.array([0]), np.array([step]))
    return step_pedestrians(peds, POOL, np.zeros(1, dtype=np.int64), node_walk, car, car_speed=np.array([[car_speed]]),
                            car_active=np.ones((1, 1), dtype=bool), keys=keys, dt=DT)


def test_waits_at_kerb_until_walk_then_crosses():
    seg, cross = _kerb_setup()
    length = M0.ped_len[seg]
    peds = _one_ped(seg, cross, length - 0.05)
    for k in range(50):
        peds = _step(peds, walk=False, step=k + 1)
        assert peds.seg[0, 0] == seg and peds.next[0, 0] == cross
        assert peds.s[0, 0] == pytest.approx(length)
        assert not peds.moving[0, 0]
        np.testing.assert_allclose([peds.x[0, 0], peds.y[0, 0]], M0.ped_b[seg], atol=1e-9)
    peds = _step(peds, walk=True, step=51)
    assert peds.seg[0, 0] == cross
    assert peds.moving[0, 0]
    assert peds.s[0, 0] == pytest.approx(1.4 * DT, abs=1e-9)
    # keeps crossing even if the signal changes mid-way
    for k in range(5):
        before = peds.s[0, 0]
        peds = _step(peds, walk=False, step=52 + k)
        assert peds.seg[0, 0] == cross and peds.s[0, 0] > before


def test_car_on_crosswalk_keeps_pedestrian_on_kerb():
    seg, cross = _kerb_setup()
    length = M0.ped_len[seg]
    mid = 0.5 * (M0.ped_a[cross] + M0.ped_b[cross])
    peds = _one_ped(seg, cross, length - 0.05)
    peds = _step(peds, walk=True, car_xy=tuple(mid))
    assert peds.seg[0, 0] == seg and not peds.moving[0, 0]
    peds = _step(peds, walk=True, step=2)
    assert peds.seg[0, 0] == cross


def test_fast_car_approaching_crosswalk_keeps_pedestrian_on_kerb():
    """A car 8 m from the crosswalk does not block it while standing, but does at 10 m/s."""
    seg, cross = _kerb_setup()
    a, b = M0.ped_a[cross], M0.ped_b[cross]
    u = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-u[1], u[0]])
    car = 0.5 * (a + b) + 8.0 * normal
    peds = _one_ped(seg, cross, M0.ped_len[seg] - 0.05)
    assert _step(peds, walk=True, car_xy=tuple(car), car_speed=0.0).seg[0, 0] == cross
    blocked = _step(peds, walk=True, car_xy=tuple(car), car_speed=10.0)
    assert blocked.seg[0, 0] == seg and not blocked.moving[0, 0]


def test_jaywalker_ignores_signal():
    seg, cross = _kerb_setup()
    peds = _one_ped(seg, cross, M0.ped_len[seg] - 0.05, jaywalker=True)
    peds = _step(peds, walk=False)
    assert peds.seg[0, 0] == cross and peds.moving[0, 0]


def test_pedestrian_mid_segment_walks_at_its_speed():
    seg, cross = _kerb_setup()
    peds = _one_ped(seg, cross, 0.0, speed=1.2)
    for k in range(10):
        peds = _step(peds, walk=False, step=k + 1)
    assert peds.s[0, 0] == pytest.approx(min(12 * DT, M0.ped_len[seg]))
    assert peds.seg[0, 0] == seg


def test_choose_next_segment_respects_jaywalk_flag():
    segs = [s for s in range(len(M0.ped_len))
            if any(M0.ped_kind[c] == PedPathKind.JAYWALK for c in M0.ped_next[s, : M0.ped_n_next[s]])]
    assert segs
    seg = np.array([segs] * 2, dtype=np.int64)  # (2, n): row 0 law-abiding, row 1 jaywalkers
    jay = np.array([[False] * len(segs), [True] * len(segs)])
    m = np.zeros((2, 1), dtype=np.int64)
    picked = {False: set(), True: set()}
    for u in np.linspace(0.0, 0.999, 40):
        nxt = choose_next_segment(POOL, m, seg, jay, np.full(seg.shape, u))
        for row, flag in ((0, False), (1, True)):
            for s, n in zip(segs, nxt[row], strict=True):
                assert n in M0.ped_next[s, : M0.ped_n_next[s]]
                picked[flag].add(int(M0.ped_kind[n]))
    assert PedPathKind.JAYWALK not in picked[False]
    assert PedPathKind.JAYWALK in picked[True]
