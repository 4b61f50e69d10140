"""Regenerate the shipped PPO policy (assets/policy/) and its training curve and evaluation.

    python scripts/regenerate_policy.py            # about 20 minutes on a 2-core CPU

Trains with the documented defaults (`drivesim train`, PPOConfig: perception features with the CNN
in the loop, 256 worlds over the whole suite, behaviour cloning from the expert in 8 DAgger rounds
over 1.6M env steps with the braking samples weighted 10x, then 2M PPO steps in 256-step rollouts
on the score reward with the expert anchor, a validation evaluation of 100 episodes every 500k),
copies the best validated policy and its config.json into assets/policy/, the training curve into
docs/, and evaluates it on the suite (20 episodes per scenario) into docs/eval/ppo/. Extra
arguments go to `drivesim train`.

The shipped file (2026-12-06, fifth session) came from this script (7.5 min of cloning, 9 min of
PPO): validation 0.931 (the clone), 0.927, 0.930, 0.943, 0.943 (2M, by 1e-5 the best, so the
shipped file is the final model); docs/agents.md gives its suite figures and the clone's.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "runs" / "ppo_shipped"


def drivesim(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *args], cwd=ROOT, check=True)


shutil.rmtree(RUN, ignore_errors=True)  # a fresh run: `drivesim train` refuses a folder holding an old one
drivesim("train", "--obs", "perception", "--out", str(RUN), "--no-progress", *sys.argv[1:])
target = ROOT / "assets" / "policy"
target.mkdir(parents=True, exist_ok=True)
best = RUN / "best_model.zip" if (RUN / "best_model.zip").is_file() else RUN / "model.zip"
shutil.copyfile(best, target / "ppo_drivesim.zip")
config = json.loads((RUN / "config.json").read_text())
config["out"] = str(RUN.relative_to(ROOT))  # not this machine's absolute path
(target / "config.json").write_text(json.dumps(config, indent=2))
shutil.copyfile(RUN / "training_curve.png", ROOT / "docs" / "ppo_training_curve.png")
drivesim("evaluate", "--agent", "ppo", "--episodes", "20", "--out", "docs/eval/ppo")
print(f"wrote {target / 'ppo_drivesim.zip'} ({(target / 'ppo_drivesim.zip').stat().st_size / 1e6:.1f} MB)")
