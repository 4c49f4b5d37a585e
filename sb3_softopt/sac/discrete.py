"""SAC's gradient step for ``Discrete`` actions, and its options (a mixin of :class:`sb3_softopt.SAC`).

Christodoulou's (2019) step takes exact expectations over the actions; the options are the
fixes proposed since, each off by default: SD-SAC's double-average Q, Q-clip and entropy
penalty (Zhou et al. 2022, arXiv 2209.10081) and a critic temperature decoupled from the
actor's (Asad et al. 2025, arXiv 2509.09838). docs/sac.md has the formulas and the measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from torch.nn import functional as F

from sb3_softopt.common.checks import check_discrete_sac_options
from sb3_softopt.sac.buffers import EntropyReplayBuffer

__all__ = ["DiscreteStepMixin", "Step", "clipped_td_loss"]


def clipped_td_loss(q: th.Tensor, q_old: th.Tensor, target: th.Tensor, clip: float) -> th.Tensor:
    """SD-SAC's Q-clip loss: per sample, the larger of the squared TD errors of ``q`` and of ``q``
    kept within ``clip`` of ``q_old`` (the target critic), as PPO clips its value loss.

    :param q: ``(batch, 1)`` the critic's values of the taken actions
    :param q_old: ``(batch, 1)`` the target critic's values of the same actions
    :param target: ``(batch, 1)`` the TD target
    :param clip: ``c > 0``
    :return: the scalar mean over the batch
    """
    clipped = q_old + (q - q_old).clamp(-clip, clip)
    return th.maximum((q - target) ** 2, (clipped - target) ** 2).mean()


class Step(NamedTuple):
    """What one gradient step reports (tensors: one synchronisation per ``train()`` call)."""

    ent_coef: th.Tensor
    ent_coef_loss: th.Tensor | None
    critic_loss: th.Tensor
    actor_loss: th.Tensor
    entropy: th.Tensor
    q_mean: th.Tensor


class DiscreteStepMixin:
    """The discrete step of :class:`sb3_softopt.SAC`; SAC's constructor sets the four options."""

    q_target: str
    q_clip: float | None
    entropy_penalty: float
    critic_ent_coef: float | None
    # set by SB3's SAC / OffPolicyAlgorithm
    actor: Any
    critic: Any
    critic_target: Any
    policy: Any
    gamma: float
    n_steps: int
    action_space: spaces.Space
    observation_space: spaces.Space
    replay_buffer_class: type[ReplayBuffer] | None
    _last_obs: Any
    #: alpha for this step and, when learned, the temperature loss (SAC's)
    _temperature: Callable[[th.Tensor, float], tuple[th.Tensor, th.Tensor | None]]

    @property
    def discrete(self) -> bool:
        """Whether the action space is ``Discrete`` (the categorical policy)."""
        return isinstance(self.action_space, spaces.Discrete)

    def _check_discrete_options(self) -> None:
        options = check_discrete_sac_options(self.q_target, self.q_clip, self.entropy_penalty, self.critic_ent_coef)
        if not self.discrete and options:
            raise ValueError(f"{', '.join(options)}: options of the discrete step, and the action space is {self.action_space!r}")
        if self.entropy_penalty > 0:
            if self.replay_buffer_class is None and self.n_steps == 1 and not isinstance(self.observation_space, spaces.Dict):
                self.replay_buffer_class = EntropyReplayBuffer
            elif self.replay_buffer_class is None or not issubclass(self.replay_buffer_class, EntropyReplayBuffer):
                raise ValueError(
                    f"entropy_penalty={self.entropy_penalty} needs the entropies stored by sb3_softopt.sac.buffers.EntropyReplayBuffer "
                    "(chosen automatically with the default replay buffer, n_steps=1 and non-Dict observations)"
                )

    def _store_transition(self, replay_buffer: ReplayBuffer, buffer_action: np.ndarray, new_obs: Any, reward: np.ndarray,
                          dones: np.ndarray, infos: list[dict[str, Any]]) -> None:  # fmt: skip
        if isinstance(replay_buffer, EntropyReplayBuffer):
            # the entropy of the policy that acted in the observation about to be stored
            with th.no_grad():
                obs, _ = self.policy.obs_to_tensor(self._last_obs)
                probs, log_probs = self.actor.action_log_probs(obs)
                replay_buffer.record_entropy(-(probs * log_probs).sum(dim=1).cpu().numpy())
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)  # type: ignore[misc]

    def _combine_q(self, q_values: tuple[th.Tensor, ...]) -> th.Tensor:
        """The twin critics' ``Q(s, .)`` combined as ``q_target`` says (min or mean)."""
        stacked = th.stack(q_values)
        return stacked.mean(dim=0) if self.q_target == "mean" else stacked.min(dim=0).values

    def _discrete_step(self, data: ReplayBufferSamples, target_entropy: float) -> Step:
        """The discrete gradient step: exact expectations over the actions."""
        discounts = data.discounts if data.discounts is not None else self.gamma
        probs, log_probs = self.actor.action_log_probs(data.observations)
        entropy = -(probs * log_probs).sum(dim=1, keepdim=True)
        ent_coef, ent_coef_loss = self._temperature(-entropy, target_entropy)
        critic_alpha = ent_coef if self.critic_ent_coef is None else self.critic_ent_coef
        with th.no_grad():
            next_probs, next_log_probs = self.actor.action_log_probs(data.next_observations)
            next_q = self._combine_q(self.critic_target(data.next_observations))
            next_v = (next_probs * (next_q - critic_alpha * next_log_probs)).sum(dim=1, keepdim=True)
            target_q = data.rewards + (1 - data.dones) * discounts * next_v
        actions = data.actions.long()
        current_q = [q.gather(1, actions) for q in self.critic(data.observations)]
        if self.q_clip is None:
            critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current_q)
        else:
            with th.no_grad():
                old_q = [q.gather(1, actions) for q in self.critic_target(data.observations)]
            c = self.q_clip
            critic_loss = 0.5 * sum(clipped_td_loss(q, q_old, target_q, c) for q, q_old in zip(current_q, old_q, strict=True))
        assert isinstance(critic_loss, th.Tensor)
        self.critic.optimizer.zero_grad()
        critic_loss.backward()
        self.critic.optimizer.step()

        with th.no_grad():
            q_pi = self._combine_q(self.critic(data.observations))
        actor_loss = (probs * (ent_coef * log_probs - q_pi)).sum(dim=1).mean()
        if self.entropy_penalty > 0:
            actor_loss = actor_loss + self.entropy_penalty * F.mse_loss(entropy, data.old_entropy)  # type: ignore[attr-defined]
        self.actor.optimizer.zero_grad()
        actor_loss.backward()
        self.actor.optimizer.step()
        q_mean = th.cat(current_q, dim=1).detach().mean()
        return Step(ent_coef, ent_coef_loss, critic_loss.detach(), actor_loss.detach(), entropy.detach().mean(), q_mean)
