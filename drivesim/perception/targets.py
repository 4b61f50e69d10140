"""Label encoding (objects -> CenterNet targets) and decoding (network output -> detections).

Labels are the padded per-frame arrays of `perception.dataset`: cls (B, O) int, centre (B, O, 2)
[px] (u, v), size (B, O, 2) [px], angle (B, O) [rad], light (B, O) (drivesim Light), valid (B, O).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from drivesim.perception.model import N_CLASSES, SIZE_SCALE, STRIDE

LIGHT_TO_INDEX = {3: 0, 2: 1, 1: 2}  # drivesim Light RED/YELLOW/GREEN -> light head index
INDEX_TO_LIGHT = torch.tensor([3, 2, 1])
MIN_SIGMA = 0.6  # [cells] smallest Gaussian spread of a heatmap peak


class Targets(NamedTuple):
    heatmap: torch.Tensor  # (B, C, h, w) in [0, 1]
    index: torch.Tensor  # (B, O) flat cell index of each object's centre
    offset: torch.Tensor  # (B, O, 2) centre minus cell corner [cells]
    size: torch.Tensor  # (B, O, 2) size / SIZE_SCALE
    heading: torch.Tensor  # (B, O, 2) sin, cos
    light: torch.Tensor  # (B, O) light head index (-1 for non-lights)
    mask: torch.Tensor  # (B, O) bool, a real object


class Detections(NamedTuple):
    cls: torch.Tensor  # (B, K) int
    score: torch.Tensor  # (B, K) in [0, 1]
    centre: torch.Tensor  # (B, K, 2) [px]
    size: torch.Tensor  # (B, K, 2) [px]
    angle: torch.Tensor  # (B, K) [rad]
    light_probs: torch.Tensor  # (B, K, 3) red, yellow, green


def encode(cls: torch.Tensor, centre: torch.Tensor, size: torch.Tensor, angle: torch.Tensor, light: torch.Tensor,
           valid: torch.Tensor, height: int, width: int) -> Targets:
    """Build training targets on the (height/STRIDE, width/STRIDE) grid."""
    h, w = height // STRIDE, width // STRIDE
    cells = centre / STRIDE  # (B, O, 2) in cells
    cell = cells.floor().clamp(min=0)
    cell = torch.stack([cell[..., 0].clamp(max=w - 1), cell[..., 1].clamp(max=h - 1)], dim=-1)
    sigma = (size.min(dim=-1).values / STRIDE / 2.5).clamp(min=MIN_SIGMA)  # (B, O)
    ys = torch.arange(h, dtype=centre.dtype, device=centre.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=centre.dtype, device=centre.device).view(1, 1, 1, w)
    cx, cy = (cell[..., 0] + 0.5)[..., None, None], (cell[..., 1] + 0.5)[..., None, None]
    blob = torch.exp(-((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2) / (2 * sigma[..., None, None] ** 2))
    blob = blob * valid[..., None, None]  # (B, O, h, w)
    onehot = F.one_hot(cls.long().clamp(0, N_CLASSES - 1), N_CLASSES).to(blob.dtype) * valid[..., None]
    heatmap = (blob[:, :, None] * onehot[..., None, None]).amax(dim=1)  # (B, C, h, w)
    index = (cell[..., 1] * w + cell[..., 0]).long()
    light_idx = torch.full_like(cls, -1, dtype=torch.long)
    for value, idx in LIGHT_TO_INDEX.items():
        light_idx = torch.where((light == value) & (cls == 2), torch.full_like(light_idx, idx), light_idx)
    heading = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)
    return Targets(heatmap, index, cells - cell, size / SIZE_SCALE, heading, light_idx, valid.bool())


def gather_cells(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """maps (B, C, h, w), index (B, O) flat cell -> (B, O, C)."""
    b, c = maps.shape[:2]
    flat = maps.reshape(b, c, -1)
    return flat.gather(2, index[:, None, :].expand(b, c, index.shape[1])).transpose(1, 2)


def decode(out: dict[str, torch.Tensor], k: int = 48) -> Detections:
    """Top-k heatmap peaks (3x3 max-pool suppression) as detections."""
    heat = torch.sigmoid(out["heatmap"])
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    b, c, h, w = peaks.shape
    score, flat = peaks.reshape(b, -1).topk(k)
    cls, index = flat // (h * w), flat % (h * w)
    offset = gather_cells(out["offset"], index)
    cx, cy = (index % w).to(heat.dtype), (index // w).to(heat.dtype)
    centre = torch.stack([(cx + offset[..., 0]) * STRIDE, (cy + offset[..., 1]) * STRIDE], dim=-1)
    size = gather_cells(out["size"], index) * SIZE_SCALE
    sin_cos = gather_cells(out["heading"], index)
    light = torch.softmax(gather_cells(out["light"], index), dim=-1)
    return Detections(cls, score, centre, size, torch.atan2(sin_cos[..., 0], sin_cos[..., 1]), light)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of objects."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0).to(logits.dtype)
    pos_loss = -torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = -torch.log(1 - p) * p**alpha * (1 - target) ** beta * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def losses(out: dict[str, torch.Tensor], t: Targets) -> dict[str, torch.Tensor]:
    """Named loss terms of one batch."""
    m = t.mask.to(out["offset"].dtype)[..., None]
    n = m.sum().clamp(min=1.0)
    l1 = lambda name, target: (torch.abs(gather_cells(out[name], t.index) - target) * m).sum() / n  # noqa: E731
    light_mask = t.light >= 0
    light_logits = gather_cells(out["light"], t.index)[light_mask]
    light = F.cross_entropy(light_logits, t.light[light_mask]) if light_mask.any() else out["light"].sum() * 0
    return {"heatmap": focal_loss(out["heatmap"], t.heatmap), "offset": l1("offset", t.offset),
            "size": 0.5 * l1("size", t.size), "heading": 0.5 * l1("heading", t.heading), "light": light}
