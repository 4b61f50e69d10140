"""An SB3 features extractor that fine-tunes the perception CNN end to end (`--extractor perception`).

For the `pixels` observation mode: the camera goes through the shipped PerceptionNet (backbone,
trunk and the 12-channel detection head map at stride 4, initialised from the shipped weights and
trained further by PPO's gradients), then a small strided conv and a linear layer; the state vector
is appended. The alternative to the default `perception` mode, where the CNN is frozen and its
decoded detections are the features.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from drivesim.perception.detector import shipped_weights
from drivesim.perception.train import load_checkpoint


class PerceptionExtractor(BaseFeaturesExtractor):
    """Dict(camera (3, H, W) in [0, 1] after SB3's preprocessing, state (S,)) -> (B, hidden + S)."""

    def __init__(self, observation_space: gym.spaces.Dict, hidden: int = 256, weights: str | None = None) -> None:
        state_dim = observation_space["state"].shape[0]
        super().__init__(observation_space, features_dim=hidden + state_dim)
        self.net, _ = load_checkpoint(weights or shipped_weights(), "cpu")
        self.reduce = nn.Sequential(nn.Conv2d(self.net.out.out_channels, 16, 3, stride=2, padding=1), nn.ReLU(),
                                    nn.Flatten())
        with torch.no_grad():
            n = self.reduce(self._maps(torch.zeros(1, *observation_space["camera"].shape))).shape[1]
        self.project = nn.Sequential(nn.Linear(n, hidden), nn.ReLU())

    def _maps(self, camera: torch.Tensor) -> torch.Tensor:
        net = self.net
        return net.out(net.trunk(net.backbone(camera)))  # (B, 12, H/4, W/4) detection heads

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.project(self.reduce(self._maps(obs["camera"]))), obs["state"]], dim=1)
