"""A 2-D point mass with inertia: the pretrain / finetune family of the lecture's last example.

A cheap, pure-numpy analogue of the Ant experiment of Haarnoja et al. (2017), "Reinforcement
Learning with Deep Energy-Based Policies", section 5.3: a policy is pretrained to *move fast in
any direction* in an open arena, then finetuned, unchanged in shape, on tasks that need one
particular direction (a hallway) or exploration (a U-maze).

Dynamics (shared by the three environments, one step)::

    a  = clip(action, -1, 1)                      # action in [-1, 1]^2
    v' = 0.9 * v + 0.2 * a,  then ||v'|| <= v_max  # norm cap (isotropic: no favoured diagonal)
    p' = p + v'                                    # per axis, x first, then y
    walls: a move along an axis that would enter a wall stops at the wall face, the free
    component of the move still happens, and the agent loses *all* its velocity (an inelastic
    crash, no bounce). Pushing along a wall therefore crawls at speed ``0.2 * |a_parallel|``
    per step instead of running at 1: touching walls is slow, steering pays.

Why crash walls and not sliding ones: with walls that zero only the blocked velocity component
an agent pushing at any angle within 60 degrees of a corridor's axis slides along it at full
speed (terminal velocity ``2 cos(angle) >= 1``), so half of all constant-push policies -- e.g.
an untrained deterministic network -- solve the hallway at step 0 (measured in the first
version of this environment). Crash walls make the *direction* matter, which is what the
experiment is about.

Terminal velocity under a constant push is ``2 * ||a||``, above the cap ``v_max = 1``: any push
with ``||a|| >= 0.5`` reaches full speed. The speed is capped in norm (not per component) so that
the arena is isotropic: no direction is intrinsically better, hence a deterministic policy's
choice of direction is arbitrary (set by its seed), which is the point of the experiment.

Spaces (identical in the three environments, so a pretrained model is finetuned as is):

* observation: ``Box(low=[-P, -P, -1, -1], high=[P, P, 1, 1], dtype=float32)`` with
  ``P = 150`` (:data:`POSITION_BOUND`): ``(x, y, vx, vy)`` in world units;
* action: ``Box(-1, 1, (2,), float32)``: the push (acceleration) in x and y. Actions outside the
  box are clipped; an action of the wrong shape or with a non-finite entry raises ``ValueError``.

Episodes never terminate; they are truncated by the ``TimeLimit`` set at registration
(``max_episode_steps=100``). ``render_mode="rgb_array"`` draws walls (grey), the goal (green,
U-maze only) and the agent (red) with numpy only.

References: Haarnoja, Tang, Abbeel, Levine (2017), ICML, section 5.3 and figure 5.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sb3_softopt.common.validation import check_real

__all__ = [
    "POSITION_BOUND",
    "V_MAX",
    "PointMassEnv",
    "PointPretrainEnv",
    "PointHallwayEnv",
    "PointUMazeEnv",
]

#: Half-width of the world box, also the observation bound on positions. Unreachable from the
#: origin within the registered horizon (100 steps at speed <= 1), so the arena is "open".
POSITION_BOUND = 150.0
#: Speed cap (world units per step).
V_MAX = 1.0
_DECAY = 0.9
_GAIN = 0.2

Rect = tuple[float, float, float, float]  # (xmin, ymin, xmax, ymax) of a solid block


class PointMassEnv(gym.Env):
    """Base class: a point mass with inertia in an axis-aligned world (see the module docstring).

    Subclasses set the free region (``bounds``: the outer box), solid ``blocks`` inside it, the
    start position and the reward (:meth:`_reward`).

    :param action_cost: weight ``c`` of the action penalty ``c * ||a||^2`` (>= 0).
    :param start_noise: standard deviation of the Gaussian noise on the start position (>= 0);
        the start velocity is zero.
    :param render_mode: ``None`` or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        bounds: Rect,
        blocks: Sequence[Rect] = (),
        start: tuple[float, float] = (0.0, 0.0),
        action_cost: float = 0.05,
        start_noise: float = 0.1,
        render_mode: Optional[str] = None,
    ):
        super().__init__()
        self.action_cost = check_real(action_cost, "action_cost", low=0.0)
        self.start_noise = check_real(start_noise, "start_noise", low=0.0)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        xlo, ylo, xhi, yhi = (float(b) for b in bounds)
        self.bounds: Rect = (xlo, ylo, xhi, yhi)
        self.blocks = [tuple(float(c) for c in b) for b in blocks]
        # The same blocks in (along, across) order for moves along x and along y.
        self._blocks_x = self.blocks
        self._blocks_y = [(by0, bx0, by1, bx1) for bx0, by0, bx1, by1 in self.blocks]
        self.start = (float(start[0]), float(start[1]))
        p = np.float32(POSITION_BOUND)
        self.observation_space = spaces.Box(
            low=np.array([-p, -p, -V_MAX, -V_MAX], dtype=np.float32),
            high=np.array([p, p, V_MAX, V_MAX], dtype=np.float32),
            dtype=np.float32,
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.goal: Optional[tuple[float, float]] = None
        self._x = self._y = self._vx = self._vy = 0.0

    # -- dynamics -------------------------------------------------------------------------
    @staticmethod
    def _sweep(p: float, q: float, d: float, lo: float, hi: float, blocks) -> tuple[float, bool]:
        """Move coordinate ``p`` by ``d`` at cross-coordinate ``q``; return it and whether a wall hit.

        ``blocks`` are ``(p0, q0, p1, q1)`` in the same (along, across) order. The cross-axis test
        is strict: an agent on a block's face, moving along it, is not blocked.
        """
        n = p + d
        hit = False
        for p0, q0, p1, q1 in blocks:
            if q0 < q < q1:
                if d > 0.0 and p <= p0 < n:
                    n, hit = p0, True
                elif d < 0.0 and p >= p1 > n:
                    n, hit = p1, True
        if n > hi:
            n, hit = hi, True
        elif n < lo:
            n, hit = lo, True
        return n, hit

    def _obs(self) -> np.ndarray:
        return np.array((self._x, self._y, self._vx, self._vy), dtype=np.float32)

    @property
    def state(self) -> np.ndarray:
        """``(x, y, vx, vy)`` as float64; assigning it moves the agent (disturbances, tests).

        An assigned position must be free; the speed is capped at ``V_MAX`` as in a step.
        """
        return np.array((self._x, self._y, self._vx, self._vy), dtype=np.float64)

    @state.setter
    def state(self, value) -> None:
        s = np.asarray(value, dtype=np.float64)
        if s.shape != (4,) or not np.all(np.isfinite(s)):
            raise ValueError(f"state must be 4 finite numbers (x, y, vx, vy), got {value!r}")
        x, y, vx, vy = (float(c) for c in s)
        if not self._is_free(x, y):
            raise ValueError(f"state position ({x:.3f}, {y:.3f}) is inside a wall")
        speed = math.hypot(vx, vy)
        if speed > V_MAX:
            vx, vy = vx * V_MAX / speed, vy * V_MAX / speed
        self._x, self._y, self._vx, self._vy = x, y, vx, vy

    def _reward(self, x0: float, y0: float, ax: float, ay: float) -> float:  # pragma: no cover
        raise NotImplementedError

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """Start at ``start`` plus Gaussian noise of std ``start_noise``, at rest.

        ``options={"state": (x, y, vx, vy)}`` starts from a given state instead (tests, plots).
        """
        super().reset(seed=seed)
        if options is not None and "state" in options:
            s = np.asarray(options["state"], dtype=np.float64)
            if s.shape != (4,) or not np.all(np.isfinite(s)):
                raise ValueError(f"options['state'] must be 4 finite numbers (x, y, vx, vy), got {options['state']!r}")
            self._x, self._y, self._vx, self._vy = (float(c) for c in s)
        else:
            noise = self.np_random.normal(0.0, 1.0, size=2) * self.start_noise if self.start_noise > 0 else (0.0, 0.0)
            # Clamped into the outer box so that noise never starts the agent outside the world.
            xlo, ylo, xhi, yhi = self.bounds
            self._x = min(max(self.start[0] + float(noise[0]), xlo), xhi)
            self._y = min(max(self.start[1] + float(noise[1]), ylo), yhi)
            self._vx = self._vy = 0.0
        if not self._is_free(self._x, self._y):
            raise ValueError(f"start position ({self._x:.3f}, {self._y:.3f}) is inside a wall")
        return self._obs(), {}

    def _is_free(self, x: float, y: float) -> bool:
        xlo, ylo, xhi, yhi = self.bounds
        if not (xlo <= x <= xhi and ylo <= y <= yhi):
            return False
        return not any(bx0 < x < bx1 and by0 < y < by1 for bx0, by0, bx1, by1 in self.blocks)

    def step(self, action):
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (2,):
            raise ValueError(f"action must have shape (2,), got shape {a.shape} ({action!r})")
        ax, ay = float(a[0]), float(a[1])
        if not (math.isfinite(ax) and math.isfinite(ay)):
            raise ValueError(f"action must be finite, got {action!r}")
        ax = -1.0 if ax < -1.0 else (1.0 if ax > 1.0 else ax)
        ay = -1.0 if ay < -1.0 else (1.0 if ay > 1.0 else ay)
        vx = _DECAY * self._vx + _GAIN * ax
        vy = _DECAY * self._vy + _GAIN * ay
        speed = math.hypot(vx, vy)
        if speed > V_MAX:
            vx *= V_MAX / speed
            vy *= V_MAX / speed
        x0, y0 = self._x, self._y
        xlo, ylo, xhi, yhi = self.bounds
        x, hitx = self._sweep(x0, y0, vx, xlo, xhi, self._blocks_x)
        y, hity = self._sweep(y0, x, vy, ylo, yhi, self._blocks_y)
        if hitx or hity:
            # Inelastic crash: all momentum is lost (see the module docstring for why).
            vx = vy = 0.0
        self._x, self._y, self._vx, self._vy = x, y, vx, vy
        reward = self._reward(x0, y0, ax, ay)
        return self._obs(), reward, False, False, {}

    # -- rendering ------------------------------------------------------------------------
    def _view(self) -> Rect:
        """World rectangle drawn by :meth:`render` (subclasses may zoom)."""
        return self.bounds

    def render(self) -> Optional[np.ndarray]:
        """An ``(H, W, 3)`` uint8 image: walls grey, free space white, goal green, agent red."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='rgb_array' to gym.make")
            return None
        vx0, vy0, vx1, vy1 = self._view()
        longest = 256
        scale = longest / max(vx1 - vx0, vy1 - vy0)
        w = max(int(round((vx1 - vx0) * scale)), 16)
        h = max(int(round((vy1 - vy0) * scale)), 16)
        # Pixel centres in world coordinates; image row 0 is the top (largest y).
        xs = vx0 + (np.arange(w) + 0.5) * (vx1 - vx0) / w
        ys = vy1 - (np.arange(h) + 0.5) * (vy1 - vy0) / h
        X, Y = np.meshgrid(xs, ys)
        img = np.full((h, w, 3), 255, dtype=np.uint8)
        xlo, ylo, xhi, yhi = self.bounds
        solid = (X < xlo) | (X > xhi) | (Y < ylo) | (Y > yhi)
        for bx0, by0, bx1, by1 in self.blocks:
            solid |= (X > bx0) & (X < bx1) & (Y > by0) & (Y < by1)
        img[solid] = (110, 110, 110)
        radius = max(0.35, 3.0 / scale)
        if self.goal is not None:
            sigma = getattr(self, "goal_sigma", 1.0)
            near = (X - self.goal[0]) ** 2 + (Y - self.goal[1]) ** 2 <= sigma**2
            img[near & ~solid] = (60, 190, 60)
        agent = (X - self._x) ** 2 + (Y - self._y) ** 2 <= radius**2
        img[agent] = (220, 40, 40)
        return img


class PointPretrainEnv(PointMassEnv):
    """``PointPretrain-v0``: an open arena where moving fast in *any* direction is rewarded.

    * Observation ``(x, y, vx, vy)``, action: push in ``[-1, 1]^2`` (see :mod:`point_mass`).
    * Start: origin + N(0, start_noise^2), at rest. World box ``[-150, 150]^2``, unreachable in
      the 100-step horizon, so there are no walls in practice (Haarnoja et al.'s open ground).
    * Reward: ``||p' - p|| - action_cost * ||a||^2`` (distance actually travelled this step, <= 1).
    * Termination: never; truncation after 100 steps (registration).

    Every direction is equally good: a max-entropy learner keeps them all (the policy at rest is
    wide), a deterministic learner commits to one. That difference is what finetuning measures.

    :param action_cost: see :class:`PointMassEnv`.
    :param start_noise: see :class:`PointMassEnv`.
    :param render_mode: ``None`` or ``"rgb_array"`` (drawn around the agent, 40 x 40 units).
    """

    def __init__(self, action_cost: float = 0.05, start_noise: float = 0.1, render_mode: Optional[str] = None):
        b = POSITION_BOUND
        super().__init__((-b, -b, b, b), (), (0.0, 0.0), action_cost, start_noise, render_mode)

    def _reward(self, x0: float, y0: float, ax: float, ay: float) -> float:
        return math.hypot(self._x - x0, self._y - y0) - self.action_cost * (ax * ax + ay * ay)

    def _view(self) -> Rect:
        return (self._x - 20.0, self._y - 20.0, self._x + 20.0, self._y + 20.0)


class PointHallwayEnv(PointMassEnv):
    """``PointHallway-v0``: a corridor along +x, closed behind the start; reward = speed.

    * Free region: ``x in [-1, length]``, ``y in [-width/2, width/2]``; start at the origin
      (+ noise), at rest. Only motion toward +x can last: -x hits the dead end after 1 unit,
      +-y hit the side walls after ``width/2``.
    * Reward: identical to ``PointPretrain-v0`` (distance travelled minus action cost), so the
      best return (~97 over 100 steps) needs full speed along +x.
    * Termination: never; truncation after 100 steps (registration).

    Why +x: the arena is isotropic, so the direction a deterministic pretrained policy committed
    to is arbitrary (its seed decides); +x is no more or less likely than any other. With crash
    walls a constant push with a +x component still makes progress by crawling along a side wall
    (return ~20 at most), but a high return needs the agent to run along the corridor without
    touching it: to head +x and steer (correct y).

    :param length: corridor length in +x (> 10, default 110: longer than 100 steps at full speed).
    :param width: corridor width (> 0, default 4).
    :param action_cost: see :class:`PointMassEnv`.
    :param start_noise: see :class:`PointMassEnv` (must keep the start inside the corridor).
    :param render_mode: ``None`` or ``"rgb_array"`` (drawn around the agent, 40 units wide).
    """

    def __init__(
        self,
        length: float = 110.0,
        width: float = 4.0,
        action_cost: float = 0.05,
        start_noise: float = 0.1,
        render_mode: Optional[str] = None,
    ):
        self.length = check_real(length, "length", low=10.0, high=POSITION_BOUND, low_open=True)
        self.width = check_real(width, "width", low=0.0, high=2 * POSITION_BOUND, low_open=True)
        hw = self.width / 2.0
        super().__init__((-1.0, -hw, self.length, hw), (), (0.0, 0.0), action_cost, start_noise, render_mode)

    def _reward(self, x0: float, y0: float, ax: float, ay: float) -> float:
        return math.hypot(self._x - x0, self._y - y0) - self.action_cost * (ax * ax + ay * ay)

    def _view(self) -> Rect:
        hw = self.width / 2.0
        return (self._x - 20.0, -hw - 3.0, self._x + 20.0, hw + 3.0)


class PointUMazeEnv(PointMassEnv):
    """``PointUMaze-v0``: a U-shaped maze with a Gaussian reward bump at the goal.

    Layout (corridors 4 units wide, world units)::

        y=10 +-----------------+
             | G (0,8)         |      top corridor
        y=6  +-----------+     |
             |###########|     |      block x in [-2, 6], y in [2, 6]
        y=2  +-----------+     |
             | S (0,0)         |      bottom corridor
        y=-2 +-----------------+
            x=-2        x=6   x=10

    * Start ``(0, 0)`` (+ noise), at rest; goal ``(0, 8)``: 8 units away through the block,
      ~24 units along the U (right 8, up 8, left 8).
    * Reward: ``exp(-||p' - g||^2 / (2 goal_sigma^2)) - action_cost * ||a||^2``. With the default
      ``goal_sigma=2`` the bump is < 3e-4 at the start and ~0.01 at best against the block's
      bottom face (a greedy learner pressing there is the classic U-maze trap): the goal must be
      found by exploring along the U.
    * Termination: never (the agent should reach the goal and stay); truncation after 100 steps.
      Reaching the goal in ~30 steps and staying gives a return of ~65.

    Size: small enough that the arms can reach the goal within the default finetuning budget (8k
    steps); a maze twice as large (goal 40 units along the U) is beyond every arm's exploration in
    that budget, so all of them fail alike and the comparison says nothing.

    :param goal_sigma: width of the reward bump (> 0, default 2).
    :param action_cost: see :class:`PointMassEnv`.
    :param start_noise: see :class:`PointMassEnv`.
    :param render_mode: ``None`` or ``"rgb_array"`` (the whole maze).
    """

    GOAL = (0.0, 8.0)
    goal: tuple[float, float]  # always set (the base class allows None: no goal to draw)

    def __init__(
        self,
        goal_sigma: float = 2.0,
        action_cost: float = 0.05,
        start_noise: float = 0.1,
        render_mode: Optional[str] = None,
    ):
        self.goal_sigma = check_real(goal_sigma, "goal_sigma", low=0.0, low_open=True)
        super().__init__((-2.0, -2.0, 10.0, 10.0), [(-2.0, 2.0, 6.0, 6.0)], (0.0, 0.0), action_cost, start_noise, render_mode)
        self.goal = self.GOAL
        self._inv2s2 = 1.0 / (2.0 * self.goal_sigma**2)

    def _reward(self, x0: float, y0: float, ax: float, ay: float) -> float:
        dx, dy = self._x - self.goal[0], self._y - self.goal[1]
        return math.exp(-(dx * dx + dy * dy) * self._inv2s2) - self.action_cost * (ax * ax + ay * ay)
