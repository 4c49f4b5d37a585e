"""Soft Actor-Critic for continuous and discrete actions, with entropy diagnostics and
temperature / target-entropy schedules.

A drop-in extension of :class:`stable_baselines3.SAC` (same constructor, same policies and
checkpoints for ``Box`` actions). On ``Box`` actions, with the same seed and arguments, it
learns exactly the same parameters as SB3's SAC. What it adds:

* **Discrete actions** (Christodoulou 2019): on a ``Discrete`` action space the policy
  aliases resolve to :mod:`sb3_softopt.sac.discrete_policies`; the critics output ``Q(s, .)``
  and the target and the actor loss take exact expectations over the actions::

      y         = r + gamma (1 - d) sum_a' pi(a'|s') [min_i Q_targ,i(s', a') - alpha log pi(a'|s')]
      actor     = E_s sum_a pi(a|s) [alpha log pi(a|s) - min_i Q_i(s, a)]
      alpha     : log alpha descends  -log alpha (H_0 - H(pi(.|s)))   (the exact entropy)

  The default target entropy is ``DEFAULT_TARGET_ENTROPY_RATIO * log |A|`` (SoftDQN's), and
  every target outside ``(0, log |A|)`` is refused (see :func:`check_target_entropy`).
* **Diagnostics**, logged once per ``train()`` call (the mean over its gradient steps):

  ========================  ====================================================
  key                       meaning
  ========================  ====================================================
  ``train/entropy``         Box: mean of ``-log pi(a|s)`` over the reparameterised
                            actions of the actor loss (the tanh-squashed density);
                            Discrete: the exact ``H(pi(.|s))`` on the batch
  ``train/target_entropy``  the target entropy H_0 at this progress
  ``train/entropy_gap``     ``train/entropy - train/target_entropy``
  ``train/ent_coef``        the temperature alpha (SB3's key)
  ``train/ent_coef_loss``   the temperature loss (SB3's key, only when learned)
  ``train/q_values``        the critics' mean Q(s, a) on the replay batch
  ========================  ====================================================

* ``target_entropy`` accepts a float, ``"auto"``, a callable of ``progress_remaining`` or a
  schedule string (``"lin_-1_-4"``, see :mod:`sb3_softopt.common.schedules`); a fixed
  ``ent_coef`` may follow a schedule as well (``"loglin_0.1_0.001"``); ``"auto"`` and
  ``"auto_0.1"`` keep SB3's meaning.

The training step is owned here (as sb3-contrib's TQC does): the ``Box`` step is SB3's, op for
op, with the two logged quantities read off on the way; the ``Discrete`` step is the one above.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC as SB3SAC
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, ReplayBufferSamples
from stable_baselines3.common.type_aliases import Schedule as SB3Schedule
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from sb3_softopt.common.action_spaces import unsupported_action_space
from sb3_softopt.common.checkpoint import CheckpointLoadMixin
from sb3_softopt.common.checks import (
    check_off_policy_args,
    FiniteTransitionsMixin,
    NonFiniteError,
    check_discount,
    check_target_entropy,
    check_target_entropy_at,
    grad_check_hook,
)
from sb3_softopt.common.schedules import Constant, Schedule
from sb3_softopt.common.temperature import (
    DEFAULT_TARGET_ENTROPY_RATIO,
    parse_target_entropy,
    parse_temperature,
    temperature_at,
    temperature_step,
)
from sb3_softopt.sac import discrete_policies as dp
from sb3_softopt.sac.discrete import DiscreteStepMixin, Step
from sb3_softopt.sac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["DEFAULT_TOTAL_TIMESTEPS", "SAC"]

SelfSAC = TypeVar("SelfSAC", bound="SAC")

#: ``learn()``'s budget when none is given (environment steps)
DEFAULT_TOTAL_TIMESTEPS = 50_000

#: the policy a ``Discrete`` action space gets for each of SB3's continuous ones
_DISCRETE_POLICY: dict[type[BasePolicy], type[BasePolicy]] = {
    MlpPolicy: dp.DiscreteMlpPolicy,
    CnnPolicy: dp.DiscreteCnnPolicy,
    MultiInputPolicy: dp.DiscreteMultiInputPolicy,
}


class SAC(DiscreteStepMixin, CheckpointLoadMixin, FiniteTransitionsMixin, SB3SAC):
    """Soft Actor-Critic (Haarnoja et al. 2018; for discrete actions Christodoulou 2019).

    The constructor is SB3's (:class:`stable_baselines3.SAC`); every parameter keeps its
    meaning. The action space may be ``Box`` or ``Discrete``. Two parameters accept more forms:

    :param ent_coef: the temperature alpha. ``"auto"`` / ``"auto_<init>"``: learned against
        the target entropy (SB3's behaviour); a positive float; or a fixed schedule of
        ``progress_remaining`` (callable or string such as ``"loglin_0.1_0.001"``), applied at
        each ``train()`` call.
    :param target_entropy: the entropy H_0 the learned temperature aims at. ``"auto"`` is
        ``-dim(A)`` for ``Box`` (SB3's default) and ``DEFAULT_TARGET_ENTROPY_RATIO * log |A|``
        for ``Discrete``; a float; or a schedule (callable or string such as ``"lin_-1_-4"``)
        evaluated at each ``train()`` call, and checked there. Only used when ``ent_coef`` is
        learned; it is logged in every case.

    Options of the discrete step (``Discrete`` actions only; the defaults are Christodoulou's
    algorithm, and a ``Box`` action space refuses any other value):

    :param q_target: how the twin critics are combined in the critic target and the actor
        loss: ``"min"`` (clipped double Q, SAC's) or ``"mean"`` (SD-SAC's double-average Q,
        Zhou et al. 2022, against the underestimation of the minimum)
    :param q_clip: SD-SAC's Q-clip ``c > 0``: each critic's loss is the larger of its TD loss
        and the TD loss of ``Q_targ(s, a) + clip(Q(s, a) - Q_targ(s, a), -c, c)``, which keeps a
        critic from moving more than ``c`` away from its target network per update; ``None``: off
    :param entropy_penalty: SD-SAC's ``beta >= 0``: adds ``beta * mean (H_old(s) - H(pi(.|s)))^2``
        to the actor loss, with ``H_old`` the policy's entropy when it acted in ``s`` (stored by
        :class:`~sb3_softopt.sac.buffers.EntropyReplayBuffer`, chosen automatically); 0: off
    :param critic_ent_coef: the temperature of the critic target, decoupled from the actor's
        (Asad et al. 2025, arXiv 2509.09838): a fixed float ``>= 0`` (0: the critic learns the
        policy's unregularised Q); ``None``: the actor's alpha (coupled, SAC's)

    See the module docstring for the logged keys. After setup, ``model.target_entropy`` is a
    float when the target is constant (as in SB3) and the schedule otherwise;
    ``model.target_entropy_schedule`` is always the :class:`Schedule`.

    :raises TypeError: the action space is neither ``Box`` nor ``Discrete``
    :raises ValueError: malformed ``ent_coef`` / ``target_entropy`` (the message names the
        parameter and the value), a discrete target outside ``(0, log |A|)``, ``use_sde`` with
        discrete actions, a discrete-step option out of range or set with ``Box`` actions
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    target_entropy_schedule: Schedule
    ent_coef_schedule: Schedule | None

    def __init__(
        self,
        policy: str | type[BasePolicy],
        env: GymEnv | str,
        learning_rate: float | SB3Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        ent_coef: str | float | Any = "auto",
        target_update_interval: int = 1,
        target_entropy: str | float | Any = "auto",
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        use_sde_at_warmup: bool = False,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        q_target: str = "min",
        q_clip: float | None = None,
        entropy_penalty: float = 0.0,
        critic_ent_coef: float | None = None,
        _init_setup_model: bool = True,
    ):
        # SB3's SAC.__init__ with Discrete among the supported action spaces; the attributes it sets follow.
        OffPolicyAlgorithm.__init__(
            self, policy, env, learning_rate, buffer_size, learning_starts, batch_size, tau, gamma, train_freq,
            gradient_steps, action_noise, replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs, optimize_memory_usage=optimize_memory_usage, n_steps=n_steps,
            policy_kwargs=policy_kwargs, stats_window_size=stats_window_size, tensorboard_log=tensorboard_log,
            verbose=verbose, device=device, seed=seed, use_sde=use_sde, sde_sample_freq=sde_sample_freq,
            use_sde_at_warmup=use_sde_at_warmup, supported_action_spaces=(spaces.Box, spaces.Discrete),
            support_multi_env=True,
        )  # fmt: skip
        self.target_entropy = target_entropy
        self.log_ent_coef: th.Tensor | None = None
        self.ent_coef = ent_coef
        self.target_update_interval = target_update_interval
        self.ent_coef_optimizer: th.optim.Adam | None = None
        self.q_target = q_target
        self.q_clip = q_clip
        self.entropy_penalty = entropy_penalty
        self.critic_ent_coef = critic_ent_coef
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        # SB3 checks the action space with a bare ``assert``; fail earlier (also on ``load(path,
        # env=...)``, which calls this too) with SB3's AssertionError and text, then the diagnosis
        # (the error is also a TypeError).
        vec_env = SB3SAC._wrap_env(env, verbose, monitor_wrapper)
        if not isinstance(vec_env.action_space, (spaces.Box, spaces.Discrete)):
            raise unsupported_action_space(
                vec_env.action_space,
                (spaces.Box, spaces.Discrete),
                f"SAC needs a Box or Discrete action space: env.action_space is {vec_env.action_space!r} "
                "(for MultiDiscrete / MultiBinary actions use sb3_softopt.EntropyPPO, or flatten them into one "
                "Discrete space for sb3_softopt.SoftDQN)",
            )
        return vec_env

    def _setup_model(self) -> None:
        check_off_policy_args(self.batch_size, self.buffer_size, self.learning_starts, self.tau, self.gradient_steps)
        if self.discrete:
            self.policy_class = _DISCRETE_POLICY.get(self.policy_class, self.policy_class)
            if not issubclass(self.policy_class, dp.DiscreteSACPolicy):
                raise TypeError(
                    f"policy={self.policy_class.__name__} is a continuous SAC policy; with a Discrete action space use "
                    "'MlpPolicy', 'CnnPolicy', 'MultiInputPolicy' or a subclass of sb3_softopt.sac.DiscreteSACPolicy"
                )
            assert isinstance(self.action_space, spaces.Discrete)
            auto_target = DEFAULT_TARGET_ENTROPY_RATIO * math.log(int(self.action_space.n))
        else:
            # float32 rounding as in SB3, so that "auto" gives bit-identical losses.
            assert self.action_space.shape is not None
            auto_target = float(-np.prod(self.action_space.shape).astype(np.float32))
        # SB3 accepts numpy scalars (it calls float()); the shared parser wants Python numbers.
        if isinstance(self.target_entropy, np.generic):
            self.target_entropy = self.target_entropy.item()
        if isinstance(self.ent_coef, np.generic):
            self.ent_coef = self.ent_coef.item()
        self.gamma = check_discount(self.gamma)
        self._check_discrete_options()
        target_schedule = parse_target_entropy(self.target_entropy, auto_target, name="target_entropy")
        check_target_entropy(target_schedule, self.action_space)
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
        # (SB3 annotates target_entropy as str | float; a schedule object is our extension.)
        self.target_entropy = (
            target_schedule.value if isinstance(target_schedule, Constant) else target_schedule  # type: ignore[assignment]
        )
        self.ent_coef_schedule = None if temperature.auto else temperature.schedule
        if isinstance(self.ent_coef_schedule, Constant):
            self.ent_coef_schedule = None  # nothing to update; ``ent_coef_tensor`` is SB3's constant
        # A non-finite loss is refused through its gradient, before the optimiser moves the parameters.
        optimizers = [self.actor.optimizer, self.critic.optimizer, self.ent_coef_optimizer]
        for optimizer in (o for o in optimizers if o is not None):
            optimizer.register_step_pre_hook(grad_check_hook("SAC", lambda: self._n_updates))

    def _excluded_save_params(self) -> list[str]:
        # Derived from ``target_entropy`` / ``ent_coef`` again in ``_setup_model`` on load.
        return [*super()._excluded_save_params(), "target_entropy_schedule", "ent_coef_schedule"]

    def current_ent_coef(self) -> float:
        """The temperature alpha now (learned, scheduled or fixed)."""
        if self.log_ent_coef is not None:
            return float(self.log_ent_coef.detach().exp())
        if self.ent_coef_schedule is not None:
            return temperature_at(self.ent_coef_schedule, self._current_progress_remaining, "ent_coef")
        return float(self.ent_coef_tensor)

    def _temperature(self, neg_entropy: th.Tensor, target_entropy: float) -> tuple[th.Tensor, th.Tensor | None]:
        """alpha for this step and, when learned, the step on log alpha (SB3's loss:
        ``-log alpha (log pi + H_0)`` with ``-H(pi(.|s))`` for ``log pi`` in the discrete case)."""
        if self.ent_coef_optimizer is None or self.log_ent_coef is None:
            return self.ent_coef_tensor, None
        # detached: alpha must not move with the other losses (rail-berkeley/softlearning#60)
        ent_coef = th.exp(self.log_ent_coef.detach())
        return ent_coef, temperature_step(self.log_ent_coef, self.ent_coef_optimizer, neg_entropy, target_entropy)

    def _continuous_step(self, data: ReplayBufferSamples, target_entropy: float) -> Step:
        """SB3's SAC gradient step (same operations, same order, same random numbers)."""
        discounts = data.discounts if data.discounts is not None else self.gamma
        if self.use_sde:
            self.actor.reset_noise()
        actions_pi, log_prob = self.actor.action_log_prob(data.observations)
        log_prob = log_prob.reshape(-1, 1)
        ent_coef, ent_coef_loss = self._temperature(log_prob, target_entropy)
        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
            next_q = th.cat(self.critic_target(data.next_observations, next_actions), dim=1)
            next_q, _ = th.min(next_q, dim=1, keepdim=True)
            next_q = next_q - ent_coef * next_log_prob.reshape(-1, 1)
            target_q = data.rewards + (1 - data.dones) * discounts * next_q
        current_q = self.critic(data.observations, data.actions)
        critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current_q)
        assert isinstance(critic_loss, th.Tensor)
        self.critic.optimizer.zero_grad()
        critic_loss.backward()
        self.critic.optimizer.step()

        min_qf_pi, _ = th.min(th.cat(self.critic(data.observations, actions_pi), dim=1), dim=1, keepdim=True)
        actor_loss = (ent_coef * log_prob - min_qf_pi).mean()
        self.actor.optimizer.zero_grad()
        actor_loss.backward()
        self.actor.optimizer.step()
        q_mean = th.cat(current_q, dim=1).detach().mean()
        return Step(ent_coef, ent_coef_loss, critic_loss.detach(), actor_loss.detach(), -log_prob.detach().mean(), q_mean)

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        progress = self._current_progress_remaining
        target_entropy = check_target_entropy_at(float(self.target_entropy_schedule(progress)), progress, self.action_space)
        if self.ent_coef_schedule is not None:
            self.ent_coef_tensor.fill_(temperature_at(self.ent_coef_schedule, progress, "ent_coef"))
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers += [self.ent_coef_optimizer]
        self._update_learning_rate(optimizers)

        step = self._discrete_step if self.discrete else self._continuous_step
        steps = []
        for gradient_step in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            steps.append(step(data, target_entropy))
            if gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if not steps:
            return
        # one synchronisation for the whole window
        fields = [f for f in Step._fields if getattr(steps[0], f) is not None]
        columns = {f: th.stack([getattr(s, f).reshape(()) for s in steps]).mean() for f in fields}
        means = dict(zip(columns, th.stack(list(columns.values())).tolist(), strict=True))
        for key in ("critic_loss", "actor_loss", "ent_coef_loss"):
            # An overflowing loss can have finite gradients (the optimiser hooks pass them): say so.
            if key in means and not math.isfinite(means[key]):
                raise NonFiniteError(
                    f"SAC: train/{key} is {means[key]} in the update window ending at gradient step {self._n_updates}; "
                    "its gradients were finite (the parameters are too), but the loss overflowed: scale the "
                    "rewards down or lower learning_rate"
                )
        for key in ("ent_coef", "actor_loss", "critic_loss", "ent_coef_loss"):
            if key in means:
                self.logger.record(f"train/{key}", means[key])
        self.logger.record("train/entropy", means["entropy"])
        self.logger.record("train/target_entropy", target_entropy)
        self.logger.record("train/entropy_gap", means["entropy"] - target_entropy)
        self.logger.record("train/q_values", means["q_mean"])

    def learn(
        self: SelfSAC,
        total_timesteps: int = DEFAULT_TOTAL_TIMESTEPS,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfSAC:
        """SB3's ``learn``; ``total_timesteps`` defaults to ``DEFAULT_TOTAL_TIMESTEPS`` so that
        ``SAC("MlpPolicy", env).learn()`` works."""
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)
