"""Disturbances for any Box-action environment: pushes of the state and noise on the actions.

:class:`PerturbationWrapper` is a Gymnasium wrapper; :func:`evaluate_under_perturbation` rolls a
trained model out in a wrapped environment with SB3's ``evaluate_policy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from sb3_softopt.common.validation import check_real

__all__ = ["STATE_ATTRS", "PerturbationWrapper", "evaluate_under_perturbation"]

#: Names under which an environment's ``unwrapped`` object may hold its state vector.
STATE_ATTRS = ("state", "_state", "pos", "_pos", "position", "_position")


class PerturbationWrapper(gym.Wrapper):
    """Disturb a continuous-control environment with random pushes and action noise.

    Pushes act on the *true* internal state of the environment, not on the observation: the
    wrapper finds the unwrapped env's state vector (``state_attr``, or the first of
    :data:`STATE_ATTRS` that is a float numpy array) and, with probability ``push_prob`` at each
    step, adds ``push_scale * u`` to ``state[push_indices]`` where ``u`` is a uniformly random
    unit vector. The push happens just before the action is executed, so the agent's action was
    chosen for the unpushed state and the returned observation already reflects the push. When
    the state has the observation's shape the pushed state is clipped to the observation bounds.

    Action noise adds ``action_noise * (high - low) / 2 * N(0, I)`` to the action, then clips it to
    the action box.

    The wrapper's random numbers come from its own generator, seeded by ``reset(seed=...)``, so a
    perturbed evaluation is reproducible and does not consume the environment's randomness.

    :param env: environment with a ``Box`` action space.
    :param push_prob: probability of a push at each step, in [0, 1].
    :param push_scale: norm of each push, >= 0, in state units.
    :param action_noise: standard deviation of the action noise, >= 0, in half action ranges.
    :param state_attr: name of the state attribute on ``env.unwrapped`` (auto-detected if None).
    :param push_indices: state coordinates that pushes act on (default: all), e.g. the velocity
        coordinates of a point mass with walls so that pushes never teleport through a wall.
    """

    def __init__(
        self,
        env: gym.Env,
        push_prob: float = 0.0,
        push_scale: float = 0.0,
        action_noise: float = 0.0,
        state_attr: str | None = None,
        push_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, gym.spaces.Box):
            raise TypeError(
                f"PerturbationWrapper needs a Box action space, got action_space={env.action_space!r}"
            )
        self.push_prob = check_real(push_prob, "push_prob", low=0.0, high=1.0)
        self.push_scale = check_real(push_scale, "push_scale", low=0.0)
        self.action_noise = check_real(action_noise, "action_noise", low=0.0)
        self.state_attr = state_attr
        self.push_indices = None if push_indices is None else np.asarray(push_indices, dtype=np.int64)
        self.n_pushes = 0
        self._rng = np.random.default_rng()

    def _state_name(self) -> str:
        base = self.env.unwrapped
        names = (self.state_attr,) if self.state_attr is not None else STATE_ATTRS
        for name in names:
            value = getattr(base, name, None)
            if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                return name
        if self.state_attr is not None:
            raise ValueError(
                f"state_attr={self.state_attr!r} is not a float numpy array on {type(base).__name__}"
            )
        raise ValueError(
            f"cannot find the state vector of {type(base).__name__}: none of {STATE_ATTRS} is a float "
            "numpy array; pass state_attr=<attribute name>"
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            # Offset the stream so the wrapper's noise is independent of the env's own draws.
            self._rng = np.random.default_rng([seed, 0x5EED])
        self.n_pushes = 0
        result = self.env.reset(seed=seed, options=options)
        if self.push_prob > 0 and self.push_scale > 0:
            # Fail at reset, not at a random first push, when the env has no usable state.
            self._state_name()
        return result

    def _push(self) -> None:
        name = self._state_name()
        base = self.env.unwrapped
        state = np.array(getattr(base, name), dtype=np.float64)
        idx = np.arange(state.size) if self.push_indices is None else self.push_indices
        if idx.size == 0 or idx.max() >= state.size or idx.min() < -state.size:
            raise ValueError(f"push_indices={self.push_indices!r} out of range for a state of size {state.size}")
        direction = self._rng.normal(size=idx.size)
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
        flat = state.reshape(-1)
        flat[idx] += self.push_scale * direction
        obs_space = self.env.observation_space
        if isinstance(obs_space, gym.spaces.Box) and obs_space.shape == state.shape:
            state = np.clip(state, obs_space.low, obs_space.high)
        old = getattr(base, name)
        setattr(base, name, state.astype(old.dtype, copy=False))
        self.n_pushes += 1

    def step(self, action):
        space = self.env.action_space
        action = np.asarray(action, dtype=np.float64)
        if self.action_noise > 0:
            half_range = (space.high - space.low) / 2.0
            action = action + self.action_noise * half_range * self._rng.normal(size=action.shape)
        action = np.clip(action, space.low, space.high).astype(space.dtype)
        if self.push_prob > 0 and self.push_scale > 0 and self._rng.random() < self.push_prob:
            self._push()
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["perturbation/n_pushes"] = self.n_pushes
        return obs, reward, terminated, truncated, info


def _is_success(info: dict[str, Any], terminated: bool) -> bool:
    if "is_success" in info:
        return bool(info["is_success"])
    return bool(terminated)


def evaluate_under_perturbation(
    model: Any,
    env_id: str,
    n_episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    deterministic: bool = True,
    **wrapper_kwargs: Any,
) -> dict[str, float]:
    """Roll out ``model`` for ``n_episodes`` in a :class:`PerturbationWrapper`-ed ``env_id``.

    Success is ``info["is_success"]`` at the last step when the env reports it, else whether the
    episode *terminated* (reached a goal) rather than being truncated by the time limit.

    :return: ``{"success": rate, "return": mean episode return, "length": mean length}``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got n_episodes={n_episodes!r}")
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = Monitor(PerturbationWrapper(gym.make(env_id, **(env_kwargs or {})), **wrapper_kwargs))
    vec_env = DummyVecEnv([lambda: env])
    successes = []

    def record_success(locals_, _globals) -> None:
        if locals_["done"]:
            info = locals_["info"]
            successes.append(_is_success(info, not info["TimeLimit.truncated"]))

    for ep in range(n_episodes):
        # evaluate_policy resets only when it starts: one episode per call, each with its seed.
        vec_env.seed(seed + ep)
        evaluate_policy(model, vec_env, n_eval_episodes=1, deterministic=deterministic, callback=record_success)
    vec_env.close()
    return {
        "success": float(np.mean(successes)),
        # The Monitor's own sums: the returns evaluate_policy reports are rounded to 6 decimals.
        "return": float(np.mean(env.get_episode_rewards())),
        "length": float(np.mean(env.get_episode_lengths())),
    }
