"""Each logged row holds the values of one update (#17 bug 6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stable_baselines3.common.logger import KVWriter, Logger

from sb3_softopt import EntropyPPO, SoftDQN


class Rows(KVWriter):
    """Keeps every dumped row."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def write(self, key_values, key_excluded, step=0):  # noqa: ANN001, ANN201
        self.rows.append(dict(key_values))

    def close(self) -> None:
        pass


@pytest.mark.parametrize("soft_ent_coef", [0.05, "auto_0.05"])
def test_entropy_ppo_rows_pair_an_update_with_its_own_rollout(soft_ent_coef):
    model = EntropyPPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, n_epochs=1, soft_ent_coef=soft_ent_coef, seed=0)
    rows = Rows()
    model.set_logger(Logger(folder=None, output_formats=[rows]))
    seen = []  # (entropy of the rollout, alpha) at each train() call, measured independently
    train = model.train

    def spy() -> None:
        seen.append((float(np.mean(-model.rollout_buffer.log_probs)), model.current_soft_ent_coef()))
        train()

    model.train = spy
    model.learn(32 * 4)
    updates = [row for row in rows.rows if "train/loss" in row]
    # SB3 dumps before train(): row k holds update k-1's losses; they must sit beside its entropy.
    assert len(updates) == len(seen) - 1 == 3
    assert "train/entropy" not in rows.rows[0]
    for row, (entropy, _) in zip(updates, seen):
        assert row["train/entropy"] == pytest.approx(entropy, rel=1e-6)
    if soft_ent_coef == 0.05:
        assert all(row["train/soft_ent_coef"] == 0.05 for row in updates)
    else:
        assert all("train/soft_ent_coef_loss" in row and "train/target_entropy" in row for row in updates)


def test_soft_dqn_temperature_loss_uses_the_alpha_before_its_step():
    model = SoftDQN("MlpPolicy", "CartPole-v1", ent_coef="auto_0.5", learning_starts=0, seed=0)
    model.learn(64)  # fills the buffer; one train() call per 4 steps
    log_alpha_before = math.log(model.current_ent_coef())
    model.train(gradient_steps=1, batch_size=32)
    logged = model.logger.name_to_value
    expected = log_alpha_before * (logged["train/entropy"] - logged["train/target_entropy"])
    assert logged["train/ent_coef_loss"] == pytest.approx(expected, rel=1e-6)
    assert logged["train/ent_coef"] == pytest.approx(model.current_ent_coef(), rel=1e-6)  # the alpha the targets used
    assert logged["train/ent_coef"] != pytest.approx(math.exp(log_alpha_before), rel=1e-9)
