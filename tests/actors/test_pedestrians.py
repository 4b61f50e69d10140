"""Pedestrians: path following, jaywalking, waiting for the walk signal at crosswalks."""

from __future__ import annotations

import numpy as np
import pytest

from drivesim.actors.pedestrians import KEEP_RIGHT, PED_GAP, choose_next_segment, pedestrian_pose
from drivesim.actors.signals import walk_signal
from drivesim.map.city import PedPathKind
from drivesim.world import World
from tests.actors.helpers import EGO, move_ego_away, set_light, small_env_config, small_pool, step

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
    snaps = [world.peds.copy()]
    times, actions = [world.time.copy()], np.zeros((batch, 2))
    for _ in range(1200):
        world.step(actions)
        snaps.append(world.peds.copy())
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
        # on the segment's centre line but for the sideways offset, which is at most KEEP_RIGHT
        assert np.all(_segment_distance(peds.x - peds.ox, peds.y - peds.oy, a, b)[act] < 1e-9)
        assert np.all(np.hypot(peds.ox, peds.oy)[act] <= KEEP_RIGHT + 1e-9)
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
        walk = walk_signal(times[k][rows], world.state.signal_offset[rows, node], axis, signalised, world.config.traffic)
        assert np.all(walk), f"step {k}: pedestrians {list(zip(rows, cols, strict=True))} crossed against the signal"
        entries += int(signalised.sum())
    assert entries >= 1  # the check above actually ran on signalised crosswalks


# ------------------------------------------------------------------------ a single pedestrian
def _kerb_setup():
    """A sidewalk segment whose successors include a crosswalk of a signalised intersection."""
    for seg in np.flatnonzero(M0.ped_kind == PedPathKind.SIDEWALK):
        succ = M0.ped_next[seg, : M0.ped_n_next[seg]]
        cross = [c for c in succ if M0.ped_kind[c] == PedPathKind.CROSSWALK and M0.node_signal[M0.ped_node[c]]]
        if cross:
            return int(seg), int(cross[0])
    raise AssertionError("no signalised crosswalk in the test map")


def _peds(*placed: tuple) -> World:
    """A world with pedestrians placed by hand, (seg, next, s[, speed, moving]) each, keeping right
    of their segments, and only the ego, parked far away."""
    world = World(small_env_config(n_cars=0, n_pedestrians=len(placed)), 1)
    world.reset(np.array([0]), np.array([0]))
    move_ego_away(world)
    q = world.peds
    for k, (seg, nxt, s, *rest) in enumerate(placed):
        speed, moving = (rest + [1.4, True][len(rest):])[:2]
        x, y, yaw = pedestrian_pose(POOL, np.zeros(1, dtype=np.int64), np.array([seg]), np.array([s]))
        q.seg[0, k], q.next[0, k], q.s[0, k], q.speed[0, k], q.jaywalker[0, k] = seg, nxt, s, speed, False
        q.active[0, k], q.moving[0, k], q.script_left[0, k], q.blocker[0, k] = True, moving, 0.0, -1
        q.ox[0, k], q.oy[0, k] = KEEP_RIGHT * np.sin(yaw[0]), -KEEP_RIGHT * np.cos(yaw[0])
        q.x[0, k], q.y[0, k], q.yaw[0, k] = x[0] + q.ox[0, k], y[0] + q.oy[0, k], yaw[0]
    return world


def _one_ped(seg, nxt, s, jaywalker=False, speed=1.4) -> World:
    """A world with one pedestrian on `seg` (heading for `nxt`) and only the ego, parked far away."""
    world = _peds((seg, nxt, s, speed))
    world.peds.jaywalker[0, 0] = jaywalker
    return world


def _right(seg: int) -> np.ndarray:
    """The KEEP_RIGHT offset [m] of someone walking along `seg`."""
    d = (M0.ped_b[seg] - M0.ped_a[seg]) / M0.ped_len[seg]
    return KEEP_RIGHT * np.array([d[1], -d[0]])


def _step(world, walk: bool, car_xy=(-500.0, -500.0), car_speed=0.0, car_yaw=0.0):
    """One step with the crosswalk ahead of the pedestrian showing `walk`, and the car (the ego) at
    car_xy [m] heading car_yaw [rad] at car_speed [m/s]."""
    cross = int(world.peds.next[0, 0]) if world.peds.seg[0, 0] != CROSS else CROSS
    node, crossed = int(M0.ped_node[cross]), int(M0.ped_axis[cross])
    set_light(world, node, 1 - crossed, 0.0 if walk else world.config.traffic.green_time)  # walk: the other axis' green
    c = world.cars
    c.x[0, EGO], c.y[0, EGO], c.v[0, EGO], c.yaw[0, EGO] = car_xy[0], car_xy[1], car_speed, car_yaw
    step(world)
    return world.peds


SEG, CROSS = _kerb_setup()


