r"""
Composing soft-optimal Q-functions of tasks that share dynamics, and the exact gap to the optimum.

For tasks with rewards :math:`r_i` on one tabular MDP, temperature :math:`\alpha` and soft-optimal
:math:`Q_i` (from :func:`~sb3_softopt.inference.soft_value_iteration`, the soft Q-learning backup):

* **AND** (Haarnoja et al. 2018, ICRA): :math:`Q_\Sigma = \sum_i w_i Q_i` for the combined reward
  :math:`r_C = \sum_i w_i r_i` (weights sum to 1 by default). Not exact; with :math:`\sum_i w_i = 1`,
  :math:`Q_\Sigma \ge Q^*_C \ge Q_\Sigma - C^*` (:func:`and_bounds`), and :math:`Q_\Sigma + C` with
  Hunt et al.'s (2019) divergence correction :math:`C` (:func:`divergence_correction`) is exact.
* **OR** (van Niekerk et al. 2019): :math:`Q_\vee = \alpha \log \sum_i w_i \exp(Q_i / \alpha)` for the
  task whose *boundary* rewards (the terminal reward ``V_T`` and rewards of transitions into absorbing
  ``terminal_states``) are :math:`\alpha \log \sum_i w_i \exp(r_i/\alpha)`, the other rewards being
  shared. Exact when the dynamics are deterministic and :math:`\gamma = 1` (then
  :math:`\exp(V/\alpha)` obeys a linear equation); not in general.

:func:`composition_gap` solves every task and the combined one exactly and reports the gap.
See ``docs/composition.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import special

from sb3_softopt.inference._ops import soft_max_actions, soft_value
from sb3_softopt.inference.composition_checks import (
    check_mode,
    check_solutions,
    check_tasks,
    check_unit_weights,
    check_weights,
)
from sb3_softopt.inference.evaluation import evaluate_policy
from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP, check_alpha
from sb3_softopt.inference.solvers import MDP_HORIZON, SoftSolution, soft_value_iteration

__all__ = [
    "ComposedSolution",
    "CompositionGap",
    "and_bounds",
    "combined_task",
    "compose",
    "compose_q",
    "composition_gap",
    "divergence_correction",
]


def compose_q(q_values: Sequence[Any], weights: Any = None, *, mode: str = "and", alpha: float = 1.0) -> np.ndarray:
    """
    Compose Q-value arrays of one shape: ``sum_i w_i Q_i`` ("and") or
    ``alpha * log sum_i w_i exp(Q_i / alpha)`` ("or", computed with a max-shift: no overflow).

    :param q_values: the constituents' Q-values, arrays of the same shape (e.g. ``(S, A)`` or ``(T, S, A)``).
    :param weights: non-negative, finite, one per constituent, not all zero; default ``1/n`` each.
    :param mode: ``"and"`` (weighted sum) or ``"or"`` (weighted soft maximum).
    :param alpha: temperature of the soft maximum (> 0); only used by ``"or"``.
    :return: the composed Q-values, float64, of the constituents' shape.
    """
    mode = check_mode(mode)
    if isinstance(q_values, np.ndarray) or len(q_values) == 0:
        raise InvalidMDPError("q_values must be a non-empty sequence of arrays (one per constituent task)")
    qs = [np.asarray(q, dtype=np.float64) for q in q_values]
    for i, q in enumerate(qs[1:], start=1):
        if q.shape != qs[0].shape:
            raise InvalidMDPError(f"q_values[{i}] has shape {q.shape}, q_values[0] has {qs[0].shape}: shapes must match")
    w = check_weights(weights, len(qs))
    stacked = np.stack(qs)
    if not np.all(np.isfinite(stacked)):
        raise InvalidMDPError("q_values contain NaN or inf")
    if mode == "and":
        return np.tensordot(w, stacked, axes=1)
    alpha = check_alpha(alpha)
    shape = (len(qs),) + (1,) * qs[0].ndim
    return alpha * special.logsumexp(stacked / alpha, axis=0, b=w.reshape(shape))


@dataclass(eq=False)
class ComposedSolution:
    """
    The Boltzmann policy of a composed Q-function (:func:`compose`); arrays shaped like the
    constituents' (``(S, A)`` infinite horizon, ``(T, S, A)`` finite).

    :ivar q: composed Q-values.
    :ivar v: ``alpha * logsumexp_a(q / alpha)``.
    :ivar log_policy: ``(q - v) / alpha``.
    :ivar alpha: temperature.
    :ivar gamma: discount.
    :ivar horizon: number of decisions, or ``None`` (infinite).
    :ivar weights: the weights used.
    :ivar mode: ``"and"`` or ``"or"``.
    """

    q: np.ndarray
    v: np.ndarray
    log_policy: np.ndarray
    alpha: float
    gamma: float
    horizon: int | None
    weights: np.ndarray
    mode: str

    @property
    def policy(self) -> np.ndarray:
        """``softmax(q / alpha)``: pass it to :func:`~sb3_softopt.inference.evaluate_policy`."""
        return np.exp(self.log_policy)


def compose(solutions: Sequence[SoftSolution], weights: Any = None, mode: str = "and") -> ComposedSolution:
    """
    Compose soft-optimal solutions of tasks on the same dynamics into one Boltzmann policy.

    :param solutions: results of :func:`~sb3_softopt.inference.soft_value_iteration`, one per task,
        with the same transitions, ``alpha``, ``gamma`` and horizon.
    :param weights: non-negative, finite, one per task, not all zero; default ``1/n`` each.
    :param mode: ``"and"`` (``sum_i w_i Q_i``) or ``"or"`` (``alpha log sum_i w_i exp(Q_i / alpha)``).
    :return: a :class:`ComposedSolution`.
    """
    mode = check_mode(mode)
    sols = check_solutions(solutions)
    w = check_weights(weights, len(sols))
    ref = sols[0]
    q = compose_q([np.asarray(s.q) for s in sols], w, mode=mode, alpha=ref.alpha)
    v, log_pi = soft_max_actions(q, ref.alpha)
    return ComposedSolution(q, v, log_pi, ref.alpha, ref.gamma, ref.horizon, w, mode)


def _into_terminal(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the rewards paid on entering an absorbing terminal state: ``(S, A)`` rows whose every
    successor is terminal, and the transition-reward non-zeros whose ``s'`` is terminal."""
    S, A = mdp.n_states, mdp.n_actions
    term: np.ndarray = np.zeros(S, dtype=bool) if mdp.terminal_states is None else mdp.terminal_states
    to_term = term[mdp.P.indices]
    nonterm_count = np.bincount(mdp.rows_nz, weights=~to_term, minlength=S * A)
    rows = (nonterm_count == 0).reshape(S, A) & ~term[:, None]
    return rows, to_term


