"""``PointGoal-v0``: the point mass with inertia navigating to a goal, with optional obstacles.

The environment is documented on :class:`PointGoalEnv`.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from sb3_softopt.common.validation import check_real
from sb3_softopt.envs.point_mass import PointMassEnv, Rect

__all__ = ["PointGoalEnv", "WORLD"]

#: the outer walls ``(x0, y0, x1, y1)``
WORLD: Rect = (-5.0, -10.0, 20.0, 10.0)


def _check_rect(i: int, rect: Sequence[float]) -> Rect:
    try:
        x0, y0, x1, y1 = (float(c) for c in rect)
    except (TypeError, ValueError):
        raise ValueError(f"obstacles[{i}] must be 4 numbers (x0, y0, x1, y1), got {rect!r}") from None
    if not all(math.isfinite(c) for c in (x0, y0, x1, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"obstacles[{i}] must be finite with x0 < x1 and y0 < y1, got {rect!r}")
    wx0, wy0, wx1, wy1 = WORLD
    if x0 < wx0 or y0 < wy0 or x1 > wx1 or y1 > wy1:
        raise ValueError(f"obstacles[{i}] must lie inside the world {WORLD}, got {rect!r}")
    return (x0, y0, x1, y1)


def _check_point(name: str, point: Sequence[float]) -> tuple[float, float]:
    try:
        x, y = (float(c) for c in point)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 2 numbers (x, y), got {point!r}") from None
    return x, y


class PointGoalEnv(PointMassEnv):
    """Reach a goal in an open world; obstacles (a kwarg) test robustness.

    The robustness test of Eysenbach & Levine (2022), "Maximum Entropy RL (Provably) Solves Some
    Robust RL Problems", figure 1: train without obstacles, then evaluate with obstacles placed on the
    path the policy learned. The obstacles are the only kwarg that differs between the training and
    the evaluation environments.

    The dynamics, spaces and crash walls are those of :mod:`sb3_softopt.envs.point_mass`: an
    obstacle is a solid axis-aligned rectangle, and running into it stops the agent dead (all
    velocity lost), so a policy that keeps pushing straight into an obstacle stays there, while one
    that also moves sideways slides off its edge.

    ==================  ==========================================================================
    Observation         ``Box([-150, -150, -1, -1], [150, 150, 1, 1], float32)``: ``(x, y, vx, vy)``
    Action              ``Box(-1, 1, (2,), float32)``: the push in x and y (clipped to the box)
    Start               ``(0, 0)`` + N(0, start_noise^2) per coordinate, at rest
    Goal                ``goal`` (default ``(12, 0)``); reached within ``goal_radius`` (default 1)
    Reward              ``d(p) - d(p') - action_cost * ||a||^2`` (progress towards the goal, so every
                        path earns the same total progress; detours only cost time), plus
                        ``goal_reward`` (default 1) on every step that ends within ``goal_radius``
    Termination         never: reach the goal and stay; ``info["is_success"]``: the goal has been
                        reached in this episode
    Truncation          after 60 steps (registration); the straight run takes ~15
    World               the box ``x in [-5, 20], y in [-10, 10]`` (walls), plus ``obstacles``
    ==================  ==========================================================================

    Why the goal does not end the episode: a max-ent agent earns its entropy bonus on every step it is
    alive (for SQL's uniform-proposal value about ``alpha * 2 log 2`` per step), so a goal that
    terminates the episode costs it the rest of that stream. In a first version (``+10`` and
    termination at the goal) SQL with ``alpha = 0.2`` reached the goal after 5k training steps and had
    learned to circle short of it after 10k (seed 0). Without termination no path is penalised for
    reaching the goal, and every algorithm optimises the same task.

    :param obstacles: solid rectangles ``(x0, y0, x1, y1)`` with ``x0 < x1``, ``y0 < y1``, inside the
        world; neither the start (within 3 start-noise standard deviations) nor the goal may be inside one.
    :param goal: goal position, inside the world and not inside an obstacle.
    :param goal_radius: distance to the goal that counts as reaching it (> 0).
    :param goal_reward: reward per step spent within ``goal_radius`` of the goal (>= 0).
    :param action_cost: weight of ``||a||^2`` (>= 0).
    :param start_noise: standard deviation of the start position noise (>= 0).
    :param render_mode: ``None`` or ``"rgb_array"``.
    """

    goal: tuple[float, float]  # always set (the base class allows None: no goal to draw)

    def __init__(
        self,
        obstacles: Sequence[Sequence[float]] = (),
        goal: tuple[float, float] = (12.0, 0.0),
        goal_radius: float = 1.0,
        goal_reward: float = 1.0,
        action_cost: float = 0.05,
        start_noise: float = 0.1,
        render_mode: Optional[str] = None,
    ):
        blocks = [_check_rect(i, r) for i, r in enumerate(obstacles)]
        super().__init__(WORLD, blocks, (0.0, 0.0), action_cost, start_noise, render_mode)
        self.goal_radius = check_real(goal_radius, "goal_radius", low=0.0, low_open=True)
        self.goal_reward = check_real(goal_reward, "goal_reward", low=0.0)
        gx, gy = _check_point("goal", goal)
        if not (math.isfinite(gx) and math.isfinite(gy)) or not self._is_free(gx, gy):
            raise ValueError(f"goal must be a finite point inside the world and outside the obstacles, got {goal!r}")
        self.goal = (gx, gy)
        # goal_sigma is what render() draws around the goal
        self.goal_sigma = self.goal_radius
        margin = 3.0 * self.start_noise
        for i, (x0, y0, x1, y1) in enumerate(self.blocks):
            if x0 - margin < 0.0 < x1 + margin and y0 - margin < 0.0 < y1 + margin:
                raise ValueError(f"obstacles[{i}]={obstacles[i]!r} covers the start (0, 0) or lies within {margin:g} of it")

    def _distance(self, x: float, y: float) -> float:
        return math.hypot(x - self.goal[0], y - self.goal[1])

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        self._reached = False
        return super().reset(seed=seed, options=options)

    def _reward(self, x0: float, y0: float, ax: float, ay: float) -> float:
        progress = self._distance(x0, y0) - self._distance(self._x, self._y)
        at_goal = self.goal_reward if self._distance(self._x, self._y) <= self.goal_radius else 0.0
        return progress + at_goal - self.action_cost * (ax * ax + ay * ay)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self._reached = self._reached or self._distance(self._x, self._y) <= self.goal_radius
        info["is_success"] = self._reached
        return obs, reward, terminated, truncated, info
