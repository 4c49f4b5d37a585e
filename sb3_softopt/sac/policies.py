"""Policies of the extended SAC: SB3's own SAC policies, re-exported unchanged.

Reusing SB3's classes (rather than subclasses) is what lets :class:`sb3_softopt.SAC`
load checkpoints written by ``stable_baselines3.SAC``: the saved ``policy_class`` is
SB3's, and the ``state_dict`` keys are the same.
"""

from stable_baselines3.sac.policies import Actor, CnnPolicy, MlpPolicy, MultiInputPolicy, SACPolicy

__all__ = ["Actor", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "SACPolicy"]
