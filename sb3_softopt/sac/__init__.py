"""SAC for continuous and discrete actions, with entropy diagnostics and temperature / target-entropy schedules."""

from sb3_softopt.sac.buffers import EntropyReplayBuffer, EntropyReplayBufferSamples
from sb3_softopt.sac.discrete import clipped_td_loss
from sb3_softopt.sac.discrete_policies import (
    DiscreteCnnPolicy,
    DiscreteMlpPolicy,
    DiscreteMultiInputPolicy,
    DiscreteSACPolicy,
)
from sb3_softopt.sac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_softopt.sac.sac import DEFAULT_TOTAL_TIMESTEPS, SAC

__all__ = [
    "DEFAULT_TOTAL_TIMESTEPS",
    "SAC",
    "CnnPolicy",
    "DiscreteCnnPolicy",
    "DiscreteMlpPolicy",
    "DiscreteMultiInputPolicy",
    "DiscreteSACPolicy",
    "EntropyReplayBuffer",
    "EntropyReplayBufferSamples",
    "MlpPolicy",
    "MultiInputPolicy",
    "clipped_td_loss",
]
