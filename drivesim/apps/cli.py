"""The `drivesim` command. Subcommands import heavy modules (torch, SB3, pygame, matplotlib) lazily, so
`drivesim --help` and the core-only commands start fast. This is the one place that turns an
`--agent NAME` into an object."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from drivesim.agent import Agent, ExpertAgent, RandomAgent
from drivesim.apps import report
from drivesim.apps.bench import OBS_MODES, run_bench, to_json
from drivesim.apps.demo import run_demo
from drivesim.apps.evaluate import evaluate
from drivesim.config import OBSERVATION_KEYS, REWARD_MODES
from drivesim.scenarios.loader import list_scenarios

AGENT_NAMES = "expert, random, keyboard, ppo (the shipped policy) or ppo:PATH"


def make_agent(spec: str, seed: int = 0) -> Agent:
    """`expert`, `random`, `keyboard` or `ppo:PATH` (`ppo` alone: the shipped policy)."""
    if spec == "expert":
        return ExpertAgent()
    if spec == "random":
        return RandomAgent(seed)
    if spec == "keyboard":
        from drivesim.agents.keyboard import KeyboardAgent  # pygame

        return KeyboardAgent()
    if spec == "ppo" or spec.startswith("ppo:"):
        from drivesim.agents.policy import PolicyAgent  # torch, SB3

        return PolicyAgent.load(spec.partition(":")[2] or None)
    raise ValueError(f"unknown agent {spec!r}; use {AGENT_NAMES}")


def _parse_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def _parse_obs(text: str) -> tuple[tuple[str, ...], ...]:
    modes = tuple(tuple(part.split("+")) for part in text.split(","))
    for mode in modes:
        for key in mode:
            if key not in OBSERVATION_KEYS:
                raise argparse.ArgumentTypeError(f"unknown observation {key!r}; use {', '.join(OBSERVATION_KEYS)} "
                                                 "(join with +)")
    return modes


def cmd_bench(args: argparse.Namespace) -> int:
    results = run_bench(args.seconds, args.batch_sizes, args.obs or OBS_MODES, progress=not args.json,
                        extras=not args.no_extras, train=args.train)
    if args.json:
        print(to_json(results))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(args, make_agent(args.agent, args.seed))


def cmd_play(args: argparse.Namespace) -> int:
    from drivesim.apps.play.window import run_play  # pygame

    return run_play(args)


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.compare:
        print(report.compare(args.compare))
        return 0
    metrics = evaluate(make_agent(args.agent, args.seed), args.agent, args.scenarios, args.episodes, args.seed,
                       args.out, args.video, progress=not args.no_progress, max_steps=args.max_steps)
    print(report.markdown_report(metrics))
    videos = ", videos/*.mp4" if args.video else ""
    print(f"wrote {args.out}/metrics.json, report.md, report.html, driving_score.png, infractions.png{videos}")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    for i, sc in enumerate(list_scenarios(), start=1):
        print(f"{i:2d}  {sc.name:20s} {sc.description}  ({len(sc.seeds)} seeds, "
              f"{sc.config.max_episode_steps * sc.config.dt:.0f} s)")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def cmd_collect(args: argparse.Namespace) -> int:
    from drivesim.perception.dataset import CollectConfig, collect

    manifest = collect(args.out, CollectConfig(frames=args.frames, seed=args.seed, batch=args.batch))
    total = sum(s["frames"] for s in manifest["shards"])
    val = sum(s["val_frames"] for s in manifest["shards"])
    print(f"{args.out}: {total} frames in {len(manifest['shards'])} shards ({val} held out for validation)")
    return 0


def cmd_train_perception(args: argparse.Namespace) -> int:
    from drivesim.perception.train import TrainConfig, train

    result = train(TrainConfig(data=args.data, out=args.out, epochs=args.epochs, batch_size=args.batch_size,
                               lr=args.lr, optimizer=args.optimizer, device=args.device, seed=args.seed,
                               width=args.width, dilations=args.dilations))
    int8 = "with int8 activation ranges" if result["int8_observers"] else "without int8 ranges (fp32 only)"
    print(f"best validation loss {result['best_val_loss']:.4f} on {result['device']}; checkpoints in {args.out} "
          f"(best.pt {int8})")
    return 0


def cmd_eval_perception(args: argparse.Namespace) -> int:
    from drivesim.perception.evaluate import evaluate as evaluate_perception  # torch
    from drivesim.perception.evaluate import markdown

    weights = args.weights
    if weights is None:
        from drivesim.perception.detector import shipped_weights

        weights = str(shipped_weights())
    if args.seed is None:
        metrics = evaluate_perception(weights, args.data, args.out, args.frames, args.device, precision=args.precision)
    else:  # fresh frames from seeds never used for training, all held out; ~120 MB, not kept beside the report
        import tempfile

        from drivesim.perception.dataset import collect, fresh_collect_config

        with tempfile.TemporaryDirectory(prefix="drivesim-frames-") as scratch:
            data = str(Path(scratch) / f"frames_seed{args.seed}")
            collect(data, fresh_collect_config(args.seed, args.frames))
            metrics = evaluate_perception(weights, data, args.out, args.frames, args.device, precision=args.precision,
                                          origin=f"fresh worlds seeded from {args.seed}, never trained on")
    print(markdown(metrics))
    return 0


TRAIN_HYPERPARAMETERS = ("n_envs", "total_steps", "n_steps", "bc_steps", "bc_rounds", "reward_mode", "eval_every",
                         "eval_episodes", "learning_rate", "n_epochs", "batch_size", "gamma", "gae_lambda",
                         "ent_coef", "clip_range", "target_kl", "net_arch", "k", "path", "hide_accel", "clock", "junction",
                         "surface", "signal", "stopping", "anchor", "anchor_decay", "brake_weight", "brake_min_speed",
                         "brake_at_lights", "brake_at_people", "bc_learning_rate", "bc_epochs",
                         "bc_anneal", "bc_loss", "finetune_log_std", "finetune_steer_log_std", "timeout_terminal",
                         "log_std_init", "initial_throttle", "sde", "sde_sample_freq",
                         "update_precision")  # else PPOConfig's


def cmd_train(args: argparse.Namespace) -> int:
    from drivesim.agents.ppo import PPOConfig, train

    given = {name: getattr(args, name) for name in TRAIN_HYPERPARAMETERS if getattr(args, name) is not None}
    if "target_kl" in given and given["target_kl"] <= 0:
        given["target_kl"] = None  # --target-kl 0: no early stop
    if args.obs == "pixels":
        given.setdefault("surface", False)  # the surface flags are per detected object: pixels have none
    cfg = PPOConfig(obs=args.obs, out=args.out, device=args.device, seed=args.seed, scenarios=args.scenarios,
                    curriculum=args.curriculum, extractor=args.extractor, reward=tuple(_reward_overrides(args.reward)),
                    **given)
    path = train(cfg, resume=args.resume, progress=not args.no_progress, resume_overrides=given)
    print(f"wrote {path}")
    return 0


def _reward_overrides(items: list[str]) -> list[tuple[str, float]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out.append((name.strip(), float(value)))
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--reward {item!r}: expected TERM=WEIGHT, e.g. collision=30")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivesim", description="Fast batched city-driving simulator.")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="measure env-steps/s of the single and batched envs")
    bench.add_argument("--json", action="store_true", help="print results as JSON")
    bench.add_argument("--no-extras", action="store_true",
                       help="skip the expert-driven and mixed-suite batches and the cold compile time")
    bench.add_argument("--seconds", type=float, default=2.0, help="measuring time per configuration [s]")
    bench.add_argument("--train", action="store_true",
                       help="also PPO training env-steps/s (updates included) with oracle and perception features")
    bench.add_argument("--batch-sizes", type=_parse_ints, default=(1, 16, 64, 256), help="e.g. 1,16,64,256")
    bench.add_argument("--obs", type=_parse_obs, default=None,
                       help="observation modes, e.g. camera+lidar+state,lidar+state,state (default: those and camera)")
    bench.set_defaults(func=cmd_bench)
    demo = sub.add_parser("demo", help="the shipped policy drives a few scenarios: video + evaluation table")
    demo.add_argument("--agent", default="ppo", help="ppo (the shipped policy, default), ppo:PATH, expert or random")
    demo.add_argument("--scenarios", default="red_light,pedestrian_crossing,unprotected_left",
                      help="comma-separated suite scenarios (or all)")
    demo.add_argument("--episodes", type=_positive, default=4, help="episodes per scenario (the first is filmed)")
    demo.add_argument("--seed", type=int, default=0, help="offset added to the scenarios' evaluation seeds")
    demo.add_argument("--no-window", action="store_true", help="do not open a window even if there is a display")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--max-steps", type=int, default=None, help="cap each episode at this many steps")
    demo.set_defaults(func=cmd_demo)
    ev = sub.add_parser("evaluate", help="evaluate an agent on the scenario suite (CARLA-style driving score)")
    ev.add_argument("--agent", default="expert", help=AGENT_NAMES)
    ev.add_argument("--scenarios", default="all", help="all, or comma-separated names/paths")
    ev.add_argument("--episodes", type=_positive, default=20, help="episodes per scenario")
    ev.add_argument("--seed", type=int, default=0, help="offset added to every scenario seed")
    ev.add_argument("--out", default="runs/eval", help="output folder")
    ev.add_argument("--video", action="store_true",
                    help="write an H.264 MP4 of the first episode of each scenario (shown in report.html)")
    ev.add_argument("--max-steps", type=_positive, default=None,
                    help="cap each episode at this many steps (a quick look; scores are not comparable)")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")
    ev.add_argument("--compare", nargs="+", metavar="DIR", help="print a side-by-side table of earlier runs")
    ev.set_defaults(func=cmd_evaluate)
    co = sub.add_parser("collect", help="collect labelled camera frames for perception training")
    co.add_argument("--out", default="runs/perception_data", help="dataset folder (resumes if it exists)")
    co.add_argument("--frames", type=_positive, default=16000, help="frames to collect")
    co.add_argument("--seed", type=int, default=0, help="first world seed")
    co.add_argument("--batch", type=_positive, default=32, help="worlds stepped together")
    co.set_defaults(func=cmd_collect)
    tp = sub.add_parser("train-perception", help="train the perception CNN on collected frames")
    tp.add_argument("--data", default="runs/perception_data")
    tp.add_argument("--out", default="runs/perception", help="checkpoints (resumes from last.pt)")
    tp.add_argument("--epochs", type=_positive, default=20)
    tp.add_argument("--batch-size", type=_positive, default=64)
    tp.add_argument("--lr", type=float, default=3e-3)
    tp.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    tp.add_argument("--device", default="auto", help="auto | cpu | cuda")
    tp.add_argument("--seed", type=int, default=0)
    tp.add_argument("--width", type=_positive, default=32, help="channels of the network's body")
    tp.add_argument("--dilations", type=_parse_ints, default=(1, 2, 4),
                    help="one residual 3x3 block per entry, with this dilation, e.g. 1,2,4")
    tp.set_defaults(func=cmd_train_perception)
    ep = sub.add_parser("eval-perception", help="mAP, light-state accuracy and throughput of perception weights")
    ep.add_argument("--weights", default=None, help="checkpoint (default: the shipped weights)")
    ep.add_argument("--data", default="runs/perception_data", help="collected frames (the held-out split is used)")
    ep.add_argument("--seed", type=int, default=None,
                    help="instead of --data, collect fresh frames (--frames, default 4480: every source of the suite "
                         "once and the crowd sources twice) from worlds seeded S, S+1, ...")
    ep.add_argument("--frames", type=int, default=0, help="evaluate on at most this many frames (0 = all)")
    ep.add_argument("--out", default="runs/perception_eval")
    ep.add_argument("--device", default="auto")
    ep.add_argument("--precision", choices=("auto", "int8", "fp32"), default="auto",
                    help="auto: int8 on the CPU when the weights carry int8 ranges, else fp32")
    ep.set_defaults(func=cmd_eval_perception)
    tr = sub.add_parser("train", help="train a PPO agent (Stable-Baselines3)")
    tr.add_argument("--obs", choices=("perception", "oracle", "pixels"), default="perception")
    tr.add_argument("--n-envs", type=_positive, default=None, help="worlds, spread over the training scenarios")
    tr.add_argument("--total-steps", type=_positive, default=None, help="PPO env steps (after imitation)")
    tr.add_argument("--n-steps", type=_positive, default=None, help="rollout length per env")
    tr.add_argument("--scenarios", "--scenario", default="all",
                    help="all (default), comma-separated suite names / .toml paths, or plain (the default env)")
    tr.add_argument("--curriculum", action="store_true", help="first 25%% of PPO steps on the easy scenarios")
    tr.add_argument("--bc-steps", type=int, default=None,
                    help="env steps of behaviour cloning from the expert before PPO (-1: min(total, 1.6M); 0: none)")
    tr.add_argument("--bc-rounds", type=int, default=None,
                    help="DAgger rounds the cloning steps are split into (expert share 0.5**round, the last 0)")
    tr.add_argument("--reward", action="append", default=[], metavar="TERM=WEIGHT",
                    help="override a reward weight for training, e.g. --reward collision=30 (repeatable)")
    tr.add_argument("--reward-mode", choices=REWARD_MODES, default=None,
                    help="score (default): route-completion gain x soft penalty factors, endings cost what they cost "
                         "the driving score; carl: the same gains, a fixed cost per ending; additive: weighted "
                         "named terms (docs/agents.md)")
    tr.add_argument("--extractor", choices=("nature", "perception"), default="nature",
                    help="with --obs pixels: SB3's CNN (nature) or the perception CNN fine-tuned end to end")
    tr.add_argument("--eval-every", type=int, default=None, help="evaluate on validation seeds every N steps (0: never)")
    tr.add_argument("--eval-episodes", type=_positive, default=None, help="episodes per scenario in each evaluation")
    # options left out take PPOConfig's defaults (drivesim/agents/ppo.py): the recipe of the shipped policy
    hp = tr.add_argument_group("PPO hyperparameters (defaults: PPOConfig in drivesim/agents/ppo.py)")
    hp.add_argument("--learning-rate", type=float, default=None)
    hp.add_argument("--n-epochs", type=_positive, default=None, help="passes over each rollout")
    hp.add_argument("--batch-size", type=_positive, default=None, help="minibatch size (rounded to divide the rollout)")
    hp.add_argument("--gamma", type=float, default=None)
    hp.add_argument("--gae-lambda", type=float, default=None)
    hp.add_argument("--ent-coef", type=float, default=None)
    hp.add_argument("--clip-range", type=float, default=None)
    hp.add_argument("--target-kl", type=float, default=None, help="stop an update early past this KL (0: never)")
    hp.add_argument("--net-arch", type=_parse_ints, default=None, help="hidden layers of actor and critic, e.g. 256,256")
    hp.add_argument("--k", type=_positive, default=None, help="nearest objects per class in the features")
    hp.add_argument("--path", action=argparse.BooleanOptionalAction, default=None,
                    help="objects carry their place along and across the route (default on; --no-path: the "
                         "ego-frame layout of earlier policies)")
    hp.add_argument("--hide-accel", action=argparse.BooleanOptionalAction, default=None,
                    help="the state's applied acceleration (the previous action) reads 0, so a cloned policy "
                         "cannot copy its last action (default on)")
    hp.add_argument("--clock", action=argparse.BooleanOptionalAction, default=None,
                    help="the observation carries the time left before the time limit and the stuck rule end the "
                         "episode, so waiting near the end can be told from waiting at the start (default on)")
    hp.add_argument("--junction", action=argparse.BooleanOptionalAction, default=None,
                    help="the observation says whether the car is inside the intersection (past its stop line) "
                         "and how far through it, where the autopilot drives on instead of waiting (default off)")
    hp.add_argument("--surface", action=argparse.BooleanOptionalAction, default=None,
                    help="every object carries the map's surface under it and where its velocity takes it in "
                         "1.5 s (road, crossing), so a person on a crossing reads unlike one on the sidewalk "
                         "(default on)")
    hp.add_argument("--signal", action=argparse.BooleanOptionalAction, default=None,
                    help="the observation carries how long the light at the next stop line has shown its colour "
                         "and how long until it changes (as a connected car reads the signal's timing), so a car "
                         "at the line can tell whether it still crosses on yellow (default on)")
    hp.add_argument("--stopping", action=argparse.BooleanOptionalAction, default=None,
                    help="the observation carries the braking a stop at the next stop line needs, as shares of "
                         "comfortable and of full braking, so the yellow-light choice (stop if comfortable, else "
                         "go on) is one threshold (default on)")
    hp.add_argument("--sde", action=argparse.BooleanOptionalAction, default=None,
                    help="gSDE exploration: noise linear in the policy's features, drawn once per rollout (or every "
                         "--sde-sample-freq steps), so exploring a push on the throttle lasts (default off)")
    hp.add_argument("--sde-sample-freq", type=int, default=None,
                    help="redraw the gSDE noise every N steps (-1: once per rollout)")
    hp.add_argument("--update-precision", choices=("auto", "fp32", "bf16"), default=None,
                    help="PPO's update: fp32, bf16 (the hidden layers under bfloat16 autocast, the heads and losses in "
                         "float32), or auto (bf16 where the GPU or CPU multiplies bfloat16 natively)")
    hp.add_argument("--log-std-init", type=float, default=None, help="initial log std of the policy (from scratch)")
    hp.add_argument("--initial-throttle", type=float, default=None,
                    help="mean throttle of the untrained policy (from scratch)")
    hp.add_argument("--anchor", type=float, default=None,
                    help="weight of the imitation anchor to the expert during PPO (0: none; docs/agents.md)")
    hp.add_argument("--anchor-decay", type=float, default=None,
                    help="the anchor's weight is multiplied by this every rollout")
    hp.add_argument("--brake-weight", type=float, default=None,
                    help="cloning and anchor: weight of the samples where the expert brakes (1: plain MSE; default 10 on "
                         "feature observations, 1 on pixels)")
    hp.add_argument("--brake-min-speed", type=float, default=None,
                    help="[m/s] the brake weight only where the car moves at least this fast (default 0.5; 0: also "
                         "standing)")
    hp.add_argument("--brake-at-lights", action=argparse.BooleanOptionalAction, default=None,
                    help="with --brake-min-speed: the brake weight also where the car stands within 10 m of a red "
                         "or yellow light (default on)")
    hp.add_argument("--brake-at-people", action=argparse.BooleanOptionalAction, default=None,
                    help="with --brake-min-speed: the brake weight also where the car stands within 10 m of a "
                         "pedestrian on the road or about to step onto it (default on)")
    hp.add_argument("--bc-learning-rate", type=float, default=None,
                    help="Adam's step size for behaviour cloning (default 1e-3; SB3's CNN on pixels with "
                         "--brake-weight 10 needs 3e-4)")
    hp.add_argument("--bc-epochs", type=int, default=None,
                    help="passes of cloning over the aggregated data after each DAgger round (default 4)")
    hp.add_argument("--bc-anneal", action=argparse.BooleanOptionalAction, default=None,
                    help="cloning's step falls to 0 over each fit (cosine) instead of staying at "
                         "--bc-learning-rate (default off)")
    hp.add_argument("--bc-loss", choices=("mse", "l1"), default=None,
                    help="cloning's and the anchor's loss: mse fits the mean of the expert's actions in alike states, "
                         "l1 their median, one of the modes where it holds or drives off (default mse)")
    hp.add_argument("--finetune-log-std", type=float, default=None,
                    help="log std of the policy when PPO starts after cloning (default -2.3: std 0.1)")
    hp.add_argument("--timeout-terminal", action=argparse.BooleanOptionalAction, default=None,
                    help="training: an episode's time limit is a termination (route not driven by then is lost, "
                         "as the driving score counts it), not a truncation to bootstrap")
    hp.add_argument("--finetune-steer-log-std", type=float, default=None,
                    help="the steering's own log std after cloning (default -3.0: std 0.05)")
    tr.add_argument("--out", default="runs/ppo", help="run folder")
    tr.add_argument("--device", default="auto", help="auto | cpu | cuda")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--resume", default=None, help="continue from a model.zip / checkpoint.zip")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_train)
    sc = sub.add_parser("scenarios", help="list the scenario suite")
    sc.set_defaults(func=cmd_scenarios)
    play = sub.add_parser("play", help="drive a world yourself in a pygame window (headless: autopilot run to PNG/MP4)")
    play.add_argument("--seed", type=int, default=0, help="seed of the first episode (each new episode: seed + 1)")
    play.add_argument("--agent", choices=("human", "expert"), default=None,
                      help="who drives at start: human (default) or expert (autopilot on); headless default expert")
    play.add_argument("--scenario", default="1", help="1-9 or a name (default, dense, empty, jaywalkers, dusk, ...)")
    play.add_argument("--frames", type=int, default=None, help="run this many frames, then exit (headless default 100)")
    play.add_argument("--screenshot", default=None, help="write a PNG of the window to this path at exit")
    play.add_argument("--record", default=None, help="write an MP4 of every frame to this path")
    play.add_argument("--out", default="runs/play", help="output folder for F12 screenshots and V recordings")
    play.add_argument("--fps", type=int, default=10, help="frames per second of the window and recordings")
    play.set_defaults(func=cmd_play)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError) as err:  # bad input: a clear message, no traceback
        print(f"drivesim {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
