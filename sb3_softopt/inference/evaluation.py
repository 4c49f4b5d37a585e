"""Policies as arguments: normalising ``(S, A)``/``(T, S, A)`` arrays, lazy arrays and solutions to
per-step callables (checked one step at a time), and exact policy evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP, check_gamma
from sb3_softopt.inference.validation import check_nonnegative
from sb3_softopt.inference.solvers import MDP_HORIZON, SoftSolution, _check_mdp, solution_horizon
from sb3_softopt.inference.steps import StepArray

__all__ = ["evaluate_policy", "policy_transitions"]


def _policy_steps(policy: Any, mdp: TabularMDP, T: int | None) -> tuple[Any, int | None]:  # noqa: C901  one branch per accepted policy form
    """Normalise a policy argument to a callable ``(t, states=None) -> (S, A)`` or ``(len(states), A)``
    (and the horizon it implies)."""
    S, A = mdp.n_states, mdp.n_actions
    if isinstance(policy, SoftSolution):
        if policy.mdp.n_states != S or policy.mdp.n_actions != A:
            raise InvalidMDPError("the solution was computed for a model of a different size")
        if policy.horizon is None:
            return (lambda t, states=None: policy.policy_at(None, states)), T
        if T is not None and T != policy.horizon:
            raise InvalidMDPError(f"horizon={T} does not match the solution's horizon {policy.horizon}")
        return policy.policy_at, policy.horizon
    if isinstance(policy, StepArray):
        if policy.name != "policy":
            raise InvalidMDPError(
                f"got a solution's {policy.name}, not a policy: pass the solution itself or its .policy"
            )
        if policy.shape[1:] != (S, A):
            raise InvalidMDPError(f"the policy has shape {policy.shape}, the model needs (T, {S}, {A})")
        if T is not None and T != policy.shape[0]:
            raise InvalidMDPError(f"horizon={T} does not match the policy's first axis {policy.shape[0]}")
        return policy.step, policy.shape[0]
    arr = np.asarray(policy)
    if not np.issubdtype(arr.dtype, np.floating):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"policy must be a numeric array, got dtype {arr.dtype}") from exc
    # float32 (or any float) arrays stay as given: a float64 copy of a (T, S, A) policy of a large
    # model would double its memory; each step is converted when it is used.
    if arr.ndim == 2:
        if arr.shape != (S, A):
            raise InvalidMDPError(f"a stationary policy must have shape (S, A) = {(S, A)}, got {arr.shape}")
        _check_policy_values(arr)
        pi = np.asarray(arr, dtype=np.float64)
        return (lambda t, states=None: pi if states is None else pi[states]), T
    if arr.ndim == 3:
        if arr.shape[1:] != (S, A):
            raise InvalidMDPError(f"a time-varying policy must have shape (T, S, A) = (T, {S}, {A}), got {arr.shape}")
        if T is not None and T != arr.shape[0]:
            raise InvalidMDPError(f"horizon={T} does not match the policy's first axis {arr.shape[0]}")
        _check_policy_values(arr)

        def step(t: int, states: np.ndarray | None = None) -> np.ndarray:
            return np.asarray(arr[t] if states is None else arr[t][states], dtype=np.float64)

        return step, arr.shape[0]
    raise InvalidMDPError(f"policy must have shape (S, A) or (T, S, A), got {arr.shape}")


def _check_policy_values(arr: np.ndarray) -> None:
    """Finite, non-negative rows summing to 1; one step at a time (no temporaries of ``arr``'s size)."""
    steps = arr if arr.ndim == 3 else arr[None]
    ones = np.ones(arr.shape[-1], dtype=arr.dtype)
    for t, p in enumerate(steps):
        if not p.min() >= 0:  # NaN fails this comparison too
            raise InvalidMDPError("policy must contain finite, non-negative probabilities")
        err = np.abs(p @ ones - 1.0)  # +inf entries give an infinite error
        if not np.all(err <= 1e-6):
            s = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
            idx = (t, s) if arr.ndim == 3 else (s,)
            total = float(p[s].sum())
            if not np.isfinite(total):
                raise InvalidMDPError("policy must contain finite, non-negative probabilities")
            raise InvalidMDPError(f"policy rows must sum to 1; the row at index {idx} sums to {total!r}")


def policy_transitions(mdp: TabularMDP, pi: np.ndarray) -> sp.csr_matrix:
    """``P_pi(s, s') = sum_a pi(a|s) p(s'|s,a)`` as a sparse ``(S, S)`` matrix, for a stationary ``pi`` (S, A)."""
    S, A = mdp.n_states, mdp.n_actions
    Pi = sp.csr_matrix((np.ravel(pi), np.arange(S * A), np.arange(0, S * A + 1, A)), shape=(S, S * A))
    return (Pi @ mdp.P).tocsr()


#: From this many states on, ``(I - gamma M) x = b`` is solved by BiCGSTAB (checked, with an exact
#: sparse LU as fallback): the LU's fill-in grows much faster than the number of states (GBs for a
#: 10^6-state grid), while each BiCGSTAB iteration is a few sparse mat-vecs.
ITERATIVE_MIN_STATES = 50_000


def solve_discounted(M: sp.csr_matrix, gamma: float, b: np.ndarray) -> np.ndarray:
    """``x = (I - gamma M)^{-1} b`` for a (sub-)stochastic ``M`` and ``gamma < 1``."""
    n = M.shape[0]
    A = sp.identity(n, format="csr") - gamma * M
    if n >= ITERATIVE_MIN_STATES:
        x, info = spla.bicgstab(A, b, x0=b / (1.0 - gamma), rtol=1e-13, atol=0.0, maxiter=10 * n)
        if info == 0 and np.linalg.norm(A @ x - b) <= 1e-10 * max(float(np.linalg.norm(b)), 1e-300):
            return x
    return spla.spsolve(A.tocsc(), b)


def evaluate_policy(
    mdp: TabularMDP,
    policy: Any,
    alpha: float = 0.0,
    gamma: float = 1.0,
    horizon: int | str | None = MDP_HORIZON,
) -> np.ndarray:
    """
    Value of a policy under the *true* dynamics for the soft objective
    ``E[sum_t gamma^t (r_t + alpha * (log p(a_t|s_t) - log pi(a_t|s_t)))]`` (``alpha = 0``: the
    ordinary expected return; the prior term is absent without an action prior).

    :param policy: ``(S, A)``, ``(T, S, A)`` or a :class:`SoftSolution`.
    :return: ``(T + 1, S)`` values ``V^pi_t`` (last row = ``terminal_reward``) for a finite horizon,
        ``(S,)`` for an infinite one (a sparse linear solve; needs ``gamma < 1``).
    """
    mdp = _check_mdp(mdp)
    alpha = check_nonnegative("alpha", alpha)
    gamma = check_gamma(gamma)
    T = solution_horizon(mdp, policy, horizon)
    step, T = _policy_steps(policy, mdp, T)
    S, A = mdp.n_states, mdp.n_actions
    log_prior = mdp.log_prior if mdp.log_prior is not None else np.zeros((S, A))

    def reward_pi(pi: np.ndarray) -> np.ndarray:
        r = mdp.r_sa.copy()
        if alpha > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                bonus = np.where(pi > 0, log_prior - np.log(np.where(pi > 0, pi, 1.0)), 0.0)
            r = r + alpha * bonus
        return r

    if T is None:
        if gamma >= 1.0:
            raise InvalidMDPError("infinite-horizon policy evaluation needs gamma < 1")
        pi = step(None)
        r_pi = (pi * reward_pi(pi)).sum(axis=1)
        return solve_discounted(policy_transitions(mdp, pi), gamma, r_pi)
    out = np.empty((T + 1, S))
    out[T] = mdp.terminal_reward
    for t in range(T - 1, -1, -1):
        pi = step(t)
        q = reward_pi(pi) + gamma * (mdp.P @ out[t + 1]).reshape(S, A)
        out[t] = (pi * q).sum(axis=1)
    return out
