"""Wrappers for the lecture environments."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class OneHotObservation(gym.ObservationWrapper):
    """Turn a ``Discrete(n)`` observation into a one-hot ``Box(0, 1, (n,), float32)`` vector.

    SB3 already one-hot encodes ``Discrete`` observations inside its policies; this wrapper makes the
    encoding explicit (e.g. for custom networks, VecNormalize-free pipelines or other libraries)::

        env = OneHotObservation(gym.make("ReachingGridworld-v0"))

    :param env: an environment with a ``Discrete`` observation space (any ``start``).
    """

    def __init__(self, env: gym.Env) -> None:
        if not isinstance(env.observation_space, spaces.Discrete):
            raise TypeError(
                f"OneHotObservation needs a Discrete observation space, got {env.observation_space!r}"
            )
        super().__init__(env)
        self._n = int(env.observation_space.n)
        self._start = int(env.observation_space.start)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self._n,), dtype=np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        out = np.zeros(self._n, dtype=np.float32)
        out[int(observation) - self._start] = 1.0
        return out
