"""PerceptionNet: a small multi-task CNN (shared backbone, CenterNet-style heads).

Input: camera frames (B, 3, H, W) float in [0, 1]. Output at stride 4 (H/4 x W/4 cells):
  heatmap (B, 3, h, w) logits, one channel per class (car, pedestrian, traffic light);
  offset (B, 2, h, w) sub-cell centre offset in cells; size (B, 2, h, w) box length/width in
  pixels / SIZE_SCALE; heading (B, 2, h, w) (sin, cos) of the image heading; light (B, 3, h, w)
  light-state logits (red, yellow, green).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

STRIDE = 4  # output cell size [px]
SIZE_SCALE = 10.0  # [px] box sizes are regressed divided by this
N_CLASSES = 3
N_LIGHT_STATES = 3  # red, yellow, green
HEAD_CHANNELS = {"heatmap": N_CLASSES, "offset": 2, "size": 2, "heading": 2, "light": N_LIGHT_STATES}


@dataclass(frozen=True)
class ModelConfig:
    width: int = 32  # channels of the backbone's last stage
    in_channels: int = 3  # RGB


def conv_bn(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
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
        w = cfg.width
        self.backbone = nn.Sequential(
            conv_bn(cfg.in_channels, 16, stride=2),  # (B, 16, H/2, W/2)
            conv_bn(16, 32, stride=2),  # (B, 32, H/4, W/4)
            conv_bn(32, w),
            Residual(w, dilation=2),
            Residual(w, dilation=4),
        )
        self.trunk = conv_bn(w, 32)
        self.out = nn.Conv2d(32, sum(HEAD_CHANNELS.values()), 1)
        with torch.no_grad():  # start with low heatmap confidence (CenterNet's prior)
            self.out.bias[: N_CLASSES].fill_(-2.19)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.out(self.trunk(self.backbone(x)))  # (B, 12, h, w)
        return dict(zip(HEAD_CHANNELS, torch.split(y, list(HEAD_CHANNELS.values()), dim=1), strict=True))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: PerceptionNet, height: int, width: int) -> int:
    """Multiply-accumulates of one forward pass on one frame (convolutions only)."""
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
        model(torch.zeros(1, model.config.in_channels, height, width))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs


def for_inference(model: PerceptionNet) -> PerceptionNet:
    """A copy for fast inference: BatchNorm folded into the preceding convolutions, channels-last
    memory layout, eval mode. Outputs equal the original's (up to float rounding)."""
    import copy

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
    return fused.to(memory_format=torch.channels_last)
