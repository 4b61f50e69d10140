"""PPO with an imitation anchor (`drivesim train --anchor COEF`): during PPO the actor keeps being
pulled towards the expert on the states it visits, with a weight that decays.

PPO fine-tuning the cloned policy used to drift away from it as the steps went on (the validation
score fell from 0.881 to 0.652 over 800k steps; docs/agents.md). The issue asked for something like
a KL term to the cloned policy; this anchors to the cloned policy's teacher instead, which the
simulator can label every visited state with (the expert is privileged and batched, so the labels
cost one autopilot pass per step): DAgger's data, kept up during PPO. Each rollout records the
expert's action for every state the rollout buffer holds, and PPO's update that follows minimises,
on each minibatch, its own loss plus coef * decay^k times the (braking-weighted) MSE between the
actor's mean action and the expert's on the minibatch's states, for the k-th rollout
(`AnchoredPPO`: one loss, one optimizer, one forward pass). With coef 0 nothing is recorded.

Until 2026-12-06 the anchor was a separate pass with its own Adam optimizer after each update, its
loss scaled by the weight; Adam's steps hardly depend on a constant scale of the loss, so the
weight did next to nothing: anchors 0.5 and 2.0 gave the same drift (docs/agents.md). Until
2026-12-07 the imitation term was taken on a second random minibatch of the rollout's states (the
states after each step, so a second forward and backward pass of the actor: a third of the update's
arithmetic); it now reuses the PPO minibatch's own forward pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import explained_variance

from drivesim.agent import ExpertAgent
from drivesim.agents.features_env import SuiteVecEnv
from drivesim.agents.imitation import brake_weights, ego_holds, ego_speeds, expert_actions, weighted_loss

UPDATE_PRECISIONS = ("auto", "fp32", "bf16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of x86 CPUs that multiply bfloat16


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this (Linux x86) CPU multiplies bfloat16 in hardware: AVX512-BF16 or AMX. oneDNN runs
    bfloat16 on any AVX512 CPU, but by conversion to float32 and slower than float32 itself. Elsewhere
    (no /proc/cpuinfo, other architectures) False."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def update_precision(precision: str, device: torch.device) -> str:
    """The precision of PPO's update on `device`: `auto` is bf16 where the hardware multiplies bfloat16
    natively (a CUDA GPU of compute capability 8 or more, a CPU with AVX512-BF16 or AMX), else fp32;
    bf16 elsewhere is emulated and slower than fp32."""
    if precision not in UPDATE_PRECISIONS:
        raise ValueError(f"--update-precision {precision!r} unknown; allowed {UPDATE_PRECISIONS}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


class ExpertAnchor(BaseCallback):
    """See the module docstring. `suite` is the (unwrapped) suite env PPO trains on; the model is an
    AnchoredPPO. The expert's action for the state a rollout step acts in is taken before the step
    (at the rollout's start, then after each step but the last), so the records line up with the
    rollout buffer's observations."""

    def __init__(self, suite: SuiteVecEnv, coef: float, decay: float = 0.99, brake_weight: float = 1.0,
                 brake_min_speed: float = 0.0, loss: str = "mse", brake_at_lights: bool = False,
                 brake_at_people: bool = False) -> None:
        super().__init__()
        self.suite, self.coef, self.decay, self.brake_weight = suite, coef, decay, brake_weight
        self.brake_min_speed, self.loss = brake_min_speed, loss
        self.holds = (brake_at_lights, brake_at_people)
        self.expert = ExpertAgent()
        self.records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per step: actions, speeds, held
        self.speeds: np.ndarray | None = None  # (N,) [m/s] of the last rollout, in the buffer's order
        self.rollouts = 0

    @property
    def weight(self) -> float:
        return self.coef * self.decay**self.rollouts

    def _record(self) -> None:
        self.records.append((expert_actions(self.suite, self.expert).astype(np.float32), ego_speeds(self.suite),
                             ego_holds(self.suite, *self.holds)))

    def _on_rollout_start(self) -> None:
        self.records = []
        if self.coef > 0:
            self._record()

    def _on_step(self) -> bool:
        if self.coef > 0 and len(self.records) < self.model.n_steps:
            self._record()
        return True

    def _on_rollout_end(self) -> None:
        """Hand this rollout's expert actions (in the rollout buffer's order) to the update that follows."""
        if len(self.records) != self.model.n_steps:  # nothing recorded (coef 0) or a rollout cut short
            self.model.anchor_data = None
            return
        actions, speeds, held = (RolloutBuffer.swap_and_flatten(np.stack(r)) for r in zip(*self.records))
        speeds, held = speeds.reshape(-1), held.reshape(-1)  # swap_and_flatten leaves (N, 1)
        self.records = []
        weights = brake_weights(actions, self.brake_weight, speeds, self.brake_min_speed,
                                held if any(self.holds) else None)
        self.speeds = speeds
        self.model.anchor_data = (torch.as_tensor(actions), None if weights is None else torch.as_tensor(weights))
        self.model.anchor_weight, self.model.anchor_loss = self.weight, self.loss
        self.rollouts += 1
        if getattr(self.model, "_logger", None) is not None:
            self.logger.record("anchor/mse", self.model.anchor_mse)  # of the previous update
            self.logger.record("anchor/weight", self.model.anchor_weight)


class _Indexed:
    """A rollout buffer that remembers the indices of the last minibatch it gave out."""

    last_indices: np.ndarray | None = None

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        self.last_indices = batch_inds
        return super()._get_samples(batch_inds, env)  # type: ignore[misc]


class IndexedRolloutBuffer(_Indexed, RolloutBuffer):
    pass


class IndexedDictRolloutBuffer(_Indexed, DictRolloutBuffer):
    pass


class AnchoredPPO(PPO):
    """PPO whose loss carries the imitation anchor: every minibatch step minimises

        clipped surrogate + vf_coef * value loss + ent_coef * entropy loss
        + anchor_weight * weighted MSE (or L1: anchor_loss) of the actor's mean to the expert's action

    with the imitation term on the minibatch's own states and the expert's actions for them
    (`anchor_data`, set by ExpertAnchor before each update, in the rollout buffer's order). In one
    loss and one optimizer the weight sets the balance between the policy gradient and imitation
    (DAPG's form, Rajeswaran et al. 2018); without anchor data this is SB3's PPO update.

    With `precision` bf16 (`--update-precision`, `auto` where the hardware has it) the update runs
    the feature extractor and the hidden layers under bfloat16 autocast (`evaluate`): 2.4x faster
    matrix products on a CPU with AVX512-BF16, the same results at 2M steps (docs/agents.md,
    Throughput). The rollouts, evaluation and the saved weights stay float32."""

    anchor_data: tuple[torch.Tensor, torch.Tensor | None] | None = None  # expert actions (N, 2), weights (N,)
    anchor_weight: float = 0.0
    anchor_loss: str = "mse"  # imitation.LOSSES: cloning's loss
    anchor_mse: float = float("nan")  # mean imitation MSE of the last update
    precision: str = "fp32"  # the update's hidden layers: fp32 | bf16 (autocast; UPDATE_PRECISIONS)

    def _setup_model(self) -> None:
        # the buffer that says which samples a minibatch holds (older checkpoints saved SB3's own)
        self.rollout_buffer_class = (IndexedDictRolloutBuffer if isinstance(self.observation_space, spaces.Dict)
                                     else IndexedRolloutBuffer)
        super()._setup_model()

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "anchor_data", "rollout_buffer_class"]

    def evaluate(self, obs: Any, actions: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """SB3's evaluate_actions in one pass, keeping the distribution (for its mean): (distribution,
        values (N,), log-probabilities (N,), entropies (N,) or None). With `precision` bf16 the feature
        extractor and the hidden layers run under bfloat16 autocast and their outputs are cast back, so
        the action and value heads, the log-probabilities and every loss stay in float32."""
        policy = self.policy
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            features = policy.extract_features(obs)
            if policy.share_features_extractor:
                latent_pi, latent_vf = policy.mlp_extractor(features)
            else:
                latent_pi = policy.mlp_extractor.forward_actor(features[0])
                latent_vf = policy.mlp_extractor.forward_critic(features[1])
        dist = policy._get_action_dist_from_latent(latent_pi.float())
        values = policy.value_net(latent_vf.float()).flatten()
        return dist, values, dist.log_prob(actions), dist.entropy()

    def train(self) -> None:
        anchored = self.anchor_data is not None and self.anchor_weight > 0
        if not anchored and self.precision == "fp32":
            super().train()
            return
        if self.clip_range_vf is not None:
            raise ValueError("AnchoredPPO's own update (with the anchor or in bf16) has no value clipping; "
                             "clip_range_vf must be None")
        policy = self.policy
        policy.set_training_mode(True)
        self._update_learning_rate(policy.optimizer)
        clip = self.clip_range(self._current_progress_remaining)
        targets, weights = self.anchor_data if anchored else (None, None)
        pg, vf, imitation_losses, kls, clipped, entropies = [], [], [], [], [], []
        loss = torch.zeros(())
        for _ in range(self.n_epochs):
            kls = []  # as SB3: the last epoch's, with the minibatch that stopped it
            self._n_updates += 1
            for batch in self.rollout_buffer.get(self.batch_size):
                idx = torch.as_tensor(self.rollout_buffer.last_indices)
                dist, values, log_prob, entropy = self.evaluate(batch.observations, batch.actions)
                adv = batch.advantages
                if self.normalize_advantage and len(adv) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                log_ratio = log_prob - batch.old_log_prob
                ratio = torch.exp(log_ratio)
                surrogate = -torch.min(adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)).mean()
                value_loss = torch.nn.functional.mse_loss(batch.returns, values)
                entropy_loss = -(entropy.mean() if entropy is not None else -log_prob.mean())
                with torch.no_grad():
                    kl = float(((ratio - 1) - log_ratio).mean())
                kls.append(kl)
                if self.target_kl is not None and kl > 1.5 * self.target_kl:
                    break
                loss = surrogate + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                if anchored:
                    imitation = weighted_loss(dist.distribution.mean, targets[idx].to(self.device),
                                              None if weights is None else weights[idx].to(self.device),
                                              self.anchor_loss)
                    loss = loss + self.anchor_weight * imitation
                    imitation_losses.append(imitation.item())
                policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), self.max_grad_norm)
                policy.optimizer.step()
                pg.append(surrogate.item())
                vf.append(value_loss.item())
                clipped.append(float(((ratio - 1).abs() > clip).float().mean()))
                entropies.append(entropy_loss.item())
            else:
                continue
            break  # target_kl reached
        self.anchor_mse = float(np.mean(imitation_losses)) if imitation_losses else float("nan")
        self._record_update({"policy_gradient_loss": pg, "value_loss": vf, "approx_kl": kls,
                             "imitation_loss": imitation_losses, "clip_fraction": clipped, "entropy_loss": entropies},
                            clip, loss)

    def _record_update(self, means: dict[str, list[float]], clip: float, loss: torch.Tensor) -> None:
        """Log an update as SB3's PPO.train does (train/...), with the means of the non-empty lists."""
        for key, values in means.items():
            if values:
                self.logger.record(f"train/{key}", float(np.mean(values)))
        self.logger.record("train/clip_range", clip)
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", torch.exp(self.policy.log_std).mean().item())
        self.logger.record("train/explained_variance", explained_variance(self.rollout_buffer.values.flatten(),
                                                                          self.rollout_buffer.returns.flatten()))
