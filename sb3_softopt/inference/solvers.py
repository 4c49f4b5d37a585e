r"""
Backward passes of control as inference: soft value iteration (variational) and exact inference.

With temperature :math:`\alpha`, discount :math:`\gamma` and an optional action prior
:math:`p(a|s)` (which adds :math:`\alpha \log p(a|s)` to the reward):

* variational (soft value iteration, expected next value):
  :math:`Q_t(s,a) = r(s,a) + \gamma\, \mathbb{E}_{s'}[V_{t+1}(s')]`
* exact (backward messages, "optimistic"):
  :math:`Q_t(s,a) = \alpha \log \mathbb{E}_{s'} \exp\big((r(s,a,s') + \gamma V_{t+1}(s'))/\alpha\big)`

and for both :math:`V_t(s) = \alpha \log \sum_a \exp(Q_t(s,a)/\alpha)`,
:math:`\pi_t(a|s) = \exp((Q_t(s,a) - V_t(s))/\alpha)`, boundary :math:`V_T = ` ``terminal_reward``.
For :math:`\gamma = 1` the exact pass is the log of the lecture's backward messages,
:math:`V_t = \alpha \log \beta_t` with :math:`p(\mathcal{O}_t | s_t, a_t) = \exp(r/\alpha)`.
Every step is a sparse mat-vec (variational) or a grouped log-sum-exp over the non-zeros
(exact), plus a log-sum-exp over the action axis: ``O(nnz)`` per step, no Python loop over states.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sb3_softopt.inference._ops import exp_inplace, log_inplace, segment_logsumexp, soft_max_actions, soft_max_policy, soft_value
from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP, _check_horizon, check_alpha, check_gamma
from sb3_softopt.inference.steps import StepArray

__all__ = [
    "MDP_HORIZON",
    "ConvergenceWarning",
    "SoftSolution",
    "evaluate_policy",
    "exact_inference",
    "soft_value_iteration",
]

#: Default of every ``horizon`` argument: use ``mdp.horizon`` (pass ``None`` for an infinite horizon).
MDP_HORIZON = "mdp"

#: Above this many ``T*S*A`` entries the backward pass does not keep Q; it is recomputed on demand.
KEEP_Q_MAX_ENTRIES = 2**24

METHODS = ("variational", "exact")


class ConvergenceWarning(RuntimeWarning):
    """An infinite-horizon solve stopped at ``max_iter`` before reaching ``tol``."""


def resolve_horizon(mdp: TabularMDP, horizon: Any) -> int | None:
    if isinstance(horizon, str):
        if horizon != MDP_HORIZON:
            raise InvalidMDPError(f"horizon must be a positive int, None or {MDP_HORIZON!r}, got {horizon!r}")
        return mdp.horizon
    return _check_horizon(horizon)


def solution_horizon(mdp: TabularMDP, policy: Any, horizon: Any) -> int | None:
    """The horizon to roll/evaluate ``policy`` for: a solution's own horizon unless one is given."""
    if isinstance(policy, SoftSolution) and isinstance(horizon, str) and horizon == MDP_HORIZON:
        return policy.horizon
    return resolve_horizon(mdp, horizon)


def _check_mdp(mdp: Any) -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(
            f"mdp must be a TabularMDP (use TabularMDP.from_env(env) or TabularMDP(...)), got {type(mdp).__name__}"
        )
    return mdp


