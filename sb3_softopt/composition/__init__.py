"""Composable maximum-entropy policies: combine trained soft Q-functions into a policy for a new task.

>>> from sb3_softopt.composition import compose
>>> both = compose([model_a, model_b])               # AND: Q = (Q_a + Q_b) / 2
>>> either = compose([model_a, model_b], mode="or")  # OR: alpha * log mean exp(Q / alpha)

The exact tabular counterpart (gap to the optimum, bounds, divergence correction) is
:mod:`sb3_softopt.inference.composition`. See ``docs/composition.md``.
"""

from sb3_softopt.composition.models import DEFAULT_POLICY_STEPS, compose
from sb3_softopt.composition.networks import (
    ComposedContinuousCritic,
    ComposedDiscreteCritic,
    ComposedHead,
    ComposedQNetwork,
    ConcatExtractor,
)
from sb3_softopt.composition.policies import (
    ComposedDiscreteSACPolicy,
    ComposedSACPolicy,
    ComposedSoftDQNPolicy,
    ComposedSQLPolicy,
)
from sb3_softopt.composition.training import fit_composed_policy, replay_observations

__all__ = [
    "DEFAULT_POLICY_STEPS",
    "ComposedContinuousCritic",
    "ComposedDiscreteCritic",
    "ComposedDiscreteSACPolicy",
    "ComposedHead",
    "ComposedQNetwork",
    "ComposedSACPolicy",
    "ComposedSQLPolicy",
    "ComposedSoftDQNPolicy",
    "ConcatExtractor",
    "compose",
    "fit_composed_policy",
    "replay_observations",
]