def combined_task(tasks: Sequence[TabularMDP], weights: Any = None, mode: str = "and", alpha: float | None = None) -> TabularMDP:
    """
    The task a composition targets, on the constituents' shared dynamics.

    "and": reward ``sum_i w_i r_i`` and terminal reward ``sum_i w_i r_T,i``. "or": the rewards
    must be equal except on the boundary (terminal rewards; rewards of transitions into absorbing
    ``terminal_states``), where they are combined as ``alpha * log sum_i w_i exp(r_i / alpha)``.

    :param tasks: models with identical transitions (e.g. ``mdp.with_rewards(r_i)``).
    :param weights: as in :func:`compose`.
    :param mode: ``"and"`` or ``"or"``.
    :param alpha: temperature; required for ``"or"``.
    :return: a :class:`~sb3_softopt.inference.TabularMDP`.
    """
    mode = check_mode(mode)
    tasks = check_tasks(tasks)
    w = check_weights(weights, len(tasks))
    base = tasks[0]
    transition = base.has_transition_rewards or any(t.has_transition_rewards for t in tasks)
    if transition:
        rs = np.stack([_reward_nz(t) for t in tasks])
    else:
        rs = np.stack([t.r_sa for t in tasks])
    terms = np.stack([t.terminal_reward for t in tasks])
    if mode == "and":
        reward, terminal = np.tensordot(w, rs, axes=1), w @ terms
    else:
        if alpha is None:
            raise InvalidMDPError("alpha is required for mode='or' (the soft maximum's temperature), got None")
        alpha = check_alpha(alpha)
        rows, nz = _into_terminal(base)
        boundary = nz if transition else rows
        differ = np.any(rs != rs[0], axis=0) & ~boundary
        if np.any(differ):
            raise InvalidMDPError(
                "mode='or' needs tasks whose rewards differ only on the boundary (terminal_reward, or rewards of "
                f"transitions into terminal_states); they differ at {int(differ.sum())} other entries. Pass the "
                "task you want to compare with to composition_gap(..., combined=...)"
            )
        reward = rs[0].copy()
        soft = alpha * special.logsumexp(rs[:, boundary] / alpha, axis=0, b=w[:, None])
        reward[boundary] = soft
        terminal = alpha * special.logsumexp(terms / alpha, axis=0, b=w[:, None])
    if transition:
        S, A = base.n_states, base.n_actions
        reward = sp.csr_matrix((reward, base.P.indices, base.P.indptr), shape=(S * A, S))
    return base.with_rewards(reward, terminal_reward=terminal)


