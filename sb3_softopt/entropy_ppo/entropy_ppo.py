"""EntropyPPO: PPO on the maximum-entropy ("soft") return.

The max-entropy objective ``sum_t E[r_t + alpha * H(pi(.|s_t))]`` has the policy gradient
``E[grad log pi(a_t|s_t) * (Q_soft(s_t, a_t) - b(s_t))]`` where the soft return is built from
the *soft reward* ``r_t - alpha * log pi(a_t|s_t)``. SB3's PPO only has a loss bonus
(``ent_coef * H``) that rewards entropy at the states visited now; it never values *reaching*
states where the policy can stay random. EntropyPPO puts the entropy into the return:

* during collection SB3 already stores ``log pi(a_t|s_t)`` in the rollout buffer;
* once the rollout is complete (after SB3 folded ``gamma * V(terminal_obs)`` into the reward of
  truncated steps) and *before* GAE, the stored rewards become ``r_t - alpha * log pi(a_t|s_t)``;
* GAE, the value targets (the critic learns the soft value) and PPO's update are unchanged.

Naming: SoftDQN and SAC call the temperature ``ent_coef``; in PPO that name is already the
loss-bonus coefficient. EntropyPPO therefore keeps ``ent_coef`` with PPO's meaning and calls the
temperature of the soft return ``soft_ent_coef`` (alpha). Both can be used together.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from sb3_softopt.common.checkpoint import CheckpointLoadMixin
from sb3_softopt.common.checks import (
    NonFiniteError,
    check_discount,
    check_finite_rollout,
    check_target_entropy,
    check_target_entropy_at,
    grad_check_hook,
    python_scalar,
)
from sb3_softopt.common.schedules import ScheduleLike, check_schedule_range, make_schedule
from sb3_softopt.common.temperature import DEFAULT_TARGET_ENTROPY_RATIO, parse_target_entropy, parse_temperature, temperature_at
from sb3_softopt.entropy_ppo.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

SelfEntropyPPO = TypeVar("SelfEntropyPPO", bound="EntropyPPO")

#: Budget used by ``EntropyPPO(...).learn()`` when no ``total_timesteps`` is given.
DEFAULT_TOTAL_TIMESTEPS = 100_000



def default_target_entropy(action_space: spaces.Space) -> float:
    """The ``target_entropy="auto"`` value, in nats.

    Discrete spaces: :data:`DEFAULT_TARGET_ENTROPY_RATIO` (0.3, as SoftDQN) times the entropy of
    the uniform policy, per component. Box: ``-dim(A)`` as in SAC.

    :param action_space: the environment's action space
    """
    if isinstance(action_space, spaces.Discrete):
        return DEFAULT_TARGET_ENTROPY_RATIO * math.log(int(action_space.n))
    if isinstance(action_space, spaces.MultiDiscrete):
        return DEFAULT_TARGET_ENTROPY_RATIO * float(np.sum(np.log(action_space.nvec.astype(np.float64))))
    if isinstance(action_space, spaces.MultiBinary):
        return DEFAULT_TARGET_ENTROPY_RATIO * float(np.prod(action_space.shape)) * math.log(2.0)
    if isinstance(action_space, spaces.Box):
        return -float(np.prod(action_space.shape))
    raise TypeError(f"no default target entropy for action space {action_space}")


class EntropyPPO(CheckpointLoadMixin, PPO):
    """Proximal Policy Optimization on soft returns (maximum-entropy RL).

    Same constructor as SB3's :class:`~stable_baselines3.PPO` plus the temperature of the soft
    return. Only the new parameters are documented here; see PPO for the others.

    :param policy: the policy model ("MlpPolicy", "CnnPolicy", "MultiInputPolicy")
    :param env: the environment to learn from (if registered in Gymnasium, can be a str)
    :param soft_ent_coef: temperature alpha of the soft reward ``r - alpha * log pi(a|s)``.
        A float >= 0 (0 turns the extension off: EntropyPPO is then exactly PPO), a schedule of
        ``progress_remaining`` (a callable or a string such as ``"lin_0.1_0.001"``,
        ``"loglin_0.1_0.001"``), or ``"auto"`` / ``"auto_<init>"`` to tune alpha against
        ``target_entropy``. Not to be confused with ``ent_coef``, PPO's loss bonus.
    :param target_entropy: the entropy (nats, mean over visited states) that ``"auto"`` tunes
        alpha towards: a float, a schedule, or ``"auto"`` (see :func:`default_target_entropy`).
        Ignored unless ``soft_ent_coef`` is ``"auto"``.
    :param soft_ent_coef_lr: Adam learning rate (float or schedule) of ``log(alpha)`` when it is
        tuned; alpha takes one step per rollout, between rollouts.
    :param analytic_entropy: use the analytic entropy ``+ alpha * H(pi(.|s_t))`` instead of the
        sampled ``- alpha * log pi(a_t|s_t)`` in the reward. It has lower variance but gives no
        credit to the action taken at ``s_t`` for the entropy of ``s_t`` itself, so the gradient of
        the current state's entropy must come from the loss bonus ``ent_coef``. Needs a
        distribution with a closed-form entropy (not squashed Gaussians).
    :param ent_coef: PPO's entropy bonus in the loss (unchanged meaning)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 2048,
        batch_size: int = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        soft_ent_coef: ScheduleLike = 0.01,
        target_entropy: ScheduleLike = "auto",
        soft_ent_coef_lr: ScheduleLike = 0.02,
        analytic_entropy: bool = False,
        _init_setup_model: bool = True,
    ):
        # Fail on bad temperatures before an environment is built.
        soft_ent_coef, target_entropy = python_scalar(soft_ent_coef), python_scalar(target_entropy)
        soft_ent_coef_lr = python_scalar(soft_ent_coef_lr)
        gamma = check_discount(gamma)
        parse_temperature(soft_ent_coef, name="soft_ent_coef", allow_zero=True)
        if not (isinstance(target_entropy, str) and target_entropy.strip().lower() == "auto"):
            parse_target_entropy(target_entropy, auto_value=0.0)
        check_schedule_range(make_schedule(soft_ent_coef_lr, name="soft_ent_coef_lr"), "soft_ent_coef_lr", positive=True)
        if not isinstance(analytic_entropy, bool):
            raise TypeError(f"analytic_entropy must be a bool, got {analytic_entropy!r}")
        self.soft_ent_coef = soft_ent_coef
        self.target_entropy = target_entropy
        self.soft_ent_coef_lr = soft_ent_coef_lr
        self.analytic_entropy = analytic_entropy
        self.log_soft_ent_coef: th.Tensor | None = None
        self._train_record: dict[str, float] = {}
        self.soft_ent_coef_optimizer: th.optim.Adam | None = None

        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=clip_range,
            clip_range_vf=clip_range_vf,
            normalize_advantage=normalize_advantage,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            target_kl=target_kl,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        # Also runs on ``load`` (with the attributes restored from the archive), so the parsed
        # forms are rebuilt from the raw arguments and the torch state is loaded afterwards.
        self.target_entropy_schedule = parse_target_entropy(
            self.target_entropy, auto_value=default_target_entropy(self.action_space)
        )
        check_target_entropy(self.target_entropy_schedule, self.action_space)
        super()._setup_model()
        # PPO's loop is SB3's: its loss is out of reach, so non-finite gradients are refused
        # before the optimiser moves the parameters.
        self.policy.optimizer.register_step_pre_hook(grad_check_hook("EntropyPPO", lambda: self._n_updates))
        self._temperature = parse_temperature(self.soft_ent_coef, name="soft_ent_coef", allow_zero=True)
        self.soft_ent_coef_lr_schedule = make_schedule(self.soft_ent_coef_lr, name="soft_ent_coef_lr")
        if self._temperature.auto:
            init = self._temperature.init_value
            self.log_soft_ent_coef = th.log(th.ones(1, device=self.device) * init).requires_grad_(True)
            self.soft_ent_coef_optimizer = th.optim.Adam(
                [self.log_soft_ent_coef], lr=self.soft_ent_coef_lr_schedule(1.0)
            )
        else:
            self.log_soft_ent_coef = None
            self.soft_ent_coef_optimizer = None

    def current_ent_coef(self) -> float:
        """The temperature alpha (``soft_ent_coef``) that the next soft rewards will use: the name
        every algorithm of the package gives its current alpha."""
        return self.current_soft_ent_coef()

    def current_soft_ent_coef(self) -> float:
        """The temperature alpha that the next soft rewards will use (also :meth:`current_ent_coef`)."""
        if self.log_soft_ent_coef is not None:
            return float(th.exp(self.log_soft_ent_coef.detach()).item())
        assert self._temperature.schedule is not None
        return temperature_at(self._temperature.schedule, self._current_progress_remaining, "soft_ent_coef", allow_zero=True)

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        # SB3's collection loop runs unchanged (every buffer class, SB3's own fixes), including its
        # GAE on the plain rewards. The callback SB3 receives is a proxy whose ``on_rollout_end``
        # (SB3 calls it right after GAE) first forms the soft rewards and runs GAE again from the same
        # last observation and episode starts, then hands over to the user's callback, which thus
        # sees the buffer ``train()`` will use.
        try:
            return super().collect_rollouts(env, _SoftRolloutEnd(self, callback, rollout_buffer), rollout_buffer, n_rollout_steps)
        except ValueError as exc:
            # A non-finite observation makes the next action's distribution fail inside torch
            # ("Expected parameter logits ..."); name the observation instead.
            try:
                self._check_finite_rollout(rollout_buffer)
            except NonFiniteError as nonfinite:
                raise nonfinite from exc
            raise

    def _soften_rollout(self, rollout_buffer: RolloutBuffer) -> None:
        """Soft rewards on the full buffer, and GAE again when they changed the rewards."""
        self._check_finite_rollout(rollout_buffer)
        if self._apply_soft_rewards(rollout_buffer):
            with th.no_grad():
                last_values = self.policy.predict_values(obs_as_tensor(self._last_obs, self.device))  # type: ignore[arg-type]
            rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=self._last_episode_starts)  # type: ignore[arg-type]

    def _check_finite_rollout(self, rollout_buffer: RolloutBuffer) -> None:
        n_filled = rollout_buffer.buffer_size if rollout_buffer.full else rollout_buffer.pos
        check_finite_rollout(
            "EntropyPPO", rollout_buffer.rewards, rollout_buffer.observations, n_filled, self._last_obs, self.num_timesteps
        )

    def _rollout_entropies(self, rollout_buffer: RolloutBuffer) -> np.ndarray:
        """Analytic entropy ``H(pi(.|s_t))`` of every stored observation, shape (n_steps, n_envs)."""
        n_steps, n_envs = rollout_buffer.buffer_size, rollout_buffer.n_envs
        observations = rollout_buffer.observations
        if isinstance(observations, dict):
            obs: Any = {k: rollout_buffer.to_torch(v.reshape(n_steps * n_envs, *v.shape[2:])) for k, v in observations.items()}
        else:
            obs = rollout_buffer.to_torch(observations.reshape(n_steps * n_envs, *observations.shape[2:]))
        with th.no_grad():
            entropy = self.policy.get_distribution(obs).entropy()
        if entropy is None:
            raise ValueError(
                "analytic_entropy=True needs a distribution with a closed-form entropy; "
                f"{type(self.policy.action_dist).__name__} has none (use analytic_entropy=False)"
            )
        return entropy.cpu().numpy().reshape(n_steps, n_envs)

    def _apply_soft_rewards(self, rollout_buffer: RolloutBuffer) -> bool:
        """Turn the stored rewards into soft rewards, then (auto) tune alpha on this rollout.
        Returns whether the rewards changed (GAE has to run again).

        Called on a full buffer before GAE. The truncation bootstrap ``gamma * V(s_T)`` that SB3
        added to a truncated step's reward is already a soft value (the critic learns soft
        values), so the soft term is added once, to every step, whatever its ending.
        """
        alpha = self.current_soft_ent_coef()
        if self.analytic_entropy:
            if alpha > 0.0 or self.log_soft_ent_coef is not None:
                bonus = self._rollout_entropies(rollout_buffer)
            else:
                bonus = None
        else:
            bonus = -rollout_buffer.log_probs
        # ``alpha == 0`` must leave PPO bit-for-bit unchanged (and 0 * inf would be nan).
        changed = False
        if alpha > 0.0 and bonus is not None:
            changed = True
            rollout_buffer.rewards += (alpha * bonus).astype(rollout_buffer.rewards.dtype, copy=False)

        entropy = float(np.mean(bonus)) if bonus is not None else float(np.mean(-rollout_buffer.log_probs))
        # SB3 dumps the logs between collection and ``train()``: values of this rollout's update are
        # recorded in ``train()``, so that a row holds one update's entropy, temperature and losses.
        self._train_record = {"train/entropy": entropy, "train/soft_ent_coef": alpha}
        self.logger.record("rollout/soft_reward_mean", float(np.mean(rollout_buffer.rewards)))

        if self.soft_ent_coef_optimizer is not None and self.log_soft_ent_coef is not None:
            progress = self._current_progress_remaining
            target = check_target_entropy_at(float(self.target_entropy_schedule(progress)), progress, self.action_space)
            for group in self.soft_ent_coef_optimizer.param_groups:
                group["lr"] = float(self.soft_ent_coef_lr_schedule(progress))
            # Dual descent as in SAC: d loss / d log(alpha) = H - target, so alpha falls while the
            # policy is more random than the target and rises when it is more deterministic.
            loss = self.log_soft_ent_coef * (entropy - target)
            self.soft_ent_coef_optimizer.zero_grad()
            loss.sum().backward()
            self.soft_ent_coef_optimizer.step()
            self._train_record.update({"train/target_entropy": target, "train/soft_ent_coef_loss": float(loss.detach().sum())})
        return changed

    def train(self) -> None:
        for key, value in self._train_record.items():
            self.logger.record(key, value)
        self._train_record = {}
        super().train()
        # PPO's losses are local to SB3's loop, which logs their means. An infinite loss can leave
        # the parameters finite (the clipped gradient norm is inf, the update zero) while nothing
        # is learned; the optimiser hook has already stopped the NaN case.
        for key in ("train/loss", "train/policy_gradient_loss", "train/value_loss", "train/entropy_loss"):
            logged = self.logger.name_to_value.get(key)
            if logged is not None and not math.isfinite(logged):
                raise NonFiniteError(
                    f"EntropyPPO: {key} is {logged} in the update at timestep {self.num_timesteps}; the rollout's "
                    "rewards and observations were finite, so the losses overflowed: scale the rewards down "
                    "(e.g. VecNormalize) or lower learning_rate"
                )

    def learn(
        self: SelfEntropyPPO,
        total_timesteps: int = DEFAULT_TOTAL_TIMESTEPS,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "EntropyPPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfEntropyPPO:
        """Train; ``total_timesteps`` defaults to :data:`DEFAULT_TOTAL_TIMESTEPS` (100k)."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_train_record"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()
        if self.soft_ent_coef_optimizer is not None:
            return [*state_dicts, "soft_ent_coef_optimizer"], [*variables, "log_soft_ent_coef"]
        return state_dicts, variables


class _SoftRolloutEnd(BaseCallback):
    """What SB3's ``collect_rollouts`` calls, forwarded to the user's callback, with the soft rewards
    formed at the end of the rollout before that callback's ``on_rollout_end``."""

    def __init__(self, algo: EntropyPPO, inner: BaseCallback, rollout_buffer: RolloutBuffer) -> None:
        super().__init__()
        self.algo, self.inner, self.rollout_buffer = algo, inner, rollout_buffer

    def on_rollout_start(self) -> None:
        self.inner.on_rollout_start()

    def on_step(self) -> bool:
        return self.inner.on_step()

    def _on_step(self) -> bool:  # abstract in BaseCallback; ``on_step`` above forwards instead
        return True

    def update_locals(self, locals_: dict[str, Any]) -> None:
        self.inner.update_locals(locals_)

    def on_rollout_end(self) -> None:
        self.algo._soften_rollout(self.rollout_buffer)
        self.inner.on_rollout_end()


__all__: list[str] = ["DEFAULT_TARGET_ENTROPY_RATIO", "DEFAULT_TOTAL_TIMESTEPS", "EntropyPPO", "default_target_entropy"]