def backup(
    mdp: TabularMDP,
    v_next: np.ndarray,
    alpha: float,
    gamma: float,
    method: str,
    states: np.ndarray | None = None,
) -> np.ndarray:
    """
    One Bellman backup ``Q(s, a)`` from the next-step values ``v_next`` (S,): shape (S, A), or
    ``(len(states), A)`` for the rows of ``states`` only (``O`` of their non-zeros).
    """
    S, A = mdp.n_states, mdp.n_actions
    n = S if states is None else len(states)
    r_sa = mdp.r_sa if states is None else mdp.r_sa[states]
    indptr, nz = mdp.row_block(states)
    if method == "variational":
        # E_{s'}[r(s,a,s')] is pre-computed in r_sa, so the reward never needs the (S,A,S') form here.
        if states is None:
            pv = mdp.P @ v_next
        else:
            sub = sp.csr_matrix((mdp.P.data[nz], mdp.P.indices[nz], indptr), shape=(n * A, S))
            pv = sub @ v_next
        if gamma != 1.0:
            pv *= gamma
        q = pv.reshape(n, A)
        q += r_sa
    elif states is None:
        q = _exact_backup_all(mdp, v_next, alpha, gamma)
    else:
        q = _exact_backup_rows(mdp, v_next, alpha, gamma, indptr, nz, r_sa)
    if mdp.log_prior is not None:
        q += alpha * (mdp.log_prior if states is None else mdp.log_prior[states])
    return q


