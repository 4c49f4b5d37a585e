"""The 2-D multi-goal point mass of Haarnoja et al. (2017)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sb3_softopt.common.validation import check_real
from sb3_softopt.envs._utils import box_action, check_render_mode, fill_disc, fill_rect

GOALS = np.array([(5.0, 0.0), (-5.0, 0.0), (0.0, 5.0), (0.0, -5.0)])
BOUND = 7.0


class MultiGoal(gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description

    The multi-goal environment of "Reinforcement Learning with Deep Energy-Based Policies"
    (Haarnoja et al., 2017): a point mass starts near the origin and can reach any of four goals at
    ``(5, 0), (-5, 0), (0, 5), (0, -5)``. All four are equally good, so a maximum-entropy policy
    spreads its trajectories over several goals while a deterministic policy commits to one.

    ## Action Space

    `Box(-1, 1, (2,), float32)`: the velocity ``(dx, dy)``; ``s' = clip(s + a, -7, 7)``. Actions
    outside the box (beyond a 1e-6 rounding tolerance), non-finite or of another shape raise
    ``ValueError``.

    ## Observation Space

    `Box(-7, 7, (2,), float32)`: the position ``(x, y)``.

    ## Rewards

    ``r = -action_cost_coeff * ||a||^2 - distance_cost_coeff * min_g ||s' - g||^2`` (defaults 30 and
    1), computed on the position ``s'`` *after* the move (as in the original code), plus
    ``goal_reward`` (default +10) on the step that ends within ``goal_threshold`` of a goal.

    ## Starting State

    ``s_0 ~ N(0, init_sigma^2 I)`` with ``init_sigma = 0.1`` (clipped to the box).

    ## Episode End

    - Termination: ``min_g ||s' - g|| < goal_threshold`` (default 1.0).
    - Truncation: 30 steps (registered with ``max_episode_steps=30``).

    ## Arguments

    ```python
    gym.make("MultiGoal-v0", goal_reward=10.0, action_cost_coeff=30.0, distance_cost_coeff=1.0,
             goal_threshold=1.0, init_sigma=0.1, render_mode="rgb_array")
    ```

    ``info`` carries ``goal_index`` (the nearest goal, or -1 if none was reached this step) and
    ``distance`` (to the nearest goal).

    ## Reference

    T. Haarnoja, H. Tang, P. Abbeel, S. Levine, "Reinforcement Learning with Deep Energy-Based
    Policies", ICML 2017, section 5.1 (github.com/haarnoja/softqlearning, ``multigoal.py``).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 10}
    action_space: spaces.Box
    _IMG = 200

    def __init__(
        self,
        goal_reward: float = 10.0,
        action_cost_coeff: float = 30.0,
        distance_cost_coeff: float = 1.0,
        goal_threshold: float = 1.0,
        init_sigma: float = 0.1,
        render_mode: str | None = None,
    ) -> None:
        """:param goal_reward: bonus on the step that ends within ``goal_threshold`` of a goal.
        :param action_cost_coeff: weight of ``||a||^2`` in the cost.
        :param distance_cost_coeff: weight of the squared distance to the nearest goal in the cost.
        :param goal_threshold: distance to a goal that ends the episode (> 0).
        :param init_sigma: standard deviation of the start position around the origin (>= 0).
        :param render_mode: ``"rgb_array"``, ``"ansi"`` or ``None``.
        """
        self.goal_reward = check_real(goal_reward, "goal_reward")
        self.action_cost_coeff = check_real(action_cost_coeff, "action_cost_coeff")
        self.distance_cost_coeff = check_real(distance_cost_coeff, "distance_cost_coeff")
        self.goal_threshold = check_real(goal_threshold, "goal_threshold", low=0.0, low_open=True)
        self.init_sigma = check_real(init_sigma, "init_sigma", low=0.0)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.goals = GOALS.copy()
        self.horizon: int | None = 30
        self.observation_space = spaces.Box(-BOUND, BOUND, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.position = np.zeros(2)
        self.path: list[np.ndarray] = []

    def _obs(self) -> np.ndarray:
        return self.position.astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.position = np.clip(self.init_sigma * self.np_random.standard_normal(2), -BOUND, BOUND)
        # Keep the observation (float32) and the internal state identical.
        self.position = self.position.astype(np.float32).astype(np.float64)
        self.path = [self.position.copy()]
        return self._obs(), {}

    def step(self, action: Any):
        a = box_action(action, self.action_space)
        self.position = np.clip(self.position + a, -BOUND, BOUND).astype(np.float32).astype(np.float64)
        self.path.append(self.position.copy())
        dists = np.linalg.norm(self.goals - self.position, axis=1)
        nearest = int(np.argmin(dists))
        reward = -self.action_cost_coeff * float(a @ a) - self.distance_cost_coeff * float(dists[nearest] ** 2)
        terminated = bool(dists[nearest] < self.goal_threshold)
        if terminated:
            reward += self.goal_reward
        info = {"goal_index": nearest if terminated else -1, "distance": float(dists[nearest])}
        return self._obs(), float(reward), terminated, False, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("MultiGoal.render() called without a render_mode.")
            return None
        if self.render_mode == "ansi":
            x, y = self.position
            return f"position=({x:+.3f}, {y:+.3f}) steps={len(self.path) - 1}\n"
        n = self._IMG
        img = np.full((n, n, 3), 255, dtype=np.uint8)

        def px(p: np.ndarray) -> tuple[float, float]:
            # world [-7, 7]^2 -> pixels, y up
            return (p[0] + BOUND) / (2 * BOUND) * (n - 1), (BOUND - p[1]) / (2 * BOUND) * (n - 1)

        cx, cy = px(np.zeros(2))
        fill_rect(img, 0, int(cy), n, int(cy) + 1, (230, 230, 230))
        fill_rect(img, int(cx), 0, int(cx) + 1, n, (230, 230, 230))
        radius = self.goal_threshold / (2 * BOUND) * (n - 1)
        for g in self.goals:
            fill_disc(img, *px(g), radius, (150, 220, 150))
        for p in self.path[:-1]:
            fill_disc(img, *px(p), 1.5, (80, 80, 200))
        fill_disc(img, *px(self.position), 4, (220, 40, 40))
        return img
