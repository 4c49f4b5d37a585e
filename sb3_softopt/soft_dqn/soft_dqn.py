"""Soft Q-learning for discrete actions (SoftDQN), built on SB3's DQN.

The Q-function is trained towards the soft Bellman target

    y = r + gamma * (1 - done) * V_targ(s'),     V_targ(s') = alpha * logsumexp_a' Q_targ(s', a') / alpha

and the behaviour policy is the Boltzmann policy ``softmax(Q(s, .) / alpha)`` (the maximum-entropy
optimal policy of Q). ``alpha -> 0`` recovers DQN's ``max`` target and greedy policy. Everything
else (replay buffer, target network with ``target_update_interval``/``tau``, Huber loss, gradient
clipping, vectorised envs, timeout bootstrapping) is SB3's DQN, unchanged.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, ReplayBufferSamples
from stable_baselines3.common.type_aliases import Schedule as SB3Schedule
from stable_baselines3.dqn.dqn import DQN
from torch.nn import functional as F

from sb3_softopt.common.action_spaces import unsupported_action_space
from sb3_softopt.common.checkpoint import CheckpointLoadMixin
from sb3_softopt.common.checks import (
    check_off_policy_args,
    FiniteTransitionsMixin,
    check_discount,
    check_finite_loss,
    check_target_entropy,
    check_target_entropy_at,
    python_scalar,
)
from sb3_softopt.common.schedules import ScheduleLike
from sb3_softopt.common.validation import check_real
from sb3_softopt.common.temperature import (
    DEFAULT_TARGET_ENTROPY_RATIO,
    make_log_ent_coef,
    temperature_step,
    TemperatureConfig,
    parse_target_entropy,
    parse_temperature,
    temperature_at,
)
from sb3_softopt.soft_dqn.policies import (
    CnnPolicy,
    MlpPolicy,
    MultiInputPolicy,
    SoftDQNPolicy,
    boltzmann_log_probs,
    mean_boltzmann_entropy,
    soft_value,
)

SelfSoftDQN = TypeVar("SelfSoftDQN", bound="SoftDQN")

#: Budget of ``learn()`` when called without ``total_timesteps``.
DEFAULT_TOTAL_TIMESTEPS = 50_000
#: The Q-network's hidden layers unless ``policy_kwargs`` names ``net_arch`` (SAC's 2 x 256).
DEFAULT_NET_ARCH = [256, 256]

_SPACE_HINT = (
    "for MultiDiscrete or MultiBinary actions use sb3_softopt.EntropyPPO, for continuous (Box) actions "
    "sb3_softopt.SQL or sb3_softopt.SAC"
)


class SoftDQN(CheckpointLoadMixin, FiniteTransitionsMixin, DQN):
    """Soft Q-learning (maximum-entropy DQN) for ``Discrete`` action spaces.

    Paper: Haarnoja et al. 2017, "Reinforcement Learning with Deep Energy-Based Policies"
    (discrete-action form: Schulman et al. 2017, "Equivalence Between Policy Gradients and Soft
    Q-Learning"); Munchausen option: Vieillard et al. 2020, "Munchausen Reinforcement Learning".

    Target: ``y = r + gamma * (1 - done) * alpha * logsumexp(Q_targ(s', .) / alpha)``; exploration
    and ``predict(deterministic=False)`` sample ``softmax(Q / alpha)``; ``predict(deterministic=True)``
    is ``argmax Q``. There is no epsilon schedule (see ``exploration_eps`` for an optional floor).
    The defaults are SAC's off-policy settings (one gradient step of batch 256 per environment step,
    a Polyak target, 2 x 256 layers) with the soft double-Q target: chosen so that
    ``SoftDQN("MlpPolicy", "CartPole-v1").learn()`` solves the task (docs/soft_dqn.md, "Defaults").

    :param policy: The policy model to use ("MlpPolicy", "CnnPolicy", "MultiInputPolicy" or a
        :class:`SoftDQNPolicy` subclass)
    :param env: The environment to learn from (if registered in Gym, can be str); its action
        space must be ``Discrete``
    :param learning_rate: learning rate of the Q-network (and of ``log alpha`` when
        ``ent_coef="auto"``), a float or a function of the progress remaining (from 1 to 0)
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps to collect with uniformly random actions before learning starts
    :param batch_size: Minibatch size for each gradient update
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1), 1 for a hard update
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps, or a tuple like ``(5, "step")``
        or ``(2, "episode")``
    :param gradient_steps: How many gradient steps to do after each rollout (``-1``: as many as
        environment steps collected)
    :param replay_buffer_class: Replay buffer class to use. If ``None``, it is selected automatically.
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
    :param n_steps: n-step returns (SB3's ``NStepReplayBuffer``). The entropy bonus is only taken at
        the bootstrap state (the intermediate ``-alpha log pi`` terms are not added), which is the
        usual uncorrected off-policy n-step variant; keep 1 for the exact soft Bellman target.
    :param target_update_interval: update the target network every ``target_update_interval``
        environment steps
    :param ent_coef: the temperature alpha (SB3/SAC's name): a positive float, a schedule (a
        callable of ``progress_remaining`` or a string such as ``"lin_1.0_0.01"`` or
        ``"loglin_1.0_0.001"``, see :mod:`sb3_softopt.common.schedules`), or ``"auto"`` /
        ``"auto_<init>"`` to learn alpha so that the policy entropy tracks ``target_entropy``
    :param target_entropy: entropy (nats) that the automatic temperature aims for: a float, a
        schedule, or ``"auto"`` = ``DEFAULT_TARGET_ENTROPY_RATIO * log |A|`` (only used when
        ``ent_coef`` is ``"auto..."``)
    :param double_q: if True, the target value at ``s'`` is evaluated under the *online* network's
        Boltzmann policy (the soft analogue of Double DQN's online argmax):
        ``V(s') = sum_a pi_online(a|s') Q_targ(s', a) + alpha H(pi_online(.|s'))``; it reduces to
        Double DQN's target as ``alpha -> 0``
    :param munchausen_coef: ``alpha_m`` of Munchausen RL; 0 (default) disables it. When > 0 the
        reward is augmented with ``alpha_m * clip(alpha * log pi_targ(a|s), munchausen_clip, 0)``,
        turning SoftDQN into M-DQN (the paper uses 0.9)
    :param munchausen_clip: lower clipping bound ``l0 < 0`` of the Munchausen term (paper: -1)
    :param exploration_eps: optional epsilon floor: with this probability, ``predict(deterministic=False)``
        returns a uniformly random action instead of a Boltzmann sample (default 0, i.e. off)
    :param max_grad_norm: The maximum value for the gradient clipping
    :param stats_window_size: Window size for the rollout logging
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation; for the
        named policies (``"MlpPolicy"``, ...) ``net_arch`` defaults to ``DEFAULT_NET_ARCH`` (``[256, 256]``)
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
    policy: SoftDQNPolicy
    log_ent_coef: th.Tensor | None
    ent_coef_optimizer: th.optim.Optimizer | None

    def __init__(
        self,
        policy: str | type[SoftDQNPolicy],
        env: GymEnv | str,
        learning_rate: float | SB3Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        target_update_interval: int = 1,
        ent_coef: ScheduleLike = "auto",
        target_entropy: ScheduleLike = "auto",
        double_q: bool = True,
        munchausen_coef: float = 0.0,
        munchausen_clip: float = -1.0,
        exploration_eps: float = 0.0,
        max_grad_norm: float = 10,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        # Parse everything before the (possibly expensive) env and network construction so that
        # bad input fails fast with a message naming the parameter.
        # Numpy scalars (from optuna or numpy code) are kept as Python numbers.
        ent_coef, target_entropy = python_scalar(ent_coef), python_scalar(target_entropy)
        parse_temperature(ent_coef, name="ent_coef")
        parse_target_entropy(target_entropy, auto_value=0.0, name="target_entropy")
        gamma = check_discount(gamma)
        if not isinstance(double_q, (bool, np.bool_)):
            raise TypeError(f"double_q must be a bool, got {double_q!r}")
        munchausen_coef = check_real(munchausen_coef, "munchausen_coef", low=0.0, note="0: off")
        munchausen_clip = check_real(munchausen_clip, "munchausen_clip", high=0.0, high_open=True)
        exploration_eps = check_real(exploration_eps, "exploration_eps", low=0.0, high=1.0, note="0: off")
        if env is not None:
            # SB3 would only assert; give a clear error naming the space instead.
            env = maybe_make_env(env, verbose)
            if not isinstance(env.action_space, spaces.Discrete):
                # SB3's AssertionError and text, then the diagnosis (also a TypeError)
                raise unsupported_action_space(
                    env.action_space, (spaces.Discrete,), f"SoftDQN only supports Discrete action spaces; {_SPACE_HINT}"
                )

        self.ent_coef = ent_coef
        self.target_entropy = target_entropy
        self.double_q = bool(double_q)
        self.munchausen_coef = float(munchausen_coef)
        self.munchausen_clip = float(munchausen_clip)
        self.exploration_eps = float(exploration_eps)
        self.log_ent_coef = None
        self.ent_coef_optimizer = None

        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            n_steps=n_steps,
            target_update_interval=target_update_interval,
            # DQN's epsilon-greedy reduced to a constant (by default zero) floor.
            exploration_fraction=1.0,
            exploration_initial_eps=exploration_eps,
            exploration_final_eps=exploration_eps,
            max_grad_norm=max_grad_norm,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            # Set here rather than as the policy's default: SB3's load() replaces these kwargs with
            # the saved ones, so a model saved with 0.2's 2 x 64 default still loads as 2 x 64. A
            # policy class given by the caller (e.g. a composed policy) keeps its own defaults.
            policy_kwargs={"net_arch": list(DEFAULT_NET_ARCH), **(policy_kwargs or {})} if isinstance(policy, str) else policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        # DQN starts at 0 and only reads its schedule after the first env step; predict() before
        # learn() must already honour the floor.
        self.exploration_rate = self.exploration_eps
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ setup
    def _setup_model(self) -> None:
        check_off_policy_args(self.batch_size, self.buffer_size, self.learning_starts, self.tau, self.gradient_steps)
        n_actions = int(self.action_space.n)  # type: ignore[attr-defined]
        self.target_entropy_schedule = parse_target_entropy(
            self.target_entropy, auto_value=DEFAULT_TARGET_ENTROPY_RATIO * math.log(n_actions), name="target_entropy"
        )
        # Before the networks are built: the first point where the action space is known.
        check_target_entropy(self.target_entropy_schedule, self.action_space)
        super()._setup_model()
        self._temperature: TemperatureConfig = parse_temperature(self.ent_coef, name="ent_coef")
        if self._temperature.auto:
            init = self._temperature.init_value
            self.log_ent_coef, self.ent_coef_optimizer = make_log_ent_coef(init, self.lr_schedule(1), self.device)
        else:
            self.log_ent_coef = None
            self.ent_coef_optimizer = None
        self.policy.set_ent_coef(self._temperature.init_value)

    @property
    def auto_ent_coef(self) -> bool:
        """Whether alpha is learned (``ent_coef="auto..."``)."""
        return self._temperature.auto

    def current_ent_coef(self) -> float:
        """The temperature alpha the next update will use (learned value or schedule at the current progress)."""
        if self.log_ent_coef is not None:
            return float(self.log_ent_coef.detach().exp())
        assert self._temperature.schedule is not None
        return temperature_at(self._temperature.schedule, self._current_progress_remaining, "ent_coef")

    # ------------------------------------------------------------------ maths
    def compute_target_q(
        self, replay_data: ReplayBufferSamples, ent_coef: th.Tensor | float
    ) -> tuple[th.Tensor, th.Tensor]:
        """Soft Bellman target for a batch, without gradient.

        :param replay_data: a batch sampled from the replay buffer
        :param ent_coef: temperature alpha (> 0)
        :return: ``(target, next_value)``, both of shape (batch, 1): ``target = r' + gamma^n (1 - done) V(s')``
            where ``r'`` includes the Munchausen bonus if enabled
        """
        discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
        with th.no_grad():
            next_q_target = self.q_net_target(replay_data.next_observations)
            if self.double_q:
                # E_{pi_online}[Q_targ] + alpha H(pi_online): the Gibbs lower bound of the soft value,
                # tight when the online and target Boltzmann policies agree.
                log_pi = boltzmann_log_probs(self.q_net(replay_data.next_observations), ent_coef)
                probs = log_pi.exp()
                entropy = -th.special.xlogy(probs, probs).sum(dim=1, keepdim=True)
                next_value = (probs * next_q_target).sum(dim=1, keepdim=True) + ent_coef * entropy
            else:
                next_value = soft_value(next_q_target, ent_coef)
            rewards = replay_data.rewards
            if self.munchausen_coef > 0:
                q_target = self.q_net_target(replay_data.observations)
                # alpha * log pi(a|s) = Q(s, a) - V(s): exact and overflow-free.
                scaled_log_pi = q_target - soft_value(q_target, ent_coef)
                scaled_log_pi_a = th.gather(scaled_log_pi, dim=1, index=replay_data.actions.long())
                rewards = rewards + self.munchausen_coef * scaled_log_pi_a.clamp(min=self.munchausen_clip, max=0.0)
            if isinstance(discounts, float):
                # r + gamma (1 - done) V(s') as one fused op (two fewer per gradient step than DQN's form)
                target = th.addcmul(rewards, 1 - replay_data.dones, next_value, value=discounts)
            else:
                target = rewards + (1 - replay_data.dones) * discounts * next_value
        return target, next_value

    # ------------------------------------------------------------------ training
    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        optimizers: list[th.optim.Optimizer] = [self.policy.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        self._update_learning_rate(optimizers)

        progress = self._current_progress_remaining
        auto = self.log_ent_coef is not None
        if auto:
            assert self.ent_coef_optimizer is not None
            target_entropy = check_target_entropy_at(float(self.target_entropy_schedule(progress)), progress, self.action_space)
            ent_coef = self.current_ent_coef()
        else:
            ent_coef = self.current_ent_coef()
            self.policy.set_ent_coef(ent_coef)

        # Statistics are kept as tensors / floats and reduced once per call: no CPU sync per step.
        losses, current_qs, next_values, ent_coefs, entropies, ent_coef_losses = [], [], [], [], [], []
        for step in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            q_values = self.q_net(replay_data.observations)

            if auto or step == gradient_steps - 1:
                with th.no_grad():
                    # Exact entropy of the Boltzmann policy under the current alpha (for the fixed
                    # temperature: logging only, one batch per call).
                    entropies.append(mean_boltzmann_entropy(q_values, ent_coef))
            if auto:
                assert self.log_ent_coef is not None and self.ent_coef_optimizer is not None
                neg_entropy = th.full((1,), -entropies[-1], device=self.device)
                ent_coef_losses.append(temperature_step(self.log_ent_coef, self.ent_coef_optimizer, neg_entropy, target_entropy))
                ent_coef = float(self.log_ent_coef.detach().exp())
                ent_coefs.append(ent_coef)

            target_q_values, next_value = self.compute_target_q(replay_data, ent_coef)
            current_q_values = th.gather(q_values, dim=1, index=replay_data.actions.long())
            loss = F.smooth_l1_loss(current_q_values, target_q_values)
            # The data entering the buffer were checked; a non-finite loss means divergence, and stopping
            # before the step keeps every parameter finite.
            check_finite_loss("SoftDQN", "loss", loss.item(), self._n_updates + step)

            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

            losses.append(loss.detach())
            current_qs.append(current_q_values.detach())
            next_values.append(next_value)

        if auto:
            self.policy.set_ent_coef(ent_coef)
        self._n_updates += gradient_steps

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if gradient_steps > 0:
            self.logger.record("train/loss", th.stack(losses).mean().item())
            self.logger.record("train/ent_coef", float(np.mean(ent_coefs)) if auto else ent_coef)
            self.logger.record("train/entropy", float(np.mean(entropies)))
            self.logger.record("train/q_values", th.cat(current_qs).mean().item())
            self.logger.record("train/soft_value", th.cat(next_values).mean().item())
            if auto:
                self.logger.record("train/target_entropy", target_entropy)
                self.logger.record("train/ent_coef_loss", th.stack(ent_coef_losses).mean().item())

    def learn(
        self: SelfSoftDQN,
        total_timesteps: int = DEFAULT_TOTAL_TIMESTEPS,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SoftDQN",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfSoftDQN:
        """Train the model; as SB3's ``learn`` except that ``total_timesteps`` defaults to
        ``DEFAULT_TOTAL_TIMESTEPS`` (50,000 environment steps) so ``SoftDQN("MlpPolicy", env).learn()`` works.

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
        # the schedule is derived from ``target_entropy`` again in ``_setup_model`` on load
        return [*super()._excluded_save_params(), "log_ent_coef", "ent_coef_optimizer", "target_entropy_schedule"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, saved_variables = super()._get_torch_save_params()
        if self.ent_coef_optimizer is not None:
            state_dicts = [*state_dicts, "ent_coef_optimizer"]
            saved_variables = [*saved_variables, "log_ent_coef"]
        return state_dicts, saved_variables
