"""Soft Actor-Critic with entropy diagnostics and temperature / target-entropy schedules.

A drop-in extension of :class:`stable_baselines3.SAC` (same constructor, same
policies, same checkpoints). With default arguments and the same seed it learns
exactly the same parameters as SB3's SAC. What it adds:

* **Diagnostics**, logged once per ``train()`` call (an "update window", i.e. the
  mean over its gradient steps):

  ========================  ====================================================
  key                       meaning
  ========================  ====================================================
  ``train/entropy``         mean of ``-log pi(a|s)`` over the batch of
                            reparameterised actions the actor loss uses (the
                            tanh-squashed density, i.e. what SAC's target uses)
  ``train/target_entropy``  the target entropy H_0 at this progress
  ``train/entropy_gap``     ``train/entropy - train/target_entropy``; the
                            temperature loss drives it to 0 when ``ent_coef`` is
                            learned (``"auto"``)
  ``train/ent_coef``        the temperature alpha (SB3's key)
  ``train/ent_coef_loss``   the temperature loss (SB3's key, only when learned)
  ``train/q_values``        the critics' mean Q(s, a) on the replay batch
                            (mean over the twin critics)
  ========================  ====================================================

* ``target_entropy`` accepts a float, ``"auto"`` (``-dim(A)``), a callable of
  ``progress_remaining`` or a schedule string (``"lin_-1_-4"``,
  ``"loglin_..."``, see :mod:`sb3_softopt.common.schedules`): lowering the target
  over training anneals the policy towards a greedy one.
* A fixed ``ent_coef`` may follow a schedule as well, e.g. ``"loglin_0.1_0.001"``
  (the log-linear temperature anneal used for finetuning in Haarnoja et al. 2017);
  ``"auto"`` and ``"auto_0.1"`` keep SB3's meaning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC as SB3SAC
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.vec_env import VecEnv

from sb3_softopt.common.checkpoint import CheckpointLoadMixin
from sb3_softopt.common.checks import FiniteTransitionsMixin, NonFiniteError, check_discount, grad_check_hook
from sb3_softopt.common.schedules import Constant, Schedule
from sb3_softopt.common.temperature import parse_target_entropy, parse_temperature

__all__ = ["SAC"]


class SAC(CheckpointLoadMixin, FiniteTransitionsMixin, SB3SAC):
    """Soft Actor-Critic (Haarnoja et al. 2018) with entropy logging and schedules.

    The constructor is SB3's (:class:`stable_baselines3.SAC`); every parameter keeps its
    meaning. Two accept more forms:

    :param ent_coef: the temperature alpha. ``"auto"`` / ``"auto_<init>"``: learned
        against the target entropy (SB3's behaviour); a positive float; or a fixed
        schedule of ``progress_remaining`` (callable or string such as
        ``"loglin_0.1_0.001"``), applied at each ``train()`` call.
    :param target_entropy: the entropy H_0 the learned temperature aims at.
        ``"auto"`` is ``-dim(A)`` (SB3's default); a float; or a schedule (callable or
        string such as ``"lin_-1_-4"``) evaluated at each ``train()`` call. Only used
        when ``ent_coef`` is learned; it is logged in every case.

    See the module docstring for the logged keys. After setup, ``model.target_entropy``
    is a float when the target is constant (as in SB3) and the schedule otherwise;
    ``model.target_entropy_schedule`` is always the :class:`Schedule`.

    :raises TypeError: the action space is not a ``gymnasium.spaces.Box``
    :raises ValueError: malformed ``ent_coef`` / ``target_entropy`` (the message names
        the parameter and the value)
    """

    target_entropy_schedule: Schedule
    ent_coef_schedule: Schedule | None

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        # SB3 checks the action space with a bare ``assert``; fail earlier, with a TypeError
        # that names the parameter (also on ``load(path, env=...)``, which calls this too).
        vec_env = SB3SAC._wrap_env(env, verbose, monitor_wrapper)
        if not isinstance(vec_env.action_space, spaces.Box):
            raise TypeError(
                f"SAC needs a continuous action space: env.action_space must be a gymnasium.spaces.Box, "
                f"got {vec_env.action_space!r} (for discrete actions use sb3_softopt.SoftDQN)"
            )
        return vec_env

    def _setup_model(self) -> None:
        # float32 rounding as in SB3, so that "auto" gives bit-identical losses.
        auto_target = float(-np.prod(self.action_space.shape).astype(np.float32))  # type: ignore[union-attr]
        # SB3 accepts numpy scalars (it calls float()); the shared parser wants Python numbers.
        if isinstance(self.target_entropy, np.generic):
            self.target_entropy = self.target_entropy.item()
        if isinstance(self.ent_coef, np.generic):
            self.ent_coef = self.ent_coef.item()
        self.gamma = check_discount(self.gamma)
        target_schedule = parse_target_entropy(self.target_entropy, auto_target, name="target_entropy")
        temperature = parse_temperature(self.ent_coef, name="ent_coef")

        # SB3's _setup_model casts ``target_entropy`` and a fixed ``ent_coef`` with float();
        # hand it the initial values and restore our arguments afterwards.
        raw_ent_coef = self.ent_coef
        self.target_entropy = target_schedule(1.0)
        if not temperature.auto:
            self.ent_coef = temperature.init_value
        try:
            super()._setup_model()
        finally:
            self.ent_coef = raw_ent_coef

        self.target_entropy_schedule = target_schedule
        # A constant stays a float (SB3's type); a real schedule is kept so that save/load keeps it.
        self.target_entropy = target_schedule.value if isinstance(target_schedule, Constant) else target_schedule
        self.ent_coef_schedule = None if temperature.auto else temperature.schedule
        if isinstance(self.ent_coef_schedule, Constant):
            self.ent_coef_schedule = None  # nothing to update; ``ent_coef_tensor`` is SB3's constant
        # SB3's loop is not copied: a non-finite loss is refused through its gradient, before the
        # optimiser moves the parameters.
        optimizers = [self.actor.optimizer, self.critic.optimizer, self.ent_coef_optimizer]
        for optimizer in (o for o in optimizers if o is not None):
            optimizer.register_step_pre_hook(grad_check_hook("SAC", lambda: self._n_updates))


    def _excluded_save_params(self) -> list[str]:
        # Derived from ``target_entropy`` / ``ent_coef`` again in ``_setup_model`` on load.
        return super()._excluded_save_params() + ["target_entropy_schedule", "ent_coef_schedule"]

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        # Schedules: SB3's loop reads ``self.target_entropy`` (a float) and ``ent_coef_tensor``.
        progress = self._current_progress_remaining
        target_entropy = float(self.target_entropy_schedule(progress))
        if self.ent_coef_schedule is not None:
            self.ent_coef_tensor.fill_(float(self.ent_coef_schedule(progress)))
        # The values we log (log pi of the reparameterised actions, the critics' Q on the replay
        # actions) are local to SB3's loop. Sampling them again would consume random numbers and
        # break "identical to SB3 under the same seed", so the two calls that compute them are
        # observed, for this call only, through instance attributes that shadow the methods.
        entropies: list[th.Tensor] = []
        q_means: list[th.Tensor] = []
        actor, critic = self.actor, self.critic

        def action_log_prob(obs: Any) -> tuple[th.Tensor, th.Tensor]:
            actions, log_prob = type(actor).action_log_prob(actor, obs)
            if th.is_grad_enabled():  # the actor loss's batch; the next-state call runs under no_grad
                entropies.append(-log_prob.detach().mean())
            return actions, log_prob

        def critic_forward(obs: Any, actions: th.Tensor) -> tuple[th.Tensor, ...]:
            q_values = type(critic).forward(critic, obs, actions)
            if not actions.requires_grad:  # replay actions (the actor loss's actions carry a gradient)
                q_means.append(th.cat(q_values, dim=1).detach().mean())
            return q_values

        schedule, self.target_entropy = self.target_entropy, target_entropy
        actor.action_log_prob, critic.forward = action_log_prob, critic_forward  # type: ignore[method-assign]
        try:
            super().train(gradient_steps, batch_size)
        finally:
            del actor.action_log_prob, critic.forward
            self.target_entropy = schedule
        values = self.logger.name_to_value
        for key in ("train/critic_loss", "train/actor_loss", "train/ent_coef_loss"):
            # An overflowing loss can have finite gradients (the optimiser hooks pass them): say so.
            if key in values and not math.isfinite(values[key]):
                raise NonFiniteError(
                    f"SAC: {key} is {values[key]} in the update window ending at gradient step {self._n_updates}; "
                    "its gradients were finite (the parameters are too), but the loss overflowed: scale the "
                    "rewards down or lower learning_rate"
                )
        if gradient_steps > 0:  # one synchronisation for the whole window
            entropy, q_mean = th.stack([th.stack(entropies).mean(), th.stack(q_means).mean()]).tolist()
            self.logger.record("train/entropy", entropy)
            self.logger.record("train/target_entropy", target_entropy)
            self.logger.record("train/entropy_gap", entropy - target_entropy)
            self.logger.record("train/q_values", q_mean)
