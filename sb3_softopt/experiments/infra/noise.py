"""SB3 action-noise objects built from a plain, JSON-able spec (saved with experiment settings)."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

import numpy as np

from sb3_softopt.common.validation import check_real

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

    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a mapping such as dict(kind='gaussian', sigma=0.1), got {spec!r}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"spec['kind'] must be one of {KINDS}, got {kind!r}")
    sigma = _number(spec, "sigma", kind, low=0.0, low_ok=True)
    zeros, ones = np.zeros(n_actions), np.ones(n_actions)
    if kind == "gaussian":
        return NormalActionNoise(zeros, sigma * ones)
    theta = _number(spec, "theta", kind, low=0.0, low_ok=True)
    dt = _number(spec, "dt", kind, low=0.0, low_ok=False)
    return OrnsteinUhlenbeckActionNoise(zeros, sigma * ones, theta=theta, dt=dt)


def _number(spec: Mapping[str, Any], key: str, kind: str, *, low: float, low_ok: bool) -> float:
    """``spec[key]`` as a finite float above ``low`` (or equal when ``low_ok``), or an error naming the key."""
    if key not in spec:
        raise ValueError(f"spec of kind {kind!r} needs {key!r}; got keys {sorted(spec)}")
    return check_real(spec[key], f"spec[{key!r}]", low=low, low_open=not low_ok)
