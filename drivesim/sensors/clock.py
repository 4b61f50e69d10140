"""The `clock` observation: how much of the episode's time is left, before the time limit and
before the stuck rule ends it, as fractions in [0, 1].

Why: the time limit and the stuck rule end an episode (and the driving score counts what was
driven by then), so without the clock the state is not Markov: a wait that costs nothing at the
start of an episode costs the rest of the route near its end, and neither a value function nor a
policy can tell the two apart (Pardo et al., "Time Limits in Reinforcement Learning", 2018).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drivesim.arrays import batch_rows

if TYPE_CHECKING:
    from drivesim.world import World

CLOCK_FIELDS = (
    "time_left",  # 1 - t / max_steps: the share of the time limit still to run
    "stuck_left",  # 1 - (t - last progress step) / stuck_steps: the share of the stuck rule's time left
)
CLOCK_DIM = len(CLOCK_FIELDS)


def clock_vector(world: World, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, CLOCK_DIM) float32 in [0, 1] of the current state (numpy over the batch).
    With `rows` (R,) int64 only those worlds are computed, into `out` (the others keep its
    values: e.g. after resetting some worlds)."""
    w = batch_rows(world.batch_size, rows)
    t, params = world.state.clock["t"][w], world.params.world  # the fields, not the whole records, of the rows
    values = np.empty((w.size, CLOCK_DIM), dtype=np.float32)
    values[:, 0] = 1.0 - t / params["max_steps"][w]
    values[:, 1] = 1.0 - (t - world.state.route["last_progress_t"][w]) / params["stuck_steps"][w]
    out = np.empty((world.batch_size, CLOCK_DIM), dtype=np.float32) if out is None else out
    out[w] = np.clip(values, 0.0, 1.0)
    return out
