"""rl-zoo3 bridge (sb3_softopt.zoo): real train / enjoy / optimise / plot runs through the bridge.

Everything runs on tiny budgets in tmp folders; the training runs are shared by a module fixture.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("rl_zoo3")
pytest.importorskip("optuna")

import optuna  # noqa: E402
import rl_zoo3.exp_manager  # noqa: E402
import rl_zoo3.utils  # noqa: E402
from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER  # noqa: E402

import sb3_softopt  # noqa: E402
from sb3_softopt import zoo  # noqa: E402
from sb3_softopt.common.temperature import parse_temperature  # noqa: E402

pytestmark = pytest.mark.zoo

REPO = Path(__file__).resolve().parents[1]

# Tiny but real hyperparameters: a few thousand steps, small networks.
TINY = {
    "soft_dqn": {
        "ReachingGridworld-v0": {
            "n_timesteps": 2000,
            "policy": "MlpPolicy",
            "learning_starts": 200,
            "buffer_size": 5000,
            "batch_size": 32,
            "train_freq": 4,
            "target_update_interval": 200,
            "ent_coef": "lin_0.5_0.05",
            "env_kwargs": {"p_slip": 0.1, "horizon": 20},
            "policy_kwargs": "dict(net_arch=[32])",
        },
        "CartPole-v1": {
            "n_timesteps": 2000,
            "policy": "MlpPolicy",
            "learning_starts": 200,
            "buffer_size": 5000,
            "batch_size": 32,
            "train_freq": 4,
            "target_update_interval": 200,
            "ent_coef": "auto",
            "policy_kwargs": "dict(net_arch=[32])",
        },
    },
    "entropy_ppo": {
        "TwoPeakBandit-v0": {
            "n_timesteps": 2048,
            "policy": "MlpPolicy",
            "n_steps": 256,
            "batch_size": 64,
            "n_epochs": 2,
            "soft_ent_coef": "lin_0.05_0.01",
            "policy_kwargs": "dict(net_arch=[32])",
        },
        "CartPole-v1": {
            "n_timesteps": 2048,
            "policy": "MlpPolicy",
            "n_steps": 256,
            "batch_size": 64,
            "n_epochs": 2,
            "soft_ent_coef": 0.01,
            "policy_kwargs": "dict(net_arch=[32])",
        },
    },
    "sac": {
        "TwoPeakBandit-v0": {
            "n_timesteps": 1500,
            "policy": "MlpPolicy",
            "learning_starts": 200,
            "buffer_size": 5000,
            "batch_size": 32,
            "train_freq": 4,
            "ent_coef": "auto",
            "policy_kwargs": "dict(net_arch=[32])",
        },
        "Pendulum-v1": {
            "n_timesteps": 1500,
            "policy": "MlpPolicy",
            "learning_starts": 200,
            "buffer_size": 5000,
            "batch_size": 32,
            "train_freq": 4,
            "policy_kwargs": "dict(net_arch=[32])",
        },
    },
    "sql": {
        "TwoPeakBandit-v0": {
            "n_timesteps": 1000,
            "policy": "MlpPolicy",
            "learning_starts": 200,
            "buffer_size": 5000,
            "batch_size": 32,
            "train_freq": 4,
            "ent_coef": "loglin_1_0.1",
            "kernel_n_particles": 8,
            "deterministic_eval": False,
            "policy_kwargs": "dict(net_arch=[32])",
        },
    },
}
RUNS = [(algo, env_id) for algo, entries in TINY.items() for env_id in entries]
# Command-line overrides: schedule strings given unquoted to -params.
EXTRA_ARGS = {("sac", "TwoPeakBandit-v0"): ("-params", "target_entropy:lin_0.0_-1.0", "learning_rate:loglin_1e-3_3e-4")}


def _write_conf(folder: Path, algo: str) -> Path:
    path = folder / f"{algo}.yml"
    path.write_text(yaml.safe_dump(TINY[algo]))
    return path


def _train_argv(algo: str, env_id: str, conf: Path, log_folder: Path, *extra: str) -> list[str]:
    return [
        "train", "--algo", algo, "--env", env_id, "-conf", str(conf), "-f", str(log_folder),
        "--seed", "0", "--num-threads", "1", "--eval-freq", "500", "--eval-episodes", "2",
        "--verbose", "0", *extra,
    ]  # fmt: skip


class _EvalSpy(rl_zoo3.exp_manager.EvalCallback):
    """Records how rl-zoo3 builds its evaluation callback."""

    calls: list[dict] = []

    def __init__(self, eval_env, *args, **kwargs):
        type(self).calls.append({"deterministic": kwargs.get("deterministic"), "eval_env": eval_env})
        super().__init__(eval_env, *args, **kwargs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train every (algo, env) of TINY once through the bridge, in process."""
    root = tmp_path_factory.mktemp("zoo")
    confs = {algo: _write_conf(root, algo) for algo in TINY}
    logs = root / "logs"
    mp = pytest.MonkeyPatch()
    mp.setattr(rl_zoo3.exp_manager, "EvalCallback", _EvalSpy)
    evals = {}
    try:
        for algo, env_id in RUNS:
            _EvalSpy.calls.clear()
            bridge = ("--stochastic-eval",) if algo == "soft_dqn" else ()
            extra = EXTRA_ARGS.get((algo, env_id), ())
            zoo.main([*bridge, *_train_argv(algo, env_id, confs[algo], logs, *extra)])
            evals[(algo, env_id)] = list(_EvalSpy.calls)
        # A second seed of soft_dqn on CartPole, so that the plotting commands have 2 runs.
        zoo.main([*_train_argv("soft_dqn", "CartPole-v1", confs["soft_dqn"], logs), "--seed", "1"])
    finally:
        mp.undo()
    return {"root": root, "logs": logs, "confs": confs, "evals": evals}


