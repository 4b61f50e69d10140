"""The map pool of a batch: the maps of every distinct MapConfig in it, generated once and stacked.

A world samples its map from its own config's block of the pool (`first` .. `first + pool_size`),
so which other configs share the batch never changes which map, or which random draws, it gets."""

from __future__ import annotations

from collections.abc import Sequence

from drivesim.config import MapConfig
from drivesim.map.city import MapPool, stack_maps
from drivesim.map.generator import generate_city


def build_pool(configs: Sequence[MapConfig]) -> tuple[MapPool, dict[MapConfig, int]]:
    """Pool of `config.pool_size` maps (seeds `config.seed + i`) per distinct config, in first-seen
    order; returns it and the index of each config's first map."""
    first: dict[MapConfig, int] = {}
    maps = []
    for cfg in configs:
        if cfg not in first:
            first[cfg] = len(maps)
            maps += [generate_city(cfg, cfg.seed + i) for i in range(cfg.pool_size)]
    return stack_maps(maps), first