def _reward_nz(mdp: TabularMDP) -> np.ndarray:
    """The reward at every transition non-zero (``r(s, a)`` repeated when it has no ``s'``)."""
    return mdp.r_nz if mdp.r_nz is not None else mdp.r_sa.ravel()[mdp.rows_nz]


def _policy_terms(sols: Sequence[SoftSolution], w: np.ndarray) -> np.ndarray:
    """``sum_i w_i log pi_i(a|s)``: the log of the (unnormalised) product policy ``prod_i pi_i^{w_i}``."""
    return np.tensordot(w, np.stack([np.asarray(s.log_policy) for s in sols]), axes=1)


def _fixed_point(sols: Sequence[SoftSolution], step: Any, tol: float, max_iter: int) -> np.ndarray:
    """Iterate ``C <- step(C_next)`` backwards over a finite horizon (``C_{T-1} = 0``: the combined
    terminal reward is the weighted one) or to a fixed point (a gamma-contraction)."""
    ref = sols[0]
    S, A = ref.mdp.n_states, ref.mdp.n_actions
    if ref.horizon is not None:
        c = np.zeros((ref.horizon, S, A))
        for t in range(ref.horizon - 2, -1, -1):
            c[t] = step(t + 1, c[t + 1])
        return c
    c = np.zeros((S, A))
    for _ in range(max_iter):
        new = step(None, c)
        delta = float(np.max(np.abs(new - c)))
        c = new
        if delta <= tol * max(1.0, float(np.max(np.abs(c)))):
            return c
    raise InvalidMDPError(f"the fixed point did not converge in max_iter={max_iter} iterations; increase max_iter")


def _expect_next(mdp: TabularMDP, gamma: float, u: np.ndarray) -> np.ndarray:
    """``gamma * E_{s'|s,a}[u(s')]`` as ``(S, A)``."""
    return gamma * (mdp.P @ u).reshape(mdp.n_states, mdp.n_actions)


def divergence_correction(
    solutions: Sequence[SoftSolution], weights: Any = None, *, tol: float = 1e-12, max_iter: int = 100_000
) -> np.ndarray:
    r"""
    Hunt et al.'s (2019) divergence correction :math:`C` with :math:`Q_\Sigma + C = Q^*_C` exactly,
    the fixed point of :math:`C(s,a) = \gamma\, \mathbb{E}_{s'}\big[\alpha \log \sum_{a'}
    \prod_i \pi_i(a'|s')^{w_i} \exp(C(s',a')/\alpha)\big]` (the discounted future divergence
    between the constituents; :math:`\le 0`). Needs weights summing to 1.

    :param solutions: soft-optimal solutions of the constituent tasks (as for :func:`compose`).
    :param weights: non-negative, summing to 1; default ``1/n`` each.
    :param tol: infinite horizon: relative sup-norm stopping tolerance.
    :param max_iter: infinite horizon: iteration cap.
    :return: ``C``, shaped like the solutions' ``q``.
    """
    sols = check_solutions(solutions)
    w = check_unit_weights(weights, len(sols))
    ref = sols[0]
    log_rho = _policy_terms(sols, w)

    def step(t: int | None, c_next: np.ndarray) -> np.ndarray:
        rho = log_rho if t is None else log_rho[t]
        return _expect_next(ref.mdp, ref.gamma, soft_value(ref.alpha * rho + c_next, ref.alpha))

    return _fixed_point(sols, step, tol, max_iter)


