"""Run the shipped (or any) perception checkpoint on camera frames: detections with velocities.

`Detector(frames, history)` takes a batch of camera frames and the camera's history frames (both
(B, H, W, 3) uint8; `CameraConfig.history` = HISTORY), stacks them (`perception.inputs`), runs
the network (int8 on the CPU when the checkpoint allows, see `perception.runtime`) and decodes every
frame's detections into padded arrays (no Python loop over frames, no state between calls).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from drivesim.perception.decode import Detections, decode
from drivesim.perception.inputs import CHANNELS, PATCH, stack_frames
from drivesim.perception.runtime import PerceptionRuntime
from drivesim.perception.train import load_checkpoint, pick_device

SHIPPED_WEIGHTS = "perception/perception.pt"  # inside drivesim.assets
DEFAULT_THRESHOLD = 0.3  # detection confidence
MAX_DETECTIONS = 48  # per frame (top heatmap peaks)


def shipped_weights() -> Path:
    return Path(str(importlib.resources.files("drivesim.assets") / SHIPPED_WEIGHTS))


class Detector:
    """Batched, gradient-free perception on the chosen device and precision (see module doc)."""

    def __init__(self, weights: str | Path | None = None, device: str = "auto", threshold: float = DEFAULT_THRESHOLD,
                 precision: str = "auto") -> None:
        self.device = pick_device(device)
        path = weights or shipped_weights()
        model, ckpt = load_checkpoint(path, "cpu")
        try:
            self.runtime = PerceptionRuntime(model, self.device, precision, ckpt.get("int8_observers"))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        self.precision = self.runtime.precision
        self.threshold = threshold

    def __call__(self, frames: np.ndarray, history: np.ndarray) -> Detections:
        """Detections of frames (B, H, W, 3) uint8 with their history frames (the same shape),
        stacked straight into the network's input (`PerceptionRuntime.input`)."""
        b, h, w = frames.shape[:3] if frames.ndim == 4 else (0, 0, 0)  # stack_frames names a bad shape
        array, x = self.runtime.input((b, h // PATCH, w // PATCH, CHANNELS))
        stack_frames(frames, history, array, self.runtime.shift)
        return decode(self.runtime.forward(x), MAX_DETECTIONS, self.threshold)
