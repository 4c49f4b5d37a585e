"""Two-peaks experiment: closed-form references and the --quick run end to end."""

from __future__ import annotations

import json
from math import erf, sqrt

import numpy as np
import pandas as pd
import pytest

from sb3_softopt.experiments import two_peaks


def _phi(z):
    return 0.5 * (1 + erf(z / sqrt(2)))


def test_reference_fractions_match_the_closed_form():
    # Mixture of N(-2,1), N(2,1) truncated to [-5, 5]; mass within one sigma of the left peak.
    near = 0.5 * (_phi(1) - _phi(-1)) + 0.5 * (_phi(-1 - 2) - _phi(-3 - 2))
    mass = 0.5 * (_phi(3) - _phi(-7)) + 0.5 * (_phi(7) - _phi(-3))
    ref = two_peaks.reference_fractions()
    assert ref["continuous"]["frac_left"] == pytest.approx(near / mass, abs=1e-4)
    assert ref["continuous"]["frac_right"] == pytest.approx(near / mass, abs=1e-4)
    assert ref["discrete"]["frac_left"] == pytest.approx(ref["discrete"]["frac_right"])


def test_peak_fractions_and_classify():
    x = np.array([-2.0, -2.5, 2.9, 0.0, 4.0])
    f = two_peaks.peak_fractions(x)
    assert (f["frac_left"], f["frac_right"], f["frac_valley"]) == pytest.approx((0.4, 0.2, 0.2))
    assert two_peaks.classify(0.4, 0.2) == "both"
    assert two_peaks.classify(0.9, 0.0) == "left"
    assert two_peaks.classify(0.0, 0.05) == "neither"


def test_tv_to_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(rng.choice([-2.0, 2.0], 400_000), 1.0)
    exact = x[np.abs(x) <= 5]  # samples of the truncated mixture itself
    assert two_peaks.tv_to_closed_form(exact) < 0.01
    # a point mass at a peak: all mass in one bin, whose closed-form mass is 0.0958
    assert two_peaks.tv_to_closed_form(np.full(100, 2.2)) == pytest.approx(1 - 0.0958, abs=2e-3)
    # a unimodal Gaussian over the valley, as a tanh-Gaussian SAC policy would give
    assert two_peaks.tv_to_closed_form(rng.normal(0, 2.2, 100_000)) > 0.1


def test_bad_arguments(tmp_out):
    with pytest.raises(ValueError, match="arms"):
        two_peaks.run(tmp_out, arms=("td3",))
    with pytest.raises(ValueError, match="seeds"):
        two_peaks.run(tmp_out, seeds=[])


def test_quick_cli_end_to_end(tmp_out, capsys):
    two_peaks.main(["--out", str(tmp_out), "--quick"])
    assert "soft_dqn" in capsys.readouterr().out
    table = pd.read_csv(tmp_out / "two_peaks.csv")
    summary = json.loads((tmp_out / "two_peaks.json").read_text())
    assert (tmp_out / "two_peaks.png").stat().st_size > 0
    assert sorted(table.algo.unique()) == ["ddpg", "sac", "soft_dqn", "sql"]
    assert len(table) == 4 * two_peaks.QUICK_SEEDS
    assert table.tv_to_exact.between(0, 1).all()
    # DDPG is deterministic: each region holds all of its mass or none.
    ddpg = table[table.algo == "ddpg"][["frac_left", "frac_right", "frac_valley"]].to_numpy()
    assert np.all(np.isclose(ddpg, 0.0) | np.isclose(ddpg, 1.0))
    # The Boltzmann policy of SoftDQN (alpha = 1) is close to the exact softmax(r) and keeps both peaks.
    sdqn = table[table.algo == "soft_dqn"]
    assert (sdqn.tv_to_exact < 0.2).all()
    assert (sdqn["mode"] == "both").all()
    assert summary["arms"]["soft_dqn"]["modes"]["both"] == two_peaks.QUICK_SEEDS


@pytest.mark.slow
def test_sql_matches_the_closed_form_in_8_of_10_seeds(tmp_out):
    """SQL's samples (alpha = 1) are within total variation 0.10 of the soft-optimal mixture."""
    summary = two_peaks.run(tmp_out, seeds=10, arms=("sql",), n_samples=5000, progress=False)
    assert summary["arms"]["sql"]["seeds_tv_at_most_0_10"] >= 8
    assert summary["arms"]["sql"]["modes"]["both"] == 10
