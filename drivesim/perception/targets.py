"""Label encoding (objects -> CenterNet-style targets) and the training losses (decoding the
network's output into detections is `perception.decode`).

Labels are the padded per-frame arrays of `perception.dataset`: cls (B, O) int, centre (B, O, 2)
[px] (u, v), size (B, O, 2) [px], angle (B, O) [rad], light (B, O) (drivesim Light), velocity
(B, O, 2) [m/s] ego frame, valid (B, O). Pixel centres are at integer coordinates, so pixel (u, v)
lies in output cell (floor((u + 0.5) / STRIDE), floor((v + 0.5) / STRIDE)).

Targets: a Gaussian heatmap peak per object at its cell; and, at every cell within DENSE_RADIUS of
an object's centre, that object's attributes (the nearest object's, where several are near): the
offset from the cell to its centre, size, heading, light state and velocity. Regressing around the
centre rather than at it alone lets the decoder tell a neighbour cell of one object (it points at
the same centre) from the cell of a second object next to it (it points elsewhere): that is what
separates people standing 1 m apart.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from drivesim.perception.model import N_CLASSES, SIZE_SCALE, STRIDE, VELOCITY_SCALE

LIGHT_TO_INDEX = {3: 0, 2: 1, 1: 2}  # drivesim Light RED/YELLOW/GREEN -> light head index
MIN_SIGMA = 0.5  # [cells] smallest Gaussian spread of a heatmap peak (cars, lights: size / 2.5)
PED_SIGMA = 0.4  # [cells] pedestrians' peaks: sharp, so that between two people 1 m apart the heat dips
DENSE_RADIUS = 1.25  # [cells] cells whose centre is this close to an object's centre regress its attributes
VELOCITY_WEIGHT = 0.5  # loss weight of the velocity (L1 in m/s): a 1 m/s error costs as much as 0.5 cells of offset


class Targets(NamedTuple):
    heatmap: torch.Tensor  # (B, C, h, w) in [0, 1]
    offset: torch.Tensor  # (B, 2, h, w) object centre minus cell corner [cells]
    size: torch.Tensor  # (B, 2, h, w) size / SIZE_SCALE
    heading: torch.Tensor  # (B, 2, h, w) sin, cos
    light: torch.Tensor  # (B, h, w) light head index (-1: no light here)
    velocity: torch.Tensor  # (B, 2, h, w) velocity / VELOCITY_SCALE
    mask: torch.Tensor  # (B, h, w) bool: the cell regresses an object


def encode(labels: dict[str, torch.Tensor], height: int, width: int) -> Targets:
    """Training targets on the (height / STRIDE, width / STRIDE) grid."""
    cls, centre, size, valid = labels["cls"], labels["centre"], labels["size"], labels["valid"].bool()
    h, w = height // STRIDE, width // STRIDE
    cells = (centre + 0.5) / STRIDE  # (B, O, 2) continuous position in cells
    cell = torch.stack([cells[..., 0].floor().clamp(0, w - 1), cells[..., 1].floor().clamp(0, h - 1)], dim=-1)
    ys = torch.arange(h, dtype=centre.dtype, device=centre.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=centre.dtype, device=centre.device).view(1, 1, 1, w)
    # heatmap: a Gaussian around the centre cell of each object
    sigma = (size.min(dim=-1).values / STRIDE / 2.5).clamp(min=MIN_SIGMA)  # (B, O)
    sigma = torch.where(cls == 1, torch.full_like(sigma, PED_SIGMA), sigma)
    cx, cy = (cell[..., 0] + 0.5)[..., None, None], (cell[..., 1] + 0.5)[..., None, None]
    blob = torch.exp(-((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2) / (2 * sigma[..., None, None] ** 2))
    blob = blob * valid[..., None, None]  # (B, O, h, w)
    onehot = F.one_hot(cls.long().clamp(0, N_CLASSES - 1), N_CLASSES).to(blob.dtype) * valid[..., None]
    heatmap = (blob[:, :, None] * onehot[..., None, None]).amax(dim=1)  # (B, C, h, w)
    # dense attributes: every cell near an object regresses the nearest one
    d2 = (xs + 0.5 - cells[..., 0, None, None]) ** 2 + (ys + 0.5 - cells[..., 1, None, None]) ** 2  # (B, O, h, w)
    d2 = torch.where(valid[..., None, None], d2, torch.full_like(d2, float("inf")))
    best, nearest = d2.min(dim=1)  # (B, h, w)
    mask = best <= DENSE_RADIUS**2

    def at_cells(values: torch.Tensor) -> torch.Tensor:  # (B, O, k) -> (B, k, h, w): the nearest object's values
        k = values.shape[-1]
        return values.gather(1, nearest.reshape(values.shape[0], -1, 1).expand(-1, -1, k)).reshape(
            values.shape[0], h, w, k).permute(0, 3, 1, 2)

    corner = torch.stack(torch.broadcast_tensors(xs[:, 0], ys[:, 0]), dim=1)  # (1, 2, h, w): cell corners
    offset = at_cells(cells) - corner
    heading = torch.stack([torch.sin(labels["angle"]), torch.cos(labels["angle"])], dim=-1)
    light_idx = torch.full_like(cls, -1, dtype=torch.long)
    for value, idx in LIGHT_TO_INDEX.items():
        light_idx = torch.where((labels["light"] == value) & (cls == 2), torch.full_like(light_idx, idx), light_idx)
    light = torch.where(mask, at_cells(light_idx[..., None].to(centre.dtype))[:, 0].long(), -1)
    return Targets(heatmap, offset, at_cells(size / SIZE_SCALE), at_cells(heading), light,
                   at_cells(labels["velocity"] / VELOCITY_SCALE), mask)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of objects."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0).to(logits.dtype)
    pos_loss = -torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = -torch.log(1 - p) * p**alpha * (1 - target) ** beta * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def _masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[:, None].to(pred.dtype)
    return (torch.abs(pred - target) * m).sum() / (m.sum() * pred.shape[1]).clamp(min=1.0) * 2


def losses(out: dict[str, torch.Tensor], t: Targets) -> dict[str, torch.Tensor]:
    """Named loss terms of one batch."""
    light_cells = t.light >= 0
    logits = out["light"].permute(0, 2, 3, 1)[light_cells]  # (n, 3)
    light = F.cross_entropy(logits, t.light[light_cells]) if light_cells.any() else out["light"].sum() * 0
    return {"heatmap": focal_loss(out["heatmap"], t.heatmap), "offset": _masked_l1(out["offset"], t.offset, t.mask),
            "size": 0.5 * _masked_l1(out["size"], t.size, t.mask),
            "heading": 0.5 * _masked_l1(out["heading"], t.heading, t.mask), "light": light,
            "velocity": VELOCITY_WEIGHT * _masked_l1(out["velocity"], t.velocity, t.mask)}
