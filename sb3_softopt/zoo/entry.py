"""What ``softopt-zoo train`` builds from one hyperparameter entry, for scripts that train without it.

With the zoo extra installed, :func:`zoo_entry` runs rl-zoo3's own preprocessing (the bridge's
``ExperimentManager``: schedules, ``policy_kwargs``, ``n_envs``, ``normalize``, ``frame_stack``,
``env_wrapper``, ``callback``, action noise), so a script and ``train`` cannot disagree; the
environment comes from the same ``create_envs``. A core-only install reads the yaml itself and
supports the keys the shipped ``zoo_configs/`` use (a test checks both readings agree on every
shipped entry); an entry that needs rl-zoo3 to be built (wrappers, normalisation, frame stacking,
callbacks) names the key and asks for the zoo extra.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np

from sb3_softopt.zoo.configs import zoo_configs_dir
from sb3_softopt.zoo.constants import _ZOO_SCHEDULE_KEYS, CONFIGS_ENV
from sb3_softopt.zoo.constants import ZooBridgeError as ZooBridgeError  # its public home: sb3_softopt.zoo
from sb3_softopt.zoo.patches import _make_experiment_manager

#: Keys that only rl-zoo3 can turn into what ``train`` builds (the core reader refuses them).
NEEDS_RL_ZOO3 = (
    "normalize", "frame_stack", "env_wrapper", "vec_env_wrapper", "callback", "monitor_kwargs",
    "replay_buffer_class", "replay_buffer_kwargs",
)


@dataclass(frozen=True)
class ZooEntry:
    """One env entry of an rl-zoo3 hyperparameter file, as ``softopt-zoo train`` uses it.

    :param env_id: the environment id
    :param algo: the rl-zoo3 algorithm name (``"soft_dqn"`` ...)
    :param policy: the policy (name or class)
    :param kwargs: the algorithm's constructor keyword arguments, exactly as ``train`` passes them
        (schedules built, ``policy_kwargs`` evaluated, ``action_noise`` built; ``env``, ``seed``,
        ``verbose``, ``device`` and ``tensorboard_log`` are the caller's)
    :param n_timesteps: the entry's training budget
    :param env_kwargs: keyword arguments of the training env
    :param n_envs: number of training envs
    :param normalize: whether the env is wrapped in ``VecNormalize`` (``normalize_kwargs``: its arguments)
    :param normalize_kwargs: ``VecNormalize`` keyword arguments
    :param frame_stack: ``VecFrameStack`` size, or ``None``
    :param env_wrapper: the gym wrapper (class or callable) applied to each env, or ``None``
    :param vec_env_wrapper: the ``VecEnvWrapper`` applied to the vectorised env, or ``None``
    :param callbacks: the entry's callbacks (``callback`` key), built
    :param deterministic_eval: whether ``train`` evaluates the deterministic policy
    :param hyperparams: the entry as read (after ``hyperparams`` overrides), before preprocessing
    """

    env_id: str
    algo: str
    policy: Any
    kwargs: dict[str, Any]
    n_timesteps: int
    env_kwargs: dict[str, Any]
    n_envs: int = 1
    normalize: bool = False
    normalize_kwargs: dict[str, Any] = field(default_factory=dict)
    frame_stack: int | None = None
    env_wrapper: Callable | None = None
    vec_env_wrapper: Callable | None = None
    callbacks: list = field(default_factory=list)
    deterministic_eval: bool = True
    hyperparams: dict[str, Any] = field(default_factory=dict)
    _manager: Any = field(default=None, repr=False, compare=False)

    def make_env(self, seed: int = 0, eval_env: bool = False) -> Any:
        """The vectorised env ``train`` trains on (or evaluates on, ``eval_env=True``): ``n_envs``
        copies, wrappers, normalisation and frame stacking included, seeded with ``seed``."""
        if self._manager is not None:
            self._manager.seed = seed
            with contextlib.redirect_stdout(io.StringIO()):
                return self._manager.create_envs(self._manager.n_eval_envs if eval_env else self.n_envs, eval_env=eval_env, no_log=True)
        from stable_baselines3.common.env_util import make_vec_env

        return make_vec_env(self.env_id, n_envs=1 if eval_env else self.n_envs, seed=seed, env_kwargs=self.env_kwargs)


def _config_path(algo: str, path: str | Path | None) -> Path:
    if path is None:
        folder = zoo_configs_dir()
        if folder is None:
            raise ZooBridgeError("no zoo_configs folder found (set $" + CONFIGS_ENV + ")")
        path = folder / f"{algo}.yml"
    path = Path(path)
    if not path.is_file():
        raise ZooBridgeError(f"hyperparameter file {path} does not exist")
    return path


def zoo_entry(
    env_id: str, algo: str = "soft_dqn", path: str | Path | None = None, hyperparams: dict[str, Any] | None = None
) -> ZooEntry:
    """Read the entry of ``env_id`` from a hyperparameter file, by default our shipped
    ``zoo_configs/<algo>.yml``, as ``softopt-zoo train --algo <algo> --env <env_id>`` reads it.

    :param env_id: the environment id (its entry, or the file's ``default`` entry, is used)
    :param algo: the rl-zoo3 algorithm name
    :param path: the yaml file (default: ``zoo_configs/<algo>.yml``)
    :param hyperparams: overrides, as ``-params key:value`` gives them
    :raises ZooBridgeError: no file, no entry for ``env_id``, or (core install) a key that needs rl-zoo3
    """
    import yaml

    path = _config_path(algo, path)
    table = yaml.safe_load(path.read_text()) or {}
    if env_id not in table and "default" not in table:
        raise ZooBridgeError(f"{path} has no entry for {env_id!r} (it has {sorted(table)})")
    try:
        import rl_zoo3.exp_manager  # noqa: F401
    except ImportError:
        return entry_from_yaml(env_id, algo, path, hyperparams)
    return entry_from_manager(env_id, algo, path, hyperparams)


def entry_from_manager(env_id: str, algo: str, path: Path, hyperparams: dict[str, Any] | None = None) -> ZooEntry:
    """:func:`zoo_entry` through the bridge's ``ExperimentManager`` (needs the zoo extra)."""
    import rl_zoo3.exp_manager

    manager = _make_experiment_manager(rl_zoo3.exp_manager.ExperimentManager)(
        argparse.Namespace(), algo, env_id, log_folder=tempfile.gettempdir(), config=str(path),
        hyperparams=dict(hyperparams or {}), verbose=0,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # rl-zoo3 prints every hyperparameter
        raw, saved = manager.read_hyperparameters()
        read = dict(saved)
        kwargs, env_wrapper, callbacks, vec_env_wrapper = manager._preprocess_hyperparams(raw)
        manager.env_wrapper, manager.vec_env_wrapper = env_wrapper, vec_env_wrapper
        if kwargs.get("noise_type") is not None:
            env = manager.create_envs(1, no_log=True)
            kwargs = manager._preprocess_action_noise(kwargs, saved, env)
            env.close()
    policy = kwargs.pop("policy")
    return ZooEntry(
        env_id=env_id, algo=algo, policy=policy, kwargs=kwargs, n_timesteps=int(manager.n_timesteps),
        env_kwargs=dict(manager.env_kwargs), n_envs=int(manager.n_envs), normalize=bool(manager.normalize),
        normalize_kwargs=dict(manager.normalize_kwargs), frame_stack=manager.frame_stack, env_wrapper=env_wrapper,
        vec_env_wrapper=vec_env_wrapper, callbacks=list(callbacks), deterministic_eval=bool(manager.deterministic_eval),
        hyperparams=read, _manager=manager,
    )


def entry_from_yaml(env_id: str, algo: str, path: Path, hyperparams: dict[str, Any] | None = None) -> ZooEntry:
    """:func:`zoo_entry` without rl-zoo3: the keys of the shipped files, read as rl-zoo3 reads them."""
    import torch as th
    import yaml

    from sb3_softopt.common.schedules import make_schedule

    table = yaml.safe_load(Path(path).read_text()) or {}
    params = {**dict(table[env_id] if env_id in table else table["default"]), **(hyperparams or {})}
    read = dict(sorted(params.items()))
    unsupported = sorted(k for k in params if k in NEEDS_RL_ZOO3)
    if unsupported:
        raise ZooBridgeError(
            f"{path} [{env_id}] uses {unsupported}: building that env exactly as `softopt-zoo train` does needs "
            "rl-zoo3 (pip install 'sb3_softopt[zoo]')"
        )
    deterministic_eval = params.pop("deterministic_eval", True)
    if not isinstance(deterministic_eval, bool):
        raise ZooBridgeError(f"deterministic_eval must be true or false, got {deterministic_eval!r}")
    n_timesteps = int(float(params.pop("n_timesteps")))
    n_envs = int(params.pop("n_envs", 1))
    env_kwargs = dict(params.pop("env_kwargs", None) or {})
    for key in _ZOO_SCHEDULE_KEYS:
        if isinstance(params.get(key), str):
            params[key] = make_schedule(params[key], name=key)
    if isinstance(params.get("train_freq"), list):
        params["train_freq"] = tuple(params["train_freq"])
    if isinstance(params.get("policy_kwargs"), str):
        try:  # rl-zoo3's convention: the yaml holds Python source for this dict
            params["policy_kwargs"] = eval(params["policy_kwargs"], {"dict": dict, "nn": th.nn, "th": th})
        except NameError as exc:
            raise ZooBridgeError(
                f"policy_kwargs of {path} [{env_id}]: {exc} (rl-zoo3 evaluates it with more names: install the zoo extra)"
            ) from None
    if params.get("noise_type") is not None:
        params["action_noise"] = _action_noise(env_id, env_kwargs, params.pop("noise_type"), float(params.pop("noise_std")))
    policy = params.pop("policy", "MlpPolicy")
    return ZooEntry(
        env_id=env_id, algo=algo, policy=policy, kwargs=params, n_timesteps=n_timesteps, env_kwargs=env_kwargs,
        n_envs=n_envs, deterministic_eval=deterministic_eval, hyperparams=read,
    )


def _action_noise(env_id: str, env_kwargs: dict[str, Any], noise_type: str, noise_std: float) -> Any:
    """rl-zoo3's ``noise_type`` / ``noise_std`` (``ExperimentManager._preprocess_action_noise``)."""
    import gymnasium as gym
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    env = gym.make(env_id, **env_kwargs)
    space = env.action_space
    env.close()
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"noise_type {noise_type!r} needs a Box action space; {env_id} has {space}")
    n_actions = int(space.shape[0])
    kinds = {"normal": NormalActionNoise, "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}
    kind = next((cls for name, cls in kinds.items() if name in noise_type.strip()), None)
    if kind is None:
        raise ZooBridgeError(f"unknown noise_type {noise_type!r}: use 'normal' or 'ornstein-uhlenbeck'")
    return kind(mean=np.zeros(n_actions), sigma=noise_std * np.ones(n_actions))
