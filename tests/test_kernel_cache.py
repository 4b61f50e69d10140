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
