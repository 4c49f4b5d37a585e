"""Random MDPs for the inference tests (a helper module, not a test file: importable as
``mdp_oracles`` because pytest puts ``tests/`` on ``sys.path``, whichever way pytest is started)."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["random_mdp"]


def random_mdp(rng, S=3, A=2, transition_rewards=False, sparsity=0.0, reward_scale=1.0):
    """A random stochastic MDP; ``sparsity`` zeroes that fraction of transitions (rows stay valid)."""
    P = rng.random((S, A, S))
    if sparsity:
        P[rng.random((S, A, S)) < sparsity] = 0.0
        for s, a in itertools.product(range(S), range(A)):
            if P[s, a].sum() == 0:
                P[s, a, rng.integers(S)] = 1.0
    P /= P.sum(axis=2, keepdims=True)
    R = rng.normal(size=(S, A, S) if transition_rewards else (S, A)) * reward_scale
    p0 = rng.random(S)
    p0 /= p0.sum()
    return P, R, p0
