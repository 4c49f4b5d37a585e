"""A validated tabular MDP stored as one sparse ``(S*A, S')`` transition matrix.

Every solver of :mod:`sb3_softopt.inference` works on the non-zeros of the transition matrix, so
the cost of one backward or forward step is ``O(nnz)`` whether the model was given dense or sparse.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import scipy.sparse as sp

# The model's checks (in .validation) are re-exported: the toolkit's modules import them from here.
from sb3_softopt.inference.validation import (
    PROBABILITY_ATOL,
    InvalidMDPError,
    _as_float_array,
    _check_distribution,
    _check_horizon,
    check_alpha as check_alpha,
    check_gamma as check_gamma,
    check_positive_int as check_positive_int,
)

__all__ = ["InvalidMDPError", "TabularMDP"]


class TabularMDP:
    """
    A finite MDP with a known model, the input of every exact solver.

    Internally the transitions are one CSR matrix ``P`` of shape ``(S*A, S)`` (row ``s*A + a``
    holds ``p(. | s, a)``), so dense and sparse inputs share a single ``O(nnz)`` code path.

    :param transitions: ``p(s' | s, a)``: a dense ``(S, A, S)`` array or a scipy.sparse matrix
        with ``S*A`` rows (``s*A + a``) and ``S`` columns. Rows must be non-negative and sum to 1.
    :param rewards: ``r(s, a)`` as ``(S, A)``, or a reward on the transition ``r(s, a, s')`` as a
        dense ``(S, A, S)`` array or a scipy.sparse ``(S*A, S)`` matrix (read at the non-zeros of
        ``transitions``). Must be finite.
    :param initial_state_dist: ``p(s_0)``, shape ``(S,)``; ``None`` means uniform.
    :param horizon: number of decisions ``T`` of an episode (``None``: infinite horizon). The
        solvers use it when they are not given a horizon of their own.
    :param terminal_reward: ``(S,)`` reward paid in the state reached after the last decision; the
        boundary condition ``V_T`` of finite-horizon solvers. Default zeros.
    :param action_prior: ``p(a | s)`` as ``(S, A)`` or ``(A,)`` (broadcast over states). The
        solvers add ``alpha * log p(a | s)`` to the reward (the lecture's "side note on action
        priors"). ``None`` (default) adds nothing, i.e. the unnormalised uniform prior for which
        ``V(s) = alpha * log sum_a exp(Q(s, a) / alpha)``.
    :param terminal_states: optional boolean mask ``(S,)`` of states in which the episode has
        already ended (SB3's ``done``). They must be absorbing (``p(s | s, a) = 1``); their reward,
        terminal reward and action entropy are ignored, so their value is 0 at every step, as with
        the ``(1 - done)`` mask of a TD target.
    """

    def __init__(
        self,
        transitions: Any,
        rewards: Any,
        initial_state_dist: Any = None,
        horizon: int | None = None,
        *,
        terminal_reward: Any = None,
        action_prior: Any = None,
        terminal_states: Any = None,
    ) -> None:
        P, n_states, n_actions = self._validate_transitions(transitions)
        self.n_states = n_states
        self.n_actions = n_actions
        self.P: sp.csr_matrix = P
        self.horizon = _check_horizon(horizon)

        row_counts = np.diff(P.indptr)
        #: Every (s, a) has a single successor (then the exact backup is a gather, not a log-sum-exp).
        self.deterministic = bool(np.all(row_counts == 1))
        self._rows_nz = np.repeat(np.arange(n_states * n_actions, dtype=np.int64), row_counts)
        self.r_sa, self.r_nz = self._validate_rewards(rewards)

        if initial_state_dist is None:
            self.initial_state_dist = np.full(n_states, 1.0 / n_states)
        else:
            self.initial_state_dist = _check_distribution("initial_state_dist", initial_state_dist, n_states)

        if terminal_reward is None:
            self.terminal_reward = np.zeros(n_states)
        else:
            tr = _as_float_array("terminal_reward", terminal_reward)
            if tr.shape != (n_states,):
                raise InvalidMDPError(f"terminal_reward must have shape ({n_states},), got {tr.shape}")
            if not np.all(np.isfinite(tr)):
                raise InvalidMDPError("terminal_reward contains NaN or inf; it must be finite")
            self.terminal_reward = tr.copy()

        self.log_prior = self._validate_prior(action_prior)
        self.terminal_states = self._validate_terminal_states(terminal_states)
        if self.terminal_states is not None:
            self._apply_terminal_states(self.terminal_states)

        self._log_p_nz: np.ndarray | None = None
        self._csc_perm: tuple[np.ndarray, np.ndarray] | None = None
        self._PT: sp.csr_matrix | None = None
        self._tilted: tuple[float, sp.csr_matrix, np.ndarray] | None = None

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _validate_transitions(transitions: Any) -> tuple[sp.csr_matrix, int, int]:
        if sp.issparse(transitions):
            if transitions.ndim != 2:
                raise InvalidMDPError(f"sparse transitions must be 2-D (S*A, S), got shape {transitions.shape}")
            n_rows, n_states = transitions.shape
            if n_states == 0 or n_rows % n_states != 0 or n_rows == 0:
                raise InvalidMDPError(
                    f"sparse transitions must have shape (S*A, S) with S*A a multiple of S, got {transitions.shape}"
                )
            n_actions = n_rows // n_states
            P = sp.csr_matrix(transitions, dtype=np.float64, copy=True)
        else:
            arr = _as_float_array("transitions", transitions)
            if arr.ndim != 3 or arr.shape[0] != arr.shape[2] or arr.shape[0] == 0 or arr.shape[1] == 0:
                raise InvalidMDPError(
                    f"dense transitions must have shape (S, A, S) with the same S on both ends, got {arr.shape}"
                )
            n_states, n_actions = arr.shape[0], arr.shape[1]
            P = sp.csr_matrix(arr.reshape(n_states * n_actions, n_states))
        P.sum_duplicates()
        P.sort_indices()
        if not np.all(np.isfinite(P.data)):
            k = int(np.flatnonzero(~np.isfinite(P.data))[0])
            row = int(np.searchsorted(P.indptr, k, side="right") - 1)
            raise InvalidMDPError(
                f"transitions contain NaN or inf at (s={row // n_actions}, a={row % n_actions}, s'={P.indices[k]})"
            )
        if np.any(P.data < 0):
            k = int(np.argmin(P.data))
            row = int(np.searchsorted(P.indptr, k, side="right") - 1)
            raise InvalidMDPError(
                f"transitions have a negative probability {float(P.data[k])!r} at "
                f"(s={row // n_actions}, a={row % n_actions}, s'={P.indices[k]})"
            )
        P.eliminate_zeros()
        sums = np.asarray(P.sum(axis=1)).ravel()
        bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_ATOL)
        if bad.size:
            row = int(bad[0])
            raise InvalidMDPError(
                f"transitions: row (s={row // n_actions}, a={row % n_actions}) sums to {float(sums[row])!r}, "
                f"expected 1 ({bad.size} bad rows in total)"
            )
        # Exact renormalisation so that tiny rounding errors do not leak probability mass.
        P.data /= np.repeat(sums, np.diff(P.indptr))
        if P.indices.dtype != np.int32 and P.nnz < 2**31 and n_states < 2**31:
            P.indices = P.indices.astype(np.int32)
        return P, n_states, n_actions

    def _validate_rewards(self, rewards: Any) -> tuple[np.ndarray, np.ndarray | None]:
        S, A = self.n_states, self.n_actions
        P = self.P
        if sp.issparse(rewards):
            if rewards.shape != (S * A, S):
                raise InvalidMDPError(
                    f"sparse rewards must have the shape of the transitions (S*A, S) = {(S * A, S)}, "
                    f"got {rewards.shape}"
                )
            R = sp.csr_matrix(rewards, dtype=np.float64)
            if not np.all(np.isfinite(R.data)):
                raise InvalidMDPError("rewards contain NaN or inf; rewards must be finite")
            r_nz = np.asarray(R[self._rows_nz, P.indices]).ravel().astype(np.float64)
        else:
            arr = _as_float_array("rewards", rewards)
            if arr.shape == (S, A):
                if not np.all(np.isfinite(arr)):
                    s, a = np.argwhere(~np.isfinite(arr))[0]
                    raise InvalidMDPError(
                        f"rewards contain {float(arr[s, a])!r} at (s={s}, a={a}); rewards must be finite"
                    )
                return arr.copy(), None
            if arr.shape != (S, A, S):
                raise InvalidMDPError(
                    f"rewards must have shape (S, A) = {(S, A)} or (S, A, S) = {(S, A, S)} "
                    f"(or sparse (S*A, S)), got {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                s, a, s2 = np.argwhere(~np.isfinite(arr))[0]
                raise InvalidMDPError(
                    f"rewards contain {float(arr[s, a, s2])!r} at (s={s}, a={a}, s'={s2}); rewards must be finite"
                )
            r_nz = arr.reshape(S * A, S)[self._rows_nz, P.indices]
        # Expected reward E_{s'}[r(s, a, s')], what the variational backup needs.
        r_sa = np.bincount(self._rows_nz, weights=P.data * r_nz, minlength=S * A).reshape(S, A)
        return r_sa, np.ascontiguousarray(r_nz)

    def _validate_prior(self, action_prior: Any) -> np.ndarray | None:
        if action_prior is None:
            return None
        S, A = self.n_states, self.n_actions
        arr = _as_float_array("action_prior", action_prior)
        if arr.shape == (A,):
            arr = np.broadcast_to(arr, (S, A))
        if arr.shape != (S, A):
            raise InvalidMDPError(f"action_prior must have shape (S, A) = {(S, A)} or (A,) = {(A,)}, got {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InvalidMDPError("action_prior must contain finite, non-negative probabilities")
        sums = arr.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_ATOL)
        if bad.size:
            raise InvalidMDPError(f"action_prior row of state {int(bad[0])} sums to {float(sums[bad[0]])!r}, expected 1")
        with np.errstate(divide="ignore"):
            return np.log(arr / sums[:, None])

    def _validate_terminal_states(self, terminal_states: Any) -> np.ndarray | None:
        if terminal_states is None:
            return None
        mask = np.asarray(terminal_states)
        if mask.shape != (self.n_states,) or mask.dtype != np.bool_:
            raise InvalidMDPError(
                f"terminal_states must be a boolean mask of shape ({self.n_states},), "
                f"got dtype {mask.dtype} and shape {mask.shape}"
            )
        return mask.copy()

    def _apply_terminal_states(self, mask: np.ndarray) -> None:
        S, A = self.n_states, self.n_actions
        states = np.flatnonzero(mask)
        rows = (states[:, None] * A + np.arange(A)).ravel()
        P = self.P
        counts = np.diff(P.indptr)[rows]
        first = P.indices[np.minimum(P.indptr[rows], P.nnz - 1)]
        bad = np.flatnonzero((counts != 1) | (first != rows // A))
        if bad.size:
            row = int(rows[bad[0]])
            raise InvalidMDPError(
                f"terminal state {row // A} must be absorbing (p(s|s,a)=1 for every action), "
                f"action {row % A} is not"
            )
        # Zero reward and a *normalised* uniform action prior make V = 0 in these states at every
        # step for both solvers (alpha * log mean_a exp(0) = 0), without special cases in the loops.
        self.r_sa[mask] = 0.0
        if self.r_nz is not None:
            self.r_nz[np.isin(self._rows_nz, rows)] = 0.0
        if self.log_prior is None:
            self.log_prior = np.zeros((S, A))
        self.log_prior = np.array(self.log_prior)
        self.log_prior[mask] = -math.log(A)
        self.terminal_reward[mask] = 0.0

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_env(cls, env: Any, horizon: Any = "env", **kwargs: Any) -> TabularMDP:
        """
        Build the model an environment exposes on ``env.unwrapped``.

        Reads ``transition_matrix`` (or ``transition_matrix_sparse`` when present), ``reward_matrix``, ``initial_state_dist``,
        ``horizon`` and,
        when present, ``terminal_reward``, ``action_prior`` and ``terminal_states``.

        :param env: a Gymnasium environment (wrappers are looked through) or any object with the
            attributes above.
        :param horizon: overrides the environment's horizon (``None``: infinite); default: the env's.
        :param kwargs: override any other constructor argument.
        """
        base = getattr(env, "unwrapped", env)
        # ``dir`` rather than ``hasattr``: envs may compute ``transition_matrix`` lazily as a dense
        # (S, A, S') array, which a large grid cannot afford when a sparse copy is on offer.
        names = set(dir(base))
        has_transitions = "transition_matrix_sparse" in names or "transition_matrix" in names
        missing = [n for n, ok in (("transition_matrix", has_transitions), ("reward_matrix", "reward_matrix" in names)) if not ok]
        if missing:
            raise TypeError(
                f"{type(base).__name__} does not expose a tabular model: missing attribute(s) {missing} "
                "(expected transition_matrix, reward_matrix, initial_state_dist, horizon on env.unwrapped)"
            )
        args: dict[str, Any] = {
            "initial_state_dist": getattr(base, "initial_state_dist", None),
            "horizon": getattr(base, "horizon", None) if horizon == "env" else horizon,
        }
        for name in ("terminal_reward", "action_prior", "terminal_states"):
            if getattr(base, name, None) is not None:
                args[name] = getattr(base, name)
        args.update(kwargs)
        # A sparse copy of the model, when the env offers one, avoids building a dense (S, A, S').
        transitions = getattr(base, "transition_matrix_sparse", None)
        if transitions is None:
            transitions = base.transition_matrix
        return cls(transitions, base.reward_matrix, **args)

    def with_rewards(self, rewards: Any, terminal_reward: Any = None) -> TabularMDP:
        """
        The same model with other rewards (any form the constructor accepts), sharing the validated
        transitions and their cached transposes: ``O(S*A)`` for ``(S, A)`` rewards, where building a
        new model re-validates every transition (what inverse RL needs once per iteration).

        :param terminal_reward: a new ``(S,)`` terminal reward; default: keep this model's.
        """
        new = copy.copy(self)
        new.r_sa, new.r_nz = new._validate_rewards(rewards)
        new._tilted = None
        if terminal_reward is not None:
            tr = _as_float_array("terminal_reward", terminal_reward)
            if tr.shape != (self.n_states,) or not np.all(np.isfinite(tr)):
                raise InvalidMDPError(f"terminal_reward must be a finite array of shape ({self.n_states},), got {tr.shape}")
            new.terminal_reward = tr.copy()
            if self.terminal_states is not None:
                new.terminal_reward[self.terminal_states] = 0.0
        if self.terminal_states is not None:
            new.r_sa[self.terminal_states] = 0.0
            if new.r_nz is not None:
                A = self.n_actions
                rows = (np.flatnonzero(self.terminal_states)[:, None] * A + np.arange(A)).ravel()
                new.r_nz[np.isin(self._rows_nz, rows)] = 0.0
        return new

    # ------------------------------------------------------------------ accessors
    @property
    def nnz(self) -> int:
        """Number of non-zero transition probabilities."""
        return int(self.P.nnz)

    @property
    def has_transition_rewards(self) -> bool:
        """True when the reward depends on ``s'`` (given as ``(S, A, S')``)."""
        return self.r_nz is not None

    @property
    def log_p_nz(self) -> np.ndarray:
        """``log p(s'|s,a)`` at the non-zeros, in CSR order."""
        if self._log_p_nz is None:
            self._log_p_nz = np.log(self.P.data)
        return self._log_p_nz

    @property
    def rows_nz(self) -> np.ndarray:
        """Row index ``s*A + a`` of every non-zero, in CSR order."""
        return self._rows_nz

    @property
    def PT(self) -> sp.csr_matrix:
        """``P`` transposed, as CSR ``(S, S*A)`` (built once): forward steps are gathers, not scatters."""
        if self._PT is None:
            self._PT = self.P.T.tocsr()
        return self._PT

    def tilted_transitions(self, alpha: float) -> tuple[sp.csr_matrix, np.ndarray]:
        """
        ``(B, m)`` for transition rewards: ``B[(s,a), s'] = p(s'|s,a) exp((r(s,a,s') - m(s,a)) / alpha)``
        with ``m(s,a)`` the largest reward of the row, so ``B <= P`` never overflows (built once per alpha).
        """
        if self._tilted is None or self._tilted[0] != alpha:
            assert self.r_nz is not None
            counts = np.diff(self.P.indptr)
            m = np.full(self.P.shape[0], 0.0)
            nonempty = counts > 0
            m[nonempty] = np.maximum.reduceat(self.r_nz, self.P.indptr[:-1][nonempty])
            data = self.P.data * np.exp((self.r_nz - np.repeat(m, counts)) / alpha)
            B = sp.csr_matrix((data, self.P.indices, self.P.indptr), shape=self.P.shape)
            self._tilted = (alpha, B, m)
        return self._tilted[1], self._tilted[2]

    def row_block(self, states: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | slice]:
        """
        The CSR structure of the rows ``(s, a)`` of ``states`` (all states for ``None``):
        ``(indptr, nz)`` where ``nz`` indexes the non-zeros of ``P`` (and of ``log_p_nz``/``r_nz``)
        belonging to those rows, in order. Vectorised, ``O(len(states) * A + nnz of the rows)``.
        """
        if states is None:
            return self.P.indptr, slice(None)
        A = self.n_actions
        rows = (np.asarray(states, dtype=np.int64)[:, None] * A + np.arange(A)).ravel()
        start = self.P.indptr[rows].astype(np.int64)
        counts = self.P.indptr[rows + 1] - start
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        nz = np.repeat(start - indptr[:-1], counts) + np.arange(indptr[-1], dtype=np.int64)
        return indptr, nz

    def column_order(self) -> tuple[np.ndarray, np.ndarray]:
        """
        ``(perm, col_indptr)``: the non-zeros grouped by next state ``s'`` (CSC order) for
        log-space forward messages: ``perm`` reorders CSR non-zeros, ``col_indptr`` delimits columns.
        """
        if self._csc_perm is None:
            perm = np.argsort(self.P.indices, kind="stable")
            counts = np.bincount(self.P.indices, minlength=self.n_states)
            indptr = np.zeros(self.n_states + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            self._csc_perm = (perm, indptr)
        return self._csc_perm

    def dense_transitions(self) -> np.ndarray:
        """The transition model as a dense ``(S, A, S)`` array (small models only)."""
        return self.P.toarray().reshape(self.n_states, self.n_actions, self.n_states)

    def __repr__(self) -> str:
        h = "inf" if self.horizon is None else self.horizon
        kind = "r(s,a,s')" if self.has_transition_rewards else "r(s,a)"
        return f"TabularMDP(S={self.n_states}, A={self.n_actions}, nnz={self.nnz}, horizon={h}, rewards={kind})"
