"""Train PerceptionNet on collected frames (`drivesim train-perception`).

AdamW (or SGD) with a one-cycle cosine learning-rate schedule, flip and colour augmentation, AMP and
pinned memory on CUDA, checkpoints written atomically every epoch (`last.pt`, plus `best.pt` by
validation loss), resume from `last.pt`, a CSV log, TensorBoard scalars (`OUT/tb`) and a progress bar.
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
from drivesim.perception.model import ModelConfig, PerceptionNet
from drivesim.perception.targets import encode, losses

CHECKPOINT_VERSION = 1


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
    width: int = 32  # backbone channels (ModelConfig.width)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA device is available; use --device auto or cpu")
    return torch.device(name)


def to_batch(data: dict[str, np.ndarray], idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    pin = device.type == "cuda"
    out = {}
    for key in ("frames", "cls", "centre", "size", "angle", "light", "valid"):
        t = torch.from_numpy(np.ascontiguousarray(data[key][idx]))
        out[key] = (t.pin_memory() if pin else t).to(device, non_blocking=pin)
    out["frames"] = out["frames"].permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, H, W)
    return out


def augment(batch: dict[str, torch.Tensor], cfg: TrainConfig, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Horizontal flip (u -> W - u, heading mirrored) and per-channel colour gains."""
    b, _, _, w = batch["frames"].shape
    if cfg.flip:
        flip = torch.rand(b, generator=gen).to(batch["frames"].device) < 0.5
        batch["frames"] = torch.where(flip[:, None, None, None], batch["frames"].flip(-1), batch["frames"])
        u = batch["centre"][..., 0]
        batch["centre"] = torch.stack([torch.where(flip[:, None], w - u, u), batch["centre"][..., 1]], dim=-1)
        batch["angle"] = torch.where(flip[:, None], -batch["angle"], batch["angle"])
    if cfg.colour_jitter > 0:
        gains = 1.0 + cfg.colour_jitter * (2 * torch.rand(b, 3, 1, 1, generator=gen) - 1)
        batch["frames"] = (batch["frames"] * gains.to(batch["frames"].device)).clamp(0.0, 1.0)
    return batch


def batch_loss(model: PerceptionNet, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    _, _, h, w = batch["frames"].shape
    targets = encode(batch["cls"], batch["centre"], batch["size"], batch["angle"], batch["light"], batch["valid"], h, w)
    terms = losses(model(batch["frames"]), targets)
    terms["total"] = sum(terms.values())
    return terms


def save_checkpoint(path: Path, model: PerceptionNet, extra: dict[str, Any]) -> None:
    """Atomic write: a crash never leaves a half-written checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save({"version": CHECKPOINT_VERSION, "model_config": asdict(model.config), "model": model.state_dict(),
                **extra}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[PerceptionNet, dict[str, Any]]:
    """Load a PerceptionNet checkpoint; a corrupt or mismatched file raises ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"perception checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:
        raise ValueError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION or "model" not in ckpt:
        raise ValueError(f"{path}: not a drivesim perception checkpoint (version {CHECKPOINT_VERSION} expected)")
    model = PerceptionNet(ModelConfig(**ckpt["model_config"]))
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


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data, val = load_split(cfg.data, "train"), load_split(cfg.data, "val")
    if len(data["frames"]) == 0:
        raise ValueError(f"{cfg.data}: no training frames")
    model = PerceptionNet(ModelConfig(width=cfg.width)).to(device)
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
        start_epoch, best, history = ckpt["epoch"] + 1, ckpt["best"], ckpt["history"]
    gen = torch.Generator().manual_seed(cfg.seed)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    for epoch in range(start_epoch, cfg.epochs):
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(data["frames"]))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress)
        start, running = time.perf_counter(), 0.0
        for step in bar:
            idx = np.sort(order[step * cfg.batch_size:(step + 1) * cfg.batch_size])
            batch = augment(to_batch(data, idx, device), cfg, gen)
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
        extra = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": epoch, "best": min(best, val_loss),
                 "history": history, "train_config": asdict(cfg)}
        if val_loss < best:
            best = val_loss
            save_checkpoint(out / "best.pt", model, extra)
        save_checkpoint(last, model, extra)
    return {"history": history, "best_val_loss": best, "device": str(device)}


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
