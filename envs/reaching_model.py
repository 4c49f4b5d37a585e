"""The reaching gridworld's exact model, built as sparse/vectorised arrays for any grid size.

:func:`build_reaching_model` never allocates a dense ``(S, A, S')`` array (a 1000 x 1000 grid has
10^6 states), so the inference toolkit can use it for benchmarks; :mod:`sb3_softopt.envs.reaching`
wraps it as a Gymnasium environment (and re-exports these names).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from sb3_softopt.common.validation import check_int, check_real

STAY, UP, DOWN, LEFT, RIGHT = range(5)
ACTION_NAMES = ("stay", "up", "down", "left", "right")
#: (dx, dy) per action; y grows downwards (row index), so "up" is dy = -1.
ACTION_DELTAS = np.array([(0, 0), (0, -1), (0, 1), (-1, 0), (1, 0)], dtype=np.int64)
N_ACTIONS = 5
#: Dense models above this many bytes are refused (use the sparse model instead).
MAX_DENSE_BYTES = 1 << 30


@dataclass
class ReachingModel:
    """The exact model of a reaching grid (see :func:`build_reaching_model`).

    :ivar transition: scipy.sparse CSR ``(S * A, S)``; row ``s * A + a`` is ``p(. | s, a)``.
    :ivar reward: float64 ``(S, A)``; the expected one-step reward ``r(s, a)`` (exact when the
        reward does not depend on ``s'``, i.e. unless ``terminate_at_goal`` with ``p_slip > 0``
        and a non-zero ``goal_reward``; then the goal bonus is folded in as its expectation).
    :ivar terminal_reward: float64 ``(S,)``; ``-distance_cost * (|x - gx| + |y - gy|)`` (Manhattan
        distance to the goal), the penalty paid at the horizon (0 on walls).
    :ivar initial_state_dist: float64 ``(S,)``, one-hot at the start.
    :ivar terminal_states: bool ``(S,)``; the goal when ``terminate_at_goal`` (the episode has ended
        there; absorbing, zero reward), else all False.
    :ivar next_state: int64 ``(A, S)``; the deterministic successor of each state under each
        *executed* action (walls, borders and absorbing states map to themselves).
    :ivar width: number of columns.
    :ivar height: number of rows.
    :ivar start: state index of the start cell.
    :ivar goal: state index of the goal cell.
    :ivar wall_mask: bool ``(S,)``, the wall cells.
    :ivar absorbing_mask: bool ``(S,)``, the states that map to themselves under every action
        (walls and terminal states).
    """

    width: int
    height: int
    start: int
    goal: int
    transition: sp.csr_matrix
    reward: np.ndarray
    terminal_reward: np.ndarray
    initial_state_dist: np.ndarray
    terminal_states: np.ndarray
    next_state: np.ndarray
    wall_mask: np.ndarray
    absorbing_mask: np.ndarray

    @property
    def n_states(self) -> int:
        return self.width * self.height

    @property
    def n_actions(self) -> int:
        return N_ACTIONS


def _cell(name: str, value: Any, width: int, height: int) -> tuple[int, int]:
    try:
        x, y = value
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an (x, y) pair of integers, got {value!r}") from exc
    x = check_int(x, f"{name}[0] (x)")
    y = check_int(y, f"{name}[1] (y)")
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(
            f"{name}={value!r} lies outside the {width}x{height} grid (0 <= x < {width}, 0 <= y < {height})"
        )
    return x, y


def default_start(width: int, height: int) -> tuple[int, int]:
    """Left-middle: ``(min(1, width - 1), height // 2)`` (one cell in from the wall, as in the lecture)."""
    return (min(1, width - 1), height // 2)


def default_goal(width: int, height: int) -> tuple[int, int]:
    """Right-middle: ``(max(width - 2, 0), height // 2)``; with 21 columns the start is 18 moves away."""
    return (max(width - 2, 0), height // 2)


def build_reaching_model(
    width: int = 21,
    height: int = 11,
    start: tuple[int, int] | None = None,
    goal: tuple[int, int] | None = None,
    p_slip: float = 0.0,
    move_cost: float = 0.1,
    distance_cost: float = 5.0,
    walls: Iterable[Sequence[int]] | None = None,
    terminate_at_goal: bool = False,
    goal_reward: float = 10.0,
) -> ReachingModel:
    """Build the reaching gridworld's exact model as sparse/vectorised arrays (no dense ``S x S``).

    State index ``s = y * width + x``; actions ``0 stay, 1 up (y-1), 2 down (y+1), 3 left (x-1),
    4 right (x+1)``. With probability ``p_slip`` the chosen action is replaced by one drawn
    uniformly from all 5 actions (possibly the chosen one), so the chosen action is executed with
    probability ``1 - p_slip + p_slip / 5``. A move into the border or a wall leaves the agent in
    place. Every non-stay *chosen* action costs ``move_cost`` (paid even if it slips or bumps).
    Wall cells, and the goal when ``terminate_at_goal``, are absorbing with zero reward.

    Memory: ``5 S`` (``p_slip = 0``) or up to ``25 S`` (``p_slip > 0``) non-zeros; a 1000 x 1000
    grid without slip takes about 100 MB and ~1 s.

    :return: a :class:`ReachingModel`.
    """
    width = check_int(width, "width", low=1)
    height = check_int(height, "height", low=1)
    if width * height < 2:
        raise ValueError(
            f"the grid needs at least 2 cells for distinct start and goal, got width={width}, height={height}"
        )
    p_slip = check_real(p_slip, "p_slip", low=0.0, high=1.0)
    move_cost = check_real(move_cost, "move_cost")
    distance_cost = check_real(distance_cost, "distance_cost")
    goal_reward = check_real(goal_reward, "goal_reward")
    sx, sy = _cell("start", default_start(width, height) if start is None else start, width, height)
    gx, gy = _cell("goal", default_goal(width, height) if goal is None else goal, width, height)
    if (sx, sy) == (gx, gy):
        raise ValueError(f"start and goal must differ, both are {(sx, sy)}")
    S, A = width * height, N_ACTIONS
    s_idx, g_idx = sy * width + sx, gy * width + gx

    wall_mask = np.zeros(S, dtype=bool)
    for i, w in enumerate(walls or ()):
        wx, wy = _cell(f"walls[{i}]", w, width, height)
        if (wx, wy) == (sx, sy):
            raise ValueError(f"walls[{i}]={w!r} is on the start cell")
        if (wx, wy) == (gx, gy):
            raise ValueError(f"walls[{i}]={w!r} is on the goal cell")
        wall_mask[wy * width + wx] = True
    absorbing = wall_mask.copy()
    if terminate_at_goal:
        absorbing[g_idx] = True

    states = np.arange(S, dtype=np.int64)
    xs, ys = states % width, states // width
    next_state = np.empty((A, S), dtype=np.int64)
    for a, (dx, dy) in enumerate(ACTION_DELTAS):
        nx, ny = xs + dx, ys + dy
        inside = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
        cand = np.where(inside, ny * width + nx, states)
        blocked = ~inside | wall_mask[np.clip(cand, 0, S - 1)]
        nxt = np.where(blocked, states, cand)
        nxt[absorbing] = states[absorbing]
        next_state[a] = nxt

    # Row s*A + a mixes the executed actions k with weight (1 - p_slip) [k == a] + p_slip / A.
    idx_dtype = np.int32 if S * A * A < 2**31 - 1 else np.int64
    if p_slip == 0.0:
        cols = next_state.T.astype(idx_dtype)  # (S, A): executed == chosen
        transition = sp.csr_matrix(
            (np.ones(S * A), cols.ravel(), np.arange(S * A + 1, dtype=idx_dtype)), shape=(S * A, S)
        )
    else:
        weights = np.full((A, A), p_slip / A)
        weights[np.arange(A), np.arange(A)] += 1.0 - p_slip  # weights[a, k]
        # Build the CSR with 5 (possibly repeated) entries per row, then merge repeats in place:
        # avoids a COO row array and the COO->CSR copy (matters at 10^6 states).
        cols = np.broadcast_to(next_state.T[:, None, :].astype(idx_dtype), (S, A, A)).reshape(-1)
        data = np.broadcast_to(weights[None, :, :], (S, A, A)).reshape(-1)
        indptr = np.arange(0, S * A * A + 1, A, dtype=idx_dtype)
        transition = sp.csr_matrix((data, cols, indptr), shape=(S * A, S))
        transition.sum_duplicates()
        transition.eliminate_zeros()
        # A row whose five entries all merge (absorbing states) can sum to 1 + 1 ulp.
        np.minimum(transition.data, 1.0, out=transition.data)

    reward = np.zeros((S, A), dtype=np.float64)
    reward[:, 1:] = -move_cost
    if terminate_at_goal and goal_reward != 0.0:
        p_goal = np.asarray(transition[:, g_idx].todense()).reshape(S, A)
        reward += goal_reward * p_goal
    reward[absorbing] = 0.0

    terminal_reward = -distance_cost * (np.abs(xs - gx) + np.abs(ys - gy)).astype(np.float64)
    terminal_reward[wall_mask] = 0.0
    init = np.zeros(S)
    init[s_idx] = 1.0
    terminal_states = np.zeros(S, dtype=bool)
    terminal_states[g_idx] = terminate_at_goal
    return ReachingModel(
        width=width,
        height=height,
        start=s_idx,
        goal=g_idx,
        transition=transition,
        reward=reward,
        terminal_reward=terminal_reward,
        initial_state_dist=init,
        terminal_states=terminal_states,
        next_state=next_state,
        wall_mask=wall_mask,
        absorbing_mask=absorbing,
    )
