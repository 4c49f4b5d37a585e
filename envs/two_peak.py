"""One-step bandits whose reward is the log-density of a two-component Gaussian mixture.

With temperature ``alpha = 1`` the maximum-entropy optimal policy over ``x`` is the mixture itself,
so a soft (energy-based) policy keeps both modes while a deterministic policy gradient (DDPG)
commits to one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import erf, sqrt
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from scipy.special import logsumexp

from sb3_softopt.common.validation import check_int, check_real
from sb3_softopt.envs._utils import (
    box_action,
    check_render_mode,
    discrete_action,
    fill_rect,
)

PEAKS = (-2.0, 2.0)
SIGMA = 1.0
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def validate_weights(weights: npt.ArrayLike) -> np.ndarray:
    """Return the mixture weights normalised to sum 1 (two finite, non-negative entries, positive sum)."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"weights must be two non-negative numbers, got {weights!r}") from exc
    if w.shape != (2,):
        raise ValueError(f"weights must have exactly two entries (one per peak), got {weights!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and have a positive sum, got {weights!r}")
    return w / w.sum()


def two_peak_log_density(x: Any, weights: npt.ArrayLike = (0.5, 0.5)) -> np.ndarray:
    """``log(w1 N(x; -2, 1) + w2 N(x; +2, 1))`` evaluated elementwise (log-space, never overflows).

    :param x: points in reward units (already scaled by ``action_scale``); any shape.
    :param weights: mixture weights (normalised internally).
    :return: float64 array of ``x``'s shape.
    """
    w = validate_weights(weights)
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):  # a zero weight gives log(0) = -inf for that component
        logw = np.log(w)
    comps = [logw[k] - 0.5 * ((x - PEAKS[k]) / SIGMA) ** 2 - _LOG_SQRT_2PI - np.log(SIGMA) for k in range(2)]
    return np.logaddexp(comps[0], comps[1])


