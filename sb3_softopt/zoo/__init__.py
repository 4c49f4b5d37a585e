"""rl-zoo3 bridge: run rl-zoo3's own commands with sb3_softopt's algorithms and environments.

Usage (arguments after the command are rl-zoo3's own, unchanged)::

    softopt-zoo train --algo soft_dqn --env CartPole-v1 -f logs
    python -m sb3_softopt.zoo enjoy --algo soft_dqn --env CartPole-v1 -f logs --no-render
    softopt-zoo train --algo entropy_ppo --env CartPole-v1 -optimize --n-trials 20 \\
        --storage logs/study.log --study-name ppo_cartpole
    softopt-zoo all_plots -a soft_dqn dqn -e CartPole-v1 -f logs --no-display

Why a bridge is needed (rl-zoo3 2.9.2): ``--algo`` is validated against
``rl_zoo3.utils.ALGOS`` when the arguments are parsed, before ``--gym-packages`` are
imported, so a plugin cannot add algorithms from the command line. This package adds
``soft_dqn`` (:class:`sb3_softopt.SoftDQN`), ``entropy_ppo`` (:class:`sb3_softopt.EntropyPPO`),
``sql`` (:class:`sb3_softopt.SQL`) and replaces ``sac`` with :class:`sb3_softopt.SAC`
(whose defaults learn exactly like SB3's), registers optuna samplers for them, imports
``sb3_softopt`` so that the lecture's environment ids resolve, and then calls rl-zoo3.

It also works around these rl-zoo3 pitfalls:

* the default hyperparameter file is our shipped ``zoo_configs/<algo>.yml`` when it has an
  entry for the environment (rl-zoo3's own file otherwise); ``-conf`` always wins;
* ``env_kwargs`` given only in the yaml file reach the evaluation env too (rl-zoo3 applies
  them to the training env only), unless ``--eval-env-kwargs`` is given;
* ``enjoy``/``record_video`` load our off-policy algorithms with ``buffer_size=1`` (their
  list of off-policy algorithms is hard-coded);
* ``-params`` values that are not Python literals stay strings, so
  ``-params ent_coef:auto_0.1 target_entropy:lin_-1_-3`` works without double quoting;
  schedule strings (``lin_0.1_0.001``, ``loglin_1_0.01``, ``const_0.2``) are also accepted for
  ``learning_rate``/``clip_range``/``clip_range_vf`` where rl-zoo3 only reads ``lin_<v>``;
* ``--trial-id 0`` (the first trial of a study) is loaded; rl-zoo3 ignores a trial id of 0;
* evaluation during ``train`` (and ``-optimize`` trials) is deterministic (argmax) in rl-zoo3;
  soft policies can be evaluated stochastically with the bridge option ``--stochastic-eval``,
  the environment variable ``SOFTOPT_ZOO_STOCHASTIC_EVAL=1`` or the hyperparameter
  ``deterministic_eval: false`` (yaml or ``-params``);
* a run whose set-up fails removes the run folder it created, and ``enjoy``/``record_video``
  load the latest run that holds a model (:mod:`sb3_softopt.zoo.runs`);
* ``-optimize`` with ``--storage`` sends heartbeats, so trials of dead workers end FAIL instead of
  RUNNING forever, and seeds the sampler per trial number (:mod:`sb3_softopt.zoo.storage`).

Bridge options (taken out of the command line before rl-zoo3 parses it):

``--stochastic-eval``
    evaluate with ``deterministic=False`` during ``train``.
``--figures DIR``
    plotting commands: save every figure they draw as ``DIR/<title>.png`` (headless use).
``--traceback``
    print the full traceback of an error (by default: one line, exit status 1; 2 for bad usage).
``--heartbeat SECONDS``
    ``-optimize`` with ``--storage``: heartbeat interval of running trials (default 60; 0: none).
"""

from sb3_softopt.zoo.cli import USAGE, _split_bridge_options, main
from sb3_softopt.zoo.configs import default_config, zoo_configs_dir
from sb3_softopt.zoo.constants import (
    COMMANDS,
    CONFIGS_ENV,
    DEFAULT_HEARTBEAT,
    FIGURES_ENV,
    HEARTBEAT_ENV,
    STOCHASTIC_EVAL_ENV,
    TRACEBACK_ENV,
    ZOO_ALGOS,
)
from sb3_softopt.zoo.entry import ZooBridgeError, ZooEntry, zoo_entry
from sb3_softopt.zoo.patches import _lenient_store_dict_call, _make_experiment_manager, register, unregister
from sb3_softopt.zoo.samplers import sample_entropy_ppo_params, sample_sac_params, sample_soft_dqn_params, sample_sql_params

__all__ = [
    "COMMANDS",
    "CONFIGS_ENV",
    "DEFAULT_HEARTBEAT",
    "FIGURES_ENV",
    "HEARTBEAT_ENV",
    "STOCHASTIC_EVAL_ENV",
    "TRACEBACK_ENV",
    "USAGE",
    "ZOO_ALGOS",
    "ZooBridgeError",
    "ZooEntry",
    "_lenient_store_dict_call",
    "_make_experiment_manager",
    "_split_bridge_options",
    "default_config",
    "main",
    "register",
    "sample_entropy_ppo_params",
    "sample_sac_params",
    "sample_soft_dqn_params",
    "sample_sql_params",
    "unregister",
    "zoo_configs_dir",
    "zoo_entry",
]  # fmt: skip
