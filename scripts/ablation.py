"""Observation ablation for docs/agents.md: PPO (with the same behaviour-cloning warm start) on
`perception`, `oracle` and `pixels` observations at the same step budget, each evaluated on the
suite's evaluation seeds with `drivesim evaluate`.

    python scripts/ablation.py [--bc-steps 150000] [--total-steps 150000] [--n-envs 20] [--episodes 10]

Writes runs/ablation_<mode>/ (training runs), docs/eval/ablation_<mode>/ (evaluations; existing ones
are kept, so a rerun only does what is missing) and prints
a markdown table with training times from each run's timing_0.json.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

parser = argparse.ArgumentParser()
parser.add_argument("--bc-steps", default="150000")
parser.add_argument("--total-steps", default="150000")
parser.add_argument("--n-envs", default="20")
parser.add_argument("--episodes", default="10")
parser.add_argument("--modes", default="perception,oracle,pixels")
args = parser.parse_args()


def drivesim(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *argv], cwd=ROOT, check=True)


rows = []
for mode in args.modes.split(","):
    run, ev = ROOT / "runs" / f"ablation_{mode}", ROOT / "docs" / "eval" / f"ablation_{mode}"
    if not (run / "model.zip").is_file():
        drivesim("train", "--obs", mode, "--out", str(run), "--bc-steps", args.bc_steps, "--total-steps",
                 args.total_steps, "--n-envs", args.n_envs, "--eval-every", "0", "--no-progress")
    if not (ev / "metrics.json").is_file():
        drivesim("evaluate", "--agent", f"ppo:{run / 'model.zip'}", "--episodes", args.episodes, "--out", str(ev),
                 "--no-progress")
    metrics = json.loads((ev / "metrics.json").read_text())
    timing = json.loads((run / "timing_0.json").read_text())
    o = metrics["overall"]
    per_km = sum(o[f"{k}_per_km"] for k in ("collision_pedestrian", "collision_vehicle", "collision_static", "red_light"))
    rows.append(f"| PPO `{mode}` | {o['driving_score']:.3f} | {o['route_completion']:.3f} | {per_km:.2f} | "
                f"{o['collision_pedestrian_count']} | "
                f"{(timing.get('imitation_seconds', 0) + timing['ppo_seconds']) / 60:.0f} min |")
print("| agent | driving score | route completion | infractions / km | ped. collisions | training time |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
