"""``PointComposeA-v0``, ``PointComposeB-v0``, ``PointComposeAB-v0``: a task pair whose combination
needs both skills, for the composition claim (lecture 4.7).

The environments are documented on :class:`PointComposeEnv`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sb3_softopt.common.validation import check_real
from sb3_softopt.envs.point_mass import PointMassEnv, Rect

__all__ = ["GOALS", "TASK_GOALS", "TASK_WEIGHTS", "WORLD", "PointComposeEnv"]

#: the three goals, ``GOAL_DISTANCE`` from the start: north, east, south
GOAL_DISTANCE = 5.0
GOALS: dict[str, tuple[float, float]] = {"N": (0.0, GOAL_DISTANCE), "E": (GOAL_DISTANCE, 0.0), "S": (0.0, -GOAL_DISTANCE)}
#: the goals each constituent task rewards: they meet at ``E``
TASK_GOALS: dict[str, tuple[str, ...]] = {"A": ("N", "E"), "B": ("E", "S")}
#: the weights ``(w_A, w_B)`` of the registered ids
TASK_WEIGHTS: dict[str, tuple[float, float]] = {"A": (1.0, 0.0), "B": (0.0, 1.0), "AB": (0.5, 0.5)}
#: the outer walls ``(x0, y0, x1, y1)``
WORLD: Rect = (-8.0, -8.0, 8.0, 8.0)


class PointComposeEnv(PointMassEnv):
    """Reach a goal of task A, of task B, or the goal both share (the weighted task).

    The composition test of Haarnoja et al. (2018), "Composable Deep Reinforcement Learning for
    Robotic Manipulation", on the point mass with inertia of :mod:`sb3_softopt.envs.point_mass`.
    Three goals lie 5 units from the start: north ``N = (0, 5)``, east ``E = (5, 0)``, south
    ``S = (0, -5)``. Task A rewards reaching ``N`` or ``E``, task B ``E`` or ``S``; the combined task
    ``AB`` (weights 1/2, 1/2) rewards ``E``, where the two meet, twice as much as ``N`` or ``S``. Each
    constituent task has two equally good goals, so a deterministic learner commits to one of them
    (which one, its seed decides), while a maximum-entropy learner keeps both: the sum of the two
    soft Q-functions then singles out ``E``, while averaging the actions of two deterministic
    policies that committed to ``N`` and ``S`` (or ``N`` and ``E``) pulls the agent to a point
    between their goals.

    ==================  ==========================================================================
    Observation         ``Box([-150, -150, -1, -1], [150, 150, 1, 1], float32)``: ``(x, y, vx, vy)``
    Action              ``Box(-1, 1, (2,), float32)``: the push in x and y (clipped to the box)
    Start               ``(0, 0)`` + N(0, start_noise^2) per coordinate, at rest
    Task reward         ``r_i(p') = goal_reward * [d_i(p') <= goal_radius] - d_i(p') / 5`` with
                        ``d_i`` the distance to the nearer goal of task ``i`` (A: N, E; B: E, S);
                        ``goal_radius`` 1.5 by default
    Reward              ``w_A r_A(p') + w_B r_B(p') - action_cost * ||a||^2``; with ``w_A + w_B = 1``
                        exactly ``w_A R_A + w_B R_B`` for the task rewards ``R_i = r_i - cost``
    Ids                 ``PointComposeA-v0`` (1, 0), ``PointComposeB-v0`` (0, 1),
                        ``PointComposeAB-v0`` (1/2, 1/2)
    Termination         never: reach a goal and stay
    Truncation          after 30 steps (registration); the straight run to a goal takes ~10
    ``is_success``      the agent is within ``goal_radius`` of a *target*: a goal where the weighted
                        task reward peaks (A: N or E; B: E or S; AB: E only); ``info["goal"]``: the
                        goal the agent is within ``goal_radius`` of (``""`` if none)
    World               the box ``x, y in [-8, 8]`` (crash walls, see :mod:`.point_mass`)
    ==================  ==========================================================================

    :param weights: ``(w_A, w_B)``, finite, >= 0, not both 0.
    :param goal_radius: distance to a goal that counts as being there (> 0, < 2.5).
    :param goal_reward: reward of a task per step within ``goal_radius`` of one of its goals (>= 0).
    :param action_cost: weight of ``||a||^2`` (>= 0).
    :param start_noise: standard deviation of the start position noise (>= 0).
    :param render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(
        self,
        weights: Sequence[float] = (0.5, 0.5),
        goal_radius: float = 1.5,
        goal_reward: float = 1.0,
        action_cost: float = 0.05,
        start_noise: float = 0.1,
        render_mode: str | None = None,
    ):
        try:
            w = tuple(float(x) for x in weights)
        except (TypeError, ValueError):
            raise ValueError(f"weights must be 2 numbers (w_A, w_B), got {weights!r}") from None
        if len(w) != 2 or not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) == 0:
            raise ValueError(f"weights must be 2 finite numbers >= 0, not both 0, got {weights!r}")
        self.weights: tuple[float, float] = (w[0], w[1])
        half = GOAL_DISTANCE / 2
        note = "the goals must not overlap"
        self.goal_radius = check_real(goal_radius, "goal_radius", low=0.0, high=half, low_open=True, high_open=True, note=note)
        self.goal_reward = check_real(goal_reward, "goal_reward", low=0.0)
        super().__init__(WORLD, (), (0.0, 0.0), action_cost, start_noise, render_mode)
        # the goals where the weighted task reward peaks
        value = {g: sum(wi for wi, task in zip(self.weights, "AB", strict=True) if g in TASK_GOALS[task]) for g in GOALS}
        best = max(value.values())
        self.targets: tuple[str, ...] = tuple(g for g in GOALS if value[g] == best)
        self.goal = GOALS[self.targets[0]]  # drawn by render()
        self.goal_sigma = self.goal_radius

    def task_reward(self, task: str, x: float, y: float) -> float:
        """``r_i(p)`` of task ``"A"`` or ``"B"`` at position ``(x, y)`` (no action cost)."""
        d = min(math.hypot(x - GOALS[g][0], y - GOALS[g][1]) for g in TASK_GOALS[task])
        return (self.goal_reward if d <= self.goal_radius else 0.0) - d / GOAL_DISTANCE

    def _reward(self, x0: float, y0: float, ax: float, ay: float) -> float:
        r = sum(w * self.task_reward(task, self._x, self._y) for w, task in zip(self.weights, "AB", strict=True) if w > 0)
        return r - self.action_cost * (ax * ax + ay * ay)

    def at_goal(self) -> str:
        """The goal the agent is within ``goal_radius`` of, ``""`` if none."""
        for g, (gx, gy) in GOALS.items():
            if math.hypot(self._x - gx, self._y - gy) <= self.goal_radius:
                return g
        return ""

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        goal = self.at_goal()
        info.update(goal=goal, is_success=goal in self.targets)
        return obs, reward, terminated, truncated, info