def and_bounds(
    solutions: Sequence[SoftSolution], weights: Any = None, *, tol: float = 1e-12, max_iter: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    r"""
    Haarnoja et al.'s (2018) bounds on the combined task's optimum: ``(upper, lower)`` with
    ``upper = Q_Sigma >= Q*_C >= Q_Sigma - C* = lower``, where :math:`C^*` is the fixed point of
    :math:`C(s,a) = \gamma\, \mathbb{E}_{s'}[\delta(s') + \max_{a'} C(s',a')]` and
    :math:`\delta(s) = -\alpha \log \sum_a \prod_i \pi_i(a|s)^{w_i} \ge 0`; for two tasks with equal
    weights :math:`\delta = \tfrac{\alpha}{2} D_{1/2}(\pi_1 \| \pi_2)` (Renyi divergence of order 1/2,
    :math:`D_{1/2} = -2 \log \sum_a \sqrt{\pi_1 \pi_2}`). Needs weights summing to 1.

    :param solutions: soft-optimal solutions of the constituent tasks (as for :func:`compose`).
    :param weights: non-negative, summing to 1; default ``1/n`` each.
    :param tol: infinite horizon: relative sup-norm stopping tolerance.
    :param max_iter: infinite horizon: iteration cap.
    :return: ``(upper, lower)``, shaped like the solutions' ``q``.
    """
    sols = check_solutions(solutions)
    w = check_unit_weights(weights, len(sols))
    ref = sols[0]
    delta = -soft_value(ref.alpha * _policy_terms(sols, w), ref.alpha)
    np.maximum(delta, 0.0, out=delta)  # >= 0 by Hoelder; clip rounding

    def step(t: int | None, c_next: np.ndarray) -> np.ndarray:
        d = delta if t is None else delta[t]
        return _expect_next(ref.mdp, ref.gamma, d + c_next.max(axis=-1))

    upper = compose_q([np.asarray(s.q) for s in sols], w, mode="and")
    return upper, upper - _fixed_point(sols, step, tol, max_iter)


@dataclass(eq=False)
class CompositionGap:
    """
    The result of :func:`composition_gap`. Arrays have the solutions' shape (``(S, A)`` or
    ``(T, S, A)``; per-state ones ``(S,)`` or ``(T, S)``).

    :ivar composed: the composed policy (:class:`ComposedSolution`).
    :ivar optimal: the exact soft-optimal solution of the combined task.
    :ivar combined: the combined task.
    :ivar constituents: the constituents' soft-optimal solutions.
    :ivar q_gap: ``Q*_C - Q_composed``.
    :ivar kl: ``KL(pi*_C || pi_composed)`` per state (nats).
    :ivar regret: ``E_{s_0}[V*_C(s_0) - V^{pi_composed}_C(s_0)] >= 0``, the soft return the composed
        policy loses on the combined task (exact policy evaluation).
    :ivar max_q_gap: ``max |q_gap|`` over non-terminal states.
    :ivar max_kl: ``max kl`` over non-terminal states.
    """

    composed: ComposedSolution
    optimal: SoftSolution
    combined: TabularMDP
    constituents: list[SoftSolution]
    q_gap: np.ndarray
    kl: np.ndarray
    regret: float
    max_q_gap: float
    max_kl: float


def composition_gap(
    tasks: Sequence[TabularMDP],
    alpha: float = 1.0,
    weights: Any = None,
    mode: str = "and",
    *,
    gamma: float = 1.0,
    horizon: int | str | None = MDP_HORIZON,
    combined: TabularMDP | None = None,
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> CompositionGap:
    """
    How far the composition of the tasks' soft-optimal policies is from the combined task's optimum,
    computed exactly: solve every task and the combined one by soft value iteration, compose, compare.

    :param tasks: two or more models with identical transitions (e.g. ``mdp.with_rewards(r_i)``).
    :param alpha: temperature (> 0), shared by all tasks.
    :param weights: non-negative, finite, one per task, not all zero; default ``1/n`` each.
    :param mode: ``"and"`` or ``"or"`` (see :func:`compose`).
    :param gamma: discount in (0, 1]; ``1`` needs a finite horizon.
    :param horizon: number of decisions; default the tasks' ``horizon``; ``None`` infinite.
    :param combined: the task to compare with; default :func:`combined_task` of ``tasks``.
    :param tol: infinite horizon: solver tolerance.
    :param max_iter: infinite horizon: solver iteration cap.
    :return: a :class:`CompositionGap`.
    """
    mode = check_mode(mode)
    tasks = check_tasks(tasks)
    alpha = check_alpha(alpha)
    w = check_weights(weights, len(tasks))
    if combined is None:
        combined = combined_task(tasks, w, mode, alpha)
    else:
        if not isinstance(combined, TabularMDP):
            raise TypeError(f"combined must be a TabularMDP or None, got {type(combined).__name__}")
        check_tasks([*tasks, combined])  # the last one is ``combined``
    kwargs: dict[str, Any] = {"gamma": gamma, "horizon": horizon, "tol": tol, "max_iter": max_iter, "keep_q": True}
    sols = [soft_value_iteration(t, alpha, **kwargs) for t in tasks]
    optimal = soft_value_iteration(combined, alpha, **kwargs)
    composed = compose(sols, w, mode)
    q_gap = np.asarray(optimal.q) - composed.q
    log_opt = np.asarray(optimal.log_policy)
    kl = np.sum(np.exp(log_opt) * (log_opt - composed.log_policy), axis=-1)
    values = evaluate_policy(combined, composed.policy, alpha=alpha, gamma=optimal.gamma, horizon=optimal.horizon)
    v0 = values if optimal.horizon is None else values[0]
    v_opt = optimal.v if optimal.horizon is None else optimal.v[0]
    regret = float(combined.initial_state_dist @ (v_opt - v0))
    live = np.ones(combined.n_states, dtype=bool) if combined.terminal_states is None else ~combined.terminal_states
    return CompositionGap(
        composed,
        optimal,
        combined,
        sols,
        q_gap,
        kl,
        regret,
        float(np.max(np.abs(q_gap[..., live, :]))),
        float(np.max(kl[..., live])),
    )

