"""rl-zoo3 bridge: run rl-zoo3's own commands with sb3_softopt's algorithms and environments.

Usage (arguments after the command are rl-zoo3's own, unchanged)::

    softopt-zoo train --algo soft_dqn --env CartPole-v1 -f logs
    python -m sb3_softopt.zoo enjoy --algo soft_dqn --env CartPole-v1 -f logs --no-render
    softopt-zoo train --algo entropy_ppo --env CartPole-v1 -optimize --n-trials 20 \\
        --storage logs/study.log --study-name ppo_cartpole
    softopt-zoo all_plots -a soft_dqn dqn -e CartPole-v1 -f logs --no-display

Why a bridge is needed (rl-zoo3 2.9.2): ``--algo`` is validated against
``rl_zoo3.utils.ALGOS`` when the arguments are parsed, before ``--gym-packages`` are
imported, so a plugin cannot add algorithms from the command line. This module adds
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
  load the latest run that holds a model (:mod:`sb3_softopt.zoo_runs`);
* ``-optimize`` with ``--storage`` sends heartbeats, so trials of dead workers end FAIL instead of
  RUNNING forever, and seeds the sampler per trial number (:mod:`sb3_softopt.zoo_storage`).

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

from __future__ import annotations

import os
import re
import runpy
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Re-exported: scripts read entries through the bridge module, as they always did.
from sb3_softopt.zoo_entry import ZooBridgeError, ZooEntry, zoo_entry  # noqa: F401

__all__ = [
    "COMMANDS",
    "ZOO_ALGOS",
    "ZooBridgeError",
    "default_config",
    "main",
    "register",
    "sample_entropy_ppo_params",
    "sample_soft_dqn_params",
    "sample_sql_params",
    "ZooEntry",
    "zoo_configs_dir",
    "zoo_entry",
]

#: rl-zoo3 algorithm name -> name of the class exported by ``sb3_softopt``.
ZOO_ALGOS: dict[str, str] = {"soft_dqn": "SoftDQN", "entropy_ppo": "EntropyPPO", "sac": "SAC", "sql": "SQL"}

#: rl-zoo3 commands the bridge runs.
COMMANDS = ("train", "enjoy", "record_video", "all_plots", "plot_train", "plot_from_file")

#: rl-zoo3's hard-coded list in enjoy.py / record_video.py (loaded with ``buffer_size=1``).
_ZOO_OFF_POLICY = ("qrdqn", "dqn", "ddpg", "sac", "her", "td3", "tqc")

#: keys whose strings rl-zoo3 itself turns into schedules (only the form ``lin_<v>``).
_ZOO_SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf", "delta_std")

#: keys of an rl-zoo3 entry that configure the experiment (env, budget, wrappers), not the algorithm.
_ZOO_EXPERIMENT_KEYS = (
    "n_timesteps", "policy", "n_envs", "normalize", "env_wrapper", "frame_stack", "env_kwargs", "callback",
    "deterministic_eval",  # the bridge's evaluation option
)

STOCHASTIC_EVAL_ENV = "SOFTOPT_ZOO_STOCHASTIC_EVAL"
FIGURES_ENV = "SOFTOPT_ZOO_FIGURES"
TRACEBACK_ENV = "SOFTOPT_ZOO_TRACEBACK"
HEARTBEAT_ENV = "SOFTOPT_ZOO_HEARTBEAT"
#: default heartbeat interval (seconds) of -optimize trials in a shared storage.
DEFAULT_HEARTBEAT = 60
CONFIGS_ENV = "SOFTOPT_ZOO_CONFIGS"


# --------------------------------------------------------------------------------------
# Shipped hyperparameter files
# --------------------------------------------------------------------------------------
def zoo_configs_dir() -> Path | None:
    """Folder holding the shipped ``<algo>.yml`` files, or None if none is found.

    Looked up, in order: ``$SOFTOPT_ZOO_CONFIGS``; ``sb3_softopt/zoo_configs/`` (regular
    install: pyproject maps the repository's ``zoo_configs/`` into the package);
    ``<repo>/zoo_configs/`` next to the package (editable install or source checkout).
    """
    package_dir = Path(__file__).resolve().parent
    candidates = []
    if os.environ.get(CONFIGS_ENV):
        candidates.append(Path(os.environ[CONFIGS_ENV]))
    candidates += [package_dir / "zoo_configs", package_dir.parent / "zoo_configs"]
    for path in candidates:
        if path.is_dir() and any(path.glob("*.yml")):
            return path
    return None


def _yaml_keys(path: Path) -> set[str]:
    import yaml

    with open(path) as f:
        content = yaml.safe_load(f) or {}
    if not isinstance(content, dict):
        raise ZooBridgeError(f"hyperparameter file {path} must map env ids to dicts, got {type(content).__name__}")
    return set(content)


def _zoo_default_config(algo: str) -> Path:
    # Mirrors ExperimentManager.__init__'s own default.
    import rl_zoo3.exp_manager

    root = Path(rl_zoo3.exp_manager.__file__).parent
    if not (root / "hyperparams").is_dir():
        root = root.parent
    return root / "hyperparams" / f"{algo}.yml"


def default_config(algo: str, env_id: str) -> str | None:
    """The hyperparameter file ``train`` uses when ``-conf`` is not given.

    Our ``zoo_configs/<algo>.yml`` if it has an entry for ``env_id`` (or a ``default``
    entry while rl-zoo3's own file has none for ``env_id``); otherwise rl-zoo3's own
    ``hyperparams/<algo>.yml`` (returned as None: rl-zoo3 picks it itself); our file
    again when rl-zoo3 has no file for ``algo`` at all, so that the error names it.
    """
    folder = zoo_configs_dir()
    ours = folder / f"{algo}.yml" if folder is not None else None
    zoo = _zoo_default_config(algo)
    zoo_keys = _yaml_keys(zoo) if zoo.is_file() else set()
    if ours is not None and ours.is_file():
        our_keys = _yaml_keys(ours)
        if env_id in our_keys or ("default" in our_keys and env_id not in zoo_keys):
            return str(ours)
        if not zoo.is_file():
            return str(ours)
    return None


# --------------------------------------------------------------------------------------
# Optuna samplers
# --------------------------------------------------------------------------------------
def sample_soft_dqn_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for SoftDQN: rl-zoo3's DQN search space with the temperature in
    place of epsilon-greedy exploration (a Boltzmann policy explores by itself).

    Parameter names follow rl-zoo3's so that its ``convert_offpolicy_params`` converts a
    stored trial back into constructor arguments (``--trial-id``).
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    batch_size_pow = trial.suggest_int("batch_size_pow", 4, 9)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.002, log=True)
    train_freq = trial.suggest_int("train_freq", 1, 10)
    subsample_steps = trial.suggest_int("subsample_steps", 1, min(train_freq, 8))
    target_update_interval = trial.suggest_int("target_update_interval", 1, 20000, log=True)
    ent_coef = trial.suggest_float("ent_coef", 1e-4, 1.0, log=True)
    net_arch = trial.suggest_categorical("net_arch", ["small", "medium", "big"])

    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    return convert_offpolicy_params(
        {
            "one_minus_gamma": one_minus_gamma,
            "learning_rate": learning_rate,
            "batch_size_pow": batch_size_pow,
            "train_freq": train_freq,
            "subsample_steps": subsample_steps,
            "target_update_interval": target_update_interval,
            "ent_coef": ent_coef,
            "net_arch": net_arch,
        }
    )


def sample_sql_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for SQL: rl-zoo3's SAC search space plus the temperature (log scale; SAC
    learns it, SQL cannot) and the number of SVGD particles.

    Parameter names follow rl-zoo3's so that its ``convert_offpolicy_params`` converts a
    stored trial back into constructor arguments (``--trial-id``).
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    batch_size_pow = trial.suggest_int("batch_size_pow", 5, 9)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.002, log=True)
    train_freq = trial.suggest_int("train_freq", 1, 10)
    tau = trial.suggest_float("tau", 0.001, 0.08, log=True)
    ent_coef = trial.suggest_float("ent_coef", 1e-3, 10.0, log=True)
    kernel_n_particles = trial.suggest_categorical("kernel_n_particles", [8, 16, 32])
    net_arch = trial.suggest_categorical("net_arch", ["small", "medium", "big"])

    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    return convert_offpolicy_params(
        {
            "one_minus_gamma": one_minus_gamma,
            "learning_rate": learning_rate,
            "batch_size_pow": batch_size_pow,
            "train_freq": train_freq,
            "tau": tau,
            "ent_coef": ent_coef,
            "kernel_n_particles": kernel_n_particles,
            "net_arch": net_arch,
        }
    )


def sample_entropy_ppo_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna sampler for EntropyPPO: rl-zoo3's PPO search space where the temperature of the
    soft returns, ``soft_ent_coef`` (log scale), replaces PPO's entropy bonus ``ent_coef`` (kept 0).

    Parameter names follow rl-zoo3's so that its ``convert_onpolicy_params`` converts a
    stored trial back into constructor arguments (``--trial-id``).
    """
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    batch_size_pow = trial.suggest_int("batch_size_pow", 4, 10)
    n_steps_pow = trial.suggest_int("n_steps_pow", 5, 12)
    one_minus_gamma = trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True)
    one_minus_gae_lambda = trial.suggest_float("one_minus_gae_lambda", 0.0001, 0.1, log=True)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 0.002, log=True)
    soft_ent_coef = trial.suggest_float("soft_ent_coef", 1e-4, 0.1, log=True)
    clip_range = trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4])
    n_epochs = trial.suggest_categorical("n_epochs", [1, 5, 10, 20])
    max_grad_norm = trial.suggest_float("max_grad_norm", 0.3, 2)
    net_arch = trial.suggest_categorical("net_arch", ["tiny", "small", "medium"])
    activation_fn = trial.suggest_categorical("activation_fn", ["tanh", "relu"])

    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    trial.set_user_attr("n_steps", 2**n_steps_pow)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    return convert_onpolicy_params(
        {
            "n_steps_pow": n_steps_pow,
            "batch_size_pow": batch_size_pow,
            "one_minus_gamma": one_minus_gamma,
            "one_minus_gae_lambda": one_minus_gae_lambda,
            "learning_rate": learning_rate,
            "soft_ent_coef": soft_ent_coef,
            "clip_range": clip_range,
            "n_epochs": n_epochs,
            "max_grad_norm": max_grad_norm,
            "net_arch": net_arch,
            "activation_fn": activation_fn,
        }
    )


