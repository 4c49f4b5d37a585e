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

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from sb3_softopt.inference._ops import entropy, segment_logsumexp
from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP, _check_distribution, check_alpha
from sb3_softopt.inference.solvers import (
    MDP_HORIZON,
    SoftSolution,
    _check_mdp,
    _policy_steps,
    exact_inference,
    resolve_horizon,
    soft_value_iteration,
    solution_horizon,
)

__all__ = ["ForwardBackward", "forward_backward", "forward_messages", "marginal_entropy", "state_marginals"]


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
    return sp.csr_matrix((np.exp(w), cols, indptr), shape=(n_rows, mdp.n_states))


#: Forward steps restrict the work to the support of d_t while it covers at most this fraction of S
#: (models with at least SUPPORT_MIN_STATES states; below that, building the sub-matrix costs more).
SUPPORT_FRACTION = 0.25
SUPPORT_MIN_STATES = 4096


def forward_messages(
    mdp: TabularMDP,
    policy: Any,
    horizon: int | None | str = MDP_HORIZON,
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
    if isinstance(policy, np.ndarray) and policy.ndim == 3 and isinstance(horizon, str):
        T = policy.shape[0]
    else:
        T = solution_horizon(mdp, policy, horizon)
    step, T = _policy_steps(policy, mdp, T)
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
    S = mdp.n_states
    out = np.empty((T + 1, S))
    out[0] = d0
    sol = policy if dynamics == "posterior" else None
    for t in range(T):
        d = out[t]
        support = np.flatnonzero(d) if S >= SUPPORT_MIN_STATES else None
        if support is not None and support.size <= SUPPORT_FRACTION * S:
            # States with d_t(s) = 0 contribute nothing: only their rows are computed (exact), which
            # makes a localised start on a large model cost O(nnz of the reachable rows) per step.
            x = (step(t, support) * d[support][:, None]).ravel()
            out[t + 1] = _transition_rows(mdp, support, sol, t).T @ x
        else:
            x = (step(t) * d[:, None]).ravel()
            out[t + 1] = (mdp.PT if sol is None else _transition_rows(mdp, None, sol, t).T) @ x
        # Renormalise away float round-off so that mass is conserved to machine precision.
        out[t + 1] /= out[t + 1].sum()
    return out


@dataclass(eq=False)
class ForwardBackward:
    """
    Messages of the optimality graphical model (log space, all ``(T + 1, S)``, ``t = 0..T``).

    :ivar log_forward: ``log alpha_t(s) = log p(s_t = s, O_{0:t-1})`` (``alpha_0 = p(s_0)``).
    :ivar log_backward: ``log beta_t(s) = log p(O_{t:T-1} | s_t = s) = V_t(s) / alpha``
        (``beta_T = exp(terminal_reward / alpha)``).
    :ivar log_marginals: ``log p(s_t | O_{0:T-1})`` (normalised ``log alpha_t + log beta_t``).
    :ivar log_evidence: ``log p(O_{0:T-1})`` (the same for every t, a built-in consistency check).
    :ivar solution: the :func:`exact_inference` solution the backward messages come from.
    """

    log_forward: np.ndarray
    log_backward: np.ndarray
    log_marginals: np.ndarray
    log_evidence: float
    solution: SoftSolution

    @staticmethod
    def _normalise(logs: np.ndarray) -> np.ndarray:
        m = np.max(logs, axis=-1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        p = np.exp(logs - m)
        return p / p.sum(axis=-1, keepdims=True)

    @property
    def forward(self) -> np.ndarray:
        """``p(s_t | O_{0:t-1})``: forward messages normalised per step (the forward cone)."""
        return self._normalise(self.log_forward)

    @property
    def backward(self) -> np.ndarray:
        """``beta_t`` normalised over states per step (the backward cone; for display)."""
        return self._normalise(self.log_backward)

    @property
    def marginals(self) -> np.ndarray:
        """``p(s_t | O_{0:T-1})``, ``(T + 1, S)``."""
        return np.exp(self.log_marginals)


def forward_backward(
    mdp: TabularMDP, alpha: float = 1.0, horizon: int | None | str = MDP_HORIZON
) -> ForwardBackward:
    """
    Exact forward-backward message passing on the optimality model (undiscounted, finite horizon).

    Forward recursion, in log space and grouped by next state over the non-zeros:
    ``alpha_{t+1}(s') = sum_{s,a} alpha_t(s) p(a|s) p(s'|s,a) exp(r(s,a,s') / alpha)`` (``p(a|s)`` =
    the action prior, 1 without one). It needs no policy: the reward enters as the likelihood of
    ``O_t``. Backward: :func:`exact_inference` with ``gamma = 1``.
    """
    mdp = _check_mdp(mdp)
    alpha = check_alpha(alpha)
    T = resolve_horizon(mdp, horizon)
    if T is None:
        raise InvalidMDPError("forward_backward needs a finite horizon (the model's or `horizon`)")
    sol = exact_inference(mdp, alpha, T, gamma=1.0)
    S = mdp.n_states
    perm, col_indptr = mdp.column_order()
    rows = mdp.rows_nz
    row_term = np.zeros((S, mdp.n_actions))
    if mdp.log_prior is not None:
        row_term = row_term + mdp.log_prior
    if mdp.r_nz is None:
        row_term = row_term + mdp.r_sa / alpha
        nz_term = mdp.log_p_nz
    else:
        nz_term = mdp.log_p_nz + mdp.r_nz / alpha
    log_fwd = np.empty((T + 1, S))
    with np.errstate(divide="ignore"):
        log_fwd[0] = np.log(mdp.initial_state_dist)
    for t in range(T):
        u = (log_fwd[t][:, None] + row_term).ravel()
        vals = u[rows] + nz_term
        log_fwd[t + 1] = segment_logsumexp(vals[perm], col_indptr)
    log_bwd = np.empty((T + 1, S))
    log_bwd[:T] = sol.v / alpha
    log_bwd[T] = mdp.terminal_reward / alpha
    joint = log_fwd + log_bwd
    m = joint.max(axis=1, keepdims=True)
    log_z = m + np.log(np.exp(joint - m).sum(axis=1, keepdims=True))
    log_marg = joint - log_z
    return ForwardBackward(log_fwd, log_bwd, log_marg, float(log_z[0, 0]), sol)


def state_marginals(
    mdp: TabularMDP,
    alpha: float = 1.0,
    horizon: int | None | str = MDP_HORIZON,
    method: str = "exact",
    *,
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
        marg = forward_backward(mdp, alpha, horizon).marginals
    elif method == "variational":
        marg = forward_messages(mdp, soft_value_iteration(mdp, alpha, 1.0, horizon))
    else:
        raise InvalidMDPError(f"method must be 'exact' or 'variational', got {method!r}")
    return marg if include_final else marg[:-1]


def marginal_entropy(marginals: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of a ``(T, S)`` array of state distributions."""
    return entropy(marginals, axis=-1)
