r"""
Forward messages and state marginals.

Two different "forward" objects appear in the lecture; both are here:

* :func:`forward_messages` rolls a policy forward: ``d_{t+1}(s') = sum_{s,a} d_t(s) pi_t(a|s) p(s'|s,a)``.
  With the true dynamics (default) this is the state distribution when the policy is *executed*,
  i.e. the marginals of the variational posterior ``q(tau) = p(s_0) prod p(s'|s,a) pi(a|s)``.
  With ``dynamics="posterior"`` and an :func:`exact_inference` solution it uses the posterior
  initial-state, action **and** transition terms of
  ``p(tau | O) = p(s_0 | O) prod_t pi_t(a_t | s_t) p(s_{t+1} | s_t, a_t, O)``:
  ``p(s_0 | O) ∝ p(s_0) exp(V_0(s_0)/alpha)`` and
  ``p(s'|s,a,O) = p(s'|s,a) exp((r(s,a,s') + V_{t+1}(s'))/alpha) / exp(Q_t(s,a)/alpha)`` (the
  dynamics the exact posterior "tilts" toward lucky outcomes), so ``d_t = p(s_t | O_{0:T-1})``
  exactly (up to float round-off).
* :func:`forward_backward` computes the lecture's HMM messages
  ``alpha_t(s) = p(s_t, O_{0:t-1})`` (log space, grouped by next state over the non-zeros),
  ``beta_t(s) = p(O_{t:T-1} | s_t) = exp(V_t(s)/alpha)`` and the state marginals
  ``p(s_t | O_{0:T-1}) \propto alpha_t(s) beta_t(s)``.

Time indices are 0-based: ``T`` decisions at ``t = 0..T-1``, ``s_T`` is the state after the last one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp

from sb3_softopt.inference._ops import entropy, exp_inplace, log_inplace, segment_logsumexp
from sb3_softopt.inference.backup import _UNDERFLOW
from sb3_softopt.inference.evaluation import _policy_steps, policy_transitions, solve_discounted
from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP, _check_distribution, check_alpha, check_gamma
from sb3_softopt.inference.solvers import (
    MDP_HORIZON,
    SoftSolution,
    _check_mdp,
    exact_inference,
    resolve_horizon,
    soft_value_iteration,
    solution_horizon,
)
from sb3_softopt.inference.steps import StepArray

__all__ = [
    "ForwardBackward",
    "forward_backward",
    "forward_messages",
    "marginal_entropy",
    "occupancy_measure",
    "state_marginals",
]


def _transition_rows(mdp: TabularMDP, states: np.ndarray | None, sol: SoftSolution | None, t: int) -> sp.csr_matrix:
    """The rows ``(s, a), s in states`` (all for ``None``) of the true dynamics, or with ``sol``, of
    the posterior dynamics ``p(s'|s,a,O)``: the true ones tilted by
    ``exp((r(s,a,s') + gamma V_{t+1}(s')) / alpha)`` and renormalised per row (in log space)."""
    if sol is None and states is None:
        return mdp.P
    indptr, nz = mdp.row_block(states)
    cols = mdp.P.indices[nz]
    n_rows = indptr.shape[0] - 1
    if sol is None:
        return sp.csr_matrix((mdp.P.data[nz], cols, indptr), shape=(n_rows, mdp.n_states))
    w = mdp.log_p_nz[nz] + sol.gamma * sol._v_next(t)[cols] / sol.alpha
    if mdp.r_nz is not None:
        w = w + mdp.r_nz[nz] / sol.alpha
    w = w - np.repeat(segment_logsumexp(w, indptr), np.diff(indptr))
    return sp.csr_matrix((exp_inplace(w), cols, indptr), shape=(n_rows, mdp.n_states))


#: Forward steps restrict the work to the support of d_t while it covers at most this fraction of S
#: (models with at least SUPPORT_MIN_STATES states; below that, building the sub-matrix costs more).
SUPPORT_FRACTION = 0.25
SUPPORT_MIN_STATES = 4096


def forward_messages(
    mdp: TabularMDP,
    policy: Any,
    horizon: int | str | None = MDP_HORIZON,
    *,
    dynamics: str = "true",
    initial_state_dist: Any = None,
) -> np.ndarray:
    """
    State distributions ``d_t`` (t = 0..T) of a policy, shape ``(T + 1, S)``; every row sums to 1.

    Cost: one sparse ``P^T x`` per step (``O(T * nnz)``), memory ``O(T * S)``; a
    :class:`SoftSolution` policy is evaluated one step at a time, so large models never
    materialise ``(T, S, A)``.

    :param mdp: the model.
    :param policy: ``(T, S, A)``, a stationary ``(S, A)`` (then a horizon is needed) or a
        :class:`SoftSolution` (its ``policy_at(t)``).
    :param horizon: number of steps; default: the solution's, else the policy's first axis, else
        ``mdp.horizon``.
    :param dynamics: ``"true"`` (execute the policy in the real model) or ``"posterior"``
        (an exact-inference solution only: posterior initial-state, action and transition terms,
        giving the exact posterior marginals ``p(s_t | O)``; see the module docstring).
    :param initial_state_dist: overrides ``mdp.initial_state_dist`` (used as given, not tilted).
    """
    mdp = _check_mdp(mdp)
    if dynamics not in ("true", "posterior"):
        raise InvalidMDPError(f"dynamics must be 'true' or 'posterior', got {dynamics!r}")
    step, T = _steps_and_horizon(mdp, policy, horizon)
    if T is None:
        raise InvalidMDPError("forward_messages needs a finite horizon (the model, the policy or `horizon`)")
    if dynamics == "posterior":
        if not (isinstance(policy, SoftSolution) and policy.method == "exact" and policy.horizon is not None):
            raise InvalidMDPError(
                "dynamics='posterior' needs a finite-horizon exact_inference() solution as `policy` "
                "(the tilt uses its values V_{t+1})"
            )
    if initial_state_dist is None:
        d0 = mdp.initial_state_dist
        if dynamics == "posterior":
            # The posterior also tilts the start: p(s_0 | O) ∝ p(s_0) exp(V_0(s_0) / alpha).
            with np.errstate(divide="ignore"):
                log_d0 = np.log(d0) + policy.v[0] / policy.alpha
            d0 = np.exp(log_d0 - np.max(log_d0))
            d0 /= d0.sum()
    else:
        d0 = _check_distribution("initial_state_dist", initial_state_dist, mdp.n_states)
    out = np.empty((T + 1, mdp.n_states))
    out[0] = d0
    sol = policy if dynamics == "posterior" else None
    for _ in _rollout(mdp, step, T, out, sol, fresh=isinstance(policy, (SoftSolution, StepArray))):
        pass
    return out


def occupancy_measure(
    mdp: TabularMDP,
    policy: Any,
    horizon: int | str | None = MDP_HORIZON,
    *,
    gamma: float = 1.0,
    initial_state_dist: Any = None,
) -> np.ndarray:
    """
    Discounted state-action occupancy ``rho(s, a) = sum_t gamma^t d_t(s) pi_t(a|s)``, shape ``(S, A)``:
    the expected (discounted) number of times ``(s, a)`` is visited when the policy is executed.
    Feature expectations of ``phi(s, a)`` are ``np.tensordot(rho, phi, 2)``.

    Finite horizon: ``t = 0..T-1``, accumulated during the forward pass of :func:`forward_messages`
    (``O(T * nnz)``, no ``(T, S, A)`` array). Infinite horizon (a stationary ``(S, A)`` policy or an
    infinite-horizon solution, ``gamma < 1``): ``d = (I - gamma P_pi^T)^{-1} p_0``, one sparse solve
    (BiCGSTAB from 50,000 states on, see :func:`~sb3_softopt.inference.evaluation.solve_discounted`).

    :param policy: as for :func:`forward_messages`.
    :param gamma: discount in (0, 1].
    :param initial_state_dist: overrides ``mdp.initial_state_dist``.
    """
    mdp = _check_mdp(mdp)
    gamma = check_gamma(gamma)
    step, T = _steps_and_horizon(mdp, policy, horizon)
    if initial_state_dist is None:
        d0 = mdp.initial_state_dist
    else:
        d0 = _check_distribution("initial_state_dist", initial_state_dist, mdp.n_states)
    if T is None:
        if gamma >= 1.0:
            raise InvalidMDPError("an infinite-horizon occupancy measure needs gamma < 1 (or a finite horizon)")
        pi = step(None)
        return solve_discounted(policy_transitions(mdp, pi).T.tocsr(), gamma, d0)[:, None] * pi
    rho = np.zeros((mdp.n_states, mdp.n_actions))
    out = np.empty((T + 1, mdp.n_states))
    out[0] = d0
    for t, rows, x in _rollout(mdp, step, T, out, None, fresh=isinstance(policy, (SoftSolution, StepArray))):
        if gamma != 1.0:
            x *= gamma**t
        if rows is None:
            rho += x
        else:
            rho[rows] += x
    return rho


def _steps_and_horizon(mdp: TabularMDP, policy: Any, horizon: Any) -> tuple[Any, int | None]:
    if isinstance(policy, (np.ndarray, StepArray)) and policy.ndim == 3 and isinstance(horizon, str):
        T: int | None = policy.shape[0]
    else:
        T = solution_horizon(mdp, policy, horizon)
    return _policy_steps(policy, mdp, T)


def _rollout(
    mdp: TabularMDP, step: Any, T: int, out: np.ndarray, sol: SoftSolution | None, fresh: bool
) -> Iterator[tuple[int, np.ndarray | None, np.ndarray]]:
    """
    Fill ``out[1:]`` (``out[0]`` = ``d_0``) with ``d_{t+1} = P_t^T (pi_t * d_t)`` and yield
    ``(t, rows, x)`` per step: ``x = d_t(s) pi_t(a|s)`` (``(len(rows), A)``) on the states ``rows``
    (``None``: all states; the others have ``d_t = 0``). ``fresh``: ``step(t)`` returns a new
    array each call (a solution's), which is then scaled in place.
    """
    S = mdp.n_states
    for t in range(T):
        d = out[t]
        support = np.flatnonzero(d) if S >= SUPPORT_MIN_STATES else None
        if support is not None and support.size <= SUPPORT_FRACTION * S:
            # States with d_t(s) = 0 contribute nothing: only their rows are computed (exact), which
            # makes a localised start on a large model cost O(nnz of the reachable rows) per step.
            x = step(t, support)
            x *= d[support][:, None]
            out[t + 1] = _transition_rows(mdp, support, sol, t).T @ x.ravel()
        else:
            support = None
            x = step(t)
            x = np.multiply(x, d[:, None], out=x if fresh else None)
            out[t + 1] = (mdp.PT if sol is None else _transition_rows(mdp, None, sol, t).T) @ x.ravel()
        # Renormalise away float round-off so that mass is conserved to machine precision.
        out[t + 1] /= out[t + 1].sum()
        yield t, support, x


@dataclass(eq=False)
class ForwardBackward:
    """
    Messages of the optimality graphical model (log space, all ``(T + 1, S)``, ``t = 0..T``).

    Only the forward messages and the backward solution are stored (two ``(T, S)`` arrays); the
    other attributes are computed from them on access.

    :ivar log_forward: ``log alpha_t(s) = log p(s_t = s, O_{0:t-1})`` (``alpha_0 = p(s_0)``).
    :ivar log_evidence: ``log p(O_{0:T-1})`` (the same for every t, a built-in consistency check).
    :ivar solution: the :func:`exact_inference` solution the backward messages come from.
    """

    log_forward: np.ndarray
    log_evidence: float
    solution: SoftSolution

    @property
    def log_backward(self) -> np.ndarray:
        """``log beta_t(s) = log p(O_{t:T-1} | s_t = s) = V_t(s) / alpha`` (``beta_T = exp(terminal_reward / alpha)``)."""
        sol = self.solution
        return np.concatenate([sol.v, sol.v_terminal[None]]) / sol.alpha  # type: ignore[index]

    @property
    def log_marginals(self) -> np.ndarray:
        """``log p(s_t | O_{0:T-1})`` (normalised ``log alpha_t + log beta_t``)."""
        return _joint_to_marginals(self.log_forward.copy(), self.solution, log=True)

    @property
    def forward(self) -> np.ndarray:
        """``p(s_t | O_{0:t-1})``: forward messages normalised per step (the forward cone)."""
        return _normalise_rows(self.log_forward.copy())

    @property
    def backward(self) -> np.ndarray:
        """``beta_t`` normalised over states per step (the backward cone; for display)."""
        return _normalise_rows(self.log_backward)

    @property
    def marginals(self) -> np.ndarray:
        """``p(s_t | O_{0:T-1})``, ``(T + 1, S)``."""
        return _joint_to_marginals(self.log_forward.copy(), self.solution, log=False)


def _normalise_rows(logs: np.ndarray) -> np.ndarray:
    """``exp(logs)`` normalised per row, in place, one row at a time (no full-size temporaries)."""
    for row in logs:
        m = np.max(row)
        row -= m if np.isfinite(m) else 0.0
        exp_inplace(row)
        row /= row.sum()
    return logs


def _joint_to_marginals(log_fwd: np.ndarray, sol: SoftSolution, log: bool) -> np.ndarray:
    """``log alpha_t + log beta_t`` normalised per step, in place in ``log_fwd`` (log or probabilities)."""
    T = sol.horizon
    for t, row in enumerate(log_fwd):
        row += (sol.v[t] if t < T else sol.v_terminal) / sol.alpha  # type: ignore[operator]
        if log:
            row -= logsumexp(row)
    return log_fwd if log else _normalise_rows(log_fwd)


def _log_forward_step(
    mdp: TabularMDP, u: np.ndarray, PT_w: sp.csr_matrix, alpha: float, m_row: np.ndarray | None
) -> np.ndarray:
    """
    ``log sum_{s,a} exp(u(s,a)) p(s'|s,a) [exp((r(s,a,s') - m(s,a))/alpha)]`` for every ``s'``
    (``PT_w`` is the transpose of ``P`` or of its tilted form, ``m_row`` the tilt's row maxima): one exp per
    row and one sparse mat-vec with a shift by ``max u``; next states where that underflows are
    redone exactly, one log-sum-exp over their incoming non-zeros.
    """
    finite = np.isfinite(u)
    m = float(u.max()) if finite.all() else (float(u[finite].max()) if finite.any() else 0.0)
    w = exp_inplace(u - m)
    y = PT_w @ w
    low = np.flatnonzero(y < _UNDERFLOW)
    out = log_inplace(y)
    out += m
    if low.size:
        # Columns with no predecessor of non-zero mass are exact zeros, not underflow (a mat-vec is
        # cheaper than slicing the rows of PT when most columns are still unreached).
        reached = (mdp.PT @ finite.astype(np.float64))[low] > 0
        cols = low[reached]
        if cols.size:
            perm, col_indptr = mdp.column_order()
            start, counts = col_indptr[cols], np.diff(col_indptr)[cols]
            indptr = np.zeros(cols.size + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            nz = perm[np.repeat(start - indptr[:-1], counts) + np.arange(indptr[-1])]
            rows = mdp.rows_nz[nz]
            vals = u[rows] + mdp.log_p_nz[nz]
            if m_row is not None:
                vals += (mdp.r_nz[nz] - m_row[rows]) / alpha  # type: ignore[index]
            out[cols] = segment_logsumexp(vals, indptr)
        out[low[~reached]] = -np.inf
    return out


def forward_backward(
    mdp: TabularMDP, alpha: float = 1.0, *, horizon: int | str | None = MDP_HORIZON
) -> ForwardBackward:
    """
    Exact forward-backward message passing on the optimality model (undiscounted, finite horizon).

    Forward recursion, in log space:
    ``alpha_{t+1}(s') = sum_{s,a} alpha_t(s) p(a|s) p(s'|s,a) exp(r(s,a,s') / alpha)`` (``p(a|s)`` =
    the action prior, 1 without one). It needs no policy: the reward enters as the likelihood of
    ``O_t``. Backward: :func:`exact_inference` with ``gamma = 1``. Memory: two ``(T, S)`` arrays.
    """
    mdp = _check_mdp(mdp)
    alpha = check_alpha(alpha)
    T = resolve_horizon(mdp, horizon)
    if T is None:
        raise InvalidMDPError("forward_backward needs a finite horizon (the model's or `horizon`)")
    sol = exact_inference(mdp, alpha, horizon=T, gamma=1.0)
    S, A = mdp.n_states, mdp.n_actions
    row_term = np.zeros((S, A)) if mdp.log_prior is None else np.array(mdp.log_prior, dtype=np.float64)
    if mdp.r_nz is None:
        row_term += mdp.r_sa / alpha
        PT_w, m_row = mdp.PT, None
    else:
        B, m_row = mdp.tilted_transitions(alpha)
        row_term += m_row.reshape(S, A) / alpha
        PT_w = B.T.tocsr()
    log_fwd = np.empty((T + 1, S))
    with np.errstate(divide="ignore"):
        log_fwd[0] = np.log(mdp.initial_state_dist)
    for t in range(T):
        u = log_fwd[t][:, None] + row_term
        log_fwd[t + 1] = _log_forward_step(mdp, u.ravel(), PT_w, alpha, m_row)
    log_z = logsumexp(log_fwd[0] + sol.v[0] / alpha)
    return ForwardBackward(log_fwd, float(log_z), sol)


def state_marginals(
    mdp: TabularMDP,
    alpha: float = 1.0,
    *,
    horizon: int | str | None = MDP_HORIZON,
    method: str = "exact",
    include_final: bool = False,
) -> np.ndarray:
    """
    State marginals ``p(s_t | O)`` for ``t = 0..T-1``, shape ``(T, S)`` (``(T + 1, S)`` with
    ``include_final=True``, adding the state after the last decision).

    :param method: ``"exact"``: the true posterior, ``alpha_t * beta_t`` normalised
        (:func:`forward_backward`); ``"variational"``: the marginals of the variational posterior
        ``q(tau)``, i.e. the soft-optimal policy (:func:`soft_value_iteration`, ``gamma = 1``)
        executed in the true dynamics (:func:`forward_messages`) -- its "backward message" is
        already folded into the policy. Both coincide for deterministic dynamics.
    """
    if method == "exact":
        fb = forward_backward(mdp, alpha, horizon=horizon)
        marg = _joint_to_marginals(fb.log_forward, fb.solution, log=False)  # in place: fb is ours
    elif method == "variational":
        marg = forward_messages(mdp, soft_value_iteration(mdp, alpha, gamma=1.0, horizon=horizon))
    else:
        raise InvalidMDPError(f"method must be 'exact' or 'variational', got {method!r}")
    return marg if include_final else marg[:-1]


def marginal_entropy(marginals: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of a ``(T, S)`` array of state distributions."""
    return entropy(marginals, axis=-1)
