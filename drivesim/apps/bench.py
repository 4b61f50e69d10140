"""`drivesim bench`: env-steps per second of the simulator, as an RL user meets it.

- `single`: one env through `gymnasium.make` (wrappers included), random actions, reset on episode end;
- `batched`: the vector env at each batch size, random actions, autoreset;
- `expert`: the vector env driven by the autopilot (its compute included);
- `suite`: one batch mixing every scenario of the suite (round-robin over the worlds);
- `compile`: seconds to compile the kernels with an empty cache (a fresh process; the user's
  cache is untouched);
- `ppo` (with `--train`): PPO training as `drivesim train` runs it, updates included, with oracle
  and with perception features (`apps/bench_train.py`).

Every throughput is wall-clock after a short warm-up, in one process. Measure with this, never
with timed tests.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import numba
import numpy as np

from drivesim import ENV_ID
from drivesim.actors.autopilot import autopilot_actions
from drivesim.config import EnvConfig
from drivesim.envs.vector import CityDriveVectorEnv
from drivesim.scenarios.loader import list_scenarios

OBS_MODES = (("camera", "lidar", "state"), ("lidar", "state"), ("state",), ("camera",))
BATCH_SIZES = (1, 16, 64, 256)
EXPERT_BATCH = 256
SUITE_BATCH = 256
LABELS_BATCH = 256


@dataclass(frozen=True)
class BenchResult:
    env: str  # "single", "batched", "expert", "suite" or "compile"
    observations: str  # e.g. "lidar+state"
    batch_size: int
    env_steps_per_s: float  # (compile: 0)
    peak_rss_mb: float  # process peak resident memory after this run [MiB]
    seconds: float = 0.0  # compile: wall time [s] of the cold start
    detail: str = ""  # ppo: the update's precision, e.g. "update bf16"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _random_actions(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    actions = rng.uniform(-1, 1, size=(*shape, 2)).astype(np.float32)
    actions[..., 1] = np.abs(actions[..., 1])  # mostly drive forward so episodes look like driving
    return actions


def bench_single(config: EnvConfig, seconds: float, seed: int = 0) -> float:
    """Steps/s of `gymnasium.make("drivesim/CityDrive-v0")` with random actions."""
    env = gym.make(ENV_ID, config=config)
    env.reset(seed=seed)
    actions = _random_actions(np.random.default_rng(seed), (256,))
    for a in actions[:8]:  # warm-up
        env.step(a)
    steps, start = 0, time.perf_counter()
    while True:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        steps += len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def _bench_vector(env, act, seconds: float, batch_size: int) -> float:
    for _ in range(3):  # warm-up
        env.step(act(0))
    steps, start, k = 0, time.perf_counter(), 0
    while True:
        for _ in range(8):
            env.step(act(k))
            k += 1
        steps += 8 * batch_size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def bench_batched(config: EnvConfig, batch_size: int, seconds: float, seed: int = 0) -> float:
    env = CityDriveVectorEnv(batch_size, config)
    env.reset(seed=seed)
    actions = _random_actions(np.random.default_rng(seed), (64, batch_size))
    return _bench_vector(env, lambda k: actions[k % len(actions)], seconds, batch_size)


def bench_expert(config: EnvConfig, batch_size: int, seconds: float, seed: int = 0) -> float:
    """The autopilot drives every world: its actions are computed each step (included)."""
    env = CityDriveVectorEnv(batch_size, config)
    env.reset(seed=seed)
    return _bench_vector(env, lambda k: autopilot_actions(env.world), seconds, batch_size)


def bench_suite(batch_size: int, seconds: float, observations: tuple[str, ...], seed: int = 0) -> float:
    """One batch mixing every scenario of the suite, random actions."""
    suite = [s.config.replace(observations=observations) for s in list_scenarios()]
    env = CityDriveVectorEnv(configs=[suite[i % len(suite)] for i in range(batch_size)])
    env.reset(seed=seed)
    actions = _random_actions(np.random.default_rng(seed), (64, batch_size))
    return _bench_vector(env, lambda k: actions[k % len(actions)], seconds, batch_size)


def bench_labels(config: EnvConfig, batch_size: int, seconds: float, seed: int = 0) -> tuple[float, float]:
    """Env-steps/s of camera + lidar + state without and with `camera_labels` (labels in every
    info), measured in alternating rounds (best round of each), so machine noise hits both alike."""
    cfg = config.replace(observations=("camera", "lidar", "state"))
    envs = [CityDriveVectorEnv(batch_size, cfg.replace(camera_labels=flag)) for flag in (False, True)]
    actions = _random_actions(np.random.default_rng(seed), (64, batch_size))
    for env in envs:
        env.reset(seed=seed)
    best = [0.0, 0.0]
    for _ in range(3):
        for i, env in enumerate(envs):
            best[i] = max(best[i], _bench_vector(env, lambda k: actions[k % len(actions)], seconds / 3, batch_size))
    return best[0], best[1]


_COLD_START = """
import time
t = time.perf_counter()
import numpy as np, drivesim
from drivesim.actors.autopilot import autopilot_actions
from drivesim.world import World
world = World(drivesim.EnvConfig(observations=("lidar", "state")), 1)
world.reset(np.array([0]), np.array([0]))
world.observe()
world.step(autopilot_actions(world))
print(time.perf_counter() - t)
"""


def compile_seconds() -> float:
    """Wall time [s] of import + reset + first step (with lidar and state) + the autopilot in a
    fresh process whose numba cache starts empty (NUMBA_CACHE_DIR points at a new temporary
    folder, so the user's cache is neither used nor changed)."""
    with tempfile.TemporaryDirectory(prefix="drivesim-bench-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run([sys.executable, "-c", _COLD_START], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run_bench(seconds: float = 2.0, batch_sizes: tuple[int, ...] = BATCH_SIZES,
              obs_modes: tuple[tuple[str, ...], ...] = OBS_MODES, config: EnvConfig | None = None,
              progress: bool = True, extras: bool = True, train: bool = False) -> list[BenchResult]:
    """Every observation mode single and batched; with `extras` also the expert-driven batch, the
    mixed-suite batch (lidar + state), the camera with and without labels in the infos, and the
    cold compile time; with `train` PPO training with oracle and perception features."""
    base = config or EnvConfig()
    results = []

    def add(result: BenchResult) -> None:
        results.append(result)
        if progress:
            _print_row(result)

    for obs in obs_modes:
        cfg = base.replace(observations=obs)
        name = "+".join(obs)
        add(BenchResult("single", name, 1, bench_single(cfg, seconds), _peak_rss_mb()))
        for b in batch_sizes:
            add(BenchResult("batched", name, b, bench_batched(cfg, b, seconds), _peak_rss_mb()))
    if extras:
        lidar_state = ("lidar", "state")
        add(BenchResult("expert", "lidar+state", EXPERT_BATCH,
                        bench_expert(base.replace(observations=lidar_state), EXPERT_BATCH, seconds), _peak_rss_mb()))
        add(BenchResult("suite", "lidar+state", SUITE_BATCH, bench_suite(SUITE_BATCH, seconds, lidar_state),
                        _peak_rss_mb()))
        plain, labelled = bench_labels(base, LABELS_BATCH, seconds)
        add(BenchResult("labels", "camera+lidar+state", LABELS_BATCH, plain, _peak_rss_mb()))
        add(BenchResult("labels", "camera+lidar+state+labels", LABELS_BATCH, labelled, _peak_rss_mb()))
        add(BenchResult("compile", "lidar+state", 1, 0.0, _peak_rss_mb(), compile_seconds()))
    if train:
        import torch

        from drivesim.agents.anchor import update_precision
        from drivesim.agents.ppo import PPOConfig
        from drivesim.apps.bench_train import bench_training  # torch, SB3

        cfg = PPOConfig(device="cpu")
        detail = f"update {update_precision(cfg.update_precision, torch.device('cpu'))}"
        for mode in ("oracle", "perception"):
            rate = bench_training(mode, max(seconds, 10.0), cfg)
            add(BenchResult("ppo", mode, cfg.n_envs, rate, _peak_rss_mb(), detail=detail))
    return results


def _print_row(r: BenchResult) -> None:
    if r.env == "compile":
        print(f"{'compile':8s} {'cold cache':12s} {'':6s} {r.seconds:10.1f} s to import, reset, step and drive",
              flush=True)
        return
    print(f"{r.env:8s} {r.observations:12s} B={r.batch_size:<4d} {r.env_steps_per_s:>10,.0f} env-steps/s"
          f"   peak RSS {r.peak_rss_mb:,.0f} MiB{'   ' + r.detail if r.detail else ''}", flush=True)


def to_json(results: list[BenchResult]) -> str:
    meta = {"python": platform.python_version(), "machine": platform.machine(), "numpy": np.__version__,
            "numba": numba.__version__, "cpu_count": os.cpu_count()}
    return json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
