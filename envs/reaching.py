"""A finite-horizon reaching gridworld: the lecture's forward/backward "cones".

The model builder :func:`build_reaching_model` (in :mod:`sb3_softopt.envs.reaching_model`,
re-exported here) works for arbitrary ``width x height`` grids and never allocates a dense
``(S, A, S')`` array (a 1000 x 1000 grid has 10^6 states), so the inference toolkit can use it for
benchmarks; :class:`ReachingGridworld` wraps it as a Gymnasium environment with a dense model for
small grids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sb3_softopt.common.validation import check_int
from sb3_softopt.envs._utils import (
    check_render_mode,
    discrete_action,
    fill_disc,
    fill_rect,
)

# The model (grid constants, ReachingModel, build_reaching_model) has its own module; this one
# re-exports its names, so that `sb3_softopt.envs.reaching` offers the model and the environment.
from sb3_softopt.envs.reaching_model import (
    ACTION_DELTAS as ACTION_DELTAS,
    ACTION_NAMES as ACTION_NAMES,
    DOWN as DOWN,
    LEFT as LEFT,
    MAX_DENSE_BYTES as MAX_DENSE_BYTES,
    N_ACTIONS as N_ACTIONS,
    RIGHT as RIGHT,
    STAY as STAY,
    UP as UP,
    ReachingModel as ReachingModel,
    build_reaching_model as build_reaching_model,
    default_goal as default_goal,
    default_start as default_start,
)


class ReachingGridworld(gym.Env[np.int64, np.int64]):
    """
    ## Description

    A ``width x height`` grid (default 21 x 11). The agent starts left-middle (``(1, 5)``) and must
    be near the goal right-middle (``(19, 5)``, 18 moves away) when the horizon (default 30 steps)
    ends; the slack of 12 steps lets soft-optimal trajectories spread out in the middle, so the
    posterior state marginals are narrow at both ends and wide in between (the lecture's forward
    and backward "cones"). With ``p_slip > 0`` the dynamics are stochastic and exact inference
    becomes optimistic about slips.

    Coordinates: ``x`` is the column (0 = left), ``y`` the row (0 = top); state index
    ``s = y * width + x``.

    ## Action Space

    `Discrete(5)`:

    | Num | Action | Move        |
    |-----|--------|-------------|
    | 0   | stay   | (0, 0)      |
    | 1   | up     | y - 1       |
    | 2   | down   | y + 1       |
    | 3   | left   | x - 1       |
    | 4   | right  | x + 1       |

    With probability ``p_slip`` the chosen action is replaced by one drawn uniformly from all five
    (possibly the chosen one). Moves into the border or a wall leave the agent in place.

    ## Observation Space

    `Discrete(width * height)`, the state index ``y * width + x``. Wrap with
    ``sb3_softopt.envs.OneHotObservation`` for MLP policies. The time step is *not* observed.

    ## Rewards

    - ``-move_cost`` (default 0.1) for every chosen non-stay action (also when it slips or bumps).
    - At the horizon (the step with ``t == horizon``) additionally ``terminal_reward[s_T] =
      -distance_cost * (|x - gx| + |y - gy|)`` (Manhattan distance; default ``distance_cost = 5``:
      with ``alpha = 1`` the soft-optimal agent ends on the goal with probability 0.95 while its
      state marginal is widest mid-episode; with ``distance_cost = 1`` it ends ~7 cells away).
    - ``terminate_at_goal=True``: entering the goal pays ``goal_reward`` (default 10) and ends the
      episode; the goal is absorbing.

    ## Exact model (on ``env.unwrapped``)

    - ``transition_matrix``: dense float64 ``(S, A, S')`` (built lazily; refused above 1 GiB),
      ``transition_matrix_sparse``: CSR ``(S * A, S')`` with row ``s * A + a``.
    - ``reward_matrix``: float64 ``(S, A)``; with ``terminate_at_goal=True`` it is ``(S, A, S')``
      (the goal bonus depends on ``s'``). ``expected_reward_matrix`` is always ``(S, A)``.
    - ``initial_state_dist``: ``(S,)`` one-hot at the start; ``horizon``: int or None.
    - ``terminal_reward``: ``(S,)`` paid at the horizon (zeros when ``horizon is None``).
    - ``terminal_states``: bool ``(S,)``, the goal in terminating mode (the episode has ended
      there), else all False. Wall cells and terminal states are absorbing with zero reward.
    - :func:`build_reaching_model` builds the same model for any grid without dense arrays.

    ## Starting State

    Always ``start``.

    ## Episode End

    - Termination at ``t == horizon`` (the horizon is part of the task: the terminal penalty is paid
      then); registered with ``max_episode_steps=30``.
    - With ``terminate_at_goal=True``: termination on entering the goal. ``horizon=None`` then gives
      a discounted task truncated only by the ``TimeLimit`` (``max_episode_steps``).

    ## Arguments

    ```python
    gym.make("ReachingGridworld-v0", width=21, height=11, start=None, goal=None, horizon=30,
             p_slip=0.0, move_cost=0.1, distance_cost=5.0, walls=None,
             terminate_at_goal=False, goal_reward=10.0, render_mode="rgb_array")
    ```

    ``walls`` is an iterable of ``(x, y)`` cells (not the start or the goal). ``render_mode``:
    ``"rgb_array"`` (16 px cells: walls dark grey, start blue, goal green, agent red) or ``"ansi"``.

    ## Reference

    S. Levine, "Reinforcement Learning and Control as Probabilistic Inference: Tutorial and Review",
    arXiv:1805.00909, 2018 (section 2.3, forward and backward messages; state marginals).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}
    action_space: spaces.Discrete
    CELL_PX = 16

    def __init__(
        self,
        width: int = 21,
        height: int = 11,
        start: tuple[int, int] | None = None,
        goal: tuple[int, int] | None = None,
        horizon: int | None = 30,
        p_slip: float = 0.0,
        move_cost: float = 0.1,
        distance_cost: float = 5.0,
        walls: Iterable[Sequence[int]] | None = None,
        terminate_at_goal: bool = False,
        goal_reward: float = 10.0,
        render_mode: str | None = None,
    ) -> None:
        """:param width: number of columns (x).
        :param height: number of rows (y).
        :param start: start cell ``(x, y)``; ``None``: ``(1, height // 2)``, one cell in from the left wall.
        :param goal: goal cell ``(x, y)``; ``None``: ``(width - 2, height // 2)``, one cell in from the right wall.
        :param horizon: episode length ``T`` (the terminal distance penalty is paid at ``t == T``), or
            ``None`` for a discounted task (with ``terminate_at_goal=True``).
        :param p_slip: probability that the chosen action is replaced by a uniformly drawn one.
        :param move_cost: cost of every chosen non-stay action.
        :param distance_cost: weight of the Manhattan distance to the goal in the terminal penalty.
        :param walls: iterable of ``(x, y)`` wall cells (not the start or the goal), or ``None``.
        :param terminate_at_goal: entering the goal pays ``goal_reward`` and ends the episode.
        :param goal_reward: the goal bonus of the ``terminate_at_goal`` mode.
        :param render_mode: ``"rgb_array"`` (16 px cells), ``"ansi"`` or ``None``.
        """
        if horizon is not None:
            horizon = check_int(horizon, "horizon", low=1)
        elif not terminate_at_goal:
            raise ValueError("horizon=None needs terminate_at_goal=True (otherwise the episode never ends)")
        if not isinstance(terminate_at_goal, (bool, np.bool_)):
            raise TypeError(f"terminate_at_goal must be a bool, got {terminate_at_goal!r}")
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        walls = [tuple(w) if isinstance(w, (list, tuple, np.ndarray)) else w for w in (walls or ())]
        model = build_reaching_model(
            width, height, start, goal, p_slip, move_cost, distance_cost, walls, terminate_at_goal, goal_reward
        )
        self.model = model
        self.width, self.height = model.width, model.height
        self.start, self.goal = model.start, model.goal
        self.start_xy = (model.start % model.width, model.start // model.width)
        self.goal_xy = (model.goal % model.width, model.goal // model.width)
        self.walls = frozenset(walls)
        self.p_slip = float(p_slip)
        self.move_cost = float(move_cost)
        self.distance_cost = float(distance_cost)
        self.goal_reward = float(goal_reward)
        self.terminate_at_goal = bool(terminate_at_goal)
        self.horizon = horizon

        S = model.n_states
        self.n_states, self.n_actions = S, N_ACTIONS
        self.observation_space = spaces.Discrete(S)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.transition_matrix_sparse = model.transition
        self.expected_reward_matrix = model.reward
        self.initial_state_dist = model.initial_state_dist
        self.terminal_states = model.terminal_states
        self.distance_penalty = model.terminal_reward
        self.terminal_reward = model.terminal_reward if horizon is not None else np.zeros(S)
        self._dense_P: np.ndarray | None = None
        self._reward_sas: np.ndarray | None = None

        self.state = model.start
        self.t = 0
        self._last_action: int | None = None

    # -------------------------------------------------------------------------------- model
    @property
    def transition_matrix(self) -> np.ndarray:
        """Dense float64 ``(S, A, S')`` transition probabilities (cached)."""
        if self._dense_P is None:
            S = self.n_states
            if S * N_ACTIONS * S * 8 > MAX_DENSE_BYTES:
                raise ValueError(
                    f"a dense transition_matrix for {S} states would need {S * N_ACTIONS * S * 8 / 2**30:.1f} GiB; "
                    "use transition_matrix_sparse (CSR, (S*A, S)) or build_reaching_model()"
                )
            self._dense_P = self.transition_matrix_sparse.toarray().reshape(S, N_ACTIONS, S)
        return self._dense_P

    @property
    def reward_matrix(self) -> np.ndarray:
        """``(S, A)`` rewards, or ``(S, A, S')`` with ``terminate_at_goal`` (goal bonus on entering)."""
        if not self.terminate_at_goal:
            return self.expected_reward_matrix
        if self._reward_sas is None:
            S = self.n_states
            base = np.zeros((S, N_ACTIONS))
            base[:, 1:] = -self.move_cost
            r = np.repeat(base[:, :, None], S, axis=2)
            r[:, :, self.goal] += self.goal_reward
            r[self.model.absorbing_mask] = 0.0
            self._reward_sas = r
        return self._reward_sas

    def _step_reward(self, s: int, a: int, s_next: int) -> float:
        if self.model.absorbing_mask[s]:
            return 0.0
        r = -self.move_cost if a != STAY else 0.0
        if self.terminate_at_goal and s_next == self.goal:
            r += self.goal_reward
        return r

    def state_xy(self, s: int) -> tuple[int, int]:
        """``(x, y)`` of state index ``s``."""
        return int(s % self.width), int(s // self.width)

    def xy_state(self, x: int, y: int) -> int:
        """State index ``y * width + x``."""
        return int(y * self.width + x)

    # ------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = self.start
        self.t = 0
        self._last_action = None
        return np.int64(self.state), {"t": 0}

    def step(self, action: Any):
        a = discrete_action(action, self.action_space)
        executed = a
        if self.p_slip > 0.0 and self.np_random.random() < self.p_slip:
            executed = int(self.np_random.integers(N_ACTIONS))
        s = self.state
        s_next = int(self.model.next_state[executed, s])
        reward = self._step_reward(s, a, s_next)
        self.t += 1
        terminated = self.terminate_at_goal and s_next == self.goal
        if self.horizon is not None and self.t >= self.horizon:
            reward += float(self.terminal_reward[s_next])
            terminated = True
        self.state = s_next
        self._last_action = a
        x, y = self.state_xy(s_next)
        distance = abs(x - self.goal_xy[0]) + abs(y - self.goal_xy[1])
        info = {"t": self.t, "executed_action": executed, "distance": distance}
        return np.int64(s_next), float(reward), bool(terminated), False, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("ReachingGridworld.render() called without a render_mode.")
            return None
        ax, ay = self.state_xy(self.state)
        if self.render_mode == "ansi":
            lines = []
            for y in range(self.height):
                row = []
                for x in range(self.width):
                    if (x, y) == (ax, ay):
                        row.append("A")
                    elif (x, y) in self.walls:
                        row.append("#")
                    elif (x, y) == self.goal_xy:
                        row.append("G")
                    elif (x, y) == self.start_xy:
                        row.append("S")
                    else:
                        row.append(".")
                lines.append("".join(row))
            head = f"t={self.t}" + (f" last={ACTION_NAMES[self._last_action]}" if self._last_action is not None else "")
            return head + "\n" + "\n".join(lines) + "\n"
        c = self.CELL_PX
        img = np.full((self.height * c, self.width * c, 3), 255, dtype=np.uint8)
        img[::c, :] = (220, 220, 220)
        img[:, ::c] = (220, 220, 220)
        for wx, wy in self.walls:
            fill_rect(img, wx * c, wy * c, (wx + 1) * c, (wy + 1) * c, (60, 60, 60))
        sx, sy = self.start_xy
        gx, gy = self.goal_xy
        fill_rect(img, sx * c + 1, sy * c + 1, (sx + 1) * c, (sy + 1) * c, (120, 160, 230))
        fill_rect(img, gx * c + 1, gy * c + 1, (gx + 1) * c, (gy + 1) * c, (60, 190, 60))
        fill_disc(img, ax * c + c / 2 - 0.5, ay * c + c / 2 - 0.5, c / 2 - 3, (220, 40, 40))
        return img
