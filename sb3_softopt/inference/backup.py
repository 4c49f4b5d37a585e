"""One Bellman backup of either pass, over all rows or a few states' rows (``O(nnz)``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from sb3_softopt.inference._ops import exp_inplace, log_inplace, segment_logsumexp
from sb3_softopt.inference.mdp import TabularMDP

__all__ = ["backup"]


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
    if mdp.r_nz is None:
        vals = mdp.log_p_nz[nz] + (gamma / alpha) * v_next[cols]
        return r_sa + alpha * segment_logsumexp(vals, indptr).reshape(-1, mdp.n_actions)
    vals = mdp.log_p_nz[nz] + (mdp.r_nz[nz] + gamma * v_next[cols]) / alpha
    return alpha * segment_logsumexp(vals, indptr).reshape(-1, mdp.n_actions)


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
