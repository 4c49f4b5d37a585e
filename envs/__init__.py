"""The lecture's environments, installed as ``sb3_softopt.envs``.

Importing this module (done by ``import sb3_softopt``) registers the Gymnasium ids below;
``gym.make("sb3_softopt:LotteryMDP-v0")`` imports it on demand. Registration is idempotent.

================================  ==============  =====================
id                                module          ``max_episode_steps``
================================  ==============  =====================
``LotteryMDP-v0``                 lottery         1
``TwoPeakBandit-v0``              two_peak        1
``TwoPeakBanditDiscrete-v0``      two_peak        1
``ReachingGridworld-v0``          reaching        30
``MultiGoal-v0``                  multigoal       30
``PointPretrain-v0``              point_mass      100
``PointHallway-v0``               point_mass      100
``PointUMaze-v0``                 point_mass      100
``PointGoal-v0``                  point_goal      60
``PointComposeA-v0``              point_compose   30
``PointComposeB-v0``              point_compose   30
``PointComposeAB-v0``             point_compose   30
================================  ==============  =====================
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from sb3_softopt.envs.lottery import LotteryMDP
from sb3_softopt.envs.multigoal import MultiGoal
from sb3_softopt.envs.point_compose import PointComposeEnv
from sb3_softopt.envs.point_goal import PointGoalEnv
from sb3_softopt.envs.point_mass import PointHallwayEnv, PointPretrainEnv, PointUMazeEnv
from sb3_softopt.envs.reaching import ReachingGridworld, ReachingModel, build_reaching_model
from sb3_softopt.envs.two_peak import TwoPeakBandit, TwoPeakBanditDiscrete, two_peak_log_density
from sb3_softopt.envs.wrappers import OneHotObservation


def _register(env_id: str, entry_point: str, **kwargs: Any) -> None:
    """Register ``env_id`` unless it already exists (re-imports and reloads must not warn)."""
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, **kwargs)


_register("LotteryMDP-v0", "sb3_softopt.envs.lottery:LotteryMDP", max_episode_steps=1)
_register("TwoPeakBandit-v0", "sb3_softopt.envs.two_peak:TwoPeakBandit", max_episode_steps=1)
_register("TwoPeakBanditDiscrete-v0", "sb3_softopt.envs.two_peak:TwoPeakBanditDiscrete", max_episode_steps=1)
_register("ReachingGridworld-v0", "sb3_softopt.envs.reaching:ReachingGridworld", max_episode_steps=30)
_register("MultiGoal-v0", "sb3_softopt.envs.multigoal:MultiGoal", max_episode_steps=30)
_register("PointPretrain-v0", "sb3_softopt.envs.point_mass:PointPretrainEnv", max_episode_steps=100)
_register("PointHallway-v0", "sb3_softopt.envs.point_mass:PointHallwayEnv", max_episode_steps=100)
_register("PointUMaze-v0", "sb3_softopt.envs.point_mass:PointUMazeEnv", max_episode_steps=100)
_register("PointGoal-v0", "sb3_softopt.envs.point_goal:PointGoalEnv", max_episode_steps=60)
for _task, _weights in (("A", (1.0, 0.0)), ("B", (0.0, 1.0)), ("AB", (0.5, 0.5))):
    _register(f"PointCompose{_task}-v0", "sb3_softopt.envs.point_compose:PointComposeEnv", max_episode_steps=30,
              kwargs={"weights": _weights})  # fmt: skip

__all__ = [
    "LotteryMDP",
    "MultiGoal",
    "OneHotObservation",
    "PointComposeEnv",
    "PointGoalEnv",
    "PointHallwayEnv",
    "PointPretrainEnv",
    "PointUMazeEnv",
    "ReachingGridworld",
    "ReachingModel",
    "TwoPeakBandit",
    "TwoPeakBanditDiscrete",
    "build_reaching_model",
    "two_peak_log_density",
]
