import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest


def test_import_drivesim_does_not_import_torch():
    code = "import sys, drivesim, drivesim.envs, drivesim.world, drivesim.apps.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_make_without_torch():
    code = ("import sys, gymnasium as gym, drivesim; env = gym.make(drivesim.ENV_ID); env.reset(seed=0); "
            "env.step(env.action_space.sample()); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ one import name, one-way layers
REPO = Path(__file__).resolve().parents[1]
UPPER = {"agents", "perception", "apps"}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _contract(name: str) -> dict:
    return next(c for c in _pyproject()["tool"]["importlinter"]["contracts"] if c["name"] == name)


def test_core_contract_lists_every_core_module():
    """The forbidden contract names the core explicitly; a new core module must join it."""
    core = {p.stem if p.suffix == ".py" else p.name for p in (REPO / "drivesim").iterdir()
            if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").is_file()}
    contract = _contract("the core imports no upper layer, torch or SB3")
    listed = {m.removeprefix("drivesim.") for m in contract["source_modules"]}
    assert listed == core - UPPER


def test_every_package_folder_is_installed():
    packages = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "drivesim").rglob("__init__.py")}
    assert found <= packages, found - packages
    assert all(p == "drivesim" or p.startswith("drivesim.") for p in packages)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return subprocess.run([exe, "--config", str(root / "pyproject.toml")], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)


def test_layer_contracts_hold_and_catch_a_core_module_importing_agents(tmp_path):
    """lint-imports passes on the package, and fails once a core module imports drivesim.agents."""
    assert _lint(REPO).returncode == 0
    copy = tmp_path / "drivesim"
    shutil.copytree(REPO / "drivesim", copy, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    world = copy / "world.py"
    world.write_text(world.read_text() + "\nfrom drivesim.agents.policy import PolicyAgent  # noqa\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "drivesim.world -> drivesim.agents.policy" in out.stdout


def test_install_puts_only_drivesim_in_site_packages(tmp_path):
    """`pip install .` (here into a bare target folder) installs one import name with its assets,
    and the installed copy runs on its own."""
    src, site = tmp_path / "src", tmp_path / "site"  # build from a copy: setuptools writes build/ beside the sources
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.egg-info")
    for name in ("drivesim", "assets"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(src)],
                   check=True, capture_output=True, text=True, timeout=600)
    top = {p.name for p in site.iterdir() if p.name != "bin"}
    assert {n for n in top if not n.endswith(".dist-info")} == {"drivesim"}, top
    assert (site / "drivesim" / "assets" / "perception" / "perception.pt").is_file()
    assert (site / "drivesim" / "apps" / "play" / "session.py").is_file()
    code = ("import drivesim, drivesim.apps.cli, drivesim.agents.policy, drivesim.perception.detector; "
            "print(drivesim.__file__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(site))
