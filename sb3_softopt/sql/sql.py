"""Soft Q-learning for continuous actions (SQL): deep energy-based policies with an amortised SVGD sampler.

Haarnoja, Tang, Abbeel, Levine (2017), "Reinforcement Learning with Deep Energy-Based Policies",
Algorithm 1. The policy is the energy-based model of the soft Q-function itself,
``pi(a|s) ∝ exp(Q(s, a) / alpha)``, so it can have as many modes as Q has; a sampler network is
trained by Stein variational gradient descent to draw from it. Per gradient step:

* **critic**: ``0.5 * (Q(s, a) - y)^2`` with ``y = r + gamma * (1 - done) * V_targ(s')`` and
  ``V_targ(s') = alpha * (logsumexp_i Q_targ(s', a_i) / alpha - log M) + alpha * d * log 2``,
  ``a_i ~ U[-1, 1]^d`` (importance sampling with a uniform proposal over the squashed box);
* **sampler**: ``K`` particles per state, split into fixed and updated ones; the SVGD direction
  computed on the fixed ones for the target ``log p = Q / alpha + sum log(1 - a^2 + eps)`` is pushed
  into the sampler's parameters through the updated ones;
* **target network**: SB3's Polyak update every ``target_update_interval`` gradient steps.

Everything else (replay buffer, ``train_freq``, ``learning_starts`` with uniform random actions,
timeout bootstrapping, vectorised envs, n-step returns, callbacks, logging, save/load) is SB3's
``OffPolicyAlgorithm``, unchanged.

The official code (haarnoja/softqlearning) has no temperature: it scales the reward instead.
Dividing the soft Bellman equation by alpha shows the two are the same algorithm: SQL with
``ent_coef=alpha`` on reward ``r`` learns ``Q = alpha * Q'``, where ``Q'`` is what the official code
learns with ``reward_scale = 1 / alpha``, and both sample from the same policy.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, ReplayBufferSamples, Schedule
from stable_baselines3.common.utils import get_parameters_by_name, polyak_update
from torch.nn import functional as F

from sb3_softopt.common.checkpoint import CheckpointLoadMixin
from sb3_softopt.common.checks import check_off_policy_args, FiniteTransitionsMixin, check_discount, check_finite_loss
from sb3_softopt.common.schedules import Schedule as SoftoptSchedule
from sb3_softopt.common.schedules import ScheduleLike
from sb3_softopt.common.temperature import parse_temperature, temperature_at
from sb3_softopt.common.validation import check_int
from sb3_softopt.sql.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SQLPolicy, SVGDActor, particle_q_values
from sb3_softopt.sql.svgd import SVGD_SPACES, svgd_sampler_loss, uniform_soft_value

SelfSQL = TypeVar("SelfSQL", bound="SQL")

#: Budget of ``learn()`` when called without ``total_timesteps``.
DEFAULT_TOTAL_TIMESTEPS = 20_000


class SQL(CheckpointLoadMixin, FiniteTransitionsMixin, OffPolicyAlgorithm):
    """Soft Q-learning with an amortised Stein variational sampler, for ``Box`` action spaces.

    :param policy: The policy model to use ("MlpPolicy", "CnnPolicy", "MultiInputPolicy" or a
        :class:`SQLPolicy` subclass)
    :param env: The environment to learn from (if registered in Gym, can be str); its action
        space must be a ``Box``
    :param learning_rate: learning rate of the critic and of the sampler (Adam), a float or a
        function of the progress remaining (from 1 to 0)
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps to collect with uniformly random actions before learning starts
    :param batch_size: Minibatch size for each gradient update (default 128, the official code's
        MuJoCo setting: every state carries ``value_n_particles + kernel_n_particles`` actions)
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1); 1 with
        ``target_update_interval=N`` is the official code's hard copy every N steps
    :param gamma: the discount factor, in (0, 1]
    :param train_freq: Update the model every ``train_freq`` steps, or a tuple like ``(5, "step")``
        or ``(2, "episode")``
    :param gradient_steps: How many gradient steps to do after each rollout (``-1``: as many as
        environment steps collected)
    :param action_noise: noise added to the sampler's actions during collection (rarely useful:
        the sampler explores by itself)
    :param replay_buffer_class: Replay buffer class to use. If ``None``, it is selected automatically.
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
    :param n_steps: n-step returns (SB3's ``NStepReplayBuffer``); the soft value enters only at
        the bootstrap state, so keep 1 for the exact soft Bellman target
    :param ent_coef: the temperature alpha > 0: a float or a schedule (a callable of
        ``progress_remaining`` or a string such as ``"loglin_1_0.01"``, see
        :mod:`sb3_softopt.common.schedules`). ``"auto"`` is refused: the sampler's entropy has no
        closed form to steer. Equivalent to the official code's ``reward_scale = 1 / alpha``.
    :param value_n_particles: ``M``, uniform actions per next state in the soft-value estimate (>= 2)
    :param kernel_n_particles: ``K``, sampler particles per state in the SVGD update
    :param kernel_update_ratio: fraction of the ``K`` particles that are updated (the rest, at least
        2, estimate the direction), in (0, 1)
    :param svgd_space: ``"pre_tanh"`` (default): SVGD runs on the sampler's pre-tanh outputs ``u``,
        where ``Q(tanh u) / alpha + sum log(1 - tanh(u)^2)`` is the exact log-density whose image
        ``tanh(u)`` is ``∝ exp(Q / alpha)``; ``"action"``: on the squashed actions with the same
        formula, as the official code does, which samples ``∝ exp(Q / alpha) * prod(1 - a^2)``
        instead (a bias towards the centre of the box; docs/sql.md measures it)
    :param target_update_interval: update the target network every ``target_update_interval``
        gradient steps
    :param stats_window_size: Window size for the rollout logging
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 for no output, 1 for info messages, 2 for debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    policy: SQLPolicy
    actor: SVGDActor

    def __init__(
        self,
        policy: str | type[SQLPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 128,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        ent_coef: ScheduleLike = 1.0,
        value_n_particles: int = 16,
        kernel_n_particles: int = 16,
        kernel_update_ratio: float = 0.5,
        svgd_space: str = "pre_tanh",
        target_update_interval: int = 1,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        # Everything is checked before the env and the networks are built, so bad input fails
        # fast with a message naming the parameter.
        self.ent_coef = ent_coef.item() if isinstance(ent_coef, np.generic) else ent_coef
        self._ent_coef_schedule = self._parse_ent_coef(self.ent_coef)
        self.value_n_particles = check_int(value_n_particles, "value_n_particles", low=2)
        self.kernel_n_particles = check_int(kernel_n_particles, "kernel_n_particles", low=3)
        ratio = float(kernel_update_ratio) if isinstance(kernel_update_ratio, (int, float, np.number)) else math.nan
        if not 0.0 < ratio < 1.0:
            raise ValueError(f"kernel_update_ratio must be in (0, 1), got {kernel_update_ratio!r}")
        self.kernel_update_ratio = ratio
        self.n_updated_particles = int(self.kernel_n_particles * ratio)
        self.n_fixed_particles = self.kernel_n_particles - self.n_updated_particles
        if self.n_updated_particles < 1 or self.n_fixed_particles < 2:
            raise ValueError(
                f"kernel_n_particles={kernel_n_particles} with kernel_update_ratio={kernel_update_ratio} gives "
                f"{self.n_updated_particles} updated and {self.n_fixed_particles} fixed particles; SVGD needs at "
                "least 1 updated and 2 fixed ones (the kernel bandwidth divides by log(n_fixed))"
            )
        if svgd_space not in SVGD_SPACES:
            raise ValueError(f"svgd_space must be one of {SVGD_SPACES}, got {svgd_space!r}")
        self.svgd_space = svgd_space
        self.target_update_interval = check_int(target_update_interval, "target_update_interval", low=1)
        gamma = check_discount(gamma)
        if env is not None:
            # SB3 would only assert; give a clear error naming the space instead.
            env = maybe_make_env(env, verbose)
            if not isinstance(env.action_space, spaces.Box):
                raise TypeError(
                    f"SQL needs a continuous action space: env.action_space must be a gymnasium.spaces.Box, "
                    f"got {env.action_space!r} (for Discrete actions use sb3_softopt.SoftDQN, for "
                    "MultiDiscrete ones sb3_softopt.EntropyPPO)"
                )

        super().__init__(
            policy,
            env,
            learning_rate,
            buffer_size,
            learning_starts,
            batch_size,
            tau,
            float(gamma),
            train_freq,
            gradient_steps,
            action_noise,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            n_steps=n_steps,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            sde_support=False,
            supported_action_spaces=(spaces.Box,),
            support_multi_env=True,
        )
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _parse_ent_coef(ent_coef: ScheduleLike) -> SoftoptSchedule:
        if isinstance(ent_coef, str) and ent_coef.strip().lower().startswith("auto"):
            raise ValueError(
                f"ent_coef={ent_coef!r}: SQL has no automatic temperature (its sampler has no density, so "
                "there is no entropy to steer); give a positive float or a schedule such as 'loglin_1_0.01'"
            )
        temperature = parse_temperature(ent_coef, name="ent_coef")
        assert temperature.schedule is not None
        return temperature.schedule

    def _setup_model(self) -> None:
        check_off_policy_args(self.batch_size, self.buffer_size, self.learning_starts, self.tau, self.gradient_steps)
        super()._setup_model()
        self.actor = self.policy.actor
        self.critic = self.policy.critic
        self.critic_target = self.policy.critic_target
        self.batch_norm_stats = get_parameters_by_name(self.critic, ["running_"])
        self.batch_norm_stats_target = get_parameters_by_name(self.critic_target, ["running_"])
        self._ent_coef_schedule = self._parse_ent_coef(self.ent_coef)
        self.action_dim = get_action_dim(self.action_space)

    def current_ent_coef(self) -> float:
        """The temperature alpha at the current progress (what the next update uses)."""
        return temperature_at(self._ent_coef_schedule, self._current_progress_remaining, "ent_coef")

    # ------------------------------------------------------------------ the two losses
    def critic_loss(self, replay_data: ReplayBufferSamples, ent_coef: float) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """Soft Bellman error of the critic on a batch.

        :return: ``(loss, Q(s, a), V_targ(s'))``, the last two detached, shape (batch, 1)
        """
        discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
        with th.no_grad():
            batch = replay_data.rewards.shape[0]
            uniform = 2.0 * th.rand(batch, self.value_n_particles, self.action_dim, device=self.device) - 1.0
            next_q = particle_q_values(self.critic_target, replay_data.next_observations, uniform)
            next_value = uniform_soft_value(next_q, ent_coef, self.action_dim)
            target = replay_data.rewards + (1 - replay_data.dones) * discounts * next_value
        current_q = self.critic(replay_data.observations, replay_data.actions)[0]
        return 0.5 * F.mse_loss(current_q, target), current_q.detach(), next_value

    def sampler_loss(self, observations: PyTorchObs, ent_coef: float) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """SVGD surrogate of the sampler towards ``exp(Q(s, .) / alpha)`` (see :func:`svgd_sampler_loss`)."""
        return svgd_sampler_loss(
            self.actor,
            observations,
            lambda actions: particle_q_values(self.critic, observations, actions) / ent_coef,
            n_fixed=self.n_fixed_particles,
            n_updated=self.n_updated_particles,
            space=self.svgd_space,
        )

    # ------------------------------------------------------------------ training
    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate([self.actor.optimizer, self.critic.optimizer])
        ent_coef = self.current_ent_coef()

        # Kept as tensors and synchronised once per call, not once per gradient step.
        stats = []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]

            critic_loss, current_q, next_value = self.critic_loss(replay_data, ent_coef)
            # Checked before each step so that a diverging update never reaches the parameters.
            check_finite_loss("SQL", "critic_loss", critic_loss.item(), self._n_updates)
            self.critic.optimizer.zero_grad()
            critic_loss.backward()
            self.critic.optimizer.step()

            actor_loss, bandwidth, spread = self.sampler_loss(replay_data.observations, ent_coef)
            check_finite_loss("SQL", "actor_loss", actor_loss.item(), self._n_updates)
            self.actor.optimizer.zero_grad()
            actor_loss.backward()
            self.actor.optimizer.step()

            self._n_updates += 1
            if self._n_updates % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                # Copy running stats, see SB3 GH issue #996
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
            stats.append(
                th.stack([critic_loss.detach(), actor_loss.detach(), current_q.mean(), next_value.mean(), bandwidth.mean(), spread])
            )

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/ent_coef", ent_coef)
        if stats:
            critic_loss_, actor_loss_, q_values, soft_value, bandwidth_, spread_ = th.stack(stats).mean(dim=0).tolist()
            self.logger.record("train/critic_loss", critic_loss_)
            self.logger.record("train/actor_loss", actor_loss_)
            self.logger.record("train/q_values", q_values)
            self.logger.record("train/soft_value", soft_value)
            self.logger.record("train/kernel_bandwidth", bandwidth_)
            self.logger.record("train/particle_std", spread_)

    def learn(
        self: SelfSQL,
        total_timesteps: int = DEFAULT_TOTAL_TIMESTEPS,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SQL",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfSQL:
        """Train the model; as SB3's ``learn`` except that ``total_timesteps`` defaults to
        ``DEFAULT_TOTAL_TIMESTEPS`` (20,000 environment steps) so ``SQL("MlpPolicy", env).learn()`` works.

        :param total_timesteps: number of environment steps to train for (summed over the vectorised envs)
        :param callback: callback(s) called at every step with state of the algorithm
        :param log_interval: log every ``log_interval`` episodes
        :param tb_log_name: the name of the run for TensorBoard logging
        :param reset_num_timesteps: whether or not to reset the current timestep number (used in logging)
        :param progress_bar: Display a progress bar using tqdm and rich
        :return: the trained model
        """
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


    # ------------------------------------------------------------------ save / load
    def _excluded_save_params(self) -> list[str]:
        # ``_ent_coef_schedule`` is parsed again from ``ent_coef`` on load.
        return [*super()._excluded_save_params(), "actor", "critic", "critic_target", "_ent_coef_schedule"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "actor.optimizer", "critic.optimizer"], []


__all__ = ["DEFAULT_TOTAL_TIMESTEPS", "SQL", "SVGD_SPACES"]
