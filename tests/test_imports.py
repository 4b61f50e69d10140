import subprocess
import sys


def test_import_drivesim_does_not_import_torch():
    code = "import sys, drivesim, drivesim.envs, drivesim.world, drivesim.apps.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_make_without_torch():
    code = ("import sys, gymnasium as gym, drivesim; env = gym.make(drivesim.ENV_ID); env.reset(seed=0); "
            "env.step(env.action_space.sample()); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
