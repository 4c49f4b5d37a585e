"""Fitting the policy network of a composed SQL or SAC model to its frozen composed critic.

Only the sampler's (SQL) or actor's (SAC) optimiser steps; the critic and the environment are not
touched, so the model's ``num_timesteps`` stays 0: composition costs zero environment steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.utils import obs_as_tensor

from sb3_softopt.common.validation import check_int

__all__ = ["fit_composed_policy", "replay_observations"]


def replay_observations(models: Sequence[Any]) -> np.ndarray:
    """The observations stored in the models' replay buffers, concatenated (their union).

    :param models: trained off-policy models (a loaded model has a buffer only after
        ``load_replay_buffer``)
    :return: array ``(N, *obs_shape)``
    """
    parts = []
    for i, m in enumerate(models):
        buf = getattr(m, "replay_buffer", None)
        if buf is None or buf.size() == 0:
            raise ValueError(
                f"models[{i}] has an empty replay buffer (a loaded model needs load_replay_buffer): pass the states to "
                "fit on as observations=, or policy_steps=0"
            )
        if isinstance(buf.observations, dict):
            raise ValueError(f"models[{i}] has Dict observations: pass the states to fit on as observations=")
        obs = buf.observations[: buf.size()]
        parts.append(obs.reshape(-1, *obs.shape[2:]))
    return np.concatenate(parts)


def _actor_loss(model: Any, obs: th.Tensor, alpha: float) -> th.Tensor:
    """SAC's actor loss against the (frozen) critics, ``E[alpha log pi - min_j Q_C,j]``."""
    if isinstance(model.action_space, spaces.Discrete):
        probs, log_probs = model.actor.action_log_probs(obs)
        with th.no_grad():
            q_pi = th.stack(model.critic(obs)).min(dim=0).values
        return (probs * (alpha * log_probs - q_pi)).sum(dim=1).mean()
    actions, log_prob = model.actor.action_log_prob(obs)
    q_pi = th.cat(model.critic(obs, actions), dim=1).min(dim=1, keepdim=True).values
    return (alpha * log_prob.reshape(-1, 1) - q_pi).mean()


def fit_composed_policy(model: Any, observations: Any, gradient_steps: int, batch_size: int = 256) -> list[float]:
    """
    Train a composed SQL model's sampler (SVGD towards ``exp(Q_C / alpha)``) or a composed SAC model's
    actor (SAC's actor loss) on ``observations``, the critic frozen. Calling it again continues.

    :param model: a model returned by :func:`sb3_softopt.composition.compose` (SQL or SAC)
    :param observations: array ``(N, *obs_shape)`` of states to fit on (e.g. the union of the
        constituents' replay buffers, :func:`replay_observations`)
    :param gradient_steps: number of optimiser steps (>= 1)
    :param batch_size: states per step (>= 1)
    :return: the loss of every step
    """
    from sb3_softopt.sql import SQL

    gradient_steps = check_int(gradient_steps, "gradient_steps", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    obs_all = np.asarray(observations)
    shape = model.observation_space.shape
    if obs_all.ndim == len(shape):
        obs_all = obs_all[None]
    if obs_all.shape[1:] != shape or obs_all.shape[0] == 0:
        raise ValueError(f"observations must have shape (N, *{shape}) with N >= 1, got {obs_all.shape}")
    alpha = float(model.current_ent_coef())
    model.policy.set_training_mode(True)
    losses = []
    for _ in range(gradient_steps):
        # torch's generator, seeded by SB3's set_random_seed: reproducible under the model's seed
        idx = th.randint(obs_all.shape[0], (min(batch_size, obs_all.shape[0]),)).numpy()
        obs = obs_as_tensor(obs_all[idx], model.device)
        assert isinstance(obs, th.Tensor)  # a Dict observation would have failed the shape check
        if isinstance(model, SQL):
            loss = model.sampler_loss(obs, alpha)[0]
        else:
            loss = _actor_loss(model, obs, alpha)
        model.actor.optimizer.zero_grad()
        loss.backward()
        model.actor.optimizer.step()
        losses.append(loss.detach())
    model.critic.zero_grad(set_to_none=True)  # the critic stays frozen: drop the gradients it received
    model.policy.set_training_mode(False)
    return th.stack(losses).tolist()
