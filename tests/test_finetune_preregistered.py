"""The pre-registered U-maze replication of the finetune claim (#32): protocol, statistics, rule, power, run."""

import json
import math

import numpy as np
import pytest

from sb3_softopt.experiments.infra.stats import diff_ci
from sb3_softopt.experiments import finetune as ft
from sb3_softopt.experiments.finetune import preregistered as pre
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED

P = pre.UMAZE_PROTOCOL
BUDGET = P.budget.finetune_steps
N = 30  # synthetic seeds per arm


def _steps(n_reached: int, at: int, n: int = N) -> list:
    """``n_reached`` seeds at step ``at`` (spread by 500 steps), the others never."""
    return [at + 500 * (i % 3) for i in range(n_reached)] + [None] * (n - n_reached)


def _rep(sql, ddpg_s, ddpg_p, preregistered=True):
    steps = {"sql_pretrained": sql, "ddpg_scratch": ddpg_s, "ddpg_pretrained": ddpg_p, "sac_pretrained": sql, "sql_scratch": sql}
    arms, comparisons = pre.replication_stats(steps, BUDGET)
    seeds = P.seeds if preregistered else list(range(N))
    budget = {"finetune_steps": BUDGET}
    return {"arms": arms, "comparisons": comparisons, "seeds": seeds, "budget": budget, "preregistered": preregistered, "task": P.task}


def test_protocol_is_what_the_docs_register():
    assert P.task == "PointUMaze-v0" and P.threshold == 20.0
    assert P.seeds == list(range(3000, 3066))
    assert P.budget == ft.Budget(pretrain_steps=5000, finetune_steps=20000, eval_freq=500)
    assert P.arms == ("sql_pretrained", "ddpg_scratch", "ddpg_pretrained", "sac_pretrained", "sql_scratch")
    assert set(P.arms) <= set(ft.ARMS)
    # fresh seeds: none of the experiments' earlier seeds (0-19, 1000-1039, 2000-2009)
    assert not set(P.seeds) & (set(range(20)) | set(range(1000, 1040)) | set(range(2000, 2010)))
    assert "3000-3065" in pre.CRITERIA and "3000-3065" in ft.CLAIM.criteria


@pytest.mark.parametrize(
    "sql, ddpg_s, ddpg_p, level, statuses",
    [
        # every SQL seed reaches at 1000-2000 steps, a fifth of DDPG's: significantly more and > twice as fast
        (_steps(N, 1000), _steps(6, 5000), _steps(6, 5000), REPRODUCED, ("met", "met")),
        # SQL reaches more often, but late: ahead (reach CI > 0), not twice as fast
        (_steps(24, 15000), _steps(6, 5000), _steps(6, 5000), PARTLY, ("ahead", "ahead")),
        # significantly ahead of one baseline only
        (_steps(24, 1000), _steps(6, 5000), _steps(22, 1000), PARTLY, ("met", "not ahead")),
        # right sign against both (difference 0.13 >= 0.10, ratio < 1), no CI above 0
        (_steps(12, 3000), _steps(8, 3000), _steps(8, 3000), PARTLY, ("right sign", "right sign")),
        # right sign against one only
        (_steps(12, 3000), _steps(8, 3000), _steps(12, 3000), NOT_REPRODUCED, ("right sign", "not ahead")),
        # level: no difference
        (_steps(10, 3000), _steps(10, 3000), _steps(10, 3000), NOT_REPRODUCED, ("not ahead", "not ahead")),
        # reversed
        (_steps(3, 9000), _steps(20, 2000), _steps(20, 2000), NOT_REPRODUCED, ("not ahead", "not ahead")),
    ],
)
def test_umaze_rule_branches(sql, ddpg_s, ddpg_p, level, statuses):
    rep = _rep(sql, ddpg_s, ddpg_p)
    got = tuple(pre.comparison_status(rep["comparisons"]["sql_pretrained"][b]) for b in P.baselines)
    assert got == statuses
    verdict = pre.judge_umaze(rep)
    assert verdict.level == level
    for base, status in zip(P.baselines, statuses, strict=True):
        assert verdict.numbers[f"U-maze replication: SQL pretrained vs {base.replace('_', ' ')}"].endswith(status)
    assert any("SAC pretrained" in k and "information" in k for k in verdict.numbers)


