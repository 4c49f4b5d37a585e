"""SB3 action-noise objects built from a plain, JSON-able spec (saved with experiment settings)."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

import numpy as np

__all__ = ["make_action_noise"]

KINDS = ("gaussian", "ornstein_uhlenbeck")


def make_action_noise(spec: Mapping[str, Any], n_actions: int):
    """A fresh SB3 noise object for ``n_actions`` independent action dimensions.

    :param spec: ``dict(kind="gaussian", sigma=...)`` or
        ``dict(kind="ornstein_uhlenbeck", sigma=..., theta=..., dt=...)``. SB3's OU process adds
        ``theta (mu - x) dt + sigma sqrt(dt) N(0, 1)`` per step: ``dt = 1`` is rllab's
        ``OUStrategy`` (the DDPG baseline of Haarnoja et al. 2017), SB3's default ``dt = 0.01``
        is ten times weaker and a hundred times slower.
    :param n_actions: size of the (flat) action vector.
    """
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"spec['kind'] must be one of {KINDS}, got {kind!r}")
    sigma = float(spec["sigma"])
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"spec['sigma'] must be a finite number >= 0, got {spec['sigma']!r}")
    zeros, ones = np.zeros(n_actions), np.ones(n_actions)
    if kind == "gaussian":
        return NormalActionNoise(zeros, sigma * ones)
    return OrnsteinUhlenbeckActionNoise(zeros, sigma * ones, theta=float(spec["theta"]), dt=float(spec["dt"]))
