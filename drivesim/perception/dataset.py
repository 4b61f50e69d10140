"""Camera frames with exact labels, collected from the batched simulator into compressed shards.

`collect` drives every world with the expert plus action noise (so the data covers imperfect
driving), across the scenario suite, crowded crosswalks (`CROWD`, `CROWD_LONG_RED`: many pedestrians
queueing at kerbs) and optional visual randomisation, and keeps every `every`-th frame together with the
camera's history frame (the scene HISTORY steps earlier seen from the current pose: the CNN's second
input frame, `perception.inputs`) and the labels, velocities included. Shards are `shard_NNNNN.npz`
files written atomically, listed in `manifest.json`; collection resumes after the last complete
shard. Worlds whose seed falls in the held-out split (`is_validation_seed`) go to `val`, the rest to
`train`. This module needs numpy only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from drivesim import rng
from drivesim.agent import ExpertAgent
from drivesim.config import CameraConfig, EnvConfig, TrafficConfig
from drivesim.envs.spaces import observe
from drivesim.perception.inputs import perception_camera
from drivesim.scenarios.loader import list_scenarios
from drivesim.sensors.camera import CameraLabels
from drivesim.world import World

MAX_OBJECTS = 48  # labelled objects kept per frame (nearest to the ego first)
LABEL_FIELDS = ("cls", "centre", "size", "angle", "position", "velocity", "track", "light")
CROWD = "crowded_crosswalks"  # shard source: the default city with many pedestrians (queues at kerbs)
CROWD_TRAFFIC = TrafficConfig(n_cars=16, n_pedestrians=96, jaywalk_share=0.05)
CROWD_LONG_RED = "crowded_long_red"  # even more pedestrians and long red phases: long queues at kerbs
CROWD_LONG_RED_TRAFFIC = TrafficConfig(n_cars=12, n_pedestrians=128, jaywalk_share=0.0, green_time=25.0)
CROWD_SOURCES = ((CROWD, EnvConfig(traffic=CROWD_TRAFFIC)), (CROWD_LONG_RED, EnvConfig(traffic=CROWD_LONG_RED_TRAFFIC)))


@dataclass(frozen=True)
class CollectConfig:
    frames: int = 20_000  # frames to collect in total
    seed: int = 0  # first world seed; world i of shard j uses seed + j * batch + i
    batch: int = 32  # worlds stepped together
    every: int = 5  # keep every n-th step (decorrelates frames)
    steps_per_shard: int = 200  # simulated steps per shard (frames per shard = batch * steps / every)
    action_noise: float = 0.15  # std of Gaussian noise added to the expert's actions
    visual_randomisation: bool = True  # vary dusk, noise and colour jitter across shards
    val_share: float = 0.1  # share of seeds held out for validation


def fresh_collect_config(seed: int, frames: int = 0) -> CollectConfig:
    """Frames for an evaluation on fresh seeds (all held out): small shards (8 worlds x 200 steps,
    320 frames), so that the default 4,480 frames cover every source once (the crowd sources twice)."""
    n_sources = len(list_scenarios()) + 2 * len(CROWD_SOURCES)
    return CollectConfig(frames=frames or 320 * n_sources, seed=seed, batch=8, val_share=1.0)


def is_validation_seed(seed: np.ndarray, share: float) -> np.ndarray:
    """A fixed, seed-keyed split: the same seed is always in the same split."""
    return rng.uniform(np.asarray(seed, dtype=np.uint64), rng.Stream.SCENARIO, 99) < share


def shard_configs(cfg: CollectConfig) -> Iterator[tuple[int, str, EnvConfig]]:
    """(shard index, source name, EnvConfig) for every shard: the scenarios of the suite and the
    crowded crosswalks in turn, visual settings varied."""
    sources = [(s.name, s.config) for s in list_scenarios()] + 2 * list(CROWD_SOURCES)  # crowds: 4 of 14 shards
    visuals = [CameraConfig(), CameraConfig(noise_std=6.0, colour_jitter=0.15), CameraConfig(dusk=True),
               CameraConfig(dusk=True, noise_std=6.0, colour_jitter=0.15)]
    index = 0
    while True:
        name, base = sources[index % len(sources)]
        # every source under every visual setting: the setting advances with each shard and shifts each cycle
        camera = (visuals[(index + index // len(sources)) % len(visuals)] if cfg.visual_randomisation
                  else CameraConfig())
        yield index, name, base.replace(camera=perception_camera(camera), observations=("camera", "lidar", "state"))
        index += 1


def collect_shard(config: EnvConfig, seeds: np.ndarray, cfg: CollectConfig) -> dict[str, np.ndarray]:
    """Drive one batch of worlds and return the kept frames with their earlier frames, labels and sensors."""
    world = World(config.replace(max_episode_steps=100_000), len(seeds))
    episodes = np.zeros(len(seeds), dtype=np.int64)
    world.reset(seeds.astype(np.uint64), episodes)
    agent = ExpertAgent()
    kept: list[dict[str, np.ndarray]] = []
    for step in range(1, cfg.steps_per_shard + 1):
        noise = cfg.action_noise * _normal(seeds, episodes, step)
        result = world.step(np.clip(agent.act(world) + noise, -1.0, 1.0))
        done = result.terminated | result.truncated
        if done.any():
            episodes[done] += 1
            world.reset(seeds[done].astype(np.uint64), episodes[done], np.flatnonzero(done))
        if step % cfg.every == 0:
            obs, labels = observe(world)
            kept.append(_frame_record(obs, labels, seeds))
    return {k: np.concatenate([r[k] for r in kept]) for k in kept[0]}


def _normal(seeds: np.ndarray, episodes: np.ndarray, step: int) -> np.ndarray:
    """(B, 2) keyed standard normal noise (Box-Muller)."""
    u1 = rng.uniform(seeds[:, None].astype(np.uint64), episodes[:, None], step, rng.Stream.SCENARIO, np.arange(2))
    u2 = rng.uniform(seeds[:, None].astype(np.uint64), episodes[:, None], step, rng.Stream.SCENARIO, np.arange(2) + 2)
    return np.sqrt(-2.0 * np.log(np.maximum(u1, 1e-12))) * np.cos(2 * np.pi * u2)


def _frame_record(obs: dict[str, np.ndarray], labels: CameraLabels, seeds: np.ndarray) -> dict[str, np.ndarray]:
    """Frames, sensors and up to MAX_OBJECTS visible labels per frame (nearest first), padded."""
    dist = np.where(labels.visible, np.hypot(labels.position[..., 0], labels.position[..., 1]), np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :MAX_OBJECTS]
    rows = np.arange(len(order))[:, None]
    out = {"frames": obs["camera"], "history": obs["camera_history"], "lidar": obs["lidar"],
           "lidar_class": obs["lidar_class"].astype(np.int8),
           "state": obs["state"], "seed": seeds.astype(np.int64), "valid": labels.visible[rows, order]}
    for name in LABEL_FIELDS:
        out[name] = getattr(labels, name)[rows, order]
    return out


def _write_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def collect(out: str | Path, cfg: CollectConfig, progress: bool = True) -> dict:
    """Collect `cfg.frames` frames into `out`, resuming from an existing manifest."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {
        "version": DATA_VERSION, "collect": asdict(cfg), "camera": None, "shards": []}
    if manifest.get("version", 1) != DATA_VERSION:
        raise ValueError(f"{manifest_path}: collected by an older drivesim (data version {manifest.get('version', 1)}); "
                         "collect into a new folder")
    if manifest["collect"] != asdict(cfg):
        raise ValueError(f"{manifest_path}: collected with {manifest['collect']}, asked for {asdict(cfg)}; "
                         "use another --out folder or the same settings to resume")
    done = sum(s["frames"] for s in manifest["shards"])
    bar = tqdm(total=cfg.frames, initial=done, unit="frame", desc="collect", disable=not progress)
    for index, source, config in shard_configs(cfg):
        if done >= cfg.frames:
            break
        if index < len(manifest["shards"]):
            continue
        seeds = cfg.seed + index * cfg.batch + np.arange(cfg.batch)
        data = collect_shard(config, seeds, cfg)
        data["split_val"] = is_validation_seed(data["seed"], cfg.val_share)
        name = f"shard_{index:05d}.npz"
        _write_atomic(out / name, data)
        n = len(data["frames"])
        manifest["camera"] = asdict(config.camera) | {"mpp": config.camera.metres_per_pixel}
        manifest["shards"].append({"file": name, "source": source, "frames": n,
                                   "val_frames": int(data["split_val"].sum())})
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, manifest_path)
        done += n
        bar.update(n)
    bar.close()
    return manifest


DATA_VERSION = 2  # 2: history frames and velocities (issue 14); 1 had single frames


def load_split(folder: str | Path, split: str) -> dict[str, np.ndarray]:
    """All frames of a split ("train" or "val") from a collected folder, with `source` (which
    scenario or CROWD each frame comes from)."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} not found: run `drivesim collect --out {folder}` first")
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("version", 1) != DATA_VERSION:
        raise ValueError(f"{manifest_path}: collected by an older drivesim (data version {manifest.get('version', 1)}, "
                         f"{DATA_VERSION} needed: history frames and velocities); collect again into a new folder")
    parts: dict[str, list[np.ndarray]] = {}
    for shard in manifest["shards"]:
        with np.load(folder / shard["file"]) as data:
            keep = data["split_val"] if split == "val" else ~data["split_val"]
            for key in data.files:
                parts.setdefault(key, []).append(data[key][keep])
            parts.setdefault("source", []).append(np.full(int(keep.sum()), shard["source"]))
    return {k: np.concatenate(v) for k, v in parts.items()}
