"""Observation ablation for docs/agents.md: the same training recipe (DAgger cloning, then PPO with
the expert anchor) on `oracle`, `perception` and `pixels` observations at the same step budget;
the cloned and the final policy of each are evaluated on a seed offset none of them was trained
or validated on.

    python scripts/ablation.py [--bc-rounds 4] [--bc-steps 400000] [--total-steps 1000000]
        [--n-envs 64] [--n-steps 256] [--batch-size 4096] [--eval-every 250000]
        [--episodes 20] [--seed 777] [--modes oracle,perception,pixels] [--tag NAME]

Writes runs/ablation[_TAG]_<mode>/ (training runs, eval.csv = the validation curve) and
runs/ablation[_TAG]_<mode>/eval_{clone,final}_<seed>/ (evaluations); what exists is kept, so a
rerun only does what is missing. Prints a markdown table: per mode the validation curve, the
clone's and the final policy's driving score on the unseen seeds, and the training time.
Runs one job at a time (on 2 cores two jobs only slow each other down).
"""

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

parser = argparse.ArgumentParser()
parser.add_argument("--bc-rounds", default="4")
parser.add_argument("--bc-steps", default="400000")
parser.add_argument("--total-steps", default="1000000")
parser.add_argument("--n-envs", default="64")
parser.add_argument("--n-steps", default="256")
parser.add_argument("--batch-size", default="4096")
parser.add_argument("--eval-every", default="250000")
parser.add_argument("--eval-episodes", default="10", help="validation episodes per scenario")
parser.add_argument("--episodes", default="20", help="evaluation episodes per scenario")
parser.add_argument("--seed", default="777", help="evaluation seed offset (not trained or validated on)")
parser.add_argument("--modes", default="oracle,perception,pixels")
parser.add_argument("--tag", default="", help="suffix of the run folders")
args = parser.parse_args()


def drivesim(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "drivesim.apps.cli", *argv], cwd=ROOT, check=True)


def evaluate(model: Path, out: Path) -> dict:
    if not (out / "metrics.json").is_file():
        drivesim("evaluate", "--agent", f"ppo:{model}", "--episodes", args.episodes, "--seed", args.seed,
                 "--out", str(out), "--no-progress")
    return json.loads((out / "metrics.json").read_text())["overall"]


rows = []
for mode in args.modes.split(","):
    run = ROOT / "runs" / f"ablation{'_' + args.tag if args.tag else ''}_{mode}"
    if not (run / "model.zip").is_file():
        drivesim("train", "--obs", mode, "--out", str(run), "--bc-rounds", args.bc_rounds, "--bc-steps",
                 args.bc_steps, "--total-steps", args.total_steps, "--n-envs", args.n_envs, "--n-steps",
                 args.n_steps, "--batch-size", args.batch_size, "--eval-every", args.eval_every,
                 "--eval-episodes", args.eval_episodes, "--no-progress")
    clone = evaluate(run / "bc_model.zip", run / f"eval_clone_{args.seed}")
    final = evaluate(run / "model.zip", run / f"eval_final_{args.seed}")
    with open(run / "eval.csv") as f:
        curve = " / ".join(f"{float(r['driving_score']):.3f}" for r in csv.DictReader(f))
    timing = json.loads((run / "timing_0.json").read_text())
    minutes = (timing.get("imitation_seconds", 0) + timing["ppo_seconds"]) / 60
    counts = "/".join(str(final[f"collision_{k}_count"]) for k in ("pedestrian", "vehicle")) + \
        f"/{final['red_light_count']}/{final['timeout_count']}"
    rows.append(f"| `{mode}` | {curve} | {clone['driving_score']:.3f} | **{final['driving_score']:.3f}** | "
                f"{counts} | {minutes:.0f} min |")
print(f"| features | validation: clone, then every {args.eval_every} PPO steps | clone, seed {args.seed} | "
      f"final, seed {args.seed} | ped / veh / red / timeouts (final) | training (2-core CPU) |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
