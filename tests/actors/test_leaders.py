"""The sort-based leader search against a direct pairwise reference."""

import numpy as np

from drivesim.actors import traffic as T
from drivesim.actors.traffic import CAR_LENGTH, SHARED_START, Cars, Context, Vehicle
from drivesim.config import EnvConfig, MapConfig
from drivesim.world import World


def pairwise_leaders(cars: Cars, ego: Vehicle, length: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Bumper-to-bumper gap [m] and speed [m/s] of the nearest vehicle ahead along the car's lane,
    its next lane, or the lane after a connector. (B, K) each; inf gap when free."""
    pool, m = ctx.pool, ctx.map_idx[:, None]
    lanes = np.concatenate([cars.lane, ego.lane[:, None]], axis=1)[:, None, :]  # (B, 1, V)
    s_all = np.concatenate([cars.s, ego.s[:, None]], axis=1)[:, None, :]
    v_all = np.concatenate([cars.v, ego.v[:, None]], axis=1)[:, None, :]
    valid = np.concatenate([cars.active, ego.on_lane[:, None]], axis=1)[:, None, :]
    lane_k, s_k = cars.lane[:, :, None], cars.s[:, :, None]
    next_k = cars.next[:, :, None]
    next2_k = pool.lane_next[m, cars.next, 0][:, :, None]
    len_k, len_next = length[:, :, None], pool.lane_len[m, cars.next][:, :, None]
    inf = np.inf
    gap = np.where((lanes == lane_k) & (s_all > s_k), s_all - s_k, inf)
    gap = np.minimum(gap, np.where(lanes == next_k, len_k - s_k + s_all, inf))
    gap = np.minimum(gap, np.where(lanes == next2_k, len_k - s_k + len_next + s_all, inf))
    # cars on a sibling connector (leaving the same road lane) still overlap near its start
    prev_all = pool.lane_prev[ctx.map_idx[:, None, None], lanes]  # (B, 1, V)
    prev_k = pool.lane_prev[m, cars.lane][:, :, None]
    near_start = s_all < SHARED_START
    gap = np.minimum(gap, np.where(near_start & (prev_all == lane_k), len_k - s_k + s_all, inf))
    gap = np.minimum(gap, np.where(near_start & (prev_k >= 0) & (prev_all == prev_k) & (s_all > s_k), s_all - s_k, inf))
    gap = np.where(valid, gap - CAR_LENGTH, inf)
    k = cars.lane.shape[1]
    gap[:, np.arange(k), np.arange(k)] = inf
    j = np.argmin(gap, axis=2)[..., None]
    v_lead = np.take_along_axis(np.broadcast_to(v_all, gap.shape), j, axis=2)[..., 0]
    return np.take_along_axis(gap, j, axis=2)[..., 0], v_lead



def test_sorted_leaders_match_pairwise_reference():
    b = 16
    world = World(EnvConfig(map=MapConfig(blocks_x=3, blocks_y=3, pool_size=2)), b)
    world.reset(np.arange(b), np.zeros(b))
    actions = np.tile([0.0, 0.3], (b, 1))
    checked = 0
    for _ in range(150):
        world.step(actions)
        cars, ego, m = world.cars, world.ego_vehicle(), world.map_idx[:, None]
        ctx = Context(world.pool, world.map_idx, world.lights, None, None, None,
                      (world.seed, world.episode, world.t), world.config.traffic, world.config.dt)
        length = world.pool.lane_len[m, cars.lane]
        gap, v = T._leader_gaps(cars, ego, length, ctx)
        ref_gap, ref_v = pairwise_leaders(cars, ego, length, ctx)
        both_free = np.isinf(gap) & np.isinf(ref_gap)
        assert np.all(both_free | np.isclose(gap, ref_gap))
        assert np.all(both_free | np.isclose(v, ref_v))
        checked += int((~both_free).sum())
    assert checked > 1000  # the run had plenty of followers
