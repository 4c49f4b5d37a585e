"""The lecture report: verdict rules, failure tolerance and the `all --quick` path end to end."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sb3_softopt.lecture import registry
from sb3_softopt.lecture.claim import NOT_REPRODUCED, NOT_RUN, PARTLY, REPRODUCED, UNDETERMINED, Verdict
from sb3_softopt.lecture.runner import run_all

NAMES = registry.names()
JUDGE = {name: registry.get(name).judge for name in NAMES}
#: a fake claim module: ``judge`` is a real claim's rule, ``run`` is the test's
FAKE = """
from sb3_softopt.lecture.claim import Claim
from sb3_softopt.experiments.{judged_by} import judge
CLAIM = Claim({name!r}, {name!r}.title(), "0", "s", "c")
{run}
"""


@pytest.fixture
def fake_claims(tmp_out, monkeypatch):
    """An empty registry, and ``add(name, run_source, judged_by)`` writing and registering a fake claim module."""
    monkeypatch.setattr(registry, "CLAIM_MODULES", {})
    monkeypatch.setattr(registry, "_LOADED", {})
    pkg = tmp_out / "pkg"
    pkg.mkdir()
    monkeypatch.syspath_prepend(str(pkg))

    def add(name, run, judged_by="lottery"):
        (pkg / f"tests_fake_{name}.py").write_text(FAKE.format(name=name, judged_by=judged_by, run=textwrap.dedent(run)))
        return registry.register(f"tests_fake_{name}")

    yield add, pkg
    for name in list(sys.modules):
        if name.startswith("tests_fake_"):
            del sys.modules[name]


# (the robustness and finetune verdicts are tested with their experiments: tests/test_robustness.py,
# tests/test_finetune.py)


def _eq(first, final, thr=0.05):
    return {"initial_kl": dict(zip(("SoftDQN", "EntropyPPO"), first)), "final_kl": dict(zip(("SoftDQN", "EntropyPPO"), final)), "kl_threshold": thr}


@pytest.mark.parametrize(
    "result, level",
    [
        (_eq((0.4, 0.3), (0.01, 0.02)), REPRODUCED),
        (_eq((0.4, 0.3), (0.01, 0.2)), PARTLY),  # one converged
        (_eq((1.0, 1.0), (0.1, 0.1)), PARTLY),  # both fell by 90% but above the threshold
        (_eq((0.4, 0.3), (0.4, 0.35)), NOT_REPRODUCED),
        (_eq((0.4, 0.3), (0.04, 0.04), thr=0.01), PARTLY),  # the threshold is read from the result
    ],
)
def test_equivalence_verdicts(result, level):
    assert JUDGE["equivalence"](result).level == level


def test_tabular_claim_verdicts():
    assert JUDGE["lottery"]({"exact_buy_prob": 0.9, "variational_buy_prob": 0.0}).level == REPRODUCED
    assert JUDGE["lottery"]({"exact_buy_prob": 0.1, "variational_buy_prob": 0.0}).level == PARTLY
    assert JUDGE["lottery"]({"exact_buy_prob": 0.1, "variational_buy_prob": 0.9}).level == NOT_REPRODUCED
    cone = [0.0, 1.0, 2.0, 2.5, 2.0, 1.0, 0.0]
    assert JUDGE["reaching"]({"marginal_entropy": cone}).level == REPRODUCED
    assert JUDGE["reaching"]({"marginal_entropy": [0, 0.1, 0.2, 0.1, 0.0]}).level == PARTLY
    assert JUDGE["reaching"]({"marginal_entropy": [0, 1, 2, 3, 4, 5]}).level == NOT_REPRODUCED


def test_two_peaks_verdicts():
    def tp(sql_close, soft_both, ddpg_one, n=10):
        return {
            "arms": {
                "sql": {"modes": {"both": n}, "seeds_tv_at_most_0_10": sql_close, "median_tv_to_exact": 0.05},
                "soft_dqn": {"modes": {"both": soft_both, "left": n - soft_both}},
                "ddpg": {"modes": {"left": ddpg_one, "right": 0, "both": n - ddpg_one}},
                "sac": {"modes": {"both": n}, "median_tv_to_exact": 0.18},
            }
        }

    assert JUDGE["two_peaks"](tp(8, 10, 9)).level == REPRODUCED
    assert JUDGE["two_peaks"](tp(7, 10, 9)).level == PARTLY  # SQL within TV 0.10 in only 70% of the seeds
    assert JUDGE["two_peaks"](tp(0, 10, 2)).level == PARTLY
    assert JUDGE["two_peaks"](tp(0, 1, 2)).level == NOT_REPRODUCED
    v = JUDGE["two_peaks"](tp(10, 10, 10))
    assert v.numbers["median TV: SAC (unimodal Gaussian), for comparison"] == "0.180"
    # A result without the SQL arm (saved before it existed) cannot be judged on SQL.
    no_sql = tp(8, 10, 9)
    del no_sql["arms"]["sql"]
    with pytest.raises(KeyError):
        JUDGE["two_peaks"](no_sql)


def test_temperature_verdict_reads_the_annealed_run_from_the_csv(tmp_out):
    import numpy as np
    import pandas as pd

    def result(drop, gap):
        h = np.linspace(0.5, 0.5 - drop, 100)
        rows = [dict(timestep=i, entropy=x, run="ent_coef_schedule") for i, x in enumerate(h)]
        rows += [dict(timestep=i, entropy=9.0, run="auto") for i in range(100)]  # ignored
        path = tmp_out / f"t{drop}.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        runs = {n: {"mean_abs_gap_second_half": gap} for n in ("auto", "target_schedule")}
        return {"runs": runs, "files": {"csv": str(path)}}

    assert JUDGE["temperature"](result(3.0, 0.1)).level == REPRODUCED
    assert JUDGE["temperature"](result(3.0, 1.5)).level == PARTLY
    assert JUDGE["temperature"](result(0.1, 1.5)).level == NOT_REPRODUCED
    v = JUDGE["temperature"](result(3.0, 0.1))
    first, last = (float(x) for x in v.numbers["entropy first / last 10% of the annealed-alpha run (nats)"].split(" / "))
    assert first == pytest.approx(0.5 - 3.0 * 4.5 / 99, abs=1e-2) and last == pytest.approx(0.5 - 3.0 * 94.5 / 99, abs=1e-2)


def test_missing_numbers_give_undetermined_not_a_crash(tmp_out, fake_claims):
    add, _ = fake_claims
    add("ok", "def run(out_dir, quick=False, seed=0):\n    return {'unrelated': 1.0}\n", judged_by="robustness")
    (res,) = run_all(tmp_out / "r", quick=True, progress=False)
    assert res.status == "ok" and res.verdict.level == UNDETERMINED
    assert "clean_success" in res.verdict.reason


def test_failing_and_missing_modules_are_reported_not_run(tmp_out, fake_claims):
    add, pkg = fake_claims
    registry.CLAIM_MODULES["missing"] = "tests_fake_nowhere"
    add("boom", "def run(out_dir, quick=False, seed=0):\n    raise RuntimeError('boom 42')\n")
    add(
        "good",
        """
        from pathlib import Path
        from matplotlib.figure import Figure

        def run(out_dir, quick=False, seed=0):
            fig = Figure(); fig.subplots().plot([0, 1]); fig.savefig(Path(out_dir) / "good.png")
            return {"exact_buy_prob": 0.8, "variational_buy_prob": 0.1 + seed, "figures": ["good.png"]}
        """,
    )
    out = tmp_out / "report"
    results = run_all(out, quick=False, progress=False)
    assert [r.status for r in results] == ["error", "error", "ok"]
    assert "tests_fake_nowhere" in results[0].error and "boom 42" in results[1].error
    assert results[2].verdict.level == REPRODUCED and results[2].module == "tests_fake_good"
    text = (out / "report.md").read_text()
    assert text.count(f"**Verdict: {NOT_RUN}.**") == 2 and "boom 42" in text
    assert "![good](good/good.png)" in text and "| P(buy) exact inference | 0.8 |" in text
    # --reuse judges the saved result instead of rerunning (the module's run is gone now).
    (pkg / "tests_fake_good.py").write_text(FAKE.format(name="good", judged_by="lottery", run="def run(*a, **k):\n    raise OSError"))
    sys.modules.pop("tests_fake_good", None)
    registry._LOADED.pop("good")
    again = run_all(out, quick=False, claims=["good"], reuse=True, progress=False)
    assert again[0].verdict.level == REPRODUCED and again[0].reused
    # --saved-only runs nothing: the claims without saved results are "not run", the report is written.
    only = run_all(out, quick=False, saved_only=True, progress=False)
    assert [r.status for r in only] == ["error", "error", "ok"] and "no saved result" in only[1].error
    # A different seed is a different experiment: rerun; the new run fails and takes the old result with it.
    assert run_all(out, quick=False, seed=1, claims=["good"], reuse=True, progress=False)[0].status == "error"
    assert not (out / "good" / "claim_result.json").exists()


def test_saved_result_of_another_schema_is_rerun(tmp_out, fake_claims):
    """A saved result that lacks a key of the claim's result type (an older version's) is not judged."""
    add, _ = fake_claims
    add(
        "typed",
        """
        from typing import TypedDict

        class R(TypedDict):
            exact_buy_prob: float
            variational_buy_prob: float

        def run(out_dir, quick=False, seed=0) -> R:
            return {"exact_buy_prob": 0.9, "variational_buy_prob": 0.0}
        """,
    )
    out = tmp_out / "r"
    run_all(out, progress=False)
    saved = out / "typed" / "claim_result.json"
    data = json.loads(saved.read_text())
    del data["result"]["variational_buy_prob"]
    saved.write_text(json.dumps(data))
    (res,) = run_all(out, reuse=True, progress=False)
    assert not res.reused and "lacks ['variational_buy_prob']" in res.distrusted and res.verdict.level == REPRODUCED


def test_every_claim_module_follows_the_protocol():
    import typing

    assert NAMES == ["lottery", "reaching", "two_peaks", "temperature", "finetune", "robustness", "equivalence", "composition"]
    for name in NAMES:
        module = registry.get(name)
        assert module.__name__ == f"sb3_softopt.experiments.{name}" and module.CLAIM.name == name
        assert module.CLAIM.statement and module.CLAIM.criteria
        result_type = registry.result_type(module)
        assert typing.is_typeddict(result_type), name
        assert registry.required_keys(module) <= set(typing.get_type_hints(result_type)), name


def test_unknown_claim_name_raises(tmp_out):
    with pytest.raises(ValueError, match="nope"):
        run_all(tmp_out, claims=["nope"], progress=False)


def test_verdict_text_is_computed_from_numbers():
    v = JUDGE["equivalence"](_eq((0.4, 0.3), (0.01, 0.02)))
    assert isinstance(v, Verdict) and "0.4 -> 0.01" in v.numbers["KL SoftDQN: start -> end (nats)"]


def test_all_quick_end_to_end(tmp_path):
    """`python -m sb3_softopt.lecture all --out DIR --quick`: one section per claim, figures exist."""
    out = tmp_path / "lecture"
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "sb3_softopt.lecture", "all", "--out", str(out), "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (out / "report.md").read_text()
    for name in NAMES:
        assert f'<a id="{name}"></a>' in text, name
        assert f"python -m sb3_softopt.lecture {name} --out" in text
    assert f"**Verdict: {NOT_RUN}.**" not in text, text
    verdicts = re.findall(r"\*\*Verdict: ([a-z ]+)\*\*", text)
    assert len(verdicts) == len(NAMES)
    assert all(v in (REPRODUCED, PARTLY, NOT_REPRODUCED) for v in verdicts), verdicts
    figures = re.findall(r"!\[[a-z_]+\]\(([^)]+)\)", text)
    assert {f.split("/")[0] for f in figures} == set(NAMES)
    for f in figures:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert (Path(out) / "report.json").is_file()
    # What the quick budgets can show, claim by claim (the learned claims are not expected to
    # reproduce at that budget; a quick run must not show them failing where it can tell).
    claims = json.loads((out / "report.json").read_text())["claims"]
    verdicts = {name: c["verdict"] for name, c in claims.items()}
    # exact computations: reproduced at any budget
    assert verdicts["lottery"] == verdicts["reaching"] == REPRODUCED, verdicts
    # 2000 steps: both agents' KL falls by >= 80% (SoftDQN seed 0: 0.41 -> 0.03 nats); 1000 SAC
    # steps: annealing alpha lowers the entropy by > 0.5 nats (0.5 -> -3.3); two seeds of the two
    # peaks: SoftDQN's Boltzmann policy keeps both peaks
    for name in ("equivalence", "temperature", "two_peaks"):
        assert verdicts[name] in (REPRODUCED, PARTLY), (name, claims[name])
    # the temperature numbers are the documented statistic: mean |entropy - target| over the records
    # of the second half of training, recomputed here from the run's own CSV
    import pandas as pd

    temp = json.loads((out / "temperature" / "temperature.json").read_text())
    table = pd.read_csv(out / "temperature" / "temperature.csv")
    numbers = claims["temperature"]["numbers"]
    for run_name, label in (("auto", "constant"), ("target_schedule", "decreasing")):
        rows = table[(table["run"] == run_name) & (table["timestep"] >= temp["steps"] / 2)]
        gap = (rows["entropy"] - rows["target_entropy"]).abs().mean()
        assert numbers[f"mean |entropy - target|, 2nd half, {label} target (nats)"] == pytest.approx(gap, rel=1e-9)


def test_every_claim_has_a_cli_subcommand():
    from sb3_softopt.lecture.__main__ import build_parser

    parser = build_parser()
    for name in NAMES:
        args = parser.parse_args([name, "--out", "x", "--quick"])
        assert args.command == name and args.quick
    args = parser.parse_args(["all", "--out", "x", "--only", "robustness", "equivalence", "--reuse", "--saved-only"])
    assert args.only == ["robustness", "equivalence"] and args.reuse and args.saved_only


def test_report_shows_the_cpu_time_of_a_resumed_claims_runs():
    # A resumable claim that reused its finished runs returns in seconds; the report must not
    # pass that off as the claim's cost.
    from sb3_softopt.lecture.claim import Claim
    from sb3_softopt.lecture.report import render_report
    from sb3_softopt.lecture.runner import ClaimResult

    claim = Claim(name="c", title="C", section="1", statement="s", criteria="k")
    verdict = Verdict(PARTLY, "r", {})
    with_cpu = ClaimResult(claim, "ok", 2.4, result={"cpu_s": 3211.0}, module="m", verdict=verdict)
    without = ClaimResult(claim, "ok", 12.0, result={"x": 1.0}, module="m", verdict=verdict)
    text = render_report([with_cpu], "out", quick=False, seed=0)
    assert "| **partly** | 2 s (CPU of its runs: 3211 s) |" in text
    assert "run time 2 s (CPU of its runs: 3211 s)" in text
    assert "| **partly** | 12 s |" in render_report([without], "out", quick=False, seed=0)
