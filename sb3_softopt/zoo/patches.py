"""What the bridge changes in rl-zoo3 (``register``), and how it is undone (``unregister``)."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sb3_softopt.zoo.configs import default_config
from sb3_softopt.zoo.constants import DEFAULT_HEARTBEAT, ZOO_ALGOS, _ZOO_OFF_POLICY, _ZOO_SCHEDULE_KEYS, ZooBridgeError
from sb3_softopt.zoo.samplers import sample_entropy_ppo_params, sample_sac_params, sample_soft_dqn_params, sample_sql_params


@dataclass(frozen=True)
class BridgeOptions:
    """The bridge's own command-line options that reach rl-zoo3's ``ExperimentManager``.

    :param stochastic_eval: evaluate with ``deterministic=False`` during ``train``
    :param heartbeat: ``-optimize`` with ``--storage``: heartbeat interval in seconds (0: none)
    """

    stochastic_eval: bool = False
    heartbeat: int = DEFAULT_HEARTBEAT


# --------------------------------------------------------------------------------------
# rl-zoo3 patches
# --------------------------------------------------------------------------------------
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


def _lenient_store_dict_call(self, parser, namespace, values, option_string=None):
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


def _make_experiment_manager(base: type[Any], options: BridgeOptions = BridgeOptions()) -> type:
    """rl-zoo3's ``ExperimentManager`` (``base``) with the bridge's fixes, run with ``options``."""
    from sb3_softopt.common.schedules import make_schedule
    from sb3_softopt.zoo.runs import CleanSetupMixin
    from sb3_softopt.zoo.storage import OptimizationMixin

    class SoftoptExperimentManager(CleanSetupMixin, OptimizationMixin, base):
        """rl-zoo3's ExperimentManager with the bridge's fixes (see the package docstring)."""

        _softopt_options = options

        def __init__(self, args, algo, env_id, *pos, config=None, **kwargs):
            if config is None:
                config = default_config(algo, env_id)
            super().__init__(args, algo, env_id, *pos, config=config, **kwargs)
            self._bridge_heartbeat = options.heartbeat
            self._bridge_stochastic_eval = bool(options.stochastic_eval)
            if self._bridge_stochastic_eval:
                self.deterministic_eval = False

        def read_hyperparameters(self):
            # rl-zoo3 tests `if ... and self.trial_id:`, which would silently ignore `--trial-id 0`.
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

        def _preprocess_hyperparams(self, hyperparams: dict[str, Any]):
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

    def load(_klass, path, *args, **kwargs):
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
        "sac": (sample_sac_params, convert_offpolicy_params),
    }
    for zoo_name, (sampler, converter) in samplers.items():
        if zoo_name in registered:
            _set_item(hp.HYPERPARAMS_SAMPLER, zoo_name, sampler)
            _set_item(hp.HYPERPARAMS_CONVERTER, zoo_name, converter)
    # "sac": rl-zoo3's SAC sampler and converter, with the discrete step's options on Discrete actions.

    if command in ("enjoy", "record_video"):
        from sb3_softopt.zoo.runs import patch_model_path

        patch_model_path(_set_attr)

    import rl_zoo3.train

    if not hasattr(rl_zoo3.train.ExperimentManager, "_softopt_options"):  # patched once, until unregister()
        _set_attr(rl_zoo3.utils.StoreDict, "__call__", _lenient_store_dict_call)
        manager = _make_experiment_manager(rl_zoo3.exp_manager.ExperimentManager)
        _set_attr(rl_zoo3.train, "ExperimentManager", manager)
    return registered


@contextlib.contextmanager
def bridge_options(options: BridgeOptions) -> Iterator[None]:
    """Within the block, ``train`` builds the bridge's ``ExperimentManager`` with ``options``
    (after :func:`register`; the options are bound to the class, not kept in module state)."""
    import rl_zoo3.exp_manager
    import rl_zoo3.train

    name = "ExperimentManager"  # set with setattr: rl_zoo3.train's annotation is the base class
    registered = getattr(rl_zoo3.train, name)
    setattr(rl_zoo3.train, name, _make_experiment_manager(rl_zoo3.exp_manager.ExperimentManager, options))
    try:
        yield
    finally:
        setattr(rl_zoo3.train, name, registered)


def unregister() -> None:
    """Undo every change :func:`register` made to rl-zoo3 (algorithms, samplers, argument parsing,
    the experiment manager, enjoy's model lookup), newest first; a no-op when nothing is registered."""
    while _UNDO:
        _UNDO.pop()()
