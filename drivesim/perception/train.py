"""Train PerceptionNet on collected frames (`drivesim train-perception`).

AdamW (or SGD) with a one-cycle cosine learning-rate schedule, flip and colour augmentation, AMP and
pinned memory on CUDA, checkpoints written atomically every epoch (`last.pt`, plus `best.pt` by
validation loss), resume from `last.pt`, a CSV log, TensorBoard scalars (`OUT/tb`) and a progress bar.
At the end the activation ranges for int8 inference are observed on training frames and stored in
`best.pt` (`int8_observers`, see `perception.runtime`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivesim.perception.dataset import load_split
from drivesim.perception.inputs import stack_frames
from drivesim.perception.model import ModelConfig, PerceptionNet
from drivesim.perception.runtime import calibrate, int8_available
from drivesim.perception.targets import encode, losses

CHECKPOINT_VERSION = 2  # 2: two-frame input, velocities, 2 px output grid (issue 14); 1: single frames
LABEL_KEYS = ("cls", "centre", "size", "angle", "light", "velocity", "valid")
CALIBRATION_BATCHES = 16  # training batches seen by the int8 observers


@dataclass(frozen=True)
class TrainConfig:
    data: str = "runs/perception_data"  # collected frames (drivesim collect)
    out: str = "runs/perception"  # checkpoints and logs
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"  # adamw | sgd
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    flip: bool = True  # random horizontal flips (labels mirrored)
    colour_jitter: float = 0.15  # max relative per-channel gain change
    max_steps_per_epoch: int = 0  # 0 = a full pass over the training frames
    width: int = 32  # body channels (ModelConfig.width)
    dilations: tuple[int, ...] = (1, 2, 4)  # residual blocks of the body (ModelConfig.dilations)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA device is available; use --device auto or cpu")
    return torch.device(name)


def to_batch(data: dict[str, np.ndarray], idx: np.ndarray, device: torch.device, flip: np.ndarray | None = None
             ) -> dict[str, torch.Tensor]:
    """Frames idx as the CNN's input (B, 96, H/4, W/4) in [0, 1] plus their labels, optionally
    mirrored left-right (`flip` (B,) bool: both frames and the labels)."""
    frames, history = data["frames"][idx], data["history"][idx]
    labels = {key: data[key][idx] for key in LABEL_KEYS}
    if flip is not None and flip.any():
        frames, history, labels = mirror(frames, history, labels, flip)
    out = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in labels.items()}
    out["input"] = torch.from_numpy(stack_frames(frames, history))
    pin = device.type == "cuda"
    out = {k: (v.pin_memory() if pin else v).to(device, non_blocking=pin) for k, v in out.items()}
    out["input"] = out["input"].permute(0, 3, 1, 2).float().div_(255.0)  # (B, 96, h, w), channels-last
    return out


def mirror(frames: np.ndarray, history: np.ndarray, labels: dict[str, np.ndarray], flip: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Left-right mirror of the frames where `flip`: pixel u -> W - 1 - u (centres at integers),
    headings and leftward velocities negated."""
    w = frames.shape[2]
    frames, history = frames.copy(), history.copy()
    frames[flip], history[flip] = frames[flip, :, ::-1], history[flip, :, ::-1]
    labels = dict(labels)
    centre, angle, velocity = labels["centre"].copy(), labels["angle"].copy(), labels["velocity"].copy()
    centre[flip, :, 0] = w - 1 - centre[flip, :, 0]
    angle[flip] = -angle[flip]
    velocity[flip, :, 1] = -velocity[flip, :, 1]
    labels.update(centre=centre, angle=angle, velocity=velocity)
    return frames, history, labels


def jitter(batch: dict[str, torch.Tensor], amount: float, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-frame, per-RGB-channel colour gains in [1 - amount, 1 + amount], the same on both frames."""
    x = batch["input"]
    b, c, h, w = x.shape
    gains = 1.0 + amount * (2 * torch.rand(b, 1, 3, 1, 1, generator=gen) - 1)
    batch["input"] = (x.reshape(b, c // 3, 3, h, w) * gains.to(x.device)).clamp_(0.0, 1.0).reshape(b, c, h, w)
    return batch


def batch_loss(model: PerceptionNet, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    _, _, h, w = batch["input"].shape
    targets = encode(batch, h * 4, w * 4)
    terms = losses(model(batch["input"]), targets)
    terms["total"] = sum(terms.values())
    return terms


def save_checkpoint(path: Path, model: PerceptionNet, extra: dict[str, Any]) -> None:
    """Atomic write: a crash never leaves a half-written checkpoint."""
    tmp = path.with_suffix(".tmp")
    config = asdict(model.config) | {"dilations": list(model.config.dilations)}
    torch.save({"version": CHECKPOINT_VERSION, "model_config": config, "model": model.state_dict(), **extra}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[PerceptionNet, dict[str, Any]]:
    """Load a PerceptionNet checkpoint; a corrupt, outdated or mismatched file raises ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"perception checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)  # tensors and plain containers only
    except Exception as err:
        raise ValueError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "version" not in ckpt:
        raise ValueError(f"{path}: not a drivesim perception checkpoint")
    if ckpt["version"] != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: perception checkpoint version {ckpt['version']}, this drivesim reads version "
                         f"{CHECKPOINT_VERSION} (two-frame input with velocities); train it again with "
                         "`drivesim train-perception`")
    if not isinstance(ckpt.get("model_config"), dict):
        raise ValueError(f"{path}: no model_config (the network's shape) in the checkpoint")
    try:
        model = PerceptionNet(ModelConfig(**ckpt["model_config"]))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: model_config {ckpt['model_config']} does not describe a PerceptionNet: {err}") from None
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not match the model: {err}") from None
    return model.to(device), ckpt


