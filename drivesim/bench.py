"""`drivesim bench`: env-steps per second of the single and the batched environment.

Random actions, autoreset on episode end, one process; every figure is wall-clock throughput
after a short warm-up."""

from __future__ import annotations

import json
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np

from drivesim.config import EnvConfig
from drivesim.envs.city_drive import CityDriveEnv
from drivesim.envs.vector import CityDriveVectorEnv

OBS_MODES = (("camera", "lidar", "state"), ("lidar", "state"), ("state",), ("camera",))
BATCH_SIZES = (1, 16, 64, 256)


@dataclass(frozen=True)
class BenchResult:
    env: str  # "single" or "batched"
    observations: str  # e.g. "lidar+state"
    batch_size: int
    env_steps_per_s: float
    peak_rss_mb: float  # process peak resident memory after this run [MiB]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def bench_single(config: EnvConfig, seconds: float, seed: int = 0) -> float:
    env = CityDriveEnv(config)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(4096, 2)).astype(np.float32)
    actions[:, 1] = np.abs(actions[:, 1])  # mostly drive forward so episodes look like driving
    steps, start = 0, time.perf_counter()
    while True:
        for a in actions[:256]:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        steps += 256
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def bench_batched(config: EnvConfig, batch_size: int, seconds: float, seed: int = 0) -> float:
    env = CityDriveVectorEnv(batch_size, config)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(64, batch_size, 2)).astype(np.float32)
    actions[..., 1] = np.abs(actions[..., 1])
    for a in actions[:3]:  # warm-up
        env.step(a)
    steps, start = 0, time.perf_counter()
    while True:
        for a in actions[:8]:
            env.step(a)
        steps += 8 * batch_size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def run_bench(seconds: float = 2.0, batch_sizes: tuple[int, ...] = BATCH_SIZES,
              obs_modes: tuple[tuple[str, ...], ...] = OBS_MODES, config: EnvConfig | None = None,
              progress: bool = True) -> list[BenchResult]:
    base = config or EnvConfig()
    results = []
    for obs in obs_modes:
        cfg = base.replace(observations=obs)
        name = "+".join(obs)
        results.append(BenchResult("single", name, 1, bench_single(cfg, seconds), _peak_rss_mb()))
        if progress:
            _print_row(results[-1])
        for b in batch_sizes:
            results.append(BenchResult("batched", name, b, bench_batched(cfg, b, seconds), _peak_rss_mb()))
            if progress:
                _print_row(results[-1])
    return results


def _print_row(r: BenchResult) -> None:
    print(f"{r.env:8s} {r.observations:12s} B={r.batch_size:<4d} {r.env_steps_per_s:>10,.0f} env-steps/s"
          f"   peak RSS {r.peak_rss_mb:,.0f} MiB", flush=True)


def to_json(results: list[BenchResult]) -> str:
    import platform

    meta = {"python": platform.python_version(), "machine": platform.machine(), "numpy": np.__version__,
            "cpu_count": __import__("os").cpu_count()}
    return json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
