"""Checks shared by the algorithms: their argument ranges, non-finite data and non-finite losses.

Scalar arguments are checked with :mod:`sb3_softopt.common.validation` (one message format).

The data checks run on arrays the algorithms already hold (the transition being stored, the
filled rollout buffer) and cost one vectorised ``isfinite`` each; docs/benchmarks.md measures
them. They name what was non-finite and where it came from, and point to SB3's
:class:`~stable_baselines3.common.vec_env.VecCheckNan`, which stops at the exact env step.
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Iterator, Mapping

import numpy as np
import torch as th
from gymnasium import spaces

# is_real and python_scalar are imported from here by the algorithms
from sb3_softopt.common.validation import check_int, check_real, is_integer
from sb3_softopt.common.validation import is_real as is_real
from sb3_softopt.common.validation import python_scalar as python_scalar

#: A temperature has to be a normal, finite float32 (SAC and the learned ``log alpha`` hold it so).
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
FLOAT32_MAX = float(np.finfo(np.float32).max)

_VEC_CHECK_NAN = (
    "wrap the env in stable_baselines3.common.vec_env.VecCheckNan(venv, raise_exception=True) to stop at the "
    "exact step that produced it"
)


class NonFiniteError(FloatingPointError):
    """A reward, an observation or a loss is NaN or infinite."""


def check_discount(gamma: Any, name: str = "gamma") -> float:
    """The discount factor as a float in (0, 1].

    :raises ValueError: out of range or not a number
    """
    return check_real(gamma, name, low=0.0, high=1.0, low_open=True)


def check_off_policy_args(batch_size: Any, buffer_size: Any, learning_starts: Any, tau: Any, gradient_steps: Any) -> None:
    """The replay settings SB3 takes unchecked, refused at construction with their ranges (a
    ``batch_size`` of 0 used to end in a ``ZeroDivisionError`` or a "diverging loss" much later).

    :raises ValueError: naming the argument, its value and its valid range
    """
    check_int(batch_size, "batch_size", low=1)
    check_int(buffer_size, "buffer_size", low=1)
    check_int(learning_starts, "learning_starts", low=0)
    if not (is_integer(gradient_steps) and gradient_steps == -1):
        check_int(gradient_steps, "gradient_steps", low=0, note="or -1: as many as environment steps")
    check_real(tau, "tau (the soft-update coefficient)", low=0.0, high=1.0)


def check_discrete_sac_options(q_target: Any, q_clip: Any, entropy_penalty: Any, critic_ent_coef: Any) -> list[str]:
    """Validate discrete SAC's step options; return the names of those not at their defaults.

    :raises ValueError: ``q_target`` not ``"min"``/``"mean"``, ``q_clip`` not ``None`` or a finite
        number > 0, ``entropy_penalty`` not a finite number >= 0, ``critic_ent_coef`` not ``None``
        or a finite number >= 0
    """
    if q_target not in ("min", "mean"):
        raise ValueError(f"q_target must be 'min' or 'mean', got {q_target!r}")

    if q_clip is not None:
        check_real(q_clip, "q_clip", low=0.0, low_open=True, note="or None: off")
    check_real(entropy_penalty, "entropy_penalty", low=0.0, note="0: off")
    if critic_ent_coef is not None:
        check_real(critic_ent_coef, "critic_ent_coef", low=0.0, note="or None: the actor's alpha")
    values = {"q_target": q_target, "q_clip": q_clip, "entropy_penalty": entropy_penalty, "critic_ent_coef": critic_ent_coef}
    defaults = {"q_target": "min", "q_clip": None, "entropy_penalty": 0, "critic_ent_coef": None}
    return [f"{name}={value!r}" for name, value in values.items() if value != defaults[name]]


def max_entropy(action_space: spaces.Space) -> float | None:
    """The entropy (nats) of the uniform policy on a discrete-type space; ``None`` for ``Box``."""
    if isinstance(action_space, spaces.Discrete):
        return math.log(int(action_space.n))
    if isinstance(action_space, spaces.MultiDiscrete):
        return float(np.sum(np.log(action_space.nvec.astype(np.float64))))
    if isinstance(action_space, spaces.MultiBinary):
        return float(np.prod(action_space.shape)) * math.log(2.0)
    return None


def check_target_entropy(schedule: Any, action_space: spaces.Space, name: str = "target_entropy") -> None:
    """Reject a discrete target entropy that no policy can reach.

    A policy's entropy on a discrete space lies in [0, log |A|]; against a target outside
    (0, log |A|) the learned temperature moves by about its learning rate at every update,
    for ever, until the soft value overflows. Checked at the schedule's ends and midpoint.

    :param schedule: a callable of ``progress_remaining``
    :param action_space: the algorithm's action space (``Box`` targets are not bounded)
    :param name: the parameter's name for the message
    :raises ValueError: a value outside (0, log |A|)
    """
    for p in (1.0, 0.5, 0.0):
        check_target_entropy_at(float(schedule(p)), p, action_space, name)


def check_target_entropy_at(value: float, progress: float, action_space: spaces.Space, name: str = "target_entropy") -> float:
    """:func:`check_target_entropy` for one value, the schedule's at ``progress`` (remaining):
    what the algorithms call at every update, so that a schedule that leaves the range between
    the checked points is caught where it is used.

    :returns: ``value``
    :raises ValueError: a value outside (0, log |A|) on a discrete-type space
    """
    upper = max_entropy(action_space)
    if upper is None or upper == 0.0:  # Box, or a single action: nothing to steer
        return value
    if not 0.0 < value < upper:
        raise ValueError(
            f"{name}={value!r} (at progress_remaining={progress:.6g}) is outside (0, {upper:.6g}), the open range of "
            f"entropies of a policy on {action_space!r} (0: deterministic, {upper:.6g} = its log-size: "
            "uniform); a learned temperature would drift for ever towards an unreachable target "
            "(a SAC-style negative target only applies to Box actions)"
        )
    return value


def _float_arrays(observations: np.ndarray | Mapping[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    items = observations.items() if isinstance(observations, Mapping) else (("", observations),)
    for key, value in items:
        array = np.asarray(value)
        if array.dtype.kind in "fc":  # integer and bool observations (images) are always finite
            yield key, array


#: Arrays up to this size are checked with Python floats.
_SMALL = 64


def _finite(array: np.ndarray) -> bool:
    """Whether every entry is finite: a sum is finite iff every term is (a float64 sum that overflows
    only sends the caller to its exact check). Small arrays (one step of vectorised envs) are summed
    in Python, which costs a fifth of a numpy call."""
    if array.dtype.kind not in "fc":
        return True
    if array.size <= _SMALL:
        return math.isfinite(sum(array.ravel().tolist()))
    return math.isfinite(array.sum(dtype=np.float64))


def _first_bad(array: np.ndarray) -> np.ndarray | None:
    """Index of the first non-finite entry, or ``None``; one ``isfinite`` when all is well."""
    finite = np.isfinite(array)
    if finite.all():
        return None
    return np.argwhere(~finite)[0]


def _data_error(algo: str, what: str, value: Any, where: str) -> NonFiniteError:
    return NonFiniteError(
        f"{algo}: non-finite {what} ({value}) {where}; nothing was learned from it. "
        f"The environment (or a wrapper) produced it: {_VEC_CHECK_NAN}"
    )


def check_finite_transition(
    algo: str,
    rewards: np.ndarray,
    new_obs: np.ndarray | dict[str, np.ndarray],
    dones: np.ndarray,
    infos: list[dict[str, Any]],
    num_timesteps: int,
) -> None:
    """Check one vectorised env step before it enters a replay buffer.

    :param algo: the algorithm's name, for the message
    :param rewards: rewards of the step, shape (n_envs,)
    :param new_obs: observations returned by the step (array or dict of arrays, first axis: env)
    :param dones: episode ends of the step; their ``infos[i]["terminal_observation"]`` are checked too
    :param infos: the step's infos
    :param num_timesteps: the algorithm's step counter after this step
    :raises NonFiniteError: naming the reward or observation key, the env index and the step
    """
    # Called at every env step: the common case costs two reductions and an ``any``.
    obs_ok = all(_finite(v) for v in new_obs.values()) if isinstance(new_obs, dict) else _finite(new_obs)
    if obs_ok and _finite(rewards) and True not in np.asarray(dones).tolist():
        return
    bad = _first_bad(rewards)
    if bad is not None:
        bad_env = int(bad[0])
        raise _data_error(algo, "reward", rewards[bad_env], f"from env {bad_env} at timestep {num_timesteps}")
    for key, obs in _float_arrays(new_obs):
        bad = _first_bad(obs)
        if bad is not None:
            label = f"observation[{key!r}]" if key else "observation"
            raise _data_error(algo, label, obs[tuple(bad)], f"from env {int(bad[0])} at timestep {num_timesteps}")
    for env in np.flatnonzero(dones):
        terminal = infos[env].get("terminal_observation")
        if terminal is None:
            continue
        for key, obs in _float_arrays(terminal):
            bad = _first_bad(obs)
            if bad is not None:
                label = f"terminal observation[{key!r}]" if key else "terminal observation"
                raise _data_error(algo, label, obs[tuple(bad)], f"from env {int(env)} at timestep {num_timesteps}")


class FiniteTransitionsMixin:
    """Checks every transition before it enters an off-policy algorithm's replay buffer.

    Put it before the SB3 base class: ``class SoftDQN(CheckpointLoadMixin, FiniteTransitionsMixin, DQN)``.
    """

    num_timesteps: int  # the algorithm's, declared for the type checker

    def _store_transition(
        self,
        replay_buffer: Any,
        buffer_action: np.ndarray,
        new_obs: np.ndarray | dict[str, np.ndarray],
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        check_finite_transition(type(self).__name__, reward, new_obs, dones, infos, self.num_timesteps)
        # the algorithm's base class (after this mixin in the MRO) stores it
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)  # type: ignore[misc]


def check_finite_rollout(
    algo: str,
    rewards: np.ndarray,
    observations: np.ndarray | Mapping[str, np.ndarray],
    n_filled: int,
    last_obs: np.ndarray | Mapping[str, np.ndarray] | None,
    num_timesteps: int,
) -> None:
    """Check the filled part of an on-policy rollout buffer (axes: step, env).

    :param algo: the algorithm's name, for the message
    :param rewards: the buffer's rewards, shape (n_steps, n_envs)
    :param observations: the buffer's observations (array or dict), shape (n_steps, n_envs, ...)
    :param n_filled: how many steps of the buffer hold data
    :param last_obs: the observations after the last stored step (``model._last_obs``), or ``None``
    :param num_timesteps: the algorithm's step counter after the last stored step
    :raises NonFiniteError: naming the reward or observation key, the env index and the timestep
    """
    n_envs = rewards.shape[1]

    def timestep(step: int) -> int:
        return num_timesteps - (n_filled - 1 - step) * n_envs

    bad = _first_bad(rewards[:n_filled])
    if bad is not None:
        step, env = int(bad[0]), int(bad[1])
        raise _data_error(
            algo, "reward", rewards[step, env], f"from env {env} at timestep {timestep(step)} (rollout step {step})"
        )
    for key, obs in _float_arrays(observations):
        bad = _first_bad(obs[:n_filled])
        if bad is not None:
            step, env = int(bad[0]), int(bad[1])
            label = f"observation[{key!r}]" if key else "observation"
            where = f"from env {env}, returned at timestep {timestep(step) - n_envs} (rollout step {step})"
            raise _data_error(algo, label, obs[tuple(bad)], where)
    if last_obs is not None:
        for key, obs in _float_arrays(last_obs):
            bad = _first_bad(obs)
            if bad is not None:
                label = f"observation[{key!r}]" if key else "observation"
                raise _data_error(algo, label, obs[tuple(bad)], f"from env {int(bad[0])} at timestep {num_timesteps}")


def check_finite_loss(algo: str, name: str, value: float, n_updates: int) -> None:
    """Stop before an optimiser step on a non-finite loss, so that the parameters stay finite.

    :param algo: the algorithm's name, for the message
    :param name: the loss's name (``"critic_loss"`` ...)
    :param value: the loss as a Python float
    :param n_updates: gradient steps done so far
    :raises NonFiniteError: the loss is NaN or infinite
    """
    if not math.isfinite(value):
        raise NonFiniteError(
            f"{algo}: {name} is {value} at gradient step {n_updates + 1}; training stopped before the optimiser "
            "step, so the parameters are those of the last finite step. The data were finite, so the updates "
            "diverged: lower learning_rate, raise the temperature or scale the rewards down"
        )


def grad_check_hook(algo: str, n_updates: Any) -> Any:
    """A ``torch.optim.Optimizer.register_step_pre_hook`` hook that refuses non-finite gradients.

    For loops we do not own (SB3's ``PPO.train`` and ``SAC.train``): the loss is out of reach
    there, but a non-finite loss makes the gradients non-finite, and the hook runs before the
    parameters move. One fused reduction per step (torch's per-tensor norms, summed); only when
    that is not finite (NaN, inf, or an overflow of huge finite values) is every tensor checked.

    :param algo: the algorithm's name, for the message
    :param n_updates: a callable returning the number of updates done so far
    """

    norms = getattr(th, "_foreach_norm", None) or (lambda tensors: [t.norm() for t in tensors])

    def hook(optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads or bool(th.isfinite(th.stack(norms(grads)).sum())):
            return
        if not all(bool(th.isfinite(g).all()) for g in grads):
            check_finite_loss(algo, "the loss (its gradient)", math.nan, int(n_updates()))

    return hook