def test_waits_at_kerb_until_walk_then_crosses():
    seg, cross = SEG, CROSS
    length = M0.ped_len[seg]
    world = _one_ped(seg, cross, length - 0.05)
    for _ in range(50):
        peds = _step(world, walk=False)
        assert peds.seg[0, 0] == seg and peds.next[0, 0] == cross
        assert peds.s[0, 0] == pytest.approx(length)
        assert not peds.moving[0, 0]
        np.testing.assert_allclose([peds.x[0, 0], peds.y[0, 0]], M0.ped_b[seg] + _right(seg), atol=1e-9)
    peds = _step(world, walk=True)
    assert peds.seg[0, 0] == cross
    assert peds.moving[0, 0]
    assert peds.s[0, 0] == pytest.approx(1.4 * DT, abs=1e-9)
    # keeps crossing even if the signal changes mid-way
    for _ in range(5):
        before = peds.s[0, 0]
        peds = _step(world, walk=False)
        assert peds.seg[0, 0] == cross and peds.s[0, 0] > before


def test_car_on_crosswalk_keeps_pedestrian_on_kerb():
    seg, cross = SEG, CROSS
    length = M0.ped_len[seg]
    mid = 0.5 * (M0.ped_a[cross] + M0.ped_b[cross])
    world = _one_ped(seg, cross, length - 0.05)
    peds = _step(world, walk=True, car_xy=tuple(mid))
    assert peds.seg[0, 0] == seg and not peds.moving[0, 0]
    peds = _step(world, walk=True)
    assert peds.seg[0, 0] == cross


def test_fast_car_approaching_crosswalk_keeps_pedestrian_on_kerb():
    """A car 8 m from the crosswalk does not block it while standing, but does at 10 m/s."""
    seg, cross = SEG, CROSS
    a, b = M0.ped_a[cross], M0.ped_b[cross]
    u = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-u[1], u[0]])
    car = 0.5 * (a + b) + 8.0 * normal
    standing = _one_ped(seg, cross, M0.ped_len[seg] - 0.05)
    assert _step(standing, walk=True, car_xy=tuple(car), car_speed=0.0).seg[0, 0] == cross
    moving = _one_ped(seg, cross, M0.ped_len[seg] - 0.05)
    blocked = _step(moving, walk=True, car_xy=tuple(car), car_speed=10.0)
    assert blocked.seg[0, 0] == seg and not blocked.moving[0, 0]


def test_pedestrian_on_the_road_does_not_walk_into_a_car():
    """Halfway across, a pedestrian stops in front of a car standing on the crosswalk, and walks on
    once it has gone."""
    world = _one_ped(CROSS, int(M0.ped_next[CROSS, 0]), 0.0)
    a, b = M0.ped_a[CROSS], M0.ped_b[CROSS]
    u = (b - a) / np.linalg.norm(b - a)
    car = a + u * 4.0  # a car standing across the crosswalk, 4 m in
    for _ in range(40):
        peds = _step(world, walk=True, car_xy=tuple(car))
    ahead = np.dot(np.array([peds.x[0, 0], peds.y[0, 0]]) - a, u)
    assert not peds.moving[0, 0] and ahead < 4.0 - 1.9 / 2 and peds.seg[0, 0] == CROSS
    for _ in range(5):
        peds = _step(world, walk=True)
    assert peds.moving[0, 0] and np.dot(np.array([peds.x[0, 0], peds.y[0, 0]]) - a, u) > ahead


def _crossing_frame():
    """Where someone starting to cross stands (the crosswalk's start, keeping right), the crossing
    direction and its left normal."""
    a, b = M0.ped_a[CROSS], M0.ped_b[CROSS]
    u = (b - a) / np.linalg.norm(b - a)
    return a + _right(CROSS), u, np.array([-u[1], u[0]])


def test_pedestrian_in_front_of_a_moving_car_walks_on():
    """A car driving at a pedestrian on the road does not freeze them in its lane: they keep
    walking (stopping is the driver's job) and leave the lane sooner."""
    a, u, normal = _crossing_frame()
    world = _one_ped(CROSS, int(M0.ped_next[CROSS, 0]), 0.0)
    car = a + normal * 2.6  # nose 0.35 m from the pedestrian, driving at them
    yaw = float(np.arctan2(-normal[1], -normal[0]))
    peds = _step(world, walk=True, car_xy=tuple(car), car_speed=5.0, car_yaw=yaw)
    assert peds.moving[0, 0] and peds.s[0, 0] == pytest.approx(1.4 * DT, abs=1e-9)
    standing = _one_ped(CROSS, int(M0.ped_next[CROSS, 0]), 0.0)  # the same car standing: they wait
    peds = _step(standing, walk=True, car_xy=tuple(car), car_speed=0.0, car_yaw=yaw)
    assert not peds.moving[0, 0] and peds.s[0, 0] == 0.0


def test_pedestrian_does_not_walk_into_the_side_of_a_passing_car():
    a, u, normal = _crossing_frame()
    world = _one_ped(CROSS, int(M0.ped_next[CROSS, 0]), 0.0)
    car = a + u * 1.5  # driving along the road across the crosswalk, its side just ahead of the pedestrian
    yaw = float(np.arctan2(normal[1], normal[0]))
    peds = _step(world, walk=True, car_xy=tuple(car), car_speed=5.0, car_yaw=yaw)
    assert not peds.moving[0, 0] and peds.s[0, 0] == 0.0


