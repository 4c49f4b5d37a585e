"""sb3_softopt: maximum-entropy RL ("control as inference") for Stable-Baselines3 and Gymnasium.

Importing the package registers its Gymnasium environments (``LotteryMDP-v0``, ...).
"""

from importlib.metadata import PackageNotFoundError, version

# Registering the environments is a side effect of importing ``sb3_softopt.envs``.
from sb3_softopt import envs
from sb3_softopt.common.schedules import make_schedule, parse_schedule
from sb3_softopt.soft_dqn import SoftDQN
from sb3_softopt.entropy_ppo import EntropyPPO
from sb3_softopt.sac import SAC
from sb3_softopt.sql import SQL

try:
    __version__ = version("sb3_softopt")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["SAC", "SQL", "EntropyPPO", "SoftDQN", "__version__", "envs", "make_schedule", "parse_schedule"]
