"""Argument checks of :mod:`sb3_softopt.inference.composition` (private): every message names the
argument and its valid range, so a bad composition fails where it is asked for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sb3_softopt.inference.mdp import InvalidMDPError, TabularMDP
from sb3_softopt.inference.solvers import SoftSolution

MODES = ("and", "or")

#: How far from 1 the weights of bounds and corrections may sum (they are derived for sum w = 1).
WEIGHT_SUM_ATOL = 1e-9


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise InvalidMDPError(f"mode must be one of {MODES}, got {mode!r}")
    return str(mode)


def check_weights(weights: Any, n: int) -> np.ndarray:
    """Non-negative, finite, ``n`` of them, not all zero; ``None`` is ``1/n`` each."""
    if weights is None:
        return np.full(n, 1.0 / n)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidMDPError(f"weights must be a sequence of {n} non-negative finite numbers, got {weights!r}") from exc
    if w.shape != (n,):
        raise InvalidMDPError(f"weights must have one entry per constituent ({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise InvalidMDPError(f"weights must be finite numbers >= 0, got {w.tolist()}")
    if np.any(w < 0):
        raise InvalidMDPError(f"weights must be >= 0 (a negative weight is not a composition), got {w.tolist()}")
    if not np.any(w > 0):
        raise InvalidMDPError(f"weights must not all be 0, got {w.tolist()}")
    return w


def check_unit_weights(weights: Any, n: int) -> np.ndarray:
    """As :func:`check_weights`, and summing to 1 (what the bounds and the correction are derived for)."""
    w = check_weights(weights, n)
    if abs(float(w.sum()) - 1.0) > WEIGHT_SUM_ATOL:
        raise InvalidMDPError(
            f"weights must sum to 1 for the AND bounds and the divergence correction, they sum to {float(w.sum())!r}"
        )
    return w


def _same_transitions(a: TabularMDP, b: TabularMDP) -> bool:
    if a.P is b.P:
        return True
    if a.P.shape != b.P.shape or a.P.nnz != b.P.nnz:
        return False
    same_pattern = np.array_equal(a.P.indptr, b.P.indptr) and np.array_equal(a.P.indices, b.P.indices)
    return bool(same_pattern and np.allclose(a.P.data, b.P.data, rtol=0, atol=1e-12))


def check_tasks(tasks: Any, label: str = "tasks", suffix: str = "") -> list[TabularMDP]:
    """A non-empty sequence of models with the same number of states/actions and transitions."""
    if isinstance(tasks, TabularMDP) or not isinstance(tasks, Sequence) or len(tasks) == 0:
        raise InvalidMDPError("tasks must be a non-empty sequence of TabularMDP (one per constituent task)")
    tasks = list(tasks)
    for i, t in enumerate(tasks):
        if not isinstance(t, TabularMDP):
            raise TypeError(f"tasks[{i}] must be a TabularMDP, got {type(t).__name__}")
    ref = tasks[0]
    for i, t in enumerate(tasks[1:], start=1):
        name, first = f"{label}[{i}]{suffix}", f"{label}[0]{suffix}"
        if (t.n_states, t.n_actions) != (ref.n_states, ref.n_actions):
            raise InvalidMDPError(
                f"{name} has (S, A) = {(t.n_states, t.n_actions)}, {first} has {(ref.n_states, ref.n_actions)}: "
                "composed tasks must share states, actions and dynamics"
            )
        if not _same_transitions(ref, t):
            raise InvalidMDPError(f"{name} has other transitions than {first}: composed tasks must share the dynamics")
        ts, rs = t.terminal_states, ref.terminal_states
        if (ts is None) != (rs is None) or (ts is not None and not np.array_equal(ts, rs)):
            raise InvalidMDPError(f"{name} has other terminal_states than {first}: composed tasks must share them")
    return tasks


def check_solutions(solutions: Any) -> list[SoftSolution]:
    """Soft value iteration solutions of tasks on one model with one alpha, gamma and horizon."""
    if isinstance(solutions, SoftSolution) or not isinstance(solutions, Sequence) or len(solutions) == 0:
        raise InvalidMDPError("solutions must be a non-empty sequence of SoftSolution (one per constituent task)")
    sols = list(solutions)
    for i, s in enumerate(sols):
        if not isinstance(s, SoftSolution):
            raise TypeError(f"solutions[{i}] must be a SoftSolution (from soft_value_iteration), got {type(s).__name__}")
        if s.method != "variational" and not s.mdp.deterministic:
            raise InvalidMDPError(
                f"solutions[{i}] comes from exact_inference on stochastic dynamics: composition is derived for the "
                "soft Bellman backup of soft_value_iteration (the two agree only for deterministic dynamics)"
            )
    ref = sols[0]
    check_tasks([s.mdp for s in sols], "solutions", ".mdp")
    for i, s in enumerate(sols[1:], start=1):
        for name in ("alpha", "gamma", "horizon"):
            if getattr(s, name) != getattr(ref, name):
                raise InvalidMDPError(
                    f"solutions[{i}].{name} = {getattr(s, name)!r} differs from solutions[0].{name} = "
                    f"{getattr(ref, name)!r}: composed solutions must share alpha, gamma and horizon"
                )
    return sols
