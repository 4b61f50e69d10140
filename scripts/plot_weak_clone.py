"""`python scripts/plot_weak_clone.py` writes docs/ppo_weak_clone_curve.png: the validation driving
score (100 episodes) every 1M PPO steps after weak clones (100k expert steps, one round), oracle
features. The values are the runs' eval.csv, copied here (the runs are not in git; the commands
are in docs/agents.md, "PPO after a weak clone"): seeds 5 and 6 from 2026-12-07, seeds 7 and 8 from 2026-12-08."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

steps = range(7)
series = [
    ("PPO with the imitation anchor (default), seed 5", [0.611, 0.527, 0.588, 0.662, 0.723, 0.754, 0.749], "o-", "C0"),
    ("PPO without the anchor (--anchor 0), seed 5", [0.611, 0.631, 0.621, 0.647, 0.665, 0.693, 0.674], "o-", "C1"),
    ("seed-6 clone, with the anchor", [0.756, 0.723, 0.752, 0.754, 0.773, 0.794, 0.756], "s--", "C2"),
    ("seed-7 clone, with the anchor", [0.699, 0.750, 0.805, 0.807, 0.808, 0.828, 0.834], "^-", "C3"),
    ("seed-8 clone, with the anchor", [0.694, 0.715, 0.776, 0.784, 0.780, 0.799, 0.777], "v-", "C4"),
]
fig, ax = plt.subplots(figsize=(7.2, 4.4))
for label, values, style, colour in series:
    ax.plot(steps, values, style, color=colour, label=label)
for start, colour in ((0.611, "C0"), (0.756, "C2"), (0.699, "C3"), (0.694, "C4")):
    ax.axhline(start + 0.05, color=colour, ls=":", lw=1)
ax.plot([], [], "k:", lw=1, label="each clone + 0.05 (point 3)")
ax.set_xlabel("PPO env steps [M]")
ax.set_ylabel("validation driving score (100 episodes)")
ax.set_title("PPO after weak clones (100k expert steps), oracle features")
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
fig.savefig("docs/ppo_weak_clone_curve.png", dpi=100)
