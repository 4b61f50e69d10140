"""PerceptionNet: a small multi-task CNN (CenterNet-style heads) on two camera frames.

Input: the two-frame stack of `drivesim.perception.inputs` as (B, 96, H/4, W/4) floats in [0, 1]:
each stride-4 cell carries its 4x4 pixels of the current frame and of the camera's history frame
(the scene 0.5 s earlier seen from the current pose; space-to-depth, so the first layer is a 1x1
convolution and every layer runs at stride 4). The last 1x1 convolution predicts each cell's 2x2
sub-cells, rearranged by a pixel shuffle, so the outputs lie on a grid of STRIDE = 2 px (0.8 m at
the default camera), fine enough to tell apart pedestrians standing 1 m from each other, without
computing features at 2 px.

Outputs on the (H/2, W/2) grid: heatmap (B, 3, h, w) logits, one channel per class (car, pedestrian,
traffic light); offset (B, 2, h, w) sub-cell centre offset in cells; size (B, 2, h, w) box
length/width in pixels / SIZE_SCALE; heading (B, 2, h, w) (sin, cos) of the image heading; light (B,
3, h, w) light-state logits (red, yellow, green); velocity (B, 2, h, w) ground velocity in the ego
frame (forward, left) / VELOCITY_SCALE.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drivesim.perception.inputs import CHANNELS, PATCH

STRIDE = 2  # [px] output cell size
SUB = PATCH // STRIDE  # output cells per body cell along each axis
SIZE_SCALE = 10.0  # [px] box sizes are regressed divided by this
VELOCITY_SCALE = 1.0  # [m/s] the velocity output is in m/s (the int8 output step, ~0.13, is then fine)
VELOCITY_GAIN = 10.0  # ... but the layer before a fixed gain learns it in units of 10 m/s (Adam moves small weights)
N_CLASSES = 3
N_LIGHT_STATES = 3  # red, yellow, green
HEAD_CHANNELS = {"heatmap": N_CLASSES, "offset": 2, "size": 2, "heading": 2, "light": N_LIGHT_STATES, "velocity": 2}
HEATMAP_PRIOR = -2.19  # initial heatmap logit (CenterNet's prior: low confidence everywhere)


@dataclass(frozen=True)
class ModelConfig:
    width: int = 32  # channels of the body (stride 4)
    dilations: tuple[int, ...] = (1, 2, 4)  # one residual 3x3 block per entry, with this dilation [cells]
    in_channels: int = CHANNELS  # 4 x 4 pixels x 2 frames x RGB per cell

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))  # JSON/checkpoints give lists


def conv_bn(c_in: int, c_out: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    """Conv + BatchNorm + ReLU (BatchNorm is folded into the conv for inference)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Residual(nn.Module):
    """x + conv_bn(x) with a dilated 3x3 conv (grows the receptive field cheaply)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = conv_bn(channels, channels, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PerceptionNet(nn.Module):
    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ModelConfig()
        self.stem = conv_bn(cfg.in_channels, cfg.width, kernel=1)  # (B, width, H/4, W/4)
        self.body = nn.Sequential(*(Residual(cfg.width, d) for d in cfg.dilations))
        self.out = nn.Conv2d(cfg.width, sum(HEAD_CHANNELS.values()) * SUB * SUB, 1)  # every cell's 2x2 sub-cells
        with torch.no_grad():
            self.out.bias[: N_CLASSES * SUB * SUB].fill_(HEATMAP_PRIOR)
        self.register_buffer("gain", head_gain(), persistent=False)  # (C, 1, 1) fixed, folded into `out` for inference

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H/4, W/4) -> (B, 14 * 4, H/4, W/4): the network without the rearrangement."""
        return self.out(self.body(self.stem(x))) * self.gain

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return split_heads(self.raw(x))


def head_gain() -> torch.Tensor:
    """Fixed per-channel gains of the last layer's output: VELOCITY_GAIN on the velocity channels."""
    gain = torch.ones(sum(HEAD_CHANNELS.values()) * SUB * SUB, 1, 1)
    first = sum(n for name, n in HEAD_CHANNELS.items() if name != "velocity")  # velocity is the last head
    gain[first * SUB * SUB:] = VELOCITY_GAIN
    return gain


def output_layer(model: PerceptionNet) -> nn.Conv2d:
    """The last convolution with the fixed gains folded in (for inference, int8 included)."""
    out = copy.deepcopy(model.out)
    with torch.no_grad():
        out.weight.mul_(model.gain.view(-1, 1, 1, 1))
        out.bias.mul_(model.gain.view(-1))
    return out


def stack_tensors(current: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """The network's input from two frames (B, 3, H, W) in torch (`perception.inputs.stack_frames`'s
    channel order): (B, 96, H/4, W/4)."""
    b, c, h, w = current.shape
    x = torch.stack([current, history], dim=1).reshape(b, 2, c, h // PATCH, PATCH, w // PATCH, PATCH)
    return x.permute(0, 4, 6, 1, 2, 3, 5).reshape(b, PATCH * PATCH * 2 * c, h // PATCH, w // PATCH)


def split_heads(raw: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B, 14 * 4, H/4, W/4) -> the named outputs on the (H/2, W/2) grid."""
    y = F.pixel_shuffle(raw.float(), SUB)  # (B, 14, H/2, W/2)
    return dict(zip(HEAD_CHANNELS, torch.split(y, list(HEAD_CHANNELS.values()), dim=1), strict=True))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: PerceptionNet, height: int, width: int) -> int:
    """Multiply-accumulates of one forward pass on one frame of height x width px (convolutions)."""
    macs = 0
    hooks = []

    def hook(module: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        macs += out.numel() * k

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, model.config.in_channels, height // PATCH, width // PATCH))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs


def fold_batchnorm(model: PerceptionNet) -> PerceptionNet:
    """A copy in eval mode with every BatchNorm folded into the convolution before it (outputs equal
    the original's up to float rounding)."""
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[1], nn.BatchNorm2d):
            conv, bn = module[0], module[1]
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                               conv.dilation, conv.groups, bias=True)
            with torch.no_grad():
                folded.weight.copy_(conv.weight * scale[:, None, None, None])
                folded.bias.copy_(bn.bias - bn.running_mean * scale)
            module[0], module[1] = folded, nn.Identity()
    return fused
