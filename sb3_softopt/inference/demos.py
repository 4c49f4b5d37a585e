r"""
Expert demonstrations for inverse RL (:mod:`sb3_softopt.inference.irl`).

Demonstrations come as trajectories (``(states, actions)`` pairs, objects with ``.obs``/``.acts``
such as imitation's ``Trajectory``, or dicts), as rollouts of a trained SB3 model
(:func:`rollout_trajectories`), as samples from a tabular policy (:func:`sample_trajectories`), or
as an exact occupancy measure. :func:`expert_occupancy` turns any of them into an
:class:`ExpertOccupancy`: the discounted expert occupancy
``rho^E(s, a) = (1/N) sum_i sum_{t < L_i} gamma^t [s_t = s, a_t = a]``, the empirical start
distribution, and what inverse RL needs to evaluate the log-likelihood of the demonstrations and its
exact gradient:

* ``steps``: the weighted ``(t, s, a)`` records of ``LL = (1/N) sum_i sum_t gamma^t log pi_t(a_t|s_t)``;
* where a demonstration stops, the expected next state ``p(. | s_{L-1}, a_{L-1})``, weighted by
  ``gamma^L / N``: ``terminal`` for the demonstrations that reach the horizon ``T`` (the expected
  final state, for terminal features), ``continuation[L]`` for those truncated at ``L < T`` (and,
  for an infinite horizon, every demonstration, summed in ``continuation[0]``). The gradient of the
  log-likelihood of a truncated demonstration counts the model's occupancy from there on (see
  :mod:`~sb3_softopt.inference.irl`). A recorded final state is only range-checked: the expected
  one makes the gradient exact, since the probability of the final state does not depend on the reward.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from sb3_softopt.inference.evaluation import _policy_steps
from sb3_softopt.inference.mdp import (
    PROBABILITY_ATOL,
    InvalidMDPError,
    TabularMDP,
    check_gamma,
    check_positive_int,
)
from sb3_softopt.inference.solvers import (
    MDP_HORIZON,
    _check_mdp,
    resolve_horizon,
    solution_horizon,
)

__all__ = ["ExpertOccupancy", "Trajectory", "expert_occupancy", "rollout_trajectories", "sample_trajectories"]


class Trajectory(NamedTuple):
    """One demonstration: ``states`` (``L + 1`` entries with the final state, or ``L``) and ``actions`` (``L``)."""

    states: np.ndarray
    actions: np.ndarray


@dataclass(eq=False)
class ExpertOccupancy:
    """
    Demonstrations in the form inverse RL uses (built by :func:`expert_occupancy`).

    :ivar occupancy: ``(S, A)`` discounted expert occupancy ``rho^E`` (per demonstration).
    :ivar initial_state_dist: ``(S,)`` the expert's start distribution (empirical for trajectories).
    :ivar horizon: ``T``, or ``None`` for an infinite horizon.
    :ivar gamma: the discount the weights include.
    :ivar n_trajectories: number of trajectories (``None`` for an occupancy measure).
    :ivar steps: ``(t, s, a, w)`` arrays: the log-likelihood is ``sum w * log pi_t(a|s)``.
    :ivar terminal: ``(S,)`` ``gamma^T`` times the expected final-state distribution of the
        demonstrations that reach the horizon (finite horizon; zeros otherwise).
    :ivar continuation: ``{L: (S,) gamma^L p(s_L)}`` for demonstrations that stop at ``L < T`` (key
        ``0``: all of them, for an infinite horizon).
    """

    occupancy: np.ndarray
    initial_state_dist: np.ndarray
    horizon: int | None
    gamma: float
    n_trajectories: int | None
    steps: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    terminal: np.ndarray
    continuation: dict[int, np.ndarray] = field(default_factory=dict)


def expert_occupancy(
    mdp: TabularMDP, demonstrations: Any, *, gamma: float = 1.0, horizon: int | str | None = MDP_HORIZON
) -> ExpertOccupancy:
    """
    The expert occupancy, start distribution and log-likelihood terms of some demonstrations.

    :param mdp: the model (its dynamics give the expected next state where a demonstration stops).
    :param demonstrations: a non-empty sequence of trajectories -- ``(states, actions)`` pairs of
        integer arrays (``len(states)`` is ``len(actions)`` or ``len(actions) + 1``), objects with
        ``.obs`` and ``.acts`` (imitation's ``Trajectory``) or dicts with keys ``"obs"``/``"acts"``
        or ``"states"``/``"actions"``; at most ``T`` actions each for a finite horizon -- or an
        occupancy measure: ``(T, S, A)`` per-step state-action distributions (each step sums to 1)
        for a finite horizon, the discounted ``(S, A)`` occupancy (sums to ``1 / (1 - gamma)``) for an
        infinite one; or an :class:`ExpertOccupancy` (returned as is when it matches).
    :param gamma: discount in (0, 1]: step ``t`` is weighted ``gamma^t``.
    :param horizon: ``T``; default ``mdp.horizon``; ``None``: infinite horizon (needs ``gamma < 1``).
    """
    mdp = _check_mdp(mdp)
    gamma = check_gamma(gamma)
    T = resolve_horizon(mdp, horizon)
    if T is None and gamma >= 1.0:
        raise InvalidMDPError("horizon=None (infinite horizon) needs gamma < 1, got gamma=1")
    if isinstance(demonstrations, ExpertOccupancy):
        got = (demonstrations.horizon, demonstrations.gamma, demonstrations.occupancy.shape)
        if got != (T, gamma, (mdp.n_states, mdp.n_actions)):
            raise InvalidMDPError(
                f"demonstrations: this ExpertOccupancy has (horizon, gamma, shape) = {got}, expected "
                f"{(T, gamma, (mdp.n_states, mdp.n_actions))}"
            )
        return demonstrations
    if isinstance(demonstrations, np.ndarray) and demonstrations.dtype.kind == "f":
        return _from_occupancy(mdp, demonstrations, gamma, T)
    if isinstance(demonstrations, (str, bytes, Mapping)) or not isinstance(demonstrations, Sequence):
        raise TypeError(
            "demonstrations must be a sequence of trajectories, a float occupancy array or an ExpertOccupancy, "
            f"got {type(demonstrations).__name__}"
        )
    if len(demonstrations) == 0:
        raise InvalidMDPError("demonstrations is empty: pass at least one trajectory")
    return _from_trajectories(mdp, [_as_trajectory(i, d, mdp, T) for i, d in enumerate(demonstrations)], gamma, T)


def _as_trajectory(i: int, item: Any, mdp: TabularMDP, T: int | None) -> Trajectory:
    if isinstance(item, Mapping):
        keys = ("obs", "acts") if "obs" in item else ("states", "actions")
        if any(k not in item for k in keys):
            raise TypeError(f"demonstrations[{i}] is a dict without keys 'obs'/'acts' or 'states'/'actions'")
        states, actions = item[keys[0]], item[keys[1]]
    elif hasattr(item, "obs") and hasattr(item, "acts"):
        states, actions = item.obs, item.acts
    else:
        try:
            states, actions = item
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"demonstrations[{i}] must be a (states, actions) pair, an object with .obs/.acts or a dict, "
                f"got {type(item).__name__}"
            ) from exc
    states = _index_array(f"demonstrations[{i}] states", states, mdp.n_states)
    actions = _index_array(f"demonstrations[{i}] actions", actions, mdp.n_actions)
    L = actions.shape[0]
    if L == 0:
        raise InvalidMDPError(f"demonstrations[{i}] has no actions: every trajectory needs at least one step")
    if states.shape[0] not in (L, L + 1):
        raise InvalidMDPError(
            f"demonstrations[{i}] has {states.shape[0]} states for {L} actions: expected {L} or {L + 1}"
        )
    if T is not None and L > T:
        raise InvalidMDPError(f"demonstrations[{i}] has {L} actions, more than the horizon T={T}")
    return Trajectory(states, actions)


def _index_array(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise InvalidMDPError(f"{name} must be a 1-D array of indices, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= n))
    if bad.size:
        raise InvalidMDPError(f"{name}[{int(bad[0])}] = {int(arr[bad[0]])} is outside [0, {n})")
    return arr


def _from_trajectories(mdp: TabularMDP, trajs: list[Trajectory], gamma: float, T: int | None) -> ExpertOccupancy:
    S, A, N = mdp.n_states, mdp.n_actions, len(trajs)
    lengths = np.array([len(tr.actions) for tr in trajs])
    t = np.concatenate([np.arange(L) for L in lengths])
    s = np.concatenate([tr.states[: len(tr.actions)] for tr in trajs])
    a = np.concatenate([tr.actions for tr in trajs])
    w = gamma**t / N
    occupancy = np.bincount(s * A + a, weights=w, minlength=S * A).reshape(S, A)
    p0 = np.bincount([tr.states[0] for tr in trajs], minlength=S) / N
    # Where each demonstration stops: the expected next state of its last (s, a), weighted gamma^L / N.
    last = np.array([tr.states[len(tr.actions) - 1] * A + tr.actions[-1] for tr in trajs])
    end_key = np.zeros(N, dtype=np.int64) if T is None else lengths
    terminal, continuation = np.zeros(S), {}
    for key in np.unique(end_key):
        sel = end_key == key
        x = np.bincount(last[sel], weights=gamma ** lengths[sel] / N, minlength=S * A)
        mass = mdp.PT @ x
        if T is not None and key == T:
            terminal = mass
        else:
            continuation[int(key)] = mass
    return ExpertOccupancy(occupancy, p0, T, gamma, N, (t, s, a, w), terminal, continuation)


def _from_occupancy(mdp: TabularMDP, rho: np.ndarray, gamma: float, T: int | None) -> ExpertOccupancy:
    S, A = mdp.n_states, mdp.n_actions
    expected = (T, S, A) if T is not None else (S, A)
    if rho.shape != expected:
        kind = "per-step (T, S, A) occupancies" if T is not None else "a discounted (S, A) occupancy"
        raise InvalidMDPError(f"demonstrations: horizon={T} needs {kind} of shape {expected}, got {rho.shape}")
    if not np.all(np.isfinite(rho)) or rho.min() < 0:
        raise InvalidMDPError("demonstrations: an occupancy measure must be finite and non-negative")
    if T is not None:
        sums = rho.sum(axis=(1, 2))
        bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_ATOL)
        if bad.size:
            raise InvalidMDPError(
                f"demonstrations: the occupancy of step t={int(bad[0])} sums to {float(sums[bad[0]])!r}, expected 1 "
                "(a (T, S, A) occupancy holds the state-action distribution of every step)"
            )
        disc = gamma ** np.arange(T)
        t, s, a = np.nonzero(rho)
        w = rho[t, s, a] * disc[t]
        occupancy = np.tensordot(disc, rho, 1)
        p0 = rho[0].sum(axis=1)
        terminal = gamma**T * (mdp.PT @ rho[-1].ravel())
        return ExpertOccupancy(occupancy, p0, T, gamma, None, (t, s, a, w), terminal)
    total = float(rho.sum())
    if abs(total * (1.0 - gamma) - 1.0) > PROBABILITY_ATOL:
        raise InvalidMDPError(
            f"demonstrations: a discounted (S, A) occupancy must sum to 1 / (1 - gamma) = {1.0 / (1.0 - gamma)!r}, "
            f"sums to {total!r}"
        )
    # Flow conservation, d = p0 + gamma P^T rho, gives the start distribution the occupancy comes from.
    p0 = rho.sum(axis=1) - gamma * (mdp.PT @ rho.ravel())
    if p0.min() < -PROBABILITY_ATOL * max(1.0, total):
        i = int(np.argmin(p0))
        raise InvalidMDPError(
            "demonstrations: a discounted (S, A) occupancy must satisfy rho.sum(1) - gamma P^T rho >= 0 (its start "
            f"distribution); it is {float(p0[i])!r} at state {i}: not an occupancy of mdp's dynamics"
        )
    p0 = np.maximum(p0, 0.0)
    s, a = np.nonzero(rho)
    steps = (np.zeros(s.size, dtype=np.int64), s, a, rho[s, a])
    return ExpertOccupancy(rho.copy(), p0 / p0.sum(), None, gamma, None, steps, np.zeros(S))


def rollout_trajectories(
    model: Any, env: Any, n_episodes: int, *, deterministic: bool = False, seed: int | None = None
) -> list[Trajectory]:
    """
    Roll out anything with SB3's ``predict`` in a Gymnasium env with ``Discrete`` observation and
    action spaces (the observation is the state index, as in the tabular environments).

    :param model: an SB3 model or policy; called as ``predict(obs, state=..., episode_start=...,
        deterministic=...)`` like SB3's ``evaluate_policy`` (recurrent or time-indexed policies work).
    :param env: a Gymnasium env (not a VecEnv).
    :param n_episodes: number of episodes, >= 1.
    :param deterministic: passed to ``predict``.
    :param seed: seeds the first ``env.reset``, the global python/numpy/torch generators (SB3's
        ``set_random_seed``; stochastic ``predict`` draws from them) and ``model.action_space`` for
        the rollouts; their states are restored afterwards.
    :return: one :class:`Trajectory` per episode, ``states`` with the final state (``L + 1`` entries).
    """
    from gymnasium import spaces
    from stable_baselines3.common.utils import set_random_seed

    from stable_baselines3.common.vec_env import VecEnv

    if isinstance(env, VecEnv):
        raise TypeError("env must be a single Gymnasium env, not a VecEnv (rollouts are per episode; pass e.g. gym.make(ID))")
    for name in ("observation_space", "action_space"):
        if not isinstance(getattr(env, name, None), spaces.Discrete):
            raise TypeError(f"env.{name} must be gymnasium.spaces.Discrete, got {getattr(env, name, None)!r}")
    n_episodes = check_positive_int("n_episodes", n_episodes)
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must have SB3's predict(obs, deterministic=...), got {type(model).__name__}")
    if seed is None:
        return _rollouts(model, env, int(n_episodes), deterministic, None)
    # Seeded: the global generators stochastic predict() draws from are seeded for the rollouts and
    # restored afterwards (library code does not own them).
    py_state, np_state = random.getstate(), np.random.get_state()
    space = getattr(model, "action_space", None)
    space_state = copy.deepcopy(space.np_random.bit_generator.state) if space is not None and hasattr(space, "np_random") else None
    with torch.random.fork_rng(devices=[]):
        try:
            set_random_seed(seed)
            if space_state is not None:
                space.seed(seed)  # type: ignore[union-attr]
            return _rollouts(model, env, int(n_episodes), deterministic, seed)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
            if space_state is not None:
                space.np_random.bit_generator.state = space_state  # type: ignore[union-attr]


def _rollouts(model: Any, env: Any, n_episodes: int, deterministic: bool, seed: int | None) -> list[Trajectory]:
    trajs = []
    for i in range(n_episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        states, actions, state, start, done = [int(obs)], [], None, np.ones(1, dtype=bool), False
        while not done:
            action, state = model.predict(obs, state=state, episode_start=start, deterministic=deterministic)
            start = np.zeros(1, dtype=bool)
            actions.append(int(np.asarray(action).item()))
            obs, _, terminated, truncated, _ = env.step(actions[-1])
            states.append(int(obs))
            done = terminated or truncated
        trajs.append(Trajectory(np.array(states), np.array(actions)))
    return trajs


def sample_trajectories(
    mdp: TabularMDP,
    policy: Any,
    n: int,
    *,
    horizon: int | str | None = MDP_HORIZON,
    seed: int | None = None,
) -> list[Trajectory]:
    """
    Sample ``n`` trajectories of a tabular policy in the model's dynamics, from
    ``mdp.initial_state_dist``, all ``n`` at once (one vectorised draw per step).

    :param policy: a :class:`~sb3_softopt.inference.SoftSolution` (large models: only the visited rows are
        computed), a ``(T, S, A)`` or a stationary ``(S, A)`` array.
    :param n: number of trajectories, >= 1.
    :param horizon: steps per trajectory; default the solution's or ``mdp.horizon`` (needed for an
        infinite-horizon policy).
    :param seed: seed of the numpy generator.
    :return: :class:`Trajectory` s with ``T + 1`` states and ``T`` actions.
    """
    mdp = _check_mdp(mdp)
    n = check_positive_int("n", n)
    T = solution_horizon(mdp, policy, horizon)
    step, T_policy = _policy_steps(policy, mdp, T)
    T = T if T is not None else T_policy
    if T is None:
        raise InvalidMDPError("sample_trajectories needs a finite horizon (the policy's, the model's or `horizon`)")
    rng = np.random.default_rng(seed)
    P, A = mdp.P, mdp.n_actions
    cum = np.cumsum(P.data)
    states = np.empty((n, T + 1), dtype=np.int64)
    actions = np.empty((n, T), dtype=np.int64)
    states[:, 0] = rng.choice(mdp.n_states, size=n, p=mdp.initial_state_dist)
    for t in range(T):
        s = states[:, t]
        pi = step(t, s)  # stationary policies ignore t
        actions[:, t] = np.minimum((np.cumsum(pi, axis=1) <= rng.random((n, 1))).sum(axis=1), A - 1)
        rows = s * A + actions[:, t]
        lo, hi = P.indptr[rows], P.indptr[rows + 1]
        # Inverse-CDF draw inside each CSR row, on the global cumulative sum of the non-zeros.
        base = np.where(lo > 0, cum[lo - 1], 0.0)
        k = np.searchsorted(cum, base + rng.random(n) * (cum[hi - 1] - base), side="right")
        states[:, t + 1] = P.indices[np.clip(k, lo, hi - 1)]
    return [Trajectory(states[i], actions[i]) for i in range(n)]