# --------------------------------------------------------------------------------------
# rl-zoo3 patches
# --------------------------------------------------------------------------------------
_STATE: dict[str, Any] = {"patched": False, "stochastic_eval": False, "heartbeat": DEFAULT_HEARTBEAT}

#: How to undo each change :func:`register` made to rl-zoo3, newest last (see :func:`unregister`).
_UNDO: list[Callable[[], None]] = []
_MISSING = object()


def _set_item(mapping: dict, key: Any, value: Any) -> None:
    old = mapping.get(key, _MISSING)
    _UNDO.append(lambda: mapping.pop(key, None) if old is _MISSING else mapping.__setitem__(key, old))
    mapping[key] = value


def _set_attr(owner: Any, name: str, value: Any) -> None:
    # A class attribute is restored from the class's own __dict__ (not an inherited one).
    old = vars(owner).get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name, _MISSING)
    _UNDO.append(lambda: delattr(owner, name) if old is _MISSING else setattr(owner, name, old))
    setattr(owner, name, value)


def _lenient_store_dict_call(self, parser, namespace, values, option_string=None):  # noqa: ANN001
    """rl-zoo3's ``StoreDict`` evaluates every ``key:value`` as Python; schedule strings such as
    ``lin_0.1_0.001`` or ``auto_0.1`` are not Python, so keep those as plain strings."""
    import rl_zoo3.utils

    arg_dict = {}
    for arguments in values:
        key, sep, value = arguments.partition(":")
        if not sep:
            raise ZooBridgeError(f"{option_string}: expected key:value, got {arguments!r}")
        try:
            # rl-zoo3's own behaviour, in its namespace (``nn``, ``th`` are available there)
            arg_dict[key] = eval(value, vars(rl_zoo3.utils))
        except (NameError, SyntaxError):
            arg_dict[key] = value
    setattr(namespace, self.dest, arg_dict)


