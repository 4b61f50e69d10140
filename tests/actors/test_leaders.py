"""The driver model's leader search against a direct pairwise reference in numpy."""

import numpy as np

from drivesim.actors.driver import CAR_LENGTH, SHARED_START
from drivesim.actors.traffic import leader_gaps
from drivesim.config import EnvConfig, MapConfig
from drivesim.world import World


def pairwise_leaders(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Bumper-to-bumper gap [m] and speed [m/s] of the nearest car ahead of every NPC along its
    lane, its next lane, the lane after that, or a sibling connector. (B, C) each; inf when free."""
    pool, m = world.pool, world.map_idx[:, None]
    c = world.cars
    valid = (c.active & c.on_lane)[:, None, :]  # (B, 1, C) the cars that can lead
    lanes, s_all, v_all = c.lane[:, None, :], c.s[:, None, :], c.v[:, None, :]
    lane_k, s_k, next_k = c.lane[:, :, None], c.s[:, :, None], c.next[:, :, None]
    next2_k = pool.lane_next[m, c.next, 0][:, :, None]
    len_k = pool.lane_len[m, c.lane][:, :, None]
    len_next = pool.lane_len[m, c.next][:, :, None]
    inf = np.inf
    slots = np.arange(c.lane.shape[1])
    ahead = (s_all > s_k) | ((s_all == s_k) & (slots[None, None, :] > slots[None, :, None]))
    gap = np.where((lanes == lane_k) & ahead, s_all - s_k, inf)
    gap = np.minimum(gap, np.where(lanes == next_k, len_k - s_k + s_all, inf))
    gap = np.minimum(gap, np.where(lanes == next2_k, len_k - s_k + len_next + s_all, inf))
    # cars on a sibling connector (leaving the same road lane) still overlap near its start
    prev_all = pool.lane_prev[world.map_idx[:, None, None], lanes]
    prev_k = pool.lane_prev[m, c.lane][:, :, None]
    near_start = s_all < SHARED_START
    gap = np.minimum(gap, np.where(near_start & (prev_all == lane_k), len_k - s_k + s_all, inf))
    gap = np.minimum(gap, np.where(near_start & (prev_k >= 0) & (prev_all == prev_k) & (s_k < SHARED_START) & ahead,
                                   s_all - s_k, inf))
    gap = np.where(valid, gap - CAR_LENGTH, inf)
    gap[:, slots, slots] = inf
    j = np.argmin(gap, axis=2)[..., None]
    v_lead = np.take_along_axis(np.broadcast_to(v_all, gap.shape), j, axis=2)[..., 0]
    npc = c.active & ~c.controlled
    return np.where(npc, np.take_along_axis(gap, j, axis=2)[..., 0], inf), np.where(npc, v_lead, 0.0)


def test_leaders_match_pairwise_reference():
    b = 16
    world = World(EnvConfig(map=MapConfig(blocks_x=3, blocks_y=3, pool_size=2), observations=("state",)), b)
    world.reset(np.arange(b), np.zeros(b))
    actions = np.tile([0.0, 0.3], (b, 1))
    checked = 0
    for _ in range(150):
        world.step(actions)
        gap, v = leader_gaps(world)
        ref_gap, ref_v = pairwise_leaders(world)
        both_free = np.isinf(gap) & np.isinf(ref_gap)
        assert np.all(both_free | np.isclose(gap, ref_gap))
        assert np.all(both_free | np.isclose(v, ref_v))
        checked += int((~both_free).sum())
    assert checked > 1000  # the run had plenty of followers
