"""Scenario files: TOML in assets/scenarios/, loaded into an EnvConfig plus evaluation seeds.

A scenario file holds `name`, `description`, `seeds` (a list, or {start, count}), `time_limit`
[s], and any EnvConfig field or table (`[map]`, `[traffic]`, `[reward]`, `[scenario]` with
`[[scenario.events]]`, `route_length`, ...). Every error names the file, the key, the bad value and
what is allowed.
"""

from __future__ import annotations

import importlib.resources
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from drivesim.config import ConfigError, EnvConfig

SCENARIO_KEYS = ("name", "description", "seeds", "time_limit")
MAX_SEEDS = 100_000


class ScenarioError(ConfigError):
    """A scenario file is missing, malformed or invalid."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    config: EnvConfig
    seeds: tuple[int, ...]  # evaluation seeds, in order
    source: str  # file it was loaded from


def scenario_dir() -> Path:
    """Folder of the shipped scenario suite."""
    return Path(str(importlib.resources.files("drivesim.assets") / "scenarios"))


def list_scenarios() -> list[Scenario]:
    """The shipped suite, sorted by file name (the file name orders the suite: 01_..., 02_...)."""
    return [load_scenario(path) for path in sorted(scenario_dir().glob("*.toml"))]


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A scenario name from the suite (e.g. "red_light") or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{path}: scenario file not found")
        return path
    for candidate in sorted(scenario_dir().glob("*.toml")):
        if candidate.stem == str(name_or_path) or candidate.stem.split("_", 1)[-1] == str(name_or_path):
            return candidate
    names = [p.stem.split("_", 1)[-1] for p in sorted(scenario_dir().glob("*.toml"))]
    raise ScenarioError(f"unknown scenario {str(name_or_path)!r}; available: {names} (or a path to a .toml file)")


def load_scenario(name_or_path: str | os.PathLike, **overrides: Any) -> Scenario:
    """Load and validate a scenario; keyword overrides are applied to its EnvConfig."""
    path = resolve(name_or_path)
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: malformed TOML: {err}") from None
    except OSError as err:
        raise ScenarioError(f"{source}: cannot read scenario file: {err}") from None
    env_keys = [f.name for f in fields(EnvConfig)]
    for key in data:
        if key not in SCENARIO_KEYS and key not in env_keys:
            raise ScenarioError(f"{source}: unknown key {key!r}; allowed: {list(SCENARIO_KEYS) + env_keys}")
    name = _string(data, "name", source, default=path.stem.split("_", 1)[-1])
    description = _string(data, "description", source, default="")
    seeds = _seeds(data.get("seeds", {"start": 0, "count": 20}), source)
    env_data = {k: v for k, v in data.items() if k in env_keys}
    if "time_limit" in data:
        env_data["max_episode_steps"] = _steps(data["time_limit"], env_data.get("dt", EnvConfig.dt), source)
    config = EnvConfig.from_dict(env_data, source=source)
    if overrides:
        config = config.replace(**overrides)
    return Scenario(name, description, config, seeds, source)


def _string(data: dict[str, Any], key: str, source: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ScenarioError(f"{source}: key {key!r} must be a string, got {type(value).__name__} ({value!r})")
    return value


def _seeds(value: Any, source: str) -> tuple[int, ...]:
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                  for v in value):
        return tuple(value)
    if isinstance(value, dict) and set(value) == {"start", "count"}:
        start, count = value["start"], value["count"]
        if isinstance(start, int) and isinstance(count, int) and start >= 0 and 1 <= count <= MAX_SEEDS:
            return tuple(range(start, start + count))
    raise ScenarioError(f"{source}: key 'seeds' has value {value!r}; allowed: a non-empty list of integers >= 0, "
                        f"or {{start = S, count = N}} with S >= 0 and 1 <= N <= {MAX_SEEDS}")


def _steps(time_limit: Any, dt: Any, source: str) -> int:
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not 1.0 <= time_limit <= 3600.0:
        raise ScenarioError(f"{source}: key 'time_limit' has value {time_limit!r}; allowed a number of seconds in [1, 3600]")
    return int(round(time_limit / float(dt)))
