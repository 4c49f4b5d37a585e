"""SoftDQN: soft Q-learning for discrete actions (SB3 DQN with a logsumexp target and Boltzmann policy)."""

from sb3_softopt.soft_dqn.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SoftDQNPolicy
from sb3_softopt.soft_dqn.soft_dqn import DEFAULT_TARGET_ENTROPY_RATIO, DEFAULT_TOTAL_TIMESTEPS, SoftDQN

__all__ = [
    "DEFAULT_TARGET_ENTROPY_RATIO",
    "DEFAULT_TOTAL_TIMESTEPS",
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "SoftDQN",
    "SoftDQNPolicy",
]