def _make_experiment_manager(base: type) -> type:
    from sb3_softopt.common.schedules import make_schedule
    from sb3_softopt.zoo_runs import CleanSetupMixin
    from sb3_softopt.zoo_storage import OptimizationMixin

    class SoftoptExperimentManager(CleanSetupMixin, OptimizationMixin, base):  # type: ignore[misc, valid-type]
        """rl-zoo3's ExperimentManager with the bridge's fixes (see the module docstring)."""

        def __init__(self, args, algo, env_id, *pos, config=None, **kwargs):  # noqa: ANN001
            if config is None:
                config = default_config(algo, env_id)
            super().__init__(args, algo, env_id, *pos, config=config, **kwargs)
            self._bridge_heartbeat = _STATE["heartbeat"]
            self._bridge_stochastic_eval = bool(_STATE["stochastic_eval"])
            if self._bridge_stochastic_eval:
                self.deterministic_eval = False

        def read_hyperparameters(self):  # noqa: ANN202
            # rl-zoo3 tests `if ... and self.trial_id:`, so `--trial-id 0` was silently ignored.
            if self.trial_id == 0 and self.storage and self.study_name:
                print("Loading from Optuna study...")
                study_hyperparams = self.load_trial(self.storage, self.study_name, 0)
                self.custom_hyperparams = {**study_hyperparams, **(self.custom_hyperparams or {})}
            return super().read_hyperparameters()

        @staticmethod
        def _preprocess_schedules(hyperparams: dict[str, Any]) -> dict[str, Any]:
            # rl-zoo3 only understands "lin_<v>"; our richer forms become Schedule objects.
            ours = {}
            for key in _ZOO_SCHEDULE_KEYS:
                value = hyperparams.get(key)
                if isinstance(value, str) and not re.fullmatch(r"lin_[^_]+", value.strip()):
                    ours[key] = make_schedule(value, name=key)
                    del hyperparams[key]
            hyperparams = base._preprocess_schedules(hyperparams)
            hyperparams.update(ours)
            return hyperparams

        def _preprocess_hyperparams(self, hyperparams: dict[str, Any]):  # noqa: ANN202
            if "deterministic_eval" in hyperparams:
                value = hyperparams.pop("deterministic_eval")
                if not isinstance(value, bool):
                    raise ZooBridgeError(f"deterministic_eval must be true or false, got {value!r}")
                if not self._bridge_stochastic_eval:
                    self.deterministic_eval = value
            result = super()._preprocess_hyperparams(hyperparams)
            # rl-zoo3 applies yaml env_kwargs to the training env only.
            if self._eval_env_kwargs_args is None:
                self.eval_env_kwargs = self.env_kwargs
            return result

    return SoftoptExperimentManager


