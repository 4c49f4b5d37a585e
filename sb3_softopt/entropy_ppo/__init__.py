"""PPO on soft (maximum-entropy) returns: ``r_t - alpha * log pi(a_t|s_t)``."""

from sb3_softopt.entropy_ppo.entropy_ppo import DEFAULT_TOTAL_TIMESTEPS, EntropyPPO
from sb3_softopt.entropy_ppo.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["DEFAULT_TOTAL_TIMESTEPS", "CnnPolicy", "EntropyPPO", "MlpPolicy", "MultiInputPolicy"]
