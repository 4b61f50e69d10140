"""Regenerate the shipped perception weights (assets/perception/perception.pt) and their report.

    python scripts/regenerate_perception.py            # about 10 minutes on a 2-core CPU

Collects 16k labelled frames from the simulator (seed 0, held-out split by seed), trains
PerceptionNet for 12 epochs, evaluates on the held-out frames into docs/perception_eval/ and
copies the best checkpoint, without optimizer state, into assets/.
"""

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DATA, RUN, EVAL = "runs/perception_data", "runs/perception", "docs/perception_eval"


def drivesim(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *args], cwd=ROOT, check=True)


drivesim("collect", "--out", DATA, "--frames", "16000", "--seed", "0")
drivesim("train-perception", "--data", DATA, "--out", RUN, "--epochs", "12", "--width", "32", "--device", "auto")
ckpt = torch.load(ROOT / RUN / "best.pt", map_location="cpu", weights_only=False)
shipped = {k: ckpt[k] for k in ("version", "model_config", "model")} | {"history": ckpt["history"]}
target = ROOT / "assets" / "perception" / "perception.pt"
target.parent.mkdir(parents=True, exist_ok=True)
torch.save(shipped, target)
drivesim("eval-perception", "--weights", str(target), "--data", DATA, "--out", EVAL, "--device", "cpu")
print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB) and {EVAL}/")