# --------------------------------------------------------------------------------------
# registration and the command line
# --------------------------------------------------------------------------------------
def test_register_adds_our_algorithms_samplers_and_envs():
    registered = zoo.register("train", strict=True)
    assert rl_zoo3.utils.ALGOS["soft_dqn"] is sb3_softopt.SoftDQN
    assert rl_zoo3.utils.ALGOS["entropy_ppo"] is sb3_softopt.EntropyPPO
    assert rl_zoo3.utils.ALGOS["sac"] is sb3_softopt.SAC
    assert rl_zoo3.utils.ALGOS["sql"] is sb3_softopt.SQL
    assert set(registered) == {"soft_dqn", "entropy_ppo", "sac", "sql"}
    for algo in ("soft_dqn", "entropy_ppo", "sac", "sql"):
        assert algo in HYPERPARAMS_SAMPLER and algo in HYPERPARAMS_CONVERTER
    # rl-zoo3's own algorithms are untouched.
    from stable_baselines3 import DQN

    assert rl_zoo3.utils.ALGOS["dqn"] is DQN
    import gymnasium as gym

    assert "LotteryMDP-v0" in gym.registry and "ReachingGridworld-v0" in gym.registry


def test_command_line_errors_and_help(capsys):
    with pytest.raises(zoo.ZooBridgeError, match="unknown command 'trian'"):
        zoo.main(["trian", "--algo", "soft_dqn"])
    with pytest.raises(zoo.ZooBridgeError, match="--figures needs a folder"):
        zoo.main(["--figures"])
    zoo.main(["--help"])
    out = capsys.readouterr().out
    assert "soft_dqn" in out and "--stochastic-eval" in out
    options, rest = zoo._split_bridge_options(["train", "--stochastic-eval", "--figures=out", "--algo", "sac"])
    assert options == {"stochastic_eval": True, "figures": "out", "traceback": False, "heartbeat": zoo.DEFAULT_HEARTBEAT}
    assert rest == ["train", "--algo", "sac"]