def test_censoring_counts_the_budget_and_does_not_move_the_reach_difference():
    sql, ddpg = _steps(8, 2000, n=10), _steps(2, 6000, n=10)
    arms, comps = pre.replication_stats({"sql_pretrained": sql, "ddpg_scratch": ddpg, "ddpg_pretrained": ddpg}, BUDGET)
    censored = [BUDGET if v is None else v for v in ddpg]
    assert arms["ddpg_scratch"]["steps_iqm"] == pytest.approx(ft.iqm(censored))
    assert arms["ddpg_scratch"]["rmst"] == pytest.approx(np.mean(censored))
    assert arms["ddpg_scratch"]["n_reached"] == 2 and arms["sql_pretrained"]["reach_fraction"] == 0.8
    c = comps["sql_pretrained"]["ddpg_scratch"]
    assert c["reach_diff"] == pytest.approx(0.6)
    assert c["ratio"] == pytest.approx(arms["sql_pretrained"]["steps_iqm"] / arms["ddpg_scratch"]["steps_iqm"])
    # CIs computed, finite, around the point values
    for key in ("reach_diff", "ratio", "rmst_diff"):
        lo, hi = c[f"{key}_ci"]
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= c[key] <= hi, key
    # A longer budget changes the censored statistics, never the reach difference (seeds that never reach stay never).
    _, comps2 = pre.replication_stats({"sql_pretrained": sql, "ddpg_scratch": ddpg, "ddpg_pretrained": ddpg}, 2 * BUDGET)
    c2 = comps2["sql_pretrained"]["ddpg_scratch"]
    assert c2["reach_diff"] == c["reach_diff"] and c2["reach_diff_ci"] == c["reach_diff_ci"]
    assert c2["rmst_diff"] < c["rmst_diff"]


def test_replication_stats_refuses_bad_steps():
    with pytest.raises(ValueError, match="lie in"):
        pre.replication_stats({"sql_pretrained": [BUDGET + 1]}, BUDGET)
    with pytest.raises(ValueError, match="no seed"):
        pre.replication_stats({"sql_pretrained": []}, BUDGET)
    with pytest.raises(KeyError, match="ddpg_pretrained"):
        rep = _rep(_steps(N, 1000), _steps(6, 5000), _steps(6, 5000))
        del rep["comparisons"]["sql_pretrained"]["ddpg_pretrained"]
        pre.judge_umaze(rep)


def test_diff_ci():
    d, lo, hi = diff_ci([1, 1, 1, 0], [0, 0, 1, 0])
    assert d == pytest.approx(0.5) and lo < d < hi
    assert diff_ci([1, 1], [0, 0]) == (1.0, 1.0, 1.0)  # both constant: the point
    assert all(math.isnan(v) for v in diff_ci([], [1]))
    # a known difference of two normal means is covered
    rng = np.random.default_rng(0)
    d, lo, hi = diff_ci(rng.normal(1.0, 1, 400), rng.normal(0.0, 1, 400), n_boot=2000)
    assert lo < 1.0 < hi and hi - lo < 0.4


def test_power_functions():
    assert pre.n_seeds_two_proportions(0.5, 0.2) == 39  # textbook pooled two-proportion sample size
    assert pre.n_seeds_two_proportions(0.5, 0.2, power=0.9) > 39
    with pytest.raises(ValueError):
        pre.n_seeds_two_proportions(0.3, 0.3)
    low, high = (pre.bootstrap_power(0.6, 0.3, n, sims=500, n_boot=500) for n in (10, 80))
    assert low < 0.5 < high
    assert pre.bootstrap_power(0.3, 0.3, 60, sims=500, n_boot=500) < 0.1  # about the test's size


# --------------------------------------------------------------------------------------------
# The claim's verdict with the replication
# --------------------------------------------------------------------------------------------
def _hallway_result(ratio=(0.3, 0.2, 0.6)):
    arm = {"steps_to_threshold": [100, None], "n_reached": 1}
    tasks = {}
    for task in ("PointHallway-v0", "PointUMaze-v0"):
        per_base = {b: {"ratio": ratio[0], "ci": list(ratio[1:])} for b in P.baselines}
        if task == "PointUMaze-v0":  # the earlier U-maze run: not met
            per_base = {b: {"ratio": 1.2, "ci": [0.8, 3.0]} for b in P.baselines}
        names = ("sql_pretrained", "sac_pretrained", "ddpg_scratch", "ddpg_pretrained")
        tasks[task] = {"threshold": 1.0, "arms": {n: arm for n in names}, "ratios": {"sql_pretrained": per_base}}
    return {"tasks": tasks}