def test_jaywalker_ignores_signal():
    world = _one_ped(SEG, CROSS, M0.ped_len[SEG] - 0.05, jaywalker=True)
    peds = _step(world, walk=False)
    assert peds.seg[0, 0] == CROSS and peds.moving[0, 0]


def test_pedestrian_mid_segment_walks_at_its_speed():
    world = _one_ped(SEG, CROSS, 0.0, speed=1.2)
    for _ in range(10):
        peds = _step(world, walk=False)
    assert peds.s[0, 0] == pytest.approx(min(12 * DT, M0.ped_len[SEG]))
    assert peds.seg[0, 0] == SEG


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


# ------------------------------------------------------------------------ personal space
def test_pedestrians_keep_apart(ped_run):
    """Hardly anyone stands inside someone else: of the pairs closer than 1.5 m, few are closer than
    0.5 m (passing someone at a corner, or cut in on), none at the same spot."""
    world, snaps, _ = ped_run
    close = very_close = 0
    for peds in snaps[100::10]:
        d = np.hypot(peds.x[:, :, None] - peds.x[:, None], peds.y[:, :, None] - peds.y[:, None])
        both = peds.active[:, :, None] & peds.active[:, None] & ~np.eye(peds.x.shape[1], dtype=bool)
        close += int((both & (d < 1.5)).sum())
        very_close += int((both & (d < 0.5)).sum())
        assert not np.any(both & (d < 0.05))
    assert close > 50 and very_close <= 0.05 * close


def test_queue_at_the_kerb_keeps_personal_space():
    """Four people walking to a kerb with no walk signal stand in a queue, PED_GAP apart."""
    length = M0.ped_len[SEG]
    world = _peds(*[(SEG, CROSS, max(length - 1.5 - 2.0 * k, 0.0), 1.4 + 0.1 * k) for k in range(4)])
    for _ in range(80):
        peds = _step(world, walk=False)
    assert not peds.moving[0].any() and (peds.seg[0] == SEG).all()
    xy = np.stack([peds.x[0], peds.y[0]], axis=1)
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(4) * 10
    assert d.min() >= PED_GAP - 1e-9
    assert peds.s[0, 0] == pytest.approx(length)  # the first one waits at the kerb itself
    assert (peds.blocker[0, 1:] >= 0).all() and peds.blocker[0, 0] == -1


def test_faster_walker_keeps_behind_a_slower_one():
    world = _peds((SEG, CROSS, 0.0, 1.8), (SEG, CROSS, 1.2, 1.0))
    gaps = []
    for _ in range(int(M0.ped_len[SEG] / 0.1 / 1.0 * 0.6)):
        peds = _step(world, walk=False)
        gaps.append(peds.s[0, 1] - peds.s[0, 0])
    assert min(gaps) >= PED_GAP - 1e-9 and min(gaps) < PED_GAP + 0.2  # caught up, then kept the gap


def _reverse(seg: int) -> int:
    """The sidewalk segment running the other way along `seg`."""
    for r in range(len(M0.ped_len)):
        if np.allclose(M0.ped_a[r], M0.ped_b[seg]) and np.allclose(M0.ped_b[r], M0.ped_a[seg]):
            return r
    raise AssertionError(f"no reverse of sidewalk segment {seg}")


def test_oncoming_walkers_pass_on_their_right():
    seg = max(np.flatnonzero(M0.ped_kind == PedPathKind.SIDEWALK), key=lambda k: M0.ped_len[k])
    rev = _reverse(seg)
    length = M0.ped_len[seg]
    world = _peds((seg, int(M0.ped_next[seg, 0]), 0.3 * length), (rev, int(M0.ped_next[rev, 0]), 0.3 * length))
    closest = np.inf
    for _ in range(int(0.4 * length / (1.4 * DT)) + 5):
        peds = _step(world, walk=False)
        assert peds.moving[0].all()
        closest = min(closest, float(np.hypot(peds.x[0, 0] - peds.x[0, 1], peds.y[0, 0] - peds.y[0, 1])))
    assert peds.s[0, 0] > 0.7 * length - 1e-6 and peds.s[0, 1] > 0.7 * length - 1e-6  # both got past
    assert closest == pytest.approx(2 * KEEP_RIGHT, abs=0.05)  # side by side, each on their right


def test_two_people_standing_face_to_face_do_not_wait_for_each_other_forever():
    seg = max(np.flatnonzero(M0.ped_kind == PedPathKind.SIDEWALK), key=lambda k: M0.ped_len[k])
    rev = _reverse(seg)
    length = M0.ped_len[seg]
    world = _peds((seg, int(M0.ped_next[seg, 0]), 0.5 * length - 0.4, 1.4, False),
                  (rev, int(M0.ped_next[rev, 0]), 0.5 * length - 0.4, 1.4, False))
    for _ in range(3):
        peds = _step(world, walk=False)
    assert peds.moving[0].all()  # the cycle (each waits for the other) is found and broken