def evaluate_loss(model: PerceptionNet, data: dict[str, np.ndarray], device: torch.device, batch_size: int) -> float:
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data["frames"]), batch_size):
            idx = np.arange(start, min(start + batch_size, len(data["frames"])))
            total += float(batch_loss(model, to_batch(data, idx, device))["total"]) * len(idx)
            n += len(idx)
    model.train()
    return total / max(n, 1)


def add_int8_observers(path: Path, data: dict[str, np.ndarray], batch_size: int, seed: int) -> bool:
    """Observe int8 activation ranges of the checkpoint at `path` on training frames and store them
    in it (atomically). False where this PyTorch has no FX quantization."""
    if not int8_available():
        return False
    model, ckpt = load_checkpoint(path, "cpu")
    order = np.random.default_rng(seed).permutation(len(data["frames"]))
    batches = [to_batch(data, np.sort(order[i * batch_size:(i + 1) * batch_size]), torch.device("cpu"))["input"]
               for i in range(min(CALIBRATION_BATCHES, max(1, len(order) // batch_size)))]
    observers = calibrate(model.eval(), batches)
    extra = {k: v for k, v in ckpt.items() if k not in ("version", "model_config", "model")}
    save_checkpoint(path, model, extra | {"int8_observers": observers})
    return True


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data, val = load_split(cfg.data, "train"), load_split(cfg.data, "val")
    if len(data["frames"]) == 0:
        raise ValueError(f"{cfg.data}: no training frames")
    model = PerceptionNet(ModelConfig(width=cfg.width, dilations=cfg.dilations)).to(device)
    params = model.parameters()
    opt = (torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if cfg.optimizer == "adamw"
           else torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True))
    steps_per_epoch = math.ceil(len(data["frames"]) / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    start_epoch, best, history = 0, math.inf, []
    last = out / "last.pt"
    if last.exists():  # resume
        model, ckpt = load_checkpoint(last, device)
        if ckpt["train_config"] != asdict(cfg):
            raise ValueError(f"{last} was trained with {ckpt['train_config']}; resume with the same settings "
                             f"or use another --out folder")
        params = model.parameters()
        opt = (torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if cfg.optimizer == "adamw"
               else torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                    pct_start=0.15)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        if "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        start_epoch, best, history = ckpt["epoch"] + 1, ckpt["best"], ckpt["history"]
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    for epoch in range(start_epoch, cfg.epochs):
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)  # per epoch: a resumed run draws the same
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(data["frames"]))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress)
        start, running = time.perf_counter(), 0.0
        for step in bar:
            idx = np.sort(order[step * cfg.batch_size:(step + 1) * cfg.batch_size])
            flip = (torch.rand(len(idx), generator=gen) < 0.5).numpy() if cfg.flip else None
            batch = to_batch(data, idx, device, flip)
            if cfg.colour_jitter > 0:
                batch = jitter(batch, cfg.colour_jitter, gen)
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                terms = batch_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            scaler.scale(terms["total"]).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            loss = float(terms["total"].detach())
            running = 0.9 * running + 0.1 * loss if step else loss
            bar.set_postfix(loss=f"{running:.3f}")
        val_loss = evaluate_loss(model, val, device, cfg.batch_size) if len(val["frames"]) else running
        history.append({"epoch": epoch + 1, "train_loss": running, "val_loss": val_loss,
                        "seconds": time.perf_counter() - start})
        _write_log(out / "log.csv", history)
        _tensorboard(out, history[-1])
        extra = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                 "epoch": epoch, "best": min(best, val_loss),
                 "history": history, "train_config": asdict(cfg)}
        if val_loss < best:
            best = val_loss
            save_checkpoint(out / "best.pt", model, extra)
        save_checkpoint(last, model, extra)
    int8 = (out / "best.pt").is_file() and add_int8_observers(out / "best.pt", data, cfg.batch_size, cfg.seed)
    return {"history": history, "best_val_loss": best, "device": str(device), "int8_observers": int8}


def _write_log(path: Path, history: list[dict[str, float]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def _tensorboard(out: Path, row: dict[str, float]) -> None:
    """Also log to TensorBoard when the `tensorboard` package is installed (optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return
    with SummaryWriter(str(out / "tb")) as writer:
        for key in ("train_loss", "val_loss"):
            writer.add_scalar(f"loss/{key}", row[key], row["epoch"])