@pytest.mark.parametrize(
    "hallway, umaze, level",
    [
        ((0.3, 0.2, 0.6), (_steps(N, 1000), _steps(6, 5000), _steps(6, 5000)), REPRODUCED),
        ((0.3, 0.2, 0.6), (_steps(10, 3000), _steps(10, 3000), _steps(10, 3000)), PARTLY),
        ((0.3, 0.2, 0.6), (_steps(24, 15000), _steps(6, 5000), _steps(6, 5000)), PARTLY),
        ((1.5, 1.1, 2.0), (_steps(10, 3000), _steps(10, 3000), _steps(10, 3000)), NOT_REPRODUCED),
        ((1.5, 1.1, 2.0), (_steps(N, 1000), _steps(6, 5000), _steps(6, 5000)), PARTLY),
    ],
)
def test_claim_verdict_with_the_replication(hallway, umaze, level):
    result = {**_hallway_result(hallway), "umaze_replication": _rep(*umaze)}
    verdict = ft.judge(result)
    assert verdict.level == level
    assert verdict.numbers["comparisons met (ratio <= 0.5, CI < 1) / total"] == f"{2 if hallway[0] < 0.5 else 0} / 2"
    # the earlier U-maze run is history, not judged
    assert any("PointUMaze-v0" in k and "history" in k for k in verdict.numbers)
    assert verdict.numbers["U-maze pre-registered replication"].startswith("the pre-registered run")


def test_claim_verdict_before_the_replication_and_with_a_pilot(tmp_path):
    before = ft.judge(_hallway_result())
    assert before.level == PARTLY  # hallway met, the earlier U-maze run not: as today
    assert before.numbers["U-maze pre-registered replication"].startswith("not run yet (pre-registered: seeds 3000-3065")
    pilot_rep = _rep(_steps(N, 1000), _steps(6, 5000), _steps(6, 5000), preregistered=False)
    pilot = ft.judge({**_hallway_result(), "umaze_replication": pilot_rep})
    assert pilot.level == PARTLY  # a pilot never decides, however good
    assert "pilot" in pilot.numbers["U-maze pre-registered replication"]
    assert any(k.startswith("(pilot) ") for k in pilot.numbers)
    # the replication saved in the claim's folder decides when the saved result predates it
    (tmp_path / pre.REPLICATION_DIR).mkdir()
    rep = {**_rep(_steps(N, 1000), _steps(6, 5000), _steps(6, 5000)), "protocol": {}, "threshold": 20.0, "cpu_s": 1.0,
           "cpu_s_per_run": {}, "wall_s": 1.0, "ran": {}}  # fmt: skip
    (tmp_path / pre.REPLICATION_DIR / pre.REPLICATION_FILE).write_text(json.dumps(rep))
    saved = ft.judge({**_hallway_result(), "_out_dir": str(tmp_path)})
    assert saved.level == REPRODUCED and "saved in the claim's folder" in saved.numbers["U-maze pre-registered replication"]
    (tmp_path / pre.REPLICATION_DIR / pre.REPLICATION_FILE).write_text("{garbled")
    distrusted = ft.judge({**_hallway_result(), "_out_dir": str(tmp_path)})
    assert distrusted.level == PARTLY and "not trusted" in distrusted.numbers["U-maze pre-registered replication"]


def test_lecture_command_reaches_the_replication():
    from sb3_softopt.lecture.__main__ import build_parser

    args = build_parser().parse_args(["finetune", "--out", "x", "--umaze-replication", "--workers", "2", "--backend", "local"])
    assert args.umaze_replication and args.workers == 2
    import inspect

    assert {"umaze_replication", "workers", "backend", "dask_address"} <= set(inspect.signature(ft.run).parameters)


def test_pilot_replication_end_to_end(tmp_path):
    """One seed at the smoke-test budget: the pipeline runs, records CPU time, and is marked a pilot."""
    rep = pre.run_replication(tmp_path, seeds=[0], budget=ft.BUDGETS["quick"], workers=1, progress=False)
    assert rep["preregistered"] is False and rep["seeds"] == [0]
    assert set(rep["arms"]) == set(P.arms) and set(rep["comparisons"]["sql_pretrained"]) == set(P.baselines)
    assert rep["cpu_s"] > 0 and {"pretrain sql", "finetune sql_pretrained", "finetune ddpg_scratch"} <= set(rep["cpu_s_per_run"])
    saved = pre.load_replication(tmp_path)
    assert saved is not None and saved["seeds"] == [0]
    assert pre.judge_umaze(saved).level in (REPRODUCED, PARTLY, NOT_REPRODUCED)
    again = pre.run_replication(tmp_path, seeds=[0], budget=ft.BUDGETS["quick"], workers=1, progress=False)
    assert again["ran"] == {"pretrain": 0, "finetune": 0}  # resumed: nothing rerun
