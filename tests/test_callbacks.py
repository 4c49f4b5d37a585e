"""EntropyTrackingCallback: one row per update window, the right values, CSV + PNG, any algorithm."""

from __future__ import annotations

import csv
import math

import pytest
from stable_baselines3 import PPO

from sb3_softopt import SAC, SoftDQN
from sb3_softopt.common.callbacks import EntropyTrackingCallback, plot_entropy_tracking
from sb3_softopt.common.schedules import Linear


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sac_rows_follow_the_target_schedule(tmp_out):
    total, starts = 160, 60
    cb = EntropyTrackingCallback(tmp_out / "h.csv", plot_png=tmp_out / "h.png")
    model = SAC(
        "MlpPolicy",
        "Pendulum-v1",
        seed=0,
        learning_starts=starts,
        batch_size=32,
        target_entropy="lin_0_-2",
        policy_kwargs=dict(net_arch=[16, 16]),
    )
    model.learn(total, callback=cb)
    rows = _read_csv(tmp_out / "h.csv")
    assert (tmp_out / "h.png").stat().st_size > 0
    # one update per step after learning_starts, none recorded twice
    assert [int(r["timestep"]) for r in rows] == list(range(starts + 1, total + 1))
    schedule = Linear(0.0, -2.0)
    for row in rows:
        progress = 1.0 - int(row["timestep"]) / total
        assert float(row["target_entropy"]) == pytest.approx(schedule(progress), abs=1e-9)
        assert math.isfinite(float(row["entropy"])) and float(row["ent_coef"]) > 0
    # the last row is the last update, as logged by the model
    assert float(rows[-1]["entropy"]) == pytest.approx(model.logger.name_to_value["train/entropy"])
    assert float(rows[-1]["ent_coef"]) == pytest.approx(model.logger.name_to_value["train/ent_coef"])


def test_soft_dqn_default_keys(tmp_out):
    cb = EntropyTrackingCallback(tmp_out / "dqn.csv")
    SoftDQN("MlpPolicy", "CartPole-v1", seed=0, learning_starts=50, train_freq=4, policy_kwargs=dict(net_arch=[16])).learn(
        150, callback=cb
    )
    rows = _read_csv(tmp_out / "dqn.csv")
    assert len(rows) == len({r["timestep"] for r in rows}) > 10
    assert all(0.0 <= float(r["entropy"]) <= math.log(2) + 1e-6 for r in rows)  # two actions
    assert all(float(r["ent_coef"]) > 0 for r in rows)


def test_configurable_keys_with_an_on_policy_algorithm(tmp_out):
    # PPO logs the negative entropy as train/entropy_loss and has no temperature.
    cb = EntropyTrackingCallback(tmp_out / "ppo.csv", tmp_out / "ppo.png", entropy_key="train/entropy_loss", target_key=None, ent_coef_key=None)
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=1, seed=0, policy_kwargs=dict(net_arch=[8]))
    model.learn(256, callback=cb)
    rows = _read_csv(tmp_out / "ppo.csv")
    assert [int(r["timestep"]) for r in rows] == [64, 128, 192, 256]
    assert all(r["target_entropy"] == "" and r["ent_coef"] == "" for r in rows)
    assert (tmp_out / "ppo.png").exists()


def test_missing_key_gives_an_empty_table(tmp_out):
    cb = EntropyTrackingCallback(tmp_out / "none.csv", tmp_out / "none.png", entropy_key="train/not_logged")
    SAC("MlpPolicy", "Pendulum-v1", seed=0, learning_starts=20, batch_size=16).learn(40, callback=cb)
    assert _read_csv(tmp_out / "none.csv") == []
    assert not (tmp_out / "none.png").exists()


def test_plot_several_runs(tmp_out):
    rows = [dict(timestep=t, entropy=1.0 / t, target_entropy=-1.0, ent_coef=0.1) for t in range(1, 20)]
    path = plot_entropy_tracking({"a": rows, "b": rows}, tmp_out / "two.png", title="t")
    assert path.stat().st_size > 0


@pytest.mark.parametrize("kwargs", [dict(entropy_key=""), dict(target_key=3), dict(flush_every=-1)])
def test_bad_arguments(tmp_out, kwargs):
    with pytest.raises(ValueError):
        EntropyTrackingCallback(tmp_out / "x.csv", **kwargs)
