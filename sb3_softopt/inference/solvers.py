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

from sb3_softopt.inference._ops import exp_inplace, soft_max_actions, soft_max_policy, soft_value
from sb3_softopt.inference.backup import backup
from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP, _check_horizon, check_alpha, check_gamma, check_positive_int
from sb3_softopt.common.validation import check_int
from sb3_softopt.inference.validation import check_nonnegative
from sb3_softopt.inference.steps import StepArray

__all__ = [
    "MDP_HORIZON",
    "ConvergenceWarning",
    "SoftSolution",
    "exact_inference",
    "soft_value_iteration",
]

#: Default of every ``horizon`` argument: use ``mdp.horizon`` (pass ``None`` for an infinite horizon).
MDP_HORIZON = "mdp"

#: Above this many ``T*S*A`` entries the backward pass does not keep Q; it is recomputed on demand.
KEEP_Q_MAX_ENTRIES = 2**24


class ConvergenceWarning(RuntimeWarning):
    """An infinite-horizon solve stopped at ``max_iter`` before reaching ``tol``."""


_HORIZON_NOTE = f"or None: an infinite horizon, or {MDP_HORIZON!r}: the model's own"


def resolve_horizon(mdp: TabularMDP, horizon: Any) -> int | None:
    if isinstance(horizon, str):
        if horizon != MDP_HORIZON:
            raise InvalidMDPError(f"horizon must be an integer >= 1 ({_HORIZON_NOTE}), got {horizon!r}")
        return mdp.horizon
    return _check_horizon(horizon, note=_HORIZON_NOTE)


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

    :ivar v: soft values, ``(T, S)`` (finite horizon) or ``(S,)``.
    :ivar alpha: the temperature the solution was computed at.
    :ivar gamma: the discount.
    :ivar horizon: ``T``, or ``None`` for an infinite-horizon solution.
    :ivar method: ``"variational"`` (:func:`soft_value_iteration`) or ``"exact"`` (:func:`exact_inference`).
    :ivar converged: whether an infinite-horizon iteration met its tolerance (always true for a
        finite horizon).
    :ivar n_iter: number of backups performed.
    :ivar mdp: the :class:`TabularMDP` that was solved.
    :ivar v_terminal: ``V_T`` (S,), the terminal values of a finite-horizon solution, else ``None``.
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
        else:
            check_int(t, "t", low=0, high=self.horizon - 1)

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
        v: np.ndarray = np.empty((T, S))
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

    tol = check_nonnegative("tol", tol, positive=True)
    max_iter = check_positive_int("max_iter", max_iter)
    v = np.zeros(S)
    converged = False
    n_iter = 0
    for n_iter in range(1, int(max_iter) + 1):  # noqa: B007  the count is read after the loop
        q = backup(mdp, v, alpha, gamma, method)
        v_new = soft_value(q, alpha, overwrite=True)  # the policy is only needed at the end
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
    *,
    gamma: float = 1.0,
    horizon: int | str | None = MDP_HORIZON,
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
    *,
    horizon: int | str | None = MDP_HORIZON,
    gamma: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    keep_q: bool | None = None,
) -> SoftSolution:
    """
    Exact backward messages of the optimality graphical model (the "optimistic" pass):
    ``Q_t(s,a) = alpha * log E_{s'} exp((r(s,a,s') + gamma V_{t+1}(s')) / alpha)``, computed as a
    log-sum-exp over the non-zeros of each row (``log p + (r + gamma V') / alpha``), so rewards of
    ``1e4`` at ``alpha = 1`` stay finite. With ``gamma = 1`` and a finite horizon,
    ``V_t(s) = alpha * log p(O_{t:T} | s_t)``.

    With ``gamma < 1`` the next value is discounted *inside* the exponential,
    ``Q = alpha * log E exp((r + gamma V') / alpha)``: a discounted form of the optimistic
    backup, which is no longer a probability of optimality. It is not soft Q-learning's
    backup, which takes the expectation outside (``r + gamma E[V']``, the variational backup of
    :func:`soft_value_iteration`). The probabilistic alternative reads the discount as termination:
    add an absorbing zero-reward state that every ``(s, a)`` reaches with probability
    ``1 - gamma`` (and scale the other transitions by ``gamma``), then call this with ``gamma=1``;
    the messages are then exact posteriors of that model.

    Parameters as in :func:`soft_value_iteration`.
    """
    return _solve(mdp, alpha, gamma, horizon, "exact", tol, max_iter, keep_q)
