"""Run the shipped (or any) perception checkpoint on camera frames."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import torch

from drivesim.perception.model import for_inference
from drivesim.perception.targets import decode
from drivesim.perception.train import load_checkpoint, pick_device

SHIPPED_WEIGHTS = "perception/perception.pt"  # inside drivesim.assets
DEFAULT_THRESHOLD = 0.3  # detection confidence


def shipped_weights() -> Path:
    return Path(str(importlib.resources.files("drivesim.assets") / SHIPPED_WEIGHTS))


class Detector:
    """frames (B, H, W, 3) uint8 -> per-frame detection dicts (cls, centre [px], size [px], angle,
    score, light_probs), batched and without gradients, on the chosen device."""

    def __init__(self, weights: str | Path | None = None, device: str = "auto",
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.device = pick_device(device)
        model, _ = load_checkpoint(weights or shipped_weights(), self.device)
        self.model = for_inference(model)
        self.threshold = threshold

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> list[dict[str, np.ndarray]]:
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        x = x.contiguous(memory_format=torch.channels_last)
        det = decode(self.model(x))
        keep = det.score >= self.threshold
        return [{"cls": det.cls[b][keep[b]].cpu().numpy(), "centre": det.centre[b][keep[b]].cpu().numpy(),
                 "size": det.size[b][keep[b]].cpu().numpy(), "angle": det.angle[b][keep[b]].cpu().numpy(),
                 "score": det.score[b][keep[b]].cpu().numpy(),
                 "light_probs": det.light_probs[b][keep[b]].cpu().numpy()} for b in range(len(frames))]
