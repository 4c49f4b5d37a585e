"""Names shared by the bridge's modules: its error, algorithms, commands, keys, environment variables.

A leaf module (it imports none of the bridge's others), so that ``entry``, ``configs``, ``patches``
and ``cli`` import :class:`ZooBridgeError` from here without importing one another.
"""

from __future__ import annotations


class ZooBridgeError(ValueError):
    """Bad use of the zoo bridge (unknown command, missing option value, unusable entry, ...)."""


#: rl-zoo3 algorithm name -> name of the class exported by ``sb3_softopt``.
ZOO_ALGOS: dict[str, str] = {"soft_dqn": "SoftDQN", "entropy_ppo": "EntropyPPO", "sac": "SAC", "sql": "SQL"}

#: rl-zoo3 commands the bridge runs.
COMMANDS = ("train", "enjoy", "record_video", "all_plots", "plot_train", "plot_from_file")

#: rl-zoo3's hard-coded list in enjoy.py / record_video.py (loaded with ``buffer_size=1``).
_ZOO_OFF_POLICY = ("qrdqn", "dqn", "ddpg", "sac", "her", "td3", "tqc")

#: keys whose strings rl-zoo3 itself turns into schedules (only the form ``lin_<v>``).
_ZOO_SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf", "delta_std")

STOCHASTIC_EVAL_ENV = "SOFTOPT_ZOO_STOCHASTIC_EVAL"
FIGURES_ENV = "SOFTOPT_ZOO_FIGURES"
TRACEBACK_ENV = "SOFTOPT_ZOO_TRACEBACK"
HEARTBEAT_ENV = "SOFTOPT_ZOO_HEARTBEAT"
#: default heartbeat interval (seconds) of -optimize trials in a shared storage.
DEFAULT_HEARTBEAT = 60
CONFIGS_ENV = "SOFTOPT_ZOO_CONFIGS"
