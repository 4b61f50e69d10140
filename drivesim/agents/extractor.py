"""An SB3 features extractor that fine-tunes the perception CNN end to end (`--extractor perception`).

For the `pixels` observation mode: the camera frame and its history frame go through the shipped
PerceptionNet (its layers up to the 56-channel detection output at stride 4, initialised from the
shipped weights and trained further by PPO's gradients), then a small strided conv and a linear
layer; the state vector (and the route waypoints) are appended. The alternative to the default
`perception` mode, where the CNN is frozen and its decoded detections are the features.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from drivesim.perception.detector import shipped_weights
from drivesim.perception.model import stack_tensors
from drivesim.perception.train import load_checkpoint


class PerceptionExtractor(BaseFeaturesExtractor):
    """Dict(camera, camera_history (3, H, W) in [0, 1] after SB3's preprocessing, vectors: state (S,),
    route (R,) ...) -> (B, hidden + S + R ...): the image features, then the vectors in key order."""

    def __init__(self, observation_space: gym.spaces.Dict, hidden: int = 256, weights: str | None = None) -> None:
        self.vectors = sorted(k for k in observation_space.spaces if k not in ("camera", "camera_history"))
        super().__init__(observation_space, features_dim=hidden + sum(observation_space[k].shape[0] for k in self.vectors))
        self.net, _ = load_checkpoint(weights or shipped_weights(), "cpu")
        self.reduce = nn.Sequential(nn.Conv2d(self.net.out.out_channels, 16, 3, stride=2, padding=1), nn.ReLU(),
                                    nn.Flatten())
        with torch.no_grad():
            blank = torch.zeros(1, *observation_space["camera"].shape)
            n = self.reduce(self._maps(blank, blank)).shape[1]
        self.project = nn.Sequential(nn.Linear(n, hidden), nn.ReLU())

    def _maps(self, camera: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return self.net.raw(stack_tensors(camera, history))  # (B, 56, H/4, W/4) detection heads

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        maps = self._maps(obs["camera"], obs.get("camera_history", obs["camera"]))
        return torch.cat([self.project(self.reduce(maps)), *(obs[k] for k in self.vectors)], dim=1)
