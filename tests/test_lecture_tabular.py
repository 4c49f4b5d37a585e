"""The lecture's tabular reproductions (lottery, reaching) end to end through the CLI, and the registry."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sb3_softopt.lecture.__main__ import build_parser, main
from sb3_softopt.lecture import registry


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_lottery_command(tmp_out):
    result = main(["lottery", "--out", str(tmp_out), "--quick"])
    for name in ("lottery.csv", "lottery.json", "lottery.png"):
        assert (tmp_out / name).stat().st_size > 0
    on_disk = json.loads((tmp_out / "lottery.json").read_text())
    assert on_disk["alpha_star_solver"] == result["alpha_star_solver"]
    # The threshold measured on the solver matches the closed-form equation.
    assert result["alpha_star_solver"] == pytest.approx(2957.68, abs=0.01)
    assert result["alpha_star_rel_error"] < 1e-9
    # Exact inference buys at alpha = 1, the variational solution never does.
    assert result["exact_buy_prob"] > 0.99 and result["variational_buy_prob"] < 1e-6
    assert not result["variational_ever_buys"] and result["all_finite"]
    rows = _read_csv(tmp_out / "lottery.csv")
    alphas = np.array([float(r["alpha"]) for r in rows])
    assert alphas.min() == 1.0 and alphas.max() == 1e5
    for r in rows:
        a = float(r["alpha"])
        buys = float(r["exact_p_buy"]) > 0.5
        assert buys == (a < result["alpha_star_closed_form"] * (1 - 1e-9)) or abs(a / result["alpha_star_closed_form"] - 1) < 1e-9
        assert float(r["exact_q_buy"]) == pytest.approx(float(r["closed_form_exact_q_buy"]), rel=1e-10, abs=1e-8)
        assert float(r["variational_q_buy"]) == pytest.approx(-890.0)


def test_lottery_other_parameters(tmp_out):
    from sb3_softopt.experiments.lottery import closed_form_threshold

    result = main(["lottery", "--out", str(tmp_out), "--quick", "--p-win", "0.05", "--win", "500", "--loss", "-100"])
    assert result["alpha_star_solver"] == pytest.approx(closed_form_threshold(0.05, 500.0, -100.0), rel=1e-9)


def test_reaching_command(tmp_out):
    result = main(["reaching", "--out", str(tmp_out), "--quick"])
    for name in (
        "reaching.json",
        "reaching_cones.png",
        "reaching_entropy.png",
        "reaching_entropy.csv",
        "reaching_slip.png",
        "reaching_slip.csv",
    ):
        assert (tmp_out / name).stat().st_size > 0
    h = np.array(result["marginal_entropy"])
    T = result["horizon"]
    assert h.shape == (T + 1,)
    # Two cones: narrow at both ends, widest in the middle.
    assert 0.3 * T <= result["peak_step"] <= 0.7 * T
    assert h.max() > h[0] + 2 and h.max() > h[-1] + 2
    assert result["exact_equals_variational_without_slip"] < 1e-9
    assert result["forward_backward_evidence_spread"] < 1e-9
    # With slip the exact (optimistic) values exceed the variational ones, and its policy does worse for real.
    assert result["start_value_exact"] > result["start_value_variational"] + 1
    assert result["true_soft_return_exact_policy"] < result["true_soft_return_variational_policy"]
    assert result["p_goal_at_T_exact_posterior_belief"] > result["p_goal_at_T_exact_policy"]
    rows = _read_csv(tmp_out / "reaching_slip.csv")
    assert len(rows) == T and float(rows[0]["max_abs_v_diff"]) > 1.0


def test_reaching_small_grid_runs(tmp_out):
    result = main(["reaching", "--out", str(tmp_out), "--quick", "--width", "9", "--height", "5", "--horizon", "12"])
    assert len(result["marginal_entropy"]) == 13


def test_registry_and_parser(monkeypatch):
    assert {"lottery", "reaching"} <= set(registry.names())
    assert hasattr(registry.get("lottery"), "add_arguments")
    with pytest.raises(KeyError, match="unknown claim"):
        registry.get("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("sb3_softopt.experiments.lottery")
    with pytest.raises(TypeError, match="has no 'CLAIM'"):
        registry.register("sb3_softopt.lecture.runner")
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["lottery"])  # --out is required


def test_claim_names_are_checked():
    from sb3_softopt.lecture.claim import Claim, Verdict

    with pytest.raises(ValueError, match="other than 'all'"):
        Claim("all", "t", "0", "s", "c")
    with pytest.raises(ValueError, match="level must be one of"):
        Verdict("fine", "why")


def test_registered_claim_runs_through_cli(tmp_out, capsys):
    import types

    from sb3_softopt.lecture.claim import REPRODUCED, Claim, Verdict

    calls = {}
    module = types.ModuleType("tests_dummy_claim")
    module.CLAIM = Claim("dummy_claim", "Dummy", "0", "s", "c")

    def run(out_dir, quick=False, seed=0):
        calls.update(out=str(out_dir), quick=quick, seed=seed)
        return {"value": 1.0}

    module.run = run
    module.judge = lambda result: Verdict(REPRODUCED, f"value {result['value']}")
    registry.register(module)
    try:
        assert main(["dummy_claim", "--out", str(tmp_out), "--seed", "3"]) == {"value": 1.0}
        assert calls == {"out": str(tmp_out), "quick": False, "seed": 3}
        assert "verdict: reproduced - value 1.0" in capsys.readouterr().out
    finally:
        registry.unregister("dummy_claim")
    assert "dummy_claim" not in registry.names()


def test_bad_reaching_arguments(tmp_out):
    from sb3_softopt.experiments import reaching

    with pytest.raises(ValueError, match=r"p_slip must be a number in \(0, 1\]"):
        reaching.run(tmp_out, quick=True, p_slip=0.0)