def _exact_backup_rows(
    mdp: TabularMDP, v_next: np.ndarray, alpha: float, gamma: float, indptr: np.ndarray, nz: Any, r_sa: np.ndarray
) -> np.ndarray:
    """The exact backup of some rows, one log-sum-exp per row over its non-zeros (``O(nnz)`` exps)."""
    cols = mdp.P.indices[nz]
    n = len(indptr) - 1
    if mdp.r_nz is None:
        vals = mdp.log_p_nz[nz] + (gamma / alpha) * v_next[cols]
        return r_sa + alpha * segment_logsumexp(vals, indptr).reshape(-1, mdp.n_actions)
    vals = mdp.log_p_nz[nz] + (mdp.r_nz[nz] + gamma * v_next[cols]) / alpha
    return alpha * segment_logsumexp(vals, indptr).reshape(n // mdp.n_actions, mdp.n_actions)


#: A row whose shifted expectation ``sum p exp(...)`` falls below this (e^-575) may have lost terms to
#: underflow (float64 stops at e^-745): it is recomputed exactly by :func:`_exact_backup_rows`.
_UNDERFLOW = 1e-250


def _exact_backup_all(mdp: TabularMDP, v_next: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    """
    ``alpha log E_{s'} exp((r + gamma V')/alpha)`` for every row with one exp per *state* and one
    sparse mat-vec: ``E exp(gamma V'/alpha) = exp(M) * P @ exp(gamma V'/alpha - M)`` with ``M`` the
    largest value. Rows where that product underflows are redone row by row (exact in all cases).
    """
    S, A = mdp.n_states, mdp.n_actions
    if mdp.deterministic:
        # One successor per row, with probability 1: the log-sum-exp of one term is the term, and
        # P @ v is that gather (faster than indexing with int32 indices, which numpy widens first).
        q = mdp.P @ v_next
        q *= gamma
        q += mdp.r_sa.ravel() if mdp.r_nz is None else mdp.r_nz
        return q.reshape(S, A)
    z = (gamma / alpha) * v_next
    finite = np.isfinite(z)
    m = float(z.max()) if finite.all() else (float(z[finite].max()) if finite.any() else 0.0)
    z -= m
    w = exp_inplace(z)
    if mdp.r_nz is None:
        y = mdp.P @ w
        shift: Any = m
    else:
        B, m_row = mdp.tilted_transitions(alpha)
        y = B @ w
        shift = m + m_row / alpha
    bad = np.flatnonzero(y < _UNDERFLOW)
    lq = log_inplace(y)
    lq += shift
    lq *= alpha
    q = lq.reshape(S, A)
    if mdp.r_nz is None:
        q += mdp.r_sa
    if bad.size:
        states = np.unique(bad // A)
        indptr, nz = mdp.row_block(states)
        q[states] = _exact_backup_rows(mdp, v_next, alpha, gamma, indptr, nz, mdp.r_sa[states])
    return q


@dataclass(eq=False, repr=False)
class SoftSolution:
    """
    The result of :func:`soft_value_iteration` or :func:`exact_inference`.

    Finite horizon ``T``: ``v`` is ``(T, S)`` and ``q``/``policy``/``log_policy`` are ``(T, S, A)``
    (index ``t`` = decision ``t``, ``v_terminal`` = ``V_T``). Infinite horizon (``horizon=None``):
    ``(S,)`` and ``(S, A)``. When the backward pass did not keep Q (``T*S*A > 2**24`` unless
    ``keep_q=True``), ``q``, ``policy`` and ``log_policy`` are :class:`StepArray` s: each step is
    one backup of the stored ``v`` when indexed, forward passes consume them step by step, and
    ``np.asarray(sol.policy)`` or ``sol.policy.to_numpy(np.float32)`` materialises them.
    ``q_at(t)``/``policy_at(t, states)`` give one step (or a few rows of it).
    """

    v: np.ndarray
    alpha: float
    gamma: float
    horizon: int | None
    method: str
    converged: bool
    n_iter: int
    mdp: TabularMDP
    v_terminal: np.ndarray | None = None
    _q: np.ndarray | None = field(default=None)
    _log_policy: np.ndarray | None = field(default=None)

    # -- per step -------------------------------------------------------------------------------
    def _v_next(self, t: int) -> np.ndarray:
        assert self.horizon is not None
        return self.v[t + 1] if t + 1 < self.horizon else self.v_terminal  # type: ignore[return-value]

    def _check_t(self, t: int | None) -> None:
        if self.horizon is None:
            if t is not None:
                raise ValueError(f"t must be None for an infinite-horizon solution, got {t!r}")
        elif t is None or not (0 <= int(t) < self.horizon):
            raise ValueError(f"t must be an integer in [0, {self.horizon - 1}], got {t!r}")

    def q_at(self, t: int | None = None, states: np.ndarray | None = None) -> np.ndarray:
        """``Q_t`` (S, A), or its rows ``states``; ``t=None`` for an infinite-horizon solution."""
        self._check_t(t)
        if self._q is not None:
            q = self._q if t is None else self._q[t]
            return q if states is None else q[states]
        v_next = self.v if t is None else self._v_next(int(t))
        return backup(self.mdp, v_next, self.alpha, self.gamma, self.method, states)

    def _minus_v(self, q: np.ndarray, t: int, states: np.ndarray | None) -> np.ndarray:
        # V_t = alpha logsumexp(Q_t / alpha) is stored: log pi = (Q_t - V_t) / alpha needs no second
        # reduction over the actions. In place on the fresh backup ``q``.
        q -= (self.v[t] if states is None else self.v[t][states])[:, None]
        if self.alpha != 1.0:
            q /= self.alpha
        return q

    def log_policy_at(self, t: int | None = None, states: np.ndarray | None = None) -> np.ndarray:
        """``log pi_t(a|s)`` (S, A), or its rows ``states``."""
        self._check_t(t)
        if self._log_policy is not None:
            lp = self._log_policy if t is None else self._log_policy[t]
            return lp if states is None else lp[states]
        if self.horizon is None:
            return soft_max_actions(self.q_at(None, states), self.alpha)[1]
        return self._minus_v(self.q_at(t, states), int(t), states)  # type: ignore[arg-type]

    def policy_at(self, t: int | None = None, states: np.ndarray | None = None) -> np.ndarray:
        """``pi_t(a|s)`` (S, A), or the rows of ``states`` only (cheap for a few states of a large model)."""
        self._check_t(t)
        if self._log_policy is not None:
            lp = self._log_policy if t is None else self._log_policy[t]
            return np.exp(lp if states is None else lp[states])
        if self.horizon is None:
            return soft_max_policy(self.q_at(None, states), self.alpha)
        q = self._minus_v(self.q_at(t, states), int(t), states)  # type: ignore[arg-type]
        return exp_inplace(q)

    # -- full arrays ----------------------------------------------------------------------------
    @property
    def keeps_q(self) -> bool:
        """Whether ``q``/``log_policy``/``policy`` are stored arrays (else computed step by step)."""
        return self._q is not None

    def _full(self, name: str, stored: np.ndarray | None, fn: Any) -> np.ndarray | StepArray:
        if stored is not None:
            return stored
        assert self.horizon is not None  # infinite-horizon solutions always keep Q
        return StepArray(fn, (self.horizon, self.mdp.n_states, self.mdp.n_actions), name)

    @property
    def q(self) -> np.ndarray | StepArray:
        """Soft Q-values, (T, S, A) or (S, A); a :class:`StepArray` when the pass did not keep Q."""
        return self._full("q", self._q, self.q_at)

    @property
    def log_policy(self) -> np.ndarray | StepArray:
        """``log pi(a|s)``, same shape as ``q`` (a :class:`StepArray` when ``q`` is one)."""
        return self._full("log_policy", self._log_policy, self.log_policy_at)

    @property
    def policy(self) -> np.ndarray | StepArray:
        """``pi(a|s) = exp((Q - V) / alpha)``, same shape as ``q`` (a :class:`StepArray` when ``q`` is one)."""
        if self._log_policy is not None:
            return np.exp(self._log_policy)
        return self._full("policy", None, self.policy_at)

    @property
    def initial_value(self) -> float:
        """``E_{s_0 ~ p(s_0)} V_0(s_0)`` (for the exact pass with gamma=1: ``alpha * log p(O)`` is
        ``alpha * log E exp(V_0/alpha)`` instead, see :func:`~sb3_softopt.inference.forward_backward`)."""
        v0 = self.v if self.horizon is None else self.v[0]
        return float(self.mdp.initial_state_dist @ v0)

    def __repr__(self) -> str:
        h = "inf" if self.horizon is None else self.horizon
        return (
            f"SoftSolution(method={self.method!r}, alpha={self.alpha:g}, gamma={self.gamma:g}, horizon={h}, "
            f"v.shape={self.v.shape}, converged={self.converged}, n_iter={self.n_iter})"
        )


def _solve(
    mdp: TabularMDP,
    alpha: Any,
    gamma: Any,
    horizon: Any,
    method: str,
    tol: float,
    max_iter: int,
    keep_q: bool | None,
) -> SoftSolution:
    mdp = _check_mdp(mdp)
    alpha = check_alpha(alpha)
    gamma = check_gamma(gamma)
    T = resolve_horizon(mdp, horizon)
    if T is None and gamma >= 1.0:
        raise InvalidMDPError(
            "gamma=1 with an infinite horizon (horizon=None) has no finite solution: "
            "pass gamma < 1 or a finite horizon"
        )
    S, A = mdp.n_states, mdp.n_actions
    if T is not None:
        if keep_q is None:
            keep_q = T * S * A <= KEEP_Q_MAX_ENTRIES
        v = np.empty((T, S))
        q_all = np.empty((T, S, A)) if keep_q else None
        logpi_all = np.empty((T, S, A)) if keep_q else None
        v_next = mdp.terminal_reward
        for t in range(T - 1, -1, -1):
            q = backup(mdp, v_next, alpha, gamma, method)
            if q_all is not None:
                v[t], logpi_all[t] = soft_max_actions(q, alpha)  # type: ignore[index]
                q_all[t] = q
            else:
                v[t] = soft_value(q, alpha, overwrite=True)  # large models: only V is kept
            v_next = v[t]
        return SoftSolution(
            v, alpha, gamma, T, method, True, T, mdp, mdp.terminal_reward.copy(), q_all, logpi_all
        )

    if not (np.isfinite(tol) and tol > 0):
        raise InvalidMDPError(f"tol must be a finite number > 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise InvalidMDPError(f"max_iter must be a positive integer, got {max_iter!r}")
    v = np.zeros(S)
    converged = False
    n_iter = 0
    for n_iter in range(1, int(max_iter) + 1):
        q = backup(mdp, v, alpha, gamma, method)
        v_new, log_pi = soft_max_actions(q, alpha)
        delta = float(np.max(np.abs(v_new - v)))
        v = v_new
        # Relative stopping rule: with rewards of 1e4 an absolute 1e-10 is below float64 resolution.
        if delta <= tol * max(1.0, float(np.max(np.abs(v)))):
            converged = True
            break
    if not converged:
        warnings.warn(
            f"{method} solve did not converge in max_iter={max_iter} iterations "
            f"(last sup-norm change {delta:.3g} > tol={tol:g}); result.converged is False. "
            "Increase max_iter or lower gamma.",
            ConvergenceWarning,
            stacklevel=3,
        )
    # Q and pi consistent with the returned v (one more backup), so pi is exactly softmax(Q/alpha).
    q = backup(mdp, v, alpha, gamma, method)
    _, log_pi = soft_max_actions(q, alpha)
    return SoftSolution(v, alpha, gamma, None, method, converged, n_iter, mdp, None, q, log_pi)


def soft_value_iteration(
    mdp: TabularMDP,
    alpha: float = 1.0,
    gamma: float = 1.0,
    horizon: int | None | str = MDP_HORIZON,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    keep_q: bool | None = None,
) -> SoftSolution:
    """
    Variational backward pass (soft value iteration): the optimal policy of the maximum-entropy
    objective ``E[sum_t gamma^t (r_t + alpha * H(pi(.|s_t)))]`` under the *true* dynamics.

    :param mdp: the model.
    :param alpha: temperature, > 0 (``alpha -> 0`` recovers hard value iteration).
    :param gamma: discount in (0, 1]; ``gamma = 1`` needs a finite horizon.
    :param horizon: number of decisions ``T``; default ``mdp.horizon``; ``None`` = infinite
        horizon (iterate the soft Bellman operator, a gamma-contraction, to ``tol``).
    :param tol: infinite horizon: stop when ``max|V_{k+1} - V_k| <= tol * max(1, max|V|)``.
    :param max_iter: infinite horizon: iteration guard; on exhaustion a :class:`ConvergenceWarning`
        is issued and ``result.converged`` is False.
    :param keep_q: keep the ``(T, S, A)`` Q and log-policy from the backward pass (default: when
        ``T*S*A <= 2**24``); otherwise they are recomputed from ``v`` when accessed.
    :return: a :class:`SoftSolution`.
    """
    return _solve(mdp, alpha, gamma, horizon, "variational", tol, max_iter, keep_q)


def exact_inference(
    mdp: TabularMDP,
    alpha: float = 1.0,
    horizon: int | None | str = MDP_HORIZON,
    gamma: float = 1.0,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    keep_q: bool | None = None,
) -> SoftSolution:
    """
    Exact backward messages of the optimality graphical model (the "optimistic" pass):
    ``Q_t(s,a) = alpha * log E_{s'} exp((r(s,a,s') + gamma V_{t+1}(s')) / alpha)``, computed as a
    log-sum-exp over the non-zeros of each row (``log p + (r + gamma V') / alpha``), so rewards of
    ``1e4`` at ``alpha = 1`` stay finite. With ``gamma = 1`` and a finite horizon,
    ``V_t(s) = alpha * log p(O_{t:T} | s_t)``; ``gamma < 1`` discounts the next value inside the
    exponential (the soft Q-learning convention, no longer a probability model).

    Parameters as in :func:`soft_value_iteration`.
    """
    return _solve(mdp, alpha, gamma, horizon, "exact", tol, max_iter, keep_q)


def _policy_steps(policy: Any, mdp: TabularMDP, T: int | None) -> tuple[Any, int | None]:
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


def evaluate_policy(
    mdp: TabularMDP,
    policy: Any,
    alpha: float = 0.0,
    gamma: float = 1.0,
    horizon: int | None | str = MDP_HORIZON,
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
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0:
        raise InvalidMDPError(f"alpha must be a finite number >= 0 for policy evaluation, got {alpha!r}")
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
        return spla.spsolve(sp.identity(S, format="csc") - gamma * policy_transitions(mdp, pi).tocsc(), r_pi)
    out = np.empty((T + 1, S))
    out[T] = mdp.terminal_reward
    for t in range(T - 1, -1, -1):
        pi = step(t)
        q = reward_pi(pi) + gamma * (mdp.P @ out[t + 1]).reshape(S, A)
        out[t] = (pi * q).sum(axis=1)
    return out
