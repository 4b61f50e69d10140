"""Training curves of a `drivesim train` run folder: training_curve.png."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def read_monitor(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(env steps at each episode end, episode return) over every ppo_*.monitor.csv, in order."""
    steps, returns, offset = [], [], 0.0
    for path in sorted(folder.glob("ppo_*.monitor.csv"), key=lambda p: int(p.name.split("_")[1].split(".")[0])):
        lines = path.read_text().splitlines()[1:]  # the first line is SB3's JSON header
        rows = list(csv.DictReader(lines))
        lengths = np.array([float(r["l"]) for r in rows])
        # episodes of all worlds end interleaved; the env has made about sum(lengths) steps by then
        steps.append(offset + np.cumsum(lengths))
        returns.append(np.array([float(r["r"]) for r in rows]))
        offset += lengths.sum()
    if not steps:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(steps), np.concatenate(returns)


def read_eval(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, driving score, route completion) of the periodic evaluations."""
    path = folder / "eval.csv"
    if not path.is_file():
        return np.zeros(0), np.zeros(0), np.zeros(0)
    rows = list(csv.DictReader(path.open()))
    return tuple(np.array([float(r[k]) for r in rows]) for k in ("steps", "driving_score", "route_completion"))


def step_zero(folder: Path) -> str:
    """What the policy at PPO step 0 of a run is: the clone, or the untrained policy of a run from scratch."""
    return "after behaviour cloning" if (folder / "bc_model.zip").is_file() else "the untrained policy"


def plot_training(folder: str | Path) -> Path:
    """Episode return (rolling mean of 100 episodes, more when there are many) and the periodic
    driving score, vs env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    steps, returns = read_monitor(folder)
    e_steps, score, completion = read_eval(folder)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    if len(returns):
        window = min(len(returns), max(100, len(returns) // 100))  # 256 worlds end ~100k episodes per 10M steps
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        left.plot(steps, returns, ".", ms=2, alpha=0.15, color="tab:gray", label="episode", rasterized=True)
        left.plot(steps[window - 1:], smooth, color="tab:orange", lw=2, label=f"mean of {window}")
        left.legend(loc="lower right")
    left.set(xlabel="PPO env steps", ylabel="episode return", title="training return")
    if len(score):
        right.plot(e_steps, score, "o-", label="driving score")
        right.plot(e_steps, completion, "s--", label="route completion")
        right.legend(loc="lower right")
    for ax in (left, right):
        ax.ticklabel_format(style="sci", axis="x", scilimits=(0, 0))
    right.set(xlabel=f"PPO env steps (0 = {step_zero(folder)})", ylim=(0, 1.02),
              title="validation seeds of the suite")
    fig.tight_layout()
    path = folder / "training_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
