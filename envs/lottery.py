"""The lecture's lottery: why exact inference is optimistic and variational inference is not."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sb3_softopt.common.validation import check_real
from sb3_softopt.envs._utils import check_render_mode, discrete_action, fill_rect

START, WIN, LOSE, NO_TICKET = 0, 1, 2, 3
DONT_BUY, BUY = 0, 1
STATE_NAMES = ("start", "win", "lose", "no-ticket")
ACTION_NAMES = ("don't buy", "buy")


class LotteryMDP(gym.Env[np.int64, np.int64]):
    """
    ## Description

    The lottery example of the lecture "Reframing control as an inference problem" (Levine 2018,
    section 2.4). An agent in the start state decides once whether to buy a lottery ticket. Buying
    wins ``win`` with probability ``p_win`` and otherwise loses ``loss``; not buying pays nothing.
    In expectation buying loses money (``0.01 * 10000 + 0.99 * -1000 = -890``), but *exact*
    inference, ``Q(s, a) = alpha * log E[exp((r + V(s')) / alpha)]``, lets the optimality variable
    "choose" the lucky outcome and prefers buying for ``alpha < 2957.68`` (default rewards); the
    variational (soft value iteration) solution never buys. The environment exposes its exact
    tabular model so the two solvers can be compared in closed form.

    ## Action Space

    `Discrete(2)`:

    | Num | Action     |
    |-----|------------|
    | 0   | don't buy  |
    | 1   | buy        |

    ## Observation Space

    `Discrete(4)`, the state index:

    | Num | State      |
    |-----|------------|
    | 0   | start      |
    | 1   | win        |
    | 2   | lose       |
    | 3   | no-ticket  |

    ## Rewards

    The reward sits on the transition ``(s, a, s')``: ``win * reward_scale`` for start -> win,
    ``loss * reward_scale`` for start -> lose, ``0`` for start -> no-ticket. The terminal states
    are absorbing with zero reward in the model (stepping them again returns the same state and 0).

    ## Starting State

    Always the start state (0).

    ## Episode End

    The episode terminates after the single decision (``horizon = 1``); registered with
    ``max_episode_steps=1``.

    ## Exact model (on ``env.unwrapped``)

    - ``transition_matrix``: float64 ``(S, A, S') = (4, 2, 4)``, ``P[s, a, s']``.
    - ``reward_matrix``: float64 ``(S, A, S') = (4, 2, 4)``, the reward of the transition.
    - ``initial_state_dist``: float64 ``(4,)`` = ``[1, 0, 0, 0]``.
    - ``horizon``: ``1``.
    - ``terminal_reward``: float64 ``(4,)`` of zeros (no value after the decision).
    - ``terminal_states``: bool ``(4,)`` = ``[False, True, True, True]`` (the episode has ended;
      absorbing with zero reward, so their soft value is 0).

    ## Arguments

    ```python
    import gymnasium as gym, sb3_softopt
    env = gym.make("LotteryMDP-v0", p_win=0.01, win=10000.0, loss=-1000.0, reward_scale=1.0,
                   render_mode="ansi")
    ```

    - ``p_win``: winning probability in [0, 1].
    - ``win`` / ``loss``: finite rewards of the two outcomes (reward units).
    - ``reward_scale``: positive finite factor applied to every reward (and to the model).
    - ``render_mode``: ``"ansi"`` (text) or ``"rgb_array"`` (a small state diagram), or None.

    ## Reference

    S. Levine, "Reinforcement Learning and Control as Probabilistic Inference: Tutorial and Review",
    arXiv:1805.00909, 2018 (section 2.4, the "lottery" discussion of optimism).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    action_space: spaces.Discrete

    def __init__(
        self,
        p_win: float = 0.01,
        win: float = 10000.0,
        loss: float = -1000.0,
        reward_scale: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        """:param p_win: winning probability, in [0, 1].
        :param win: finite reward of the winning outcome (reward units).
        :param loss: finite reward of the losing outcome (reward units).
        :param reward_scale: positive finite factor applied to every reward (and to the model).
        :param render_mode: ``"ansi"`` (text), ``"rgb_array"`` (a small state diagram) or ``None``.
        """
        self.p_win = check_real(p_win, "p_win", low=0.0, high=1.0)
        self.win = check_real(win, "win")
        self.loss = check_real(loss, "loss")
        self.reward_scale = check_real(reward_scale, "reward_scale", low=0.0, low_open=True)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])

        self.observation_space = spaces.Discrete(4)
        self.action_space = spaces.Discrete(2)
        self.horizon: int | None = 1

        P = np.zeros((4, 2, 4), dtype=np.float64)
        P[START, DONT_BUY, NO_TICKET] = 1.0
        P[START, BUY, WIN] = p_win
        P[START, BUY, LOSE] = 1.0 - p_win
        for s in (WIN, LOSE, NO_TICKET):
            P[s, :, s] = 1.0
        R = np.zeros((4, 2, 4), dtype=np.float64)
        R[START, BUY, WIN] = self.win * self.reward_scale
        R[START, BUY, LOSE] = self.loss * self.reward_scale
        self.transition_matrix = P
        self.reward_matrix = R
        self.initial_state_dist = np.array([1.0, 0.0, 0.0, 0.0])
        self.terminal_reward = np.zeros(4)
        self.terminal_states = np.array([False, True, True, True])

        self.state = START
        self._last: tuple[int, float] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = START
        self._last = None
        return np.int64(self.state), {}

    def step(self, action: Any):
        a = discrete_action(action, self.action_space)
        s = self.state
        if s == START:
            if a == BUY:
                s_next = WIN if self.np_random.random() < self.p_win else LOSE
            else:
                s_next = NO_TICKET
        else:  # absorbing terminal state, as in the model
            s_next = s
        reward = float(self.reward_matrix[s, a, s_next])
        self.state = s_next
        self._last = (a, reward)
        info = {"won": s_next == WIN, "bought": s == START and a == BUY}
        return np.int64(s_next), reward, True, False, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("LotteryMDP.render() called without a render_mode; set render_mode='ansi' or 'rgb_array'.")
            return None
        if self.render_mode == "ansi":
            text = f"state: {STATE_NAMES[self.state]}"
            if self._last is not None:
                text += f" | last action: {ACTION_NAMES[self._last[0]]} | reward: {self._last[1]:g}"
            return text + "\n"
        # rgb_array: four boxes (start, win, lose, no-ticket), the current one highlighted.
        img = np.full((64, 256, 3), 255, dtype=np.uint8)
        colors = [(120, 120, 120), (40, 170, 40), (200, 50, 50), (60, 90, 200)]
        for i, c in enumerate(colors):
            x0 = 8 + 62 * i
            fill_rect(img, x0, 12, x0 + 54, 52, c)
            if i == self.state:
                fill_rect(img, x0, 4, x0 + 54, 10, (0, 0, 0))
                fill_rect(img, x0, 54, x0 + 54, 60, (0, 0, 0))
        return img
