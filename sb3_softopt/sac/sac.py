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

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC as SB3SAC
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from sb3_softopt.common.checkpoint import CheckpointLoadMixin
from sb3_softopt.common.checks import check_discount, check_finite_loss, check_finite_transition
from sb3_softopt.common.schedules import Constant, Schedule
from sb3_softopt.common.temperature import parse_target_entropy, parse_temperature

__all__ = ["SAC"]


class SAC(CheckpointLoadMixin, SB3SAC):
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

    def _store_transition(
        self,
        replay_buffer: ReplayBuffer,
        buffer_action: np.ndarray,
        new_obs: np.ndarray | dict[str, np.ndarray],
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        check_finite_transition("SAC", reward, new_obs, dones, infos, self.num_timesteps)
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)

    def _excluded_save_params(self) -> list[str]:
        # Derived from ``target_entropy`` / ``ent_coef`` again in ``_setup_model`` on load.
        return super()._excluded_save_params() + ["target_entropy_schedule", "ent_coef_schedule"]

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        # Copied from stable_baselines3 2.9 ``SAC.train`` because the values we log
        # (``log_prob`` of the reparameterised actions, the critics' Q) are local to its loop,
        # and sampling them again would consume random numbers and break "identical to SB3
        # under the same seed". Changes, marked ``# softopt``: the target entropy and a
        # scheduled alpha are read at the current progress; the diagnostics are accumulated
        # as detached tensors and synchronised once per call, not per gradient step.
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers += [self.ent_coef_optimizer]

        self._update_learning_rate(optimizers)

        # softopt: schedules are functions of progress_remaining, like SB3's learning rate.
        target_entropy = float(self.target_entropy_schedule(self._current_progress_remaining))
        if self.ent_coef_schedule is not None:
            self.ent_coef_tensor.fill_(float(self.ent_coef_schedule(self._current_progress_remaining)))

        ent_coef_losses, ent_coefs = [], []
        actor_losses, critic_losses = [], []
        entropies, q_means = [], []  # softopt

        for gradient_step in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma

            if self.use_sde:
                self.actor.reset_noise()

            actions_pi, log_prob = self.actor.action_log_prob(replay_data.observations)
            log_prob = log_prob.reshape(-1, 1)
            entropies.append(-log_prob.detach().mean())  # softopt

            ent_coef_loss = None
            if self.ent_coef_optimizer is not None and self.log_ent_coef is not None:
                # Detached so that the other losses do not move alpha (softlearning #60).
                ent_coef = th.exp(self.log_ent_coef.detach())
                ent_coef_loss = -(self.log_ent_coef * (log_prob + target_entropy).detach()).mean()  # softopt: scheduled
                ent_coef_losses.append(ent_coef_loss.item())
                check_finite_loss("SAC", "ent_coef_loss", ent_coef_losses[-1], self._n_updates + gradient_step)  # softopt
            else:
                ent_coef = self.ent_coef_tensor

            ent_coefs.append(ent_coef.item())

            if ent_coef_loss is not None and self.ent_coef_optimizer is not None:
                self.ent_coef_optimizer.zero_grad()
                ent_coef_loss.backward()
                self.ent_coef_optimizer.step()

            with th.no_grad():
                next_actions, next_log_prob = self.actor.action_log_prob(replay_data.next_observations)
                next_q_values = th.cat(self.critic_target(replay_data.next_observations, next_actions), dim=1)
                next_q_values, _ = th.min(next_q_values, dim=1, keepdim=True)
                next_q_values = next_q_values - ent_coef * next_log_prob.reshape(-1, 1)
                target_q_values = replay_data.rewards + (1 - replay_data.dones) * discounts * next_q_values

            current_q_values = self.critic(replay_data.observations, replay_data.actions)
            q_means.append(th.cat(current_q_values, dim=1).detach().mean())  # softopt

            critic_loss = 0.5 * sum(F.mse_loss(current_q, target_q_values) for current_q in current_q_values)
            assert isinstance(critic_loss, th.Tensor)
            critic_losses.append(critic_loss.item())
            check_finite_loss("SAC", "critic_loss", critic_losses[-1], self._n_updates + gradient_step)  # softopt

            self.critic.optimizer.zero_grad()
            critic_loss.backward()
            self.critic.optimizer.step()

            q_values_pi = th.cat(self.critic(replay_data.observations, actions_pi), dim=1)
            min_qf_pi, _ = th.min(q_values_pi, dim=1, keepdim=True)
            actor_loss = (ent_coef * log_prob - min_qf_pi).mean()
            actor_losses.append(actor_loss.item())
            check_finite_loss("SAC", "actor_loss", actor_losses[-1], self._n_updates + gradient_step)  # softopt

            self.actor.optimizer.zero_grad()
            actor_loss.backward()
            self.actor.optimizer.step()

            if gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                # Copy running stats, see SB3 GH issue #996
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)

        self._n_updates += gradient_steps

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/ent_coef", np.mean(ent_coefs))
        self.logger.record("train/actor_loss", np.mean(actor_losses))
        self.logger.record("train/critic_loss", np.mean(critic_losses))
        if len(ent_coef_losses) > 0:
            self.logger.record("train/ent_coef_loss", np.mean(ent_coef_losses))
        if gradient_steps > 0:  # softopt: one synchronisation for the whole window
            entropy, q_mean = th.stack([th.stack(entropies).mean(), th.stack(q_means).mean()]).tolist()
            self.logger.record("train/entropy", entropy)
            self.logger.record("train/target_entropy", target_entropy)
            self.logger.record("train/entropy_gap", entropy - target_entropy)
            self.logger.record("train/q_values", q_mean)
