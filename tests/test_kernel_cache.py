"""The compiled kernels are cached on disk: from a read-only install numba falls back to a user
cache directory, and SB3 SubprocVecEnv workers started with `spawn` load the kernels instead of
compiling them again."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import drivesim

ROOT = Path(drivesim.__file__).resolve().parent.parent
_RUN = """
import json, numpy as np, drivesim
from drivesim.jit import cache_report
from drivesim.world import World
world = World(drivesim.EnvConfig(observations=("state",), traffic={"n_cars": 2, "n_pedestrians": 2}), 1)
world.reset(np.array([0]), np.array([0]))
world.step(np.zeros((1, 2)))
print(json.dumps(cache_report()))
"""


def _read_only_copy(tmp_path: Path) -> Path:
    """drivesim copied to an install folder nobody can write (its __pycache__ folders replaced by
    plain files, which also stops root, who ignores permission bits)."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "drivesim", site / "drivesim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for folder in [site / "drivesim", *(p for p in (site / "drivesim").rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("read-only install")
    for path in [*site.rglob("*"), site]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return site


def _run(site: Path, home: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True, env=env, cwd=home, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="the user cache location is checked on Linux")
def test_read_only_install_caches_kernels_in_the_user_cache(tmp_path):
    site, home = _read_only_copy(tmp_path), tmp_path / "home"
    home.mkdir()
    try:
        first = _run(site, home)
        step = first["drivesim.step.step_batch"]
        assert step["path"].startswith(str(home)) and step["misses"] == 1  # compiled, cached under $HOME
        assert any(home.rglob("*.nbi")) and not any((site / "drivesim").rglob("*.nbi"))
        second = _run(site, home)
        assert all(k["hits"] >= 1 and k["misses"] == 0 for k in second.values()), second  # loaded, not compiled
    finally:
        for path in [*site.rglob("*"), site]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


class _CacheProbe:
    """An env factory for SubprocVecEnv (importable by spawned workers)."""

    def __call__(self):
        import gymnasium as gym

        from drivesim.envs.city_drive import CityDriveEnv

        class Probe(gym.Wrapper):
            def cache_report(self) -> dict:
                from drivesim.jit import cache_report

                return cache_report()

        return Probe(CityDriveEnv(observations=("state",), traffic={"n_cars": 2, "n_pedestrians": 2}))


def test_spawned_subproc_workers_load_the_cached_kernels():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from drivesim.envs.city_drive import CityDriveEnv

    warm = CityDriveEnv(observations=("state",), traffic={"n_cars": 2, "n_pedestrians": 2})
    warm.reset(seed=0)
    expected = warm.step(np.zeros(2, dtype=np.float32))[0]["state"]  # compiles (or loads) in this process
    venv = SubprocVecEnv([_CacheProbe(), _CacheProbe()], start_method="spawn")
    try:
        venv.seed(0)
        venv.reset()
        obs, *_ = venv.step(np.zeros((2, 2), dtype=np.float32))
        np.testing.assert_array_equal(obs["state"][0], expected)  # a worker equals this process, bit for bit
        for report in venv.env_method("cache_report"):
            assert report["drivesim.step.step_batch"]["hits"] >= 1 and report["drivesim.step.step_batch"]["misses"] == 0
    finally:
        venv.close()


def test_an_edited_kernel_source_drops_the_in_tree_cache_and_nothing_else_does(tmp_path):
    """numba checks a cached kernel against its own file only (numba issue #1833); drop_stale_cache
    deletes the checkout's cache when any kernel source changed, and only then."""
    from drivesim.jit import drop_stale_cache

    package = tmp_path / "drivesim"
    (package / "agents").mkdir(parents=True)
    (package / "events.py").write_text("SCORE = 1.0\n")
    (package / "step.py").write_text("from drivesim.events import SCORE\n")
    (package / "agents" / "ppo.py").write_text("LR = 1e-5\n")

    def cache() -> list[Path]:
        for folder in (package / "__pycache__", package / "agents" / "__pycache__"):
            folder.mkdir(exist_ok=True)
            (folder / "step.step_batch-1.py311.nbi").write_text("index")
        return sorted(package.rglob("*.nbi"))

    files = cache()
    assert drop_stale_cache(package) and not any(p.exists() for p in files)  # no key yet: a cache of unknown sources
    files = cache()
    assert not drop_stale_cache(package) and all(p.exists() for p in files)  # unchanged
    (package / "agents" / "ppo.py").write_text("LR = 1e-4\n")
    assert not drop_stale_cache(package) and all(p.exists() for p in files)  # no kernels there
    (package / "events.py").write_text("SCORE = 0.5\n")  # what the step kernel inlines
    assert drop_stale_cache(package) and not any(p.exists() for p in files)
