"""The lecture's environments, installed as ``sb3_softopt.envs``."""
