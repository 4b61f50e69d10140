"""`drivesim demo`: drive a few routes with the autopilot, write a video and print a summary.

Until the learned policy ships (see the agents docs), the demo drives with the privileged expert."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from drivesim.actors.signals import Light
from drivesim.config import EnvConfig
from drivesim.events import EVENT_NAMES
from drivesim.map.city import Turn
from drivesim.render.topdown import follow_image
from drivesim.world import World

VIEW_SIZE = 480  # [px]
_LIGHT_NAMES = {Light.NONE: "-", Light.GREEN: "green", Light.YELLOW: "yellow", Light.RED: "red"}


def _light_line(light: Light, dist: float) -> str:
    if not np.isfinite(dist):
        return "no stop line ahead"
    if light == Light.NONE:
        return f"stop line in {dist:4.1f} m (no signal)"
    return f"light ahead {_LIGHT_NAMES[light]} in {dist:4.1f} m"


def hud(frame: np.ndarray, world: World, b: int, episode: int, reward: float) -> np.ndarray:
    """Write speed, command, light ahead and progress onto a frame (in place)."""
    dist, light = world.next_stop_line()
    lines = [
        f"episode {episode}  t={world.time[b]:5.1f}s  return {reward:7.2f}",
        f"speed {world.ego.v[b] * 3.6:5.1f} km/h   command {Turn(world.route_command()[b]).name.lower()}",
        _light_line(Light(light[b]), float(dist[b])),
        f"route {world.progress[b]:6.1f} / {world.route_total[b]:6.1f} m",
    ]
    # a dimmed panel behind the text (an outline drawn thicker would be wider and misalign the glyphs)
    frame[4:8 + 20 * len(lines), 4:330] = (frame[4:8 + 20 * len(lines), 4:330] * 0.35).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(frame, text, (10, 22 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def run_demo(args: argparse.Namespace) -> int:
    from agents.expert import ExpertAgent

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = EnvConfig(max_episode_steps=args.max_steps) if args.max_steps else EnvConfig()
    world = World(config, batch_size=1)
    agent = ExpertAgent()
    video_path = out / "demo.mp4"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), int(round(1 / config.dt)),
                             (VIEW_SIZE, VIEW_SIZE))
    print(f"drivesim demo: {args.episodes} episodes with the expert autopilot (display: "
          f"{'none, writing video' if not os.environ.get('DISPLAY') else os.environ['DISPLAY']})")
    rows, start = [], time.perf_counter()
    for episode in range(args.episodes):
        world.reset(np.array([args.seed + episode], dtype=np.uint64), np.array([0]))
        total, infractions = 0.0, {name: 0 for name in EVENT_NAMES}
        while True:
            result = world.step(agent.act(world))
            total += float(result.reward[0])
            for name, value in result.events.items():
                infractions[name] += int(value[0])
            writer.write(hud(follow_image(world, 0, VIEW_SIZE, 70.0), world, 0, episode, total)[:, :, ::-1])
            if result.terminated[0] or result.truncated[0]:
                end = [n for n in EVENT_NAMES if result.events[n][0] and n not in ("off_road", "wrong_way")]
                rows.append((episode, end[0] if end else "-", world.progress[0] / world.route_total[0],
                             world.time[0], total, infractions["red_light"], infractions["off_road"]))
                break
    writer.release()
    print("\n| episode | outcome | route completion | time [s] | return | red lights | off-road steps |")
    print("|---|---|---|---|---|---|---|")
    for ep, outcome, completion, t, ret, red, off in rows:
        print(f"| {ep} | {outcome} | {100 * min(completion, 1.0):.0f} % | {t:.1f} | {ret:.1f} | {red} | {off} |")
    print(f"\nwrote {video_path} ({time.perf_counter() - start:.0f} s)")
    return 0
