"""Policies of :class:`~sb3_softopt.entropy_ppo.EntropyPPO`.

EntropyPPO changes the *returns* PPO learns from, not the networks, so it uses SB3's
actor-critic policies unchanged; the value head learns the soft value
``V(s) = E[sum_t gamma^t (r_t - alpha * log pi(a_t|s_t))]``.
"""

from stable_baselines3.common.policies import (
    ActorCriticCnnPolicy,
    ActorCriticPolicy,
    MultiInputActorCriticPolicy,
)

MlpPolicy = ActorCriticPolicy
CnnPolicy = ActorCriticCnnPolicy
MultiInputPolicy = MultiInputActorCriticPolicy

__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
