"""The pretrain -> finetune experiment: end to end (--quick), outputs, resume, statistics, errors."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sb3_softopt.common.stats import mean_ci_band
from sb3_softopt.experiments import finetune as ft


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune")
    summary = ft.main(["--out", str(out), "--quick", "--no-progress", "--workers", "1"])
    return out, summary


def test_quick_end_to_end_outputs(quick_run):
    out, summary = quick_run
    assert summary["ran"] == {"pretrain": 6, "finetune": 24}  # 3 pretrained algorithms, 6 arms, 2 tasks, 2 seeds
    for name in ("curves.csv", "finetune_curves.png", "coverage.png", "summary.md", "summary.json", "config.json"):
        assert (out / name).stat().st_size > 0, name
    df = pd.read_csv(out / "curves.csv")
    assert set(df.arm) == set(ft.ARMS)
    assert set(df.task) == set(ft.DEFAULT_TASKS)
    assert set(df.seed) == {0, 1}
    b = ft.BUDGETS["quick"]
    # One evaluation before finetuning (step 0), then every eval_freq steps.
    assert sorted(set(df.step)) == list(range(0, b.finetune_steps + 1, b.eval_freq))
    assert np.isfinite(df.eval_return).all()
    table = (out / "summary.md").read_text()
    for arm in ft.ARMS:
        assert arm in table
    assert "PointUMaze-v0" in table and "position entropy" in table
    for algo in ("sac", "ddpg", "sql"):
        assert (out / "pretrain" / f"{algo}_seed0.zip").exists()
        cov = summary["coverage"][algo]
        assert len(cov["explore"]["position_entropy"]) == 2
    # The deterministic DDPG policy has no heading spread (every rollout starts at rest near 0).
    assert max(summary["coverage"]["ddpg"]["deterministic"]["heading_spread"]) < 0.05


def test_resume_does_not_retrain(quick_run):
    out, _ = quick_run
    files = sorted((out / "curves").rglob("*.csv")) + sorted((out / "pretrain").glob("*"))
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    summary = ft.run(out, quick=True, progress=False)
    assert summary["ran"] == {"pretrain": 0, "finetune": 0}
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes
    # A deleted run (and only it) is redone.
    victim = ft._curve_path(out, "PointHallway-v0", "ddpg_scratch", 1)
    victim.unlink()
    summary = ft.run(out, quick=True, progress=False, workers=1)
    assert summary["ran"] == {"pretrain": 0, "finetune": 1}
    assert victim.exists()


def test_other_configuration_in_same_folder_is_refused(quick_run):
    out, _ = quick_run
    with pytest.raises(ValueError, match="another configuration"):
        ft.run(out, budget="default", seeds=2, progress=False)


def test_steps_to_threshold_and_statistics():
    assert ft.steps_to_threshold([0, 100, 200], [1.0, 5.0, 9.0], 5.0) == 100
    assert ft.steps_to_threshold([0, 100], [1.0, 2.0], 5.0) is None
    # IQM drops the lowest and highest quarter: [1, 2, 3, 4, 100] -> mean(2, 3, 4) = 3.
    assert ft.iqm([1, 2, 3, 4, 100]) == pytest.approx(3.0)
    lo, hi = ft.bootstrap_ci([1, 2, 3, 4, 100])
    assert lo <= 3.0 <= hi and lo >= 1 and hi <= 100
    assert ft.bootstrap_ci([7, 7, 7]) == (7.0, 7.0)
    assert all(math.isnan(v) for v in ft.bootstrap_ci([]))
    # The curves' t-intervals, column by column, against scipy's closed form.
    values = np.array([[1.0, 5.0, 2.0], [2.0, 5.0, 4.0], [4.0, 5.0, 9.0]])
    mean, half = mean_ci_band(values)
    for j in range(values.shape[1]):
        col = values[:, j]
        if np.ptp(col) == 0:
            assert half[j] == 0.0
            continue
        lo, hi = stats.t.interval(0.95, len(col) - 1, loc=col.mean(), scale=stats.sem(col))
        assert (mean[j] - half[j], mean[j] + half[j]) == pytest.approx((lo, hi))


def test_coverage_separates_wide_from_committed_policy():
    """The coverage measure the table reports: a random-direction policy covers more."""

    # Stand-ins for SB3 models: ``predict`` gets a batch of one observation (from a VecEnv).
    class Committed:
        action_noise = None

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.array([[1.0, 0.3]], dtype=np.float32), None

    class RandomDirection:
        action_noise = None

        def __init__(self):
            self.rng = np.random.default_rng(0)
            self.direction = None

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            if np.linalg.norm(obs[0, 2:]) < 1e-6:  # at rest: pick a new direction
                ang = self.rng.uniform(0, 2 * np.pi)
                self.direction = np.array([[np.cos(ang), np.sin(ang)]], dtype=np.float32)
            return self.direction, None

    import sb3_softopt  # noqa: F401

    c = ft.pretrained_coverage(Committed(), "PointPretrain-v0", 8, seed=0, stochastic=False)
    w = ft.pretrained_coverage(RandomDirection(), "PointPretrain-v0", 8, seed=0, stochastic=False)
    assert c["heading_spread"] == pytest.approx(0.0, abs=1e-6)
    assert w["heading_spread"] > 0.5
    assert w["position_entropy"] > c["position_entropy"] + 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"budget": "huge"}, "budget"),
        ({"seeds": 0}, "seeds"),
        ({"seeds": [1, 1]}, "seeds"),
        ({"arms": ["ppo_scratch"]}, "arms"),
        ({"workers": 0}, "workers"),
        ({"tasks": {"MultiGoal-v0": 1.0}}, "MultiGoal-v0"),
    ],
)
def test_bad_arguments_raise(tmp_out, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ft.run(tmp_out, progress=False, **kwargs)


def test_cli_rejects_bad_task_spec(tmp_out, capsys):
    with pytest.raises(SystemExit):
        ft.main(["--out", str(tmp_out), "--finetune-env", "PointHallway-v0"])
    assert "ENV_ID:THRESHOLD" in capsys.readouterr().err