class _TwoPeakBase(gym.Env):
    """Shared reward, validation, closed forms and rendering for both bandits."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    _IMG_H, _IMG_W = 96, 192

    def _init_common(self, action_scale: float, weights: Sequence[float], render_mode: str | None) -> None:
        self.action_scale = check_real(action_scale, "action_scale", low=0.0, low_open=True)
        self.weights = validate_weights(weights)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.horizon: int | None = 1
        self._last_action: float | None = None
        self._last_reward: float | None = None
        self._base_img: np.ndarray | None = None

    # ----------------------------------------------------------------- rewards and closed forms
    def reward_at_x(self, x: Any) -> np.ndarray:
        """Reward at points ``x`` given in reward units (``x = action_scale * a``)."""
        return two_peak_log_density(x, self.weights)

    def reward(self, action: Any) -> np.ndarray:
        """Reward of normalised actions ``a`` in [-1, 1] (any shape): ``r(action_scale * a)``."""
        return self.reward_at_x(self.action_scale * np.asarray(action, dtype=np.float64))

    @property
    def max_reward(self) -> float:
        """The maximal reward over the action interval (dense grid search, 1e-5 resolution in ``a``)."""
        grid = np.linspace(-1.0, 1.0, 200_001)
        return float(np.max(self.reward(grid)))

    def soft_optimal_log_density(self, action: Any, alpha: float = 1.0, n_grid: int = 20_001) -> np.ndarray:
        """Log-density (w.r.t. ``a`` on [-1, 1]) of the max-entropy optimal policy ``pi(a) ∝ exp(r/alpha)``.

        The normaliser is a trapezoid integral on ``n_grid`` points, in log space. For ``alpha = 1``
        see :meth:`mixture_mass` for the closed form.
        """
        alpha = check_real(alpha, "alpha", low=0.0, low_open=True)
        grid = np.linspace(-1.0, 1.0, check_int(n_grid, "n_grid", low=3))
        logf = self.reward(grid) / alpha
        logw = np.full(grid.shape, np.log(grid[1] - grid[0]))
        logw[[0, -1]] -= np.log(2.0)
        log_z = logsumexp(logf + logw)
        return self.reward(action) / alpha - log_z

    def mixture_mass(self) -> float:
        """Probability mass of the mixture inside ``[-action_scale, action_scale]`` (closed form, erf).

        With ``alpha = 1``: ``pi(a) = action_scale * exp(r(action_scale * a)) / mixture_mass()``.
        """
        c = self.action_scale

        def cdf(z: float) -> float:
            return 0.5 * (1.0 + erf(z / sqrt(2.0)))

        return float(sum(w * (cdf((c - m) / SIGMA) - cdf((-c - m) / SIGMA)) for w, m in zip(self.weights, PEAKS)))

    # ----------------------------------------------------------------------------- rendering
    def render(self):
        if self.render_mode is None:
            gym.logger.warn(f"{type(self).__name__}.render() called without a render_mode.")
            return None
        if self.render_mode == "ansi":
            if self._last_action is None:
                return "no action yet\n"
            return (
                f"action a={self._last_action:+.3f} (x={self.action_scale * self._last_action:+.3f}) "
                f"reward={self._last_reward:.4f}\n"
            )
        img = self._background().copy()
        if self._last_action is not None:
            col = int(round((self._last_action + 1.0) / 2.0 * (self._IMG_W - 1)))
            fill_rect(img, col - 1, 0, col + 2, self._IMG_H, (220, 40, 40))
        return img

    def _background(self) -> np.ndarray:
        # Drawn once: the reward curve over a in [-1, 1] as dark pixels on white.
        if self._base_img is None:
            h, w = self._IMG_H, self._IMG_W
            img = np.full((h, w, 3), 255, dtype=np.uint8)
            r = self.reward(np.linspace(-1.0, 1.0, w))
            finite = np.isfinite(r)
            lo = np.min(r[finite]) if finite.any() else 0.0
            hi = np.max(r[finite]) if finite.any() else 1.0
            span = max(hi - lo, 1e-12)
            rows = np.where(finite, (h - 4) - np.round((r - lo) / span * (h - 8)), h - 1).astype(int)
            for col, row in enumerate(rows):
                fill_rect(img, col, row, col + 1, h, (200, 200, 230))
                fill_rect(img, col, row - 1, col + 1, row + 1, (30, 30, 30))
            self._base_img = img
        return self._base_img


class TwoPeakBandit(_TwoPeakBase):
    """
    ## Description

    A one-step continuous bandit whose reward is the log-density of a mixture of two unit-variance
    Gaussians at ``x = -2`` and ``x = +2``. The action ``a`` in [-1, 1] is scaled to
    ``x = action_scale * a`` (default 5, so ``x`` in [-5, 5]). With equal weights the two peaks are
    equally good, so which one a deterministic agent (DDPG) commits to is arbitrary, while the
    maximum-entropy optimal policy at ``alpha = 1``, ``pi(x) ∝ exp(r(x))``, is the mixture itself.

    ## Action Space

    `Box(-1, 1, (1,), float32)`: ``a[0]`` is the normalised position, ``x = action_scale * a[0]``.
    Actions outside the box (beyond a 1e-6 rounding tolerance), non-finite or of another size raise
    ``ValueError``.

    ## Observation Space

    `Box(-1, 1, (1,), float32)`, always ``[0.0]`` (there is a single state).

    ## Rewards

    ``r(x) = log(w1 N(x; -2, 1) + w2 N(x; +2, 1))`` with the normalised ``weights``; maximum about
    ``-1.612`` (equal weights, at ``x ≈ ±2``). Use ``env.unwrapped.reward(a)`` (normalised actions),
    ``reward_at_x(x)``, ``max_reward`` and ``soft_optimal_log_density(a, alpha)``.

    ## Starting State

    The single state ``[0.0]``.

    ## Episode End

    Terminates after one step (``horizon = 1``; registered with ``max_episode_steps=1``).

    ## Arguments

    ```python
    gym.make("TwoPeakBandit-v0", action_scale=5.0, weights=(0.5, 0.5), render_mode="rgb_array")
    ```

    - ``action_scale``: positive factor mapping ``a`` to ``x``.
    - ``weights``: two non-negative mixture weights with positive sum (normalised).
    - ``render_mode``: ``"rgb_array"`` (reward curve + last action, no matplotlib) or ``"ansi"``.

    ## Reference

    T. Haarnoja, H. Tang, P. Abbeel, S. Levine, "Reinforcement Learning with Deep Energy-Based
    Policies", ICML 2017 (multimodal policies); S. Levine, arXiv:1805.00909, 2018.
    """

    action_space: spaces.Box

    def __init__(
        self,
        action_scale: float = 5.0,
        weights: Sequence[float] = (0.5, 0.5),
        render_mode: str | None = None,
    ) -> None:
        """:param action_scale: positive factor mapping the action ``a`` to ``x = action_scale * a``.
        :param weights: two non-negative mixture weights with a positive sum (normalised).
        :param render_mode: ``"rgb_array"`` (reward curve and last action), ``"ansi"`` or ``None``.
        """
        self._init_common(action_scale, weights, render_mode)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._last_action = self._last_reward = None
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: Any):
        a = float(box_action(action, self.action_space)[0])
        reward = float(self.reward(a))
        self._last_action, self._last_reward = a, reward
        return np.zeros(1, dtype=np.float32), reward, True, False, {"x": self.action_scale * a}


class TwoPeakBanditDiscrete(_TwoPeakBase):
    """
    ## Description

    The discrete twin of ``TwoPeakBandit-v0``: the same reward evaluated on ``n_actions`` evenly
    spaced points of [-1, 1] (``action_grid``), scaled by ``action_scale``. Its exact soft-optimal
    policy at the decision state is ``softmax(rewards / alpha)`` (:meth:`soft_optimal_policy`).

    ## Action Space

    `Discrete(n_actions)`: action ``i`` plays ``a = action_grid[i] = -1 + 2 i / (n_actions - 1)``,
    i.e. ``x = action_values[i] = action_scale * action_grid[i]``.

    ## Observation Space

    `Discrete(2)`: 0 = the decision state, 1 = done (absorbing).

    ## Rewards

    ``rewards[i] = r(action_values[i])`` with ``r`` the two-peak log-density of ``TwoPeakBandit-v0``.

    ## Exact model (on ``env.unwrapped``)

    - ``transition_matrix``: ``(S, A, S') = (2, n_actions, 2)``; every action moves 0 -> 1; 1 is absorbing.
    - ``reward_matrix``: ``(S, A) = (2, n_actions)``; row 0 is ``rewards``, row 1 is zero.
    - ``initial_state_dist``: ``[1, 0]``; ``horizon``: 1; ``terminal_reward``: zeros (2,);
      ``terminal_states``: ``[False, True]``.
    - ``action_grid`` (A,) in [-1, 1], ``action_values`` (A,) = ``action_scale * action_grid``
      (the points, in the units of ``r``), ``rewards`` (A,).

    ## Starting State

    State 0.

    ## Episode End

    Terminates after one step (registered with ``max_episode_steps=1``).

    ## Arguments

    ```python
    gym.make("TwoPeakBanditDiscrete-v0", n_actions=21, action_scale=5.0, weights=(0.5, 0.5))
    ```

    ## Reference

    S. Levine, arXiv:1805.00909, 2018; T. Haarnoja et al., ICML 2017.
    """

    action_space: spaces.Discrete

    def __init__(
        self,
        n_actions: int = 21,
        action_scale: float = 5.0,
        weights: Sequence[float] = (0.5, 0.5),
        render_mode: str | None = None,
    ) -> None:
        """:param n_actions: number of evenly spaced points of [-1, 1] (>= 2).
        :param action_scale: positive factor mapping a grid point ``a`` to ``x = action_scale * a``.
        :param weights: two non-negative mixture weights with a positive sum (normalised).
        :param render_mode: ``"rgb_array"``, ``"ansi"`` or ``None``.
        """
        self._init_common(action_scale, weights, render_mode)
        self.n_actions = check_int(n_actions, "n_actions", low=2)
        self.observation_space = spaces.Discrete(2)
        self.action_space = spaces.Discrete(self.n_actions)
        self.action_grid = np.linspace(-1.0, 1.0, self.n_actions)
        self.action_values = self.action_scale * self.action_grid
        self.rewards = self.reward_at_x(self.action_values)

        P = np.zeros((2, self.n_actions, 2), dtype=np.float64)
        P[:, :, 1] = 1.0
        R = np.zeros((2, self.n_actions), dtype=np.float64)
        R[0] = self.rewards
        self.transition_matrix = P
        self.reward_matrix = R
        self.initial_state_dist = np.array([1.0, 0.0])
        self.terminal_reward = np.zeros(2)
        self.terminal_states = np.array([False, True])
        self.state = 0

    def soft_optimal_policy(self, alpha: float = 1.0) -> np.ndarray:
        """``softmax(rewards / alpha)`` (computed stably), the exact soft-optimal policy at state 0."""
        alpha = check_real(alpha, "alpha", low=0.0, low_open=True)
        z = self.rewards / alpha
        return np.exp(z - logsumexp(z))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = 0
        self._last_action = self._last_reward = None
        return np.int64(0), {}

    def step(self, action: Any):
        i = discrete_action(action, self.action_space)
        reward = float(self.reward_matrix[self.state, i])
        self.state = 1
        self._last_action, self._last_reward = float(self.action_grid[i]), reward
        return np.int64(1), reward, True, False, {"x": float(self.action_values[i])}
