"""SAC with entropy diagnostics and temperature / target-entropy schedules."""

from sb3_softopt.sac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_softopt.sac.sac import SAC

__all__ = ["SAC", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