def test_params_keep_schedule_strings():
    """-params values that are not Python literals (schedule strings) stay strings."""
    zoo.register("train")
    parser = argparse.ArgumentParser()
    parser.add_argument("-params", type=str, nargs="+", action=rl_zoo3.utils.StoreDict)
    args = parser.parse_args(
        ["-params", "ent_coef:auto_0.1", "target_entropy:lin_-1_-3", "soft_ent_coef:loglin_0.1_0.001",
         "gamma:0.9", "policy_kwargs:dict(net_arch=[8], activation_fn=nn.ReLU)", "learning_rate:'lin_1e-3'"]
    )  # fmt: skip
    assert args.params == {
        "ent_coef": "auto_0.1",
        "target_entropy": "lin_-1_-3",
        "soft_ent_coef": "loglin_0.1_0.001",
        "gamma": 0.9,
        "policy_kwargs": {"net_arch": [8], "activation_fn": torch.nn.ReLU},
        "learning_rate": "lin_1e-3",
    }


# --------------------------------------------------------------------------------------
# ExperimentManager fixes (no training)
# --------------------------------------------------------------------------------------
def _manager(algo, env_id, log_folder, config=None, hyperparams=None, eval_freq=-1, eval_env_kwargs=None):
    zoo.register("train")
    import rl_zoo3.train

    args = argparse.Namespace(algo=algo, env=env_id)
    return rl_zoo3.train.ExperimentManager(
        args, algo, env_id, str(log_folder), eval_freq=eval_freq, n_eval_episodes=1,
        hyperparams=hyperparams, eval_env_kwargs=eval_env_kwargs, config=None if config is None else str(config),
        seed=0, verbose=0, device="cpu",
    )  # fmt: skip


def test_yaml_and_params_schedules_reach_constructors(tmp_path):
    conf = tmp_path / "conf.yml"
    conf.write_text(
        yaml.safe_dump(
            {
                "CartPole-v1": {
                    "n_timesteps": 1000,
                    "policy": "MlpPolicy",
                    "learning_rate": "loglin_1e-3_1e-5",
                    "ent_coef": "lin_0.5_0.05",
                    "target_entropy": "lin_0.6_0.1",
                    "policy_kwargs": "dict(net_arch=[8])",
                }
            }
        )
    )
    model, saved = _manager("soft_dqn", "CartPole-v1", tmp_path / "a", conf).setup_experiment()
    assert isinstance(model, sb3_softopt.SoftDQN)
    # The temperature strings reach the constructor unchanged and mean what they say.
    assert model.ent_coef == "lin_0.5_0.05" and model.target_entropy == "lin_0.6_0.1"
    schedule = parse_temperature(model.ent_coef).schedule
    assert schedule(1.0) == pytest.approx(0.5) and schedule(0.0) == pytest.approx(0.05)
    # Our richer learning-rate form is turned into a schedule (rl-zoo3 only reads "lin_<v>").
    assert model.lr_schedule(1.0) == pytest.approx(1e-3) and model.lr_schedule(0.0) == pytest.approx(1e-5)
    assert model.lr_schedule(0.5) == pytest.approx(1e-4)
    assert saved["ent_coef"] == "lin_0.5_0.05"  # config.yml keeps the readable form

    # rl-zoo3's own "lin_<v>" keeps its meaning (linear to 0); -params overrides the yaml.
    model, _ = _manager(
        "soft_dqn", "CartPole-v1", tmp_path / "b", conf,
        hyperparams={"learning_rate": "lin_2e-3", "ent_coef": "auto_0.2"},
    ).setup_experiment()
    assert model.lr_schedule(1.0) == pytest.approx(2e-3) and model.lr_schedule(0.0) == pytest.approx(0.0)
    assert model.ent_coef == "auto_0.2"

    model, _ = _manager(
        "entropy_ppo", "CartPole-v1", tmp_path / "c", conf,
        hyperparams={"soft_ent_coef": "loglin_0.1_0.001", "ent_coef": 0.0, "target_entropy": "auto",
                     "learning_rate": 3e-4},
    ).setup_experiment()  # fmt: skip
    assert isinstance(model, sb3_softopt.EntropyPPO) and model.soft_ent_coef == "loglin_0.1_0.001"

    # A malformed schedule is reported with the parameter's name.
    with pytest.raises(ValueError, match="learning_rate"):
        bad = {"learning_rate": "lin_1_2_3"}
        _manager("soft_dqn", "CartPole-v1", tmp_path / "d", conf, hyperparams=bad).setup_experiment()