def _enjoy_loader(cls: type) -> type:
    """A subclass whose ``load`` defaults to ``buffer_size=1`` and returns a ``cls`` instance."""

    def load(_klass, path, *args, **kwargs):  # noqa: ANN001, ANN202
        # Nothing is stored in a replay buffer while watching an agent.
        kwargs.setdefault("buffer_size", 1)
        kwargs.setdefault("optimize_memory_usage", False)
        return cls.load(path, *args, **kwargs)

    return type(cls.__name__, (cls,), {"load": classmethod(load), "__doc__": cls.__doc__})


def _import_algorithm(class_name: str) -> type | None:
    import sb3_softopt

    return getattr(sb3_softopt, class_name, None)


def register(command: str = "train", strict: bool = False) -> dict[str, type]:
    """Add sb3_softopt's algorithms, samplers and environments to rl-zoo3 (idempotent).

    :param command: the rl-zoo3 command about to run (``enjoy``/``record_video`` get
        loaders with ``buffer_size=1`` for our off-policy algorithms)
    :param strict: raise ``ImportError`` if one of our algorithms is missing instead of
        warning and leaving it out
    :return: the algorithms registered, ``{zoo name: class}``
    """
    import rl_zoo3.exp_manager
    import rl_zoo3.hyperparams_opt as hp
    import rl_zoo3.utils
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params, convert_onpolicy_params
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    import sb3_softopt  # noqa: F401  (registers the environment ids)

    registered: dict[str, type] = {}
    for zoo_name, class_name in ZOO_ALGOS.items():
        cls = _import_algorithm(class_name)
        if cls is None:
            message = f"sb3_softopt.{class_name} is not available; rl-zoo3 algo {zoo_name!r} not registered"
            if strict:
                raise ImportError(message)
            warnings.warn(message, stacklevel=2)
            continue
        watching = command in ("enjoy", "record_video")
        if watching and zoo_name not in _ZOO_OFF_POLICY and issubclass(cls, OffPolicyAlgorithm):
            _set_item(rl_zoo3.utils.ALGOS, zoo_name, _enjoy_loader(cls))
        else:
            _set_item(rl_zoo3.utils.ALGOS, zoo_name, cls)
        registered[zoo_name] = cls

    samplers: dict[str, tuple[Callable, Callable]] = {
        "soft_dqn": (sample_soft_dqn_params, convert_offpolicy_params),
        "entropy_ppo": (sample_entropy_ppo_params, convert_onpolicy_params),
        "sql": (sample_sql_params, convert_offpolicy_params),
    }
    for zoo_name, (sampler, converter) in samplers.items():
        if zoo_name in registered:
            _set_item(hp.HYPERPARAMS_SAMPLER, zoo_name, sampler)
            _set_item(hp.HYPERPARAMS_CONVERTER, zoo_name, converter)
    # "sac" keeps rl-zoo3's own SAC sampler/converter: our SAC takes the same arguments.

    if command in ("enjoy", "record_video"):
        from sb3_softopt.zoo_runs import patch_model_path

        patch_model_path(_set_attr)

    if not _STATE["patched"]:
        _set_attr(rl_zoo3.utils.StoreDict, "__call__", _lenient_store_dict_call)
        import rl_zoo3.train

        manager = _make_experiment_manager(rl_zoo3.exp_manager.ExperimentManager)
        _set_attr(rl_zoo3.train, "ExperimentManager", manager)
        _STATE["manager"] = manager
        _STATE["patched"] = True
    return registered


