"""A replay buffer that remembers the policy's entropy at collection time.

SD-SAC's entropy penalty (Zhou et al. 2022, "Revisiting Discrete Soft Actor-Critic",
arXiv 2209.10081) pulls the actor's entropy at a replayed state towards the entropy the
policy had when it acted there, ``beta * mean (H_old(s) - H(pi(.|s)))^2``, so that the
entropy cannot jump between updates. ``H_old`` must be stored beside the transition;
:class:`EntropyReplayBuffer` is SB3's :class:`~stable_baselines3.common.buffers.ReplayBuffer`
with that one extra column, and :class:`EntropyReplayBufferSamples` its samples.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.vec_env import VecNormalize

__all__ = ["EntropyReplayBuffer", "EntropyReplayBufferSamples"]


class EntropyReplayBufferSamples(NamedTuple):
    """SB3's ``ReplayBufferSamples`` fields plus ``old_entropy`` (shape ``(batch, 1)``)."""

    observations: th.Tensor
    actions: th.Tensor
    next_observations: th.Tensor
    dones: th.Tensor
    rewards: th.Tensor
    discounts: th.Tensor | None
    old_entropy: th.Tensor


class EntropyReplayBuffer(ReplayBuffer):
    """SB3's replay buffer with the acting policy's entropy ``H(pi_old(.|s))`` per transition.

    The algorithm calls :meth:`record_entropy` with the entropies of the observations it is
    about to store (one per env), then SB3's ``add``; an ``add`` without a recorded entropy
    is refused, so a stale value can never be stored. The constructor is SB3's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.old_entropies = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)
        self._pending: np.ndarray | None = None

    def record_entropy(self, entropy: np.ndarray) -> None:
        """The entropies of the next ``add``'s observations, shape ``(n_envs,)``."""
        entropy = np.asarray(entropy, dtype=np.float32).reshape(-1)
        if entropy.shape != (self.n_envs,):
            raise ValueError(f"record_entropy: expected {self.n_envs} entropies (one per env), got shape {entropy.shape}")
        self._pending = entropy

    def add(self, *args: Any, **kwargs: Any) -> None:
        if self._pending is None:
            raise RuntimeError("EntropyReplayBuffer.add: call record_entropy() with the acting policy's entropies first")
        self.old_entropies[self.pos] = self._pending
        self._pending = None
        super().add(*args, **kwargs)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> EntropyReplayBufferSamples:  # type: ignore[override]
        # SB3's _get_samples draws the env indices itself; they are needed for the extra
        # column, so the draw is repeated here (same order of random calls as SB3's).
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        if self.optimize_memory_usage:
            next_obs = self._normalize_obs(self.observations[(batch_inds + 1) % self.buffer_size, env_indices, :], env)
        else:
            next_obs = self._normalize_obs(self.next_observations[batch_inds, env_indices, :], env)
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices, :], env),
            self.actions[batch_inds, env_indices, :],
            next_obs,
            (self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
        )
        observations, actions, next_observations, dones, rewards = map(self.to_torch, data)
        old_entropy = self.to_torch(self.old_entropies[batch_inds, env_indices].reshape(-1, 1))
        return EntropyReplayBufferSamples(observations, actions, next_observations, dones, rewards, None, old_entropy)
