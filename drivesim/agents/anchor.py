"""PPO with an imitation anchor (`drivesim train --anchor COEF`): during PPO the actor keeps being
pulled towards the expert on the states it visits, with a weight that decays.

PPO fine-tuning the cloned policy used to drift away from it as the steps went on (the validation
score fell from 0.881 to 0.652 over 800k steps; docs/agents.md). The issue asked for something like
a KL term to the cloned policy; this anchors to the cloned policy's teacher instead, which the
simulator can label every visited state with (the expert is privileged and batched, so the labels
cost one autopilot pass per step): DAgger's data, kept up during PPO. Each rollout records the
expert's action for every visited state; at the start of the next rollout (after PPO's update) the
actor's mean action is fitted to them by one pass of minibatch MSE, scaled by coef * decay^k for
the k-th rollout. With coef 0 nothing is recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from drivesim.agent import ExpertAgent
from drivesim.agents.features_env import SuiteVecEnv
from drivesim.agents.imitation import _Buffer, actor_mean, brake_weights, expert_actions, regression_pass


class ExpertAnchor(BaseCallback):
    """See the module docstring. `suite` is the (unwrapped) suite env PPO trains on."""

    def __init__(self, suite: SuiteVecEnv, coef: float, decay: float = 0.99, batch_size: int = 4096,
                 learning_rate: float = 1e-4, seed: int = 0, brake_weight: float = 1.0) -> None:
        super().__init__()
        self.suite, self.coef, self.decay, self.batch_size = suite, coef, decay, batch_size
        self.learning_rate, self.brake_weight = learning_rate, brake_weight
        self.expert = ExpertAgent()
        self.buffer = _Buffer()
        self.rollouts = 0
        self.rng = np.random.default_rng(seed)
        self.last_loss = float("nan")
        self._optimizer: torch.optim.Optimizer | None = None

    @property
    def weight(self) -> float:
        return self.coef * self.decay**self.rollouts

    def _on_step(self) -> bool:
        if self.coef > 0:
            self.buffer.add(self.locals["new_obs"], expert_actions(self.suite, self.expert))
        return True

    def _on_rollout_start(self) -> None:
        if len(self.buffer) == 0:
            return
        obs, actions = self.buffer.arrays()
        self.buffer = _Buffer()
        self.last_loss = self._fit(obs, actions, self.weight)
        self.rollouts += 1
        if getattr(self.model, "_logger", None) is not None:
            self.logger.record("anchor/mse", self.last_loss)
            self.logger.record("anchor/weight", self.weight)

    def _fit(self, obs: Any, actions: np.ndarray, weight: float) -> float:
        """One pass of weighted MSE between the actor's mean action and the expert's; returns the mean MSE."""
        policy = self.model.policy
        if self._optimizer is None:
            self._optimizer = torch.optim.Adam(policy.parameters(), lr=self.learning_rate)
        policy.set_training_mode(True)
        loss = regression_pass(policy, self._optimizer, lambda x: actor_mean(policy, x), obs, actions,
                               brake_weights(actions, self.brake_weight), self.batch_size, self.rng, scale=weight)
        policy.set_training_mode(False)
        return loss