def test_yaml_env_kwargs_reach_eval_env(tmp_path):
    conf = tmp_path / "conf.yml"
    entry = dict(TINY["soft_dqn"]["ReachingGridworld-v0"])
    conf.write_text(yaml.safe_dump({"ReachingGridworld-v0": entry}))
    manager = _manager("soft_dqn", "ReachingGridworld-v0", tmp_path / "a", conf, eval_freq=100)
    model, _ = manager.setup_experiment()
    eval_cb = next(cb for cb in manager.callbacks if isinstance(cb, rl_zoo3.exp_manager.EvalCallback))
    assert model.get_env().get_attr("p_slip") == [0.1]
    assert eval_cb.eval_env.get_attr("p_slip") == [0.1] and eval_cb.eval_env.get_attr("horizon") == [20]
    # --eval-env-kwargs still wins.
    manager = _manager(
        "soft_dqn", "ReachingGridworld-v0", tmp_path / "b", conf, eval_freq=100, eval_env_kwargs={"p_slip": 0.0}
    )
    manager.setup_experiment()
    eval_cb = next(cb for cb in manager.callbacks if isinstance(cb, rl_zoo3.exp_manager.EvalCallback))
    assert eval_cb.eval_env.get_attr("p_slip") == [0.0]


def test_deterministic_eval_hyperparameter(tmp_path):
    conf = tmp_path / "conf.yml"
    conf.write_text(yaml.safe_dump({"CartPole-v1": {**TINY["soft_dqn"]["CartPole-v1"], "deterministic_eval": False}}))
    manager = _manager("soft_dqn", "CartPole-v1", tmp_path / "a", conf)
    assert manager.deterministic_eval is True  # rl-zoo3's default until the yaml is read
    model, saved = manager.setup_experiment()  # the key is consumed, not passed to SoftDQN
    assert manager.deterministic_eval is False and isinstance(model, sb3_softopt.SoftDQN)
    with pytest.raises(zoo.ZooBridgeError, match="deterministic_eval"):
        bad = {"deterministic_eval": "no"}
        _manager("soft_dqn", "CartPole-v1", tmp_path / "b", conf, hyperparams=bad).setup_experiment()


def test_default_config_is_our_zoo_configs(tmp_path):
    folder = zoo.zoo_configs_dir()
    assert folder is not None and (folder / "soft_dqn.yml").is_file()
    # The files found are the repository's, wherever the install put them (the checkout's
    # zoo_configs/ for an editable install, sb3_softopt/zoo_configs/ for a regular one).
    shipped = {p.name: p.read_bytes() for p in folder.glob("*.yml")}
    assert shipped == {p.name: p.read_bytes() for p in (REPO / "zoo_configs").glob("*.yml")}
    ours = yaml.safe_load((folder / "soft_dqn.yml").read_text())
    env_id = next(iter(ours))
    assert zoo.default_config("soft_dqn", env_id) == str(folder / "soft_dqn.yml")
    # Algorithms and envs we ship nothing for keep rl-zoo3's own file.
    assert zoo.default_config("dqn", "CartPole-v1") is None
    assert zoo.default_config("sac", "HalfCheetah-v4") is None
    # A soft_dqn env missing from our file still names our file in rl-zoo3's error.
    assert zoo.default_config("soft_dqn", "NoSuchEnv-v0") == str(folder / "soft_dqn.yml")
    # The manager picks it up when -conf is absent.
    manager = _manager("soft_dqn", env_id, tmp_path)
    assert manager.config == str(folder / "soft_dqn.yml")


def _needs_missing_mujoco(env_id: str) -> bool:
    """A MuJoCo task (``gymnasium.envs.mujoco``) on an install without the mujoco extra."""
    import importlib.util

    import gymnasium as gym

    entry_point = str(gym.spec(env_id).entry_point) if env_id in gym.registry else ""
    return entry_point.startswith("gymnasium.envs.mujoco") and importlib.util.find_spec("mujoco") is None


