"""Regenerate the shipped perception weights (assets/perception/perception.pt) and their report.

    python scripts/regenerate_perception.py            # about an hour on a 2-core CPU

Collects 40k labelled frames with their history frames from the simulator (seed 0: the scenario
suite once and the two crowd sources twice per cycle, visual randomisation; the held-out split is by seed), trains
PerceptionNet for 20 epochs (about 2 minutes each) (which also stores the int8 activation ranges), copies the best
checkpoint without optimizer state into assets/ and evaluates it on the held-out frames into
docs/perception_eval/.
"""

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DATA, RUN, EVAL = "runs/perception_data", "runs/perception", "docs/perception_eval"


def drivesim(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *args], cwd=ROOT, check=True)


drivesim("collect", "--out", DATA, "--frames", "40000", "--seed", "0")
drivesim("train-perception", "--data", DATA, "--out", RUN, "--epochs", "20", "--device", "auto")
ckpt = torch.load(ROOT / RUN / "best.pt", map_location="cpu", weights_only=True)
shipped = {k: ckpt[k] for k in ("version", "model_config", "model", "int8_observers") if k in ckpt}
shipped["history"] = ckpt["history"]
target = ROOT / "assets" / "perception" / "perception.pt"
target.parent.mkdir(parents=True, exist_ok=True)
torch.save(shipped, target)
drivesim("eval-perception", "--weights", str(target), "--data", DATA, "--out", EVAL, "--device", "cpu")
print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB) and {EVAL}/")