def unregister() -> None:
    """Undo every change :func:`register` made to rl-zoo3 (algorithms, samplers, argument parsing,
    the experiment manager, enjoy's model lookup), newest first; a no-op when nothing is registered."""
    while _UNDO:
        _UNDO.pop()()
    _STATE.pop("manager", None)
    _STATE["patched"] = False


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
USAGE = f"""usage: softopt-zoo [--stochastic-eval] [--figures DIR] [--traceback] [--heartbeat SECONDS]
                   COMMAND [rl-zoo3 arguments]

COMMAND is one of: {', '.join(COMMANDS)} (rl-zoo3's own commands and arguments;
`softopt-zoo COMMAND -h` shows them). Extra algorithms: {', '.join(ZOO_ALGOS)}
(sac is sb3_softopt.SAC). Default hyperparameters: zoo_configs/<algo>.yml.

bridge options (may appear anywhere, removed before rl-zoo3 parses the rest):
  --stochastic-eval  evaluate with stochastic actions during train/-optimize
                     (also: {STOCHASTIC_EVAL_ENV}=1, or hyperparameter deterministic_eval: false)
  --figures DIR      plotting commands: save each figure as DIR/<title>.png
                     (also: {FIGURES_ENV}=DIR)
  --traceback        on error, print the full traceback instead of one line
                     (also: {TRACEBACK_ENV}=1); exit status 1, or 2 for bad usage
  --heartbeat SECONDS
                     -optimize with --storage: running trials send a heartbeat every
                     SECONDS; a trial silent for 2*SECONDS (dead worker) is marked FAIL
                     (default {DEFAULT_HEARTBEAT}, 0: off; also: {HEARTBEAT_ENV}=SECONDS)
"""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _heartbeat(value: str, origin: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ZooBridgeError(f"{origin} needs a whole number of seconds (0: no heartbeat), got {value!r}")
    return seconds


def _split_bridge_options(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    heartbeat = os.environ.get(HEARTBEAT_ENV, "").strip()
    options: dict[str, Any] = {
        "stochastic_eval": _flag(STOCHASTIC_EVAL_ENV),
        "figures": os.environ.get(FIGURES_ENV) or None,
        "traceback": _flag(TRACEBACK_ENV),
        "heartbeat": _heartbeat(heartbeat, HEARTBEAT_ENV) if heartbeat else DEFAULT_HEARTBEAT,
    }
    examples = {"--figures": "a folder, e.g. --figures plots/", "--heartbeat": "seconds, e.g. --heartbeat 60"}
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--stochastic-eval":
            options["stochastic_eval"] = True
        elif arg == "--traceback":
            options["traceback"] = True
        elif name in examples:
            if "=" in arg:
                value = arg.split("=", 1)[1]
            else:
                if i + 1 >= len(args) or args[i + 1].startswith("-"):
                    raise ZooBridgeError(f"{name} needs {examples[name]}")
                i += 1
                value = args[i]
            if name == "--figures":
                options["figures"] = value
            else:
                options["heartbeat"] = _heartbeat(value, name)
        else:
            rest.append(arg)
        i += 1
    return options, rest


def _save_figures(folder: str) -> list[Path]:
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for number in plt.get_fignums():
        fig = plt.figure(number)
        label = fig.get_label() or (fig.axes[0].get_title() if fig.axes else "") or f"figure_{number}"
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or f"figure_{number}"
        path = out / f"{name}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        saved.append(path)
        print(f"Saved figure {path}")
    plt.close("all")
    return saved


def _disable_broken_rliable() -> None:
    """rl-zoo3's plot_from_file treats rliable as optional but only catches ImportError; with
    pandas >= 3 rliable's dependency arch (< 8) fails with a TypeError, which would break every
    plotting command (``rl_zoo3.plots`` imports plot_from_file). Turn that into a missing rliable."""
    try:
        import rliable.library  # noqa: F401
    except ImportError:
        return
    except Exception as exc:  # noqa: BLE001 - any failure inside a third-party import
        for name in [m for m in sys.modules if m == "rliable" or m.startswith("rliable.")]:
            del sys.modules[name]
        sys.modules["rliable"] = None  # type: ignore[assignment]  # makes `import rliable` raise ImportError
        warnings.warn(
            f"rliable cannot be imported ({type(exc).__name__}: {exc}); plot_from_file runs without its "
            "rliable options (-r/-iqm/-vs). rliable 1.2 needs arch<8, and arch 7 fails with pandas>=3.",
            stacklevel=2,
        )


def _run_command(command: str) -> None:
    if command == "record_video":
        # record_video.py only runs under `if __name__ == "__main__"`.
        runpy.run_module("rl_zoo3.record_video", run_name="__main__", alter_sys=False)
        return
    if command == "train":
        from rl_zoo3.train import train

        train()
    elif command == "enjoy":
        from rl_zoo3.enjoy import enjoy

        enjoy()
    else:
        _disable_broken_rliable()
        import rl_zoo3.plots

        getattr(rl_zoo3.plots, command)()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``softopt-zoo`` / ``python -m sb3_softopt.zoo``.

    :param argv: command line without the program name (default: ``sys.argv[1:]``)
    :raises ZooBridgeError: bad bridge usage when ``argv`` is given (from the command line:
        a one-line error and exit status 2, like argparse)
    :raises Exception: whatever rl-zoo3 raises, when ``argv`` is given (from the command line:
        one line on stderr, the traceback only with ``--traceback``, and exit status 1)
    """
    try:
        options, args = _split_bridge_options(sys.argv[1:] if argv is None else argv)
        if not args or args[0] in ("-h", "--help"):
            print(USAGE)
            return
        command, rest = args[0], args[1:]
        if command not in COMMANDS:
            raise ZooBridgeError(f"unknown command {command!r}; choose one of {', '.join(COMMANDS)}")
    except ZooBridgeError as exc:
        if argv is not None:
            raise
        print(f"softopt-zoo: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    if options["figures"] is not None and command in ("all_plots", "plot_train", "plot_from_file"):
        import matplotlib

        # Headless: plt.show() becomes a no-op and the figures stay open to be saved.
        matplotlib.use("Agg")
        Path(options["figures"]).mkdir(parents=True, exist_ok=True)

    register(command)
    _STATE["stochastic_eval"] = bool(options["stochastic_eval"])
    _STATE["heartbeat"] = options["heartbeat"]
    saved_argv = sys.argv
    sys.argv = [f"softopt-zoo {command}", *rest]
    try:
        _run_command(command)
    except Exception as exc:
        if argv is not None or options["traceback"]:
            raise
        from sb3_softopt.zoo_runs import error_line

        # rl-zoo3's own output went to stdout; the reason it stopped is this one line.
        print(error_line(exc, f"softopt-zoo {command}") + "  (--traceback shows where)", file=sys.stderr)
        raise SystemExit(2 if isinstance(exc, ZooBridgeError) else 1) from None
    finally:
        sys.argv = saved_argv
        _STATE["stochastic_eval"] = False
        _STATE["heartbeat"] = DEFAULT_HEARTBEAT
    if options["figures"] is not None and command in ("all_plots", "plot_train", "plot_from_file"):
        with warnings.catch_warnings():
            _save_figures(options["figures"])


if __name__ == "__main__":
    main()
