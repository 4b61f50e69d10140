"""Yellow-light lapses of feature policies: steps where the light at the next stop line is yellow,
the car moves (> 1 m/s) within 30 m of the line, and the autopilot brakes (throttle < -0.2) in the
same state while the policy does not (> -0.05). A red-light infraction is rare (about 1 in 200
episodes for the shipped policies); this counts the states that lead to one (docs/agents.md,
"The braking a stop needs").

    python scripts/yellow_light_lapses.py --seed 20000 --episodes 20 POLICY.zip [POLICY.zip ...]

Every policy drives the same episodes (each suite scenario, `--episodes` seeds at offset `--seed`).
"""

import argparse

import numpy as np

from drivesim.actors.autopilot import autopilot_actions
from drivesim.agents.policy import PolicyAgent
from drivesim.envs.spaces import observe
from drivesim.evaluation import agent_world, episode_seeds, select_scenarios
from drivesim.sensors.state import STATE_FIELDS, STOP_LINE_RANGE

LINE = STATE_FIELDS.index("stop_line_distance")
YELLOW = STATE_FIELDS.index("light_yellow")
NEAR, MOVING, EXPERT_BRAKES, POLICY_BRAKES = 30.0, 1.0, -0.2, -0.05  # [m], [m/s], throttle, throttle


def lapses(path: str, seed: int, episodes: int) -> tuple[int, int, int, int]:
    """(yellow-approach steps, lapse steps, episodes with a lapse, episodes) of the policy at `path`."""
    agent = PolicyAgent.load(path, device="cpu")
    rows = [(sc, s) for sc in select_scenarios("all") for s in episode_seeds(sc, episodes, seed)]
    world = agent_world(agent, rows)  # as `drivesim evaluate` builds it
    active, flagged = np.ones(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool)
    yellow = lapse = 0
    while active.any():
        obs = observe(world)[0]
        action, expert = agent.act(world, obs), autopilot_actions(world)
        state = obs["state"]
        approach = active & (state[:, YELLOW] == 1) & (world.ego.v > MOVING) & (state[:, LINE] * STOP_LINE_RANGE < NEAR)
        lapsed = approach & (expert[:, 1] < EXPERT_BRAKES) & (action[:, 1] > POLICY_BRAKES)
        yellow, lapse = yellow + int(approach.sum()), lapse + int(lapsed.sum())
        flagged |= lapsed
        result = world.step(action)
        active &= ~(result.terminated | result.truncated)
    return yellow, lapse, int(flagged.sum()), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("policies", nargs="+", help="SB3 checkpoints of feature policies (config.json beside them)")
    parser.add_argument("--seed", type=int, default=20000, help="seed offset of the episodes")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per scenario")
    args = parser.parse_args()
    for path in args.policies:
        yellow, lapse, flagged, n = lapses(path, args.seed, args.episodes)
        print(f"{path}: {lapse} lapses in {yellow} yellow-approach steps ({1000 * lapse / max(yellow, 1):.1f} per "
              f"1,000), {flagged} of {n} episodes with any")


if __name__ == "__main__":
    main()