def _config_entries():
    folder = REPO / "zoo_configs"
    entries = []
    no_mujoco = pytest.mark.skip(reason="MuJoCo entry: needs the mujoco extra (pip install 'sb3_softopt[mujoco]')")
    for path in sorted(folder.glob("*.yml")):
        content = yaml.safe_load(path.read_text()) or {}
        entries += [pytest.param(path.stem, env_id, id=f"{path.stem}-{env_id}", marks=[no_mujoco] if _needs_missing_mujoco(env_id) else [])
                    for env_id in content]  # fmt: skip
    return entries


@pytest.mark.parametrize("algo,env_id", _config_entries())
def test_every_shipped_config_entry_constructs(algo, env_id, tmp_path):
    """Every entry of zoo_configs/*.yml is read by rl-zoo3 and builds its model (default -conf)."""
    manager = _manager(algo, env_id, tmp_path)
    assert manager.config == str(zoo.zoo_configs_dir() / f"{algo}.yml")
    model, saved = manager.setup_experiment()
    assert isinstance(model, rl_zoo3.utils.ALGOS[algo])
    assert manager.n_timesteps > 0
    for key, value in saved.items():
        attr = getattr(model, key, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(attr, (int, float)):
            assert attr == pytest.approx(value), key
    model.get_env().close()
    # zoo_entry (what the demo and benchmarks read) agrees with rl-zoo3's reading of the entry
    entry = zoo.zoo_entry(env_id, algo)
    assert entry.n_timesteps == manager.n_timesteps
    for key, value in entry.kwargs.items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            assert saved[key] == value, key
        if key == "learning_rate" and callable(value):
            assert value(1.0) == pytest.approx(model.lr_schedule(1.0)), key


def test_zoo_entry_converts_and_names_missing_entries(tmp_path):
    entry = zoo.zoo_entry("CartPole-v1", "soft_dqn")
    assert entry.policy == "MlpPolicy" and entry.n_timesteps == 50_000 and entry.env_kwargs == {}
    assert entry.kwargs["policy_kwargs"] == {"net_arch": [256, 256]}
    lr = entry.kwargs["learning_rate"]  # "lin_1.2e-3": rl-zoo3's linear decay to 0
    assert lr(1.0) == pytest.approx(1.2e-3) and lr(0.5) == pytest.approx(6e-4) and lr(0.0) == 0.0
    assert "n_timesteps" not in entry.kwargs and "policy" not in entry.kwargs
    assert isinstance(sb3_softopt.SoftDQN(entry.policy, "CartPole-v1", **entry.kwargs), sb3_softopt.SoftDQN)
    with pytest.raises(zoo.ZooBridgeError, match="no entry for 'NoSuchEnv-v0'"):
        zoo.zoo_entry("NoSuchEnv-v0", "soft_dqn")
    with pytest.raises(zoo.ZooBridgeError, match="does not exist"):
        zoo.zoo_entry("CartPole-v1", path=tmp_path / "missing.yml")


@pytest.mark.parametrize("algo,env_id", _config_entries())
def test_every_shipped_config_entry_has_a_documented_score(algo, env_id):
    """Each zoo_configs entry has its row in docs/zoo_scores.md's table of shipped entries."""
    text = (REPO / "docs" / "zoo_scores.md").read_text()
    table = text.split("## Every shipped entry", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith(f"| {env_id} | {algo} |")]
    assert rows, f"docs/zoo_scores.md has no score row for {algo} on {env_id}"
    assert all(line.count("|") >= 6 for line in rows)


# --------------------------------------------------------------------------------------
# train / enjoy / plots on real runs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo,env_id", RUNS, ids=[f"{a}-{e}" for a, e in RUNS])
def test_train_writes_zoo_run_folder(trained, algo, env_id):
    run = trained["logs"] / algo / f"{env_id}_1"
    assert (run / f"{env_id}.zip").is_file()
    assert (run / env_id / "config.yml").is_file()
    data = np.load(run / "evaluations.npz")
    n_steps = TINY[algo][env_id]["n_timesteps"]
    # One evaluation every 500 steps (PPO's rollouts of 256 steps overshoot the last one).
    assert data["timesteps"].tolist() == list(range(500, n_steps + 1, 500))
    assert data["results"].shape == (len(data["timesteps"]), 2) and np.isfinite(data["results"]).all()
    model = rl_zoo3.utils.ALGOS[algo].load(run / f"{env_id}.zip", device="cpu")
    assert type(model).__name__ == {"soft_dqn": "SoftDQN", "entropy_ppo": "EntropyPPO", "sac": "SAC", "sql": "SQL"}[algo]
    assert model.num_timesteps >= n_steps
    # soft_dqn ran with --stochastic-eval, sql with its yaml's deterministic_eval: false, the
    # others with rl-zoo3's deterministic evaluation.
    assert [c["deterministic"] for c in trained["evals"][(algo, env_id)]] == [algo not in ("soft_dqn", "sql")]


def test_params_schedules_used_in_training_run(trained):
    run = trained["logs"] / "sac" / "TwoPeakBandit-v0_1"
    saved = yaml.load((run / "TwoPeakBandit-v0" / "config.yml").read_text(), Loader=yaml.UnsafeLoader)
    assert saved["target_entropy"] == "lin_0.0_-1.0" and saved["learning_rate"] == "loglin_1e-3_3e-4"
    model = sb3_softopt.SAC.load(run / "TwoPeakBandit-v0.zip", device="cpu")
    assert model.target_entropy_schedule(1.0) == pytest.approx(0.0)
    assert model.target_entropy_schedule(0.0) == pytest.approx(-1.0)
    assert model.lr_schedule(0.0) == pytest.approx(3e-4)


def test_yaml_env_kwargs_used_in_training_run(trained):
    run = trained["logs"] / "soft_dqn" / "ReachingGridworld-v0_1"
    evals = trained["evals"][("soft_dqn", "ReachingGridworld-v0")]
    assert evals[0]["eval_env"].get_attr("horizon") == [20]
    # Every evaluation episode is cut at the yaml's horizon of 20 steps (never the default 30).
    assert np.load(run / "evaluations.npz")["ep_lengths"].max() <= 20


@pytest.mark.parametrize("algo,env_id", RUNS, ids=[f"{a}-{e}" for a, e in RUNS])
def test_enjoy_trained_agent(trained, algo, env_id, monkeypatch, capsys):
    loads = []
    cls = {"soft_dqn": sb3_softopt.SoftDQN, "entropy_ppo": sb3_softopt.EntropyPPO, "sac": sb3_softopt.SAC, "sql": sb3_softopt.SQL}[algo]
    original = cls.load.__func__

    def spy(klass, path, *args, **kwargs):
        model = original(klass, path, *args, **kwargs)
        loads.append((kwargs, model))
        return model

    monkeypatch.setattr(cls, "load", classmethod(spy))
    n = {"CartPole-v1": 600, "Pendulum-v1": 210}.get(env_id, 60)
    zoo.main(["enjoy", "--algo", algo, "--env", env_id, "-f", str(trained["logs"]), "--no-render", "-n", str(n),
              "--num-threads", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert "Mean reward" in out
    (kwargs, model), = loads
    assert type(model) is cls  # enjoy's loader returns the real class
    if algo in ("soft_dqn", "sac", "sql"):
        assert kwargs["buffer_size"] == 1 and model.replay_buffer.buffer_size == 1


def test_enjoy_loader_only_for_enjoy():
    zoo.register("enjoy")
    loader = rl_zoo3.utils.ALGOS["soft_dqn"]
    assert loader is not sb3_softopt.SoftDQN and issubclass(loader, sb3_softopt.SoftDQN)
    zoo.register("train")  # training (-i continue) needs the real replay buffer
    assert rl_zoo3.utils.ALGOS["soft_dqn"] is sb3_softopt.SoftDQN


def test_plot_commands_save_figures(trained, tmp_path, capsys):
    logs = str(trained["logs"])
    figs = tmp_path / "figs"
    zoo.main(["--figures", str(figs), "all_plots", "-a", "soft_dqn", "-e", "CartPole-v1", "-f", logs,
              "--no-display", "--no-million", "-o", str(figs / "curves")])  # fmt: skip
    assert (figs / "Results_CartPole-v1.png").stat().st_size > 0
    assert "SOFT_DQN" in capsys.readouterr().out  # rl-zoo3's markdown table
    zoo.main(["--figures", str(figs), "plot_train", "-a", "soft_dqn", "-e", "CartPole-v1", "-f", logs, "-w", "5"])
    assert (figs / "Training_Episodic_Reward.png").stat().st_size > 0
    more = tmp_path / "more"
    zoo.main(["--figures", str(more), "plot_from_file", "-i", str(figs / "curves.pkl"), "-o",
              str(figs / "from_file.png"), "--format", "png", "--no-million"])  # fmt: skip
    assert (figs / "from_file.png").stat().st_size > 0
    assert {p.name for p in more.glob("*.png")} >= {"Results_CartPole-v1.png", "Sensitivity_plot.png"}


# --------------------------------------------------------------------------------------
# hyperparameter search
# --------------------------------------------------------------------------------------
def _optimize_argv(algo, conf, logs, storage, study, seed, n_trials=2):
    return [
        "train", "--algo", algo, "--env", "CartPole-v1", "-conf", str(conf), "-f", str(logs), "-n", "600",
        "-optimize", "--n-trials", str(n_trials), "--n-evaluations", "1", "--eval-episodes", "2",
        "--sampler", "random", "--pruner", "none", "--seed", str(seed), "--num-threads", "1",
        "--no-optim-plots", "--verbose", "0", "--storage", str(storage), "--study-name", study,
    ]  # fmt: skip


def _load_study(storage: Path, name: str) -> optuna.Study:
    backend = optuna.storages.journal.JournalFileBackend(str(storage))
    return optuna.load_study(storage=optuna.storages.JournalStorage(backend), study_name=name)


@pytest.mark.parametrize("algo", ["soft_dqn", "entropy_ppo", "sql"])
def test_samplers_match_converters_and_construct(algo):
    """Each sampled trial converts back (--trial-id) to the same constructor arguments, which build."""
    zoo.register("train")
    import gymnasium as gym

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    temperature = {"soft_dqn": "ent_coef", "entropy_ppo": "soft_ent_coef", "sql": "ent_coef"}[algo]
    env_id = "Pendulum-v1" if algo == "sql" else "CartPole-v1"
    values = []
    for _ in range(3):
        trial = study.ask()
        sampled = HYPERPARAMS_SAMPLER[algo](trial, 0, 1, {"using_her_replay_buffer": False})
        assert HYPERPARAMS_CONVERTER[algo](trial.params) == sampled
        assert 0 < sampled[temperature] <= (10.0 if algo == "sql" else 1.0)
        values.append(sampled[temperature])
        model = rl_zoo3.utils.ALGOS[algo]("MlpPolicy", gym.make(env_id), device="cpu", **sampled)
        assert getattr(model, temperature) == sampled[temperature]
        assert model.gamma == pytest.approx(1 - trial.params["one_minus_gamma"])
    assert len(set(values)) == 3


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_sac_sampler_adds_the_discrete_options_on_discrete_actions(env_id):
    """rl-zoo3 passes n_actions = 0 for a Discrete env (the count only for Box): the options appear
    there only, vary across trials, convert back (--trial-id) and construct."""
    zoo.register("train")
    import gymnasium as gym

    env = gym.make(env_id)
    n_actions = 0 if env_id == "CartPole-v1" else env.action_space.shape[0]
    options = {"q_target", "q_clip", "entropy_penalty", "critic_ent_coef"}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: set = set()
    for _ in range(8):
        trial = study.ask()
        sampled = HYPERPARAMS_SAMPLER["sac"](trial, n_actions, 1, {"using_her_replay_buffer": False})
        assert HYPERPARAMS_CONVERTER["sac"](trial.params) == sampled
        assert options & set(sampled) == (options if n_actions == 0 else set())
        seen.add(tuple(sampled.get(k) for k in sorted(options)))
        sampled["batch_size"] = min(sampled["batch_size"], 64)  # keeps construction cheap
        model = rl_zoo3.utils.ALGOS["sac"]("MlpPolicy", env, device="cpu", learning_starts=0, **sampled)
        assert all(getattr(model, k) == sampled[k] for k in options & set(sampled))
    assert len(seen) > 1 if n_actions == 0 else seen == {(None, None, None, None)}


def test_optimize_two_trials_and_reload_a_trial(tmp_path):
    algo = "soft_dqn"
    conf = _write_conf(tmp_path, algo)
    storage = tmp_path / "optuna" / "study.log"
    zoo.main(_optimize_argv(algo, conf, tmp_path / "logs", storage, f"{algo}_study", seed=0))
    study = _load_study(storage, f"{algo}_study")
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(trials) == 2 and all(np.isfinite(t.value) for t in trials)
    temperature = {"soft_dqn": "ent_coef", "entropy_ppo": "soft_ent_coef"}[algo]
    assert all(temperature in t.params for t in trials)
    assert list((tmp_path / "logs" / algo).glob("report_CartPole-v1_2-trials-600-random-none_*.csv"))

    # --trial-id trains with that trial's hyperparameters (rl-zoo3 converts them back); rl-zoo3
    # itself ignores --trial-id 0, the bridge loads it.
    for trial in study.trials:
        zoo.main(_train_argv(algo, "CartPole-v1", conf, tmp_path / "logs2", "-n", "300", "--eval-freq", "-1",
                             "--storage", str(storage), "--study-name", f"{algo}_study",
                             "--trial-id", str(trial.number)))  # fmt: skip
        config_file = tmp_path / "logs2" / algo / f"CartPole-v1_{trial.number + 1}" / "CartPole-v1" / "config.yml"
        saved = yaml.load(config_file.read_text(), Loader=yaml.UnsafeLoader)
        assert saved[temperature] == pytest.approx(trial.params[temperature])
        assert saved["gamma"] == pytest.approx(1 - trial.params["one_minus_gamma"])
        assert saved["learning_rate"] == pytest.approx(trial.params["learning_rate"])


def test_two_workers_share_one_journal_study(tmp_path):
    conf = _write_conf(tmp_path, "soft_dqn")
    storage = tmp_path / "optuna" / "shared.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # One worker through `python -m sb3_softopt.zoo`, one through the `softopt-zoo` console script.
    script = Path(sys.executable).with_name("softopt-zoo")
    module = [sys.executable, "-m", "sb3_softopt.zoo"]
    launchers = [module, [str(script)] if script.is_file() else module]
    workers = [
        subprocess.Popen(
            [*launcher, *_optimize_argv("soft_dqn", conf, tmp_path / f"logs{seed}", storage, "shared", seed=seed)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        for launcher, seed in zip(launchers, (1, 2))
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = _load_study(storage, "shared")
    trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    # Each worker ran its own 2 trials against the same study (different seeds, different samples).
    assert len({t.params["learning_rate"] for t in trials}) == 4
    assert all("Number of finished trials" in out for out in outputs)


# --------------------------------------------------------------------------------------
# packaging
# --------------------------------------------------------------------------------------
# a cheap strong oracle (about 4 s): runs by default
@pytest.mark.source_tree
def test_wheel_ships_zoo_configs(tmp_path):
    """A regular (non-editable) install carries zoo_configs/*.yml as sb3_softopt/zoo_configs/."""
    import shutil
    import zipfile

    # Build from a copy: an in-tree build would leave build/ in the checkout.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("sb3_softopt", "envs", "zoo_configs"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("sb3_softopt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("sb3_softopt/zoo_configs/")}
    assert shipped == {p.name for p in (REPO / "zoo_configs").glob("*.yml")}
    assert not any(n.startswith(("envs/", "zoo_configs/")) for n in names)
    # Installed from the wheel (no repository next to it), the bridge finds the shipped files.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = "from sb3_softopt import zoo; print(zoo.zoo_configs_dir())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(target)}, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == target / "sb3_softopt" / "zoo_configs"
