"""``zoo_entry`` builds what ``softopt-zoo train`` builds, on every shipped entry (#17 bug 1)."""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

pytest.importorskip("rl_zoo3")

import rl_zoo3.exp_manager  # noqa: E402
from stable_baselines3 import DDPG  # noqa: E402
from stable_baselines3.common.noise import ActionNoise  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecFrameStack, VecNormalize  # noqa: E402

import sb3_softopt  # noqa: E402, F401  (registers the env ids)
from sb3_softopt.zoo import _make_experiment_manager  # noqa: E402
from sb3_softopt.zoo.entry import ZooBridgeError, entry_from_manager, entry_from_yaml, zoo_entry  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CALLER_KEYS = {"env", "tensorboard_log", "seed", "verbose", "device"}


def _shipped():
    params = []
    for path in sorted((REPO / "zoo_configs").glob("*.yml")):
        params += [pytest.param(path, env_id, id=f"{path.stem}-{env_id}") for env_id in yaml.safe_load(path.read_text())]
    return params


class Recorder:
    """Stands in for the algorithm class: keeps what ``setup_experiment`` passes to it."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs


def _what_train_builds(monkeypatch, tmp_path, algo, env_id, config, hyperparams=None):
    monkeypatch.setitem(rl_zoo3.exp_manager.ALGOS, algo, Recorder)
    manager = _make_experiment_manager(rl_zoo3.exp_manager.ExperimentManager)(
        argparse.Namespace(), algo, env_id, str(tmp_path / "logs"), config=str(config), hyperparams=hyperparams,
        seed=0, verbose=0, eval_freq=-1,
    )
    recorder, _ = manager.setup_experiment()
    kwargs = dict(recorder.kwargs)
    env = kwargs.pop("env")
    return {k: v for k, v in kwargs.items() if k not in CALLER_KEYS}, env, manager


def _same(a, b) -> bool:
    if isinstance(a, ActionNoise) or isinstance(b, ActionNoise):
        return type(a) is type(b) and np.array_equal(a._mu, b._mu) and np.array_equal(a._sigma, b._sigma)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if callable(a) and not isinstance(a, type) or callable(b) and not isinstance(b, type):
        value = (lambda f, p: f(p) if callable(f) else f)
        return all(value(a, p) == pytest.approx(value(b, p)) for p in (1.0, 0.7, 0.3, 0.0))
    return a == b


def _layers(env: VecEnv) -> list[str]:
    names = []
    while isinstance(env, VecEnvWrapper):
        names.append(type(env).__name__)
        env = env.venv
    names.append(type(env).__name__)
    inner = env.envs[0]
    while isinstance(inner, gym.Wrapper):
        names.append(type(inner).__name__)
        inner = inner.env
    return names + [type(inner).__name__]


def _assert_agree(entry, kwargs, env, manager):
    assert _same({"policy": entry.policy, **entry.kwargs}, kwargs)
    assert entry.n_timesteps == manager.n_timesteps and entry.n_envs == manager.n_envs == env.num_envs
    assert entry.env_kwargs == manager.env_kwargs and entry.deterministic_eval == manager.deterministic_eval
    ours = entry.make_env(seed=0)
    try:
        assert _layers(ours) == _layers(env) and ours.num_envs == env.num_envs
        assert ours.observation_space == env.observation_space and ours.action_space == env.action_space
    finally:
        ours.close()
        env.close()


@pytest.mark.parametrize("config, env_id", _shipped())
def test_every_shipped_entry_is_what_train_builds(monkeypatch, tmp_path, config, env_id):
    kwargs, env, manager = _what_train_builds(monkeypatch, tmp_path, config.stem, env_id, config)
    entry = zoo_entry(env_id, config.stem)
    _assert_agree(entry, kwargs, env, manager)
    # The core reader (no rl-zoo3 installed) agrees with rl-zoo3's reading of every shipped entry.
    core = entry_from_yaml(env_id, config.stem, config)
    assert _same({"policy": core.policy, **core.kwargs}, kwargs)
    assert (core.n_timesteps, core.n_envs, core.env_kwargs, core.deterministic_eval) == (
        entry.n_timesteps, entry.n_envs, entry.env_kwargs, entry.deterministic_eval
    )
    assert core.hyperparams == entry.hyperparams
    made = core.make_env(seed=0)
    assert made.num_envs == entry.n_envs and made.observation_space == env.observation_space
    made.close()


def test_wrappers_normalisation_frame_stack_and_overrides(monkeypatch, tmp_path):
    conf = tmp_path / "conf.yml"
    entry_yaml = {
        "n_timesteps": 1000, "policy": "MlpPolicy", "n_envs": 3, "normalize": "dict(norm_obs=True, norm_reward=False)",
        "frame_stack": 2, "env_wrapper": "gymnasium.wrappers.TimeAwareObservation", "learning_rate": "lin_1e-3",
        "soft_ent_coef": "loglin_0.1_0.01", "policy_kwargs": "dict(net_arch=[8], activation_fn=nn.Tanh)",
    }  # fmt: skip
    conf.write_text(yaml.safe_dump({"CartPole-v1": entry_yaml}))
    overrides = {"n_steps": 32, "batch_size": 16}
    kwargs, env, manager = _what_train_builds(monkeypatch, tmp_path, "entropy_ppo", "CartPole-v1", conf, dict(overrides))
    entry = zoo_entry("CartPole-v1", "entropy_ppo", path=conf, hyperparams=overrides)
    assert isinstance(env, VecFrameStack) and isinstance(env.venv, VecNormalize)
    assert entry.normalize and entry.normalize_kwargs["norm_reward"] is False and entry.frame_stack == 2
    assert entry.kwargs["n_steps"] == 32 and entry.n_envs == 3
    _assert_agree(entry, kwargs, env, manager)
    # Without rl-zoo3 these keys cannot be built as train builds them: refused, by name.
    with pytest.raises(ZooBridgeError, match=r"\['env_wrapper', 'frame_stack', 'normalize'\].*zoo"):
        entry_from_yaml("CartPole-v1", "entropy_ppo", conf)


def test_zoo_only_keys_become_what_the_constructor_takes(tmp_path):
    # ddpg.yml's noise_type / noise_std used to reach the constructor (TypeError).
    entry = zoo_entry("MultiGoal-v0", "ddpg")
    assert "noise_type" not in entry.kwargs and "noise_std" not in entry.kwargs
    assert _same(entry.kwargs["action_noise"], entry_from_yaml("MultiGoal-v0", "ddpg", REPO / "zoo_configs" / "ddpg.yml").kwargs["action_noise"])
    model = DDPG(entry.policy, entry.make_env(seed=0), **{**entry.kwargs, "buffer_size": 100})
    assert model.action_noise is entry.kwargs["action_noise"]
    # n_envs reaches the env (every entropy_ppo entry has 8 or 16).
    assert zoo_entry("LunarLander-v3", "entropy_ppo").make_env().num_envs == 16


def test_missing_files_and_entries_are_named(tmp_path):
    with pytest.raises(ZooBridgeError, match="no entry for 'NoSuchEnv-v0'"):
        zoo_entry("NoSuchEnv-v0", "soft_dqn")
    with pytest.raises(ZooBridgeError, match="does not exist"):
        zoo_entry("CartPole-v1", path=tmp_path / "missing.yml")
    assert entry_from_manager("CartPole-v1", "soft_dqn", REPO / "zoo_configs" / "soft_dqn.yml").n_timesteps == 50_000
