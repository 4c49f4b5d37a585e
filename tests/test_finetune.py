"""The pretrain -> finetune experiment: end to end (--quick), outputs, resume, statistics, errors."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sb3_softopt.experiments.infra.stats import mean_ci_band
from sb3_softopt.experiments import finetune as ft
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED


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
    assert set(df.arm) == set(ft.DEFAULT_ARMS)
    assert set(df.task) == set(ft.DEFAULT_TASKS)
    assert set(df.seed) == {0, 1}
    b = ft.BUDGETS["quick"]
    # One evaluation before finetuning (step 0), then every eval_freq steps.
    assert sorted(set(df.step)) == list(range(0, b.finetune_steps + 1, b.eval_freq))
    assert np.isfinite(df.eval_return).all()
    table = (out / "summary.md").read_text()
    for arm in ft.DEFAULT_ARMS:
        assert arm in table
    assert "PointUMaze-v0" in table and "position entropy" in table
    assert "sql_pretrained / ddpg_pretrained" in table and "Aggregate over the tasks" in table and "reach the task's goal" in table
    for algo in ("sac", "ddpg", "sql"):
        assert (out / "pretrain" / f"{algo}_seed0.zip").exists()
        cov = summary["coverage"][algo]
        assert len(cov["explore"]["position_entropy"]) == 2
        for task in ft.DEFAULT_TASKS:
            assert all(0 <= f <= 1 for f in cov["goal_reach"][task]["fraction"]) and len(cov["goal_reach"][task]["fraction"]) == 2
    for task in ft.DEFAULT_TASKS:
        ratios = summary["tasks"][task]["ratios"]
        assert set(ratios) == {"sql_pretrained", "sac_pretrained"}
        for arm, per_base in ratios.items():
            assert set(per_base) == {"ddpg_scratch", "ddpg_pretrained"}
            arms = summary["tasks"][task]["arms"]
            assert per_base["ddpg_scratch"]["ratio"] == pytest.approx(arms[arm]["steps_iqm"] / arms["ddpg_scratch"]["steps_iqm"])
    assert set(summary["aggregate"]) == set(ft.DEFAULT_ARMS)
    config = json.loads((out / "config.json").read_text())
    assert config["ddpg_action_noise"]["ddpg"] == {"kind": "ornstein_uhlenbeck", "sigma": 0.1, "theta": 0.15, "dt": 1.0}
    assert ft.judge(summary).level in (REPRODUCED, PARTLY, NOT_REPRODUCED)
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


# --------------------------------------------------------------------------------------------
# Exploration noise, goal reach, the Gaussian-noise arms
# --------------------------------------------------------------------------------------------
def test_ou_noise_is_rllab_ou_and_matches_sb3():
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    from sb3_softopt.experiments.finetune.coverage import _OrnsteinUhlenbeck
    from sb3_softopt.experiments.finetune.jobs import _action_noise

    noise = _action_noise("ddpg", 2)
    assert isinstance(noise, OrnsteinUhlenbeckActionNoise)
    assert isinstance(_action_noise("ddpg_gauss", 2), NormalActionNoise)
    # rllab's OUStrategy, x += theta (mu - x) + sigma N(0, 1), fed the draws SB3's noise makes.
    np.random.seed(3)
    sb3 = np.array([noise() for _ in range(50)])
    draws = np.random.RandomState(3).normal(size=(50, 2))
    x, rllab = np.zeros(2), []
    for z in draws:
        x = x + 0.15 * (0.0 - x) + 0.1 * z
        rllab.append(x)
    np.testing.assert_allclose(sb3, rllab, rtol=1e-5, atol=1e-6)  # SB3 returns float32
    # The coverage's own process (seeded generator): the same numbers from the same draws.
    ours = _OrnsteinUhlenbeck((2,), 0.1, 0.15, 1.0, np.random.RandomState(3))
    np.testing.assert_allclose([ours().copy() for _ in range(50)], rllab, rtol=1e-12)
    ours.reset()
    assert not ours.x.any()


def test_pretrained_ddpg_is_finetuned_with_a_fresh_noise(tmp_out):
    import gymnasium as gym

    import sb3_softopt  # noqa: F401
    from sb3_softopt.experiments.finetune.jobs import _load_model, _new_model

    bud = ft.BUDGETS["quick"]
    model = _new_model("ddpg", gym.make("PointPretrain-v0"), 0, bud, finetune=False)
    model.action_noise.noise_prev = np.ones(2)  # mid-episode state at the end of a pretraining
    model.save(tmp_out / "m.zip")
    loaded = _load_model("ddpg", tmp_out / "m.zip", gym.make("PointHallway-v0"), 0, bud)
    assert not loaded.action_noise.noise_prev.any() and loaded.action_noise._theta == 0.15


class _Constant:
    """Stand-in SB3 model: always the same action (``predict`` gets a batch of one observation)."""

    action_noise = None

    def __init__(self, action):
        self.action = np.array([action], dtype=np.float32)

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return self.action, None


class _UMazeRunner(_Constant):
    """Follows the U: along the bottom corridor, up the right column, back left to the goal."""

    def __init__(self):
        pass

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        x, y, vx, vy = obs[0]
        target = (8.0, 0.0) if y < 1.0 and x < 7.5 else (8.0, 8.0) if y < 7.5 else (0.0, 8.0)
        push = np.clip(0.5 * (np.array(target) - (x, y)) - 2.0 * np.array((vx, vy)), -1, 1)
        return push[None].astype(np.float32), None


def test_goal_reach_criteria():
    import sb3_softopt  # noqa: F401

    def frac(model, env_id, thr, noise=None):
        return ft.goal_reach(model, env_id, thr, 4, seed=0, noise=noise)["fraction"]

    assert frac(_Constant((1.0, 0.0)), "PointHallway-v0", 70) == 1.0  # runs the corridor (~95 units)
    assert frac(_Constant((1.0, 0.0)), "PointHallway-v0", 99) == 0.0  # ... not 99 units in 100 steps
    assert frac(_Constant((0.0, 1.0)), "PointHallway-v0", 70) == 0.0  # into the side wall
    assert frac(_UMazeRunner(), "PointUMaze-v0", 20) == 1.0
    assert frac(_Constant((1.0, 0.0)), "PointUMaze-v0", 20) == 0.0  # stuck against the far wall
    # Any other env: the episode return (the pretrain env pays ~1 per step at full speed).
    assert frac(_Constant((1.0, 0.0)), "PointPretrain-v0", 50) == 1.0
    assert frac(_Constant((1.0, 0.0)), "PointPretrain-v0", 150) == 0.0
    assert ft.goal_criterion("PointUMaze-v0", 20)[0] == "within 2 of the goal (0.0, 8.0)"
    # Exploration noise is applied: standing still plus OU noise moves, the noiseless policy does not.
    still = _Constant((0.0, 0.0))
    ou = ft.ACTION_NOISE["ddpg"]
    moved = ft.pretrained_coverage(still, "PointPretrain-v0", 3, seed=0, stochastic=True, noise=ou)["mean_speed"]
    assert moved > 0.05
    assert ft.pretrained_coverage(still, "PointPretrain-v0", 3, seed=0, stochastic=False, noise=ou)["mean_speed"] == 0.0


def test_gaussian_ddpg_arms_and_arm_names(tmp_out):
    assert ft.arm_algo("ddpg_gauss_pretrained") == "ddpg_gauss" and ft.arm_algo("sql_scratch") == "sql"
    assert set(ft.DEFAULT_ARMS) < set(ft.ARMS) and "ddpg_gauss_scratch" in ft.ARMS
    summary = ft.run(tmp_out, quick=True, seeds=1, arms=["ddpg_gauss_pretrained"], tasks={"PointHallway-v0": 70.0}, progress=False)
    assert summary["ran"] == {"pretrain": 1, "finetune": 1}
    assert (tmp_out / "pretrain" / "ddpg_gauss_seed0.zip").exists()
    assert set(summary["coverage"]) == {"ddpg_gauss"}
    assert summary["tasks"]["PointHallway-v0"]["ratios"] == {}


def test_check_pretrain_needs_the_goal_reach_of_every_task(tmp_out):
    from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_write_json

    bud = ft.BUDGETS["quick"]
    (tmp_out / "pretrain").mkdir()
    info = {"algo": "sql", "seed": 0, "env": "P-v0", "steps": bud.pretrain_steps, "eval": [], "cpu_s": 1.0}
    info["coverage"] = {"explore": {}, "deterministic": {}, "goal_reach": {"A-v0": {"fraction": 0.5, "threshold": 70.0}}}
    atomic_write_json(tmp_out / "pretrain" / "sql_seed0.json", info)
    ft._check_pretrain(tmp_out, "sql", 0, "P-v0", bud, False, {"A-v0": 70})
    ft._check_pretrain(tmp_out, "sql", 0, "P-v0", bud, False)  # tasks not checked
    for tasks, match in (({"A-v0": 70, "B-v0": 1}, "B-v0"), ({"A-v0": 60}, "threshold 60")):
        with pytest.raises(InvalidResult, match=match):
            ft._check_pretrain(tmp_out, "sql", 0, "P-v0", bud, False, tasks)


# --------------------------------------------------------------------------------------------
# Ratio and stratified bootstrap intervals
# --------------------------------------------------------------------------------------------
def test_ratio_ci_deterministic_cases():
    assert ft.ratio_ci([5, 5, 5], [10, 10]) == (0.5, 0.5, 0.5)
    assert ft.ratio_ci([3], [6]) == (0.5, 0.5, 0.5)
    # A constant denominator is held fixed: the interval is the numerator's bootstrap interval over it.
    a = [1.0, 2.0, 4.0, 8.0, 9.0, 3.0]
    r, lo, hi = ft.ratio_ci(a, [2.0, 2.0, 2.0])
    blo, bhi = ft.bootstrap_ci(a)
    assert (r, lo, hi) == pytest.approx((ft.iqm(a) / 2, blo / 2, bhi / 2), rel=1e-12)
    # stat(b) == 0: undefined interval.
    r, lo, hi = ft.ratio_ci([1, 2, 3], [0, 0, 0])
    assert r == math.inf and math.isnan(lo) and math.isnan(hi)
    assert math.isnan(ft.ratio_ci([0, 0], [0, 0])[0])
    assert all(math.isnan(v) for v in ft.ratio_ci([], [1, 2]))
    # Another statistic (mean), non-vectorised path.
    r, lo, hi = ft.ratio_ci([1, 2, 3, 4], [4, 4, 4, 4], stat=lambda x: float(np.mean(x)))
    assert r == pytest.approx(2.5 / 4) and lo < r < hi


def test_ratio_ci_covers_a_known_ratio():
    """95% intervals on synthetic data whose IQM ratio is known (0.5): coverage near 95%."""
    rng = np.random.default_rng(1)
    hits, n_sets = 0, 200
    for k in range(n_sets):
        # Symmetric distributions: the population IQM is the centre (1000 and 2000).
        a, b = 1000 + 150 * rng.standard_normal(10), 2000 + 300 * rng.standard_normal(10)
        r, lo, hi = ft.ratio_ci(a, b, n_boot=1000, seed=k)
        assert lo <= r <= hi
        hits += lo <= 0.5 <= hi
    # The percentile bootstrap undercovers a little with 10 seeds; 0.85-0.99 = 200 trials' margin.
    assert 0.85 <= hits / n_sets <= 0.99


def test_stratified_bootstrap_ci():
    x = [1, 2, 3, 4, 100, 7, 9]
    assert ft.stratified_bootstrap_ci([x]) == ft.bootstrap_ci(x)  # one stratum: the plain bootstrap
    mean = lambda v: float(np.mean(v))  # noqa: E731
    # A constant stratum never varies: the mean of the concatenation is an affine map of the other's mean.
    b = [9.0, 10.0, 14.0, 11.0, 8.0, 12.0]
    lo, hi = ft.stratified_bootstrap_ci([[0.0] * 4, b], stat=mean)
    blo, bhi = ft.bootstrap_ci(b, stat=mean)
    assert (lo, hi) == pytest.approx((blo * 6 / 10, bhi * 6 / 10), rel=1e-12)
    assert ft.stratified_bootstrap_ci([[0.0] * 4, [10.0] * 4], stat=mean) == (5.0, 5.0)
    # Against a direct stratified resampling (numpy, its own generator): the same bounds up to Monte Carlo error.
    rng = np.random.default_rng(0)
    strata = [rng.normal(0, 1, 8), rng.normal(5, 2, 6)]
    lo, hi = ft.stratified_bootstrap_ci(strata, n_boot=20000)
    boot = [ft.iqm(np.concatenate([rng.choice(s, s.size) for s in strata])) for _ in range(20000)]
    ref_lo, ref_hi = np.percentile(boot, [2.5, 97.5])
    assert lo == pytest.approx(ref_lo, abs=0.05) and hi == pytest.approx(ref_hi, abs=0.05)
    # Pooling the strata would mix the tasks' seeds: a wider interval here (the strata differ).
    plo, phi = ft.bootstrap_ci(np.concatenate(strata), n_boot=20000)
    assert phi - plo > 1.1 * (hi - lo)
    assert all(math.isnan(v) for v in ft.stratified_bootstrap_ci([[1, 2], []]))


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------
def _result(sql_ratios, sac_ratio=(0.4, 0.3, 0.6)):
    """Two tasks; ``sql_ratios[(task, base)] = (ratio, lo, hi)``."""
    arm = {"steps_to_threshold": [100, None], "n_reached": 1}
    tasks = {}
    for task in ("H", "U"):
        ratios = {"sql_pretrained": {}, "sac_pretrained": {}}
        for base in ("ddpg_scratch", "ddpg_pretrained"):
            r, lo, hi = sql_ratios[(task, base)]
            ratios["sql_pretrained"][base] = {"ratio": r, "ci": [lo, hi]}
            ratios["sac_pretrained"][base] = {"ratio": sac_ratio[0], "ci": list(sac_ratio[1:])}
        names = ("sql_pretrained", "sac_pretrained", "ddpg_scratch", "ddpg_pretrained")
        tasks[task] = {"threshold": 1.0, "arms": {n: arm for n in names}, "ratios": ratios}
    return {"tasks": tasks}


KEYS = [(t, b) for t in ("H", "U") for b in ("ddpg_scratch", "ddpg_pretrained")]


@pytest.mark.parametrize(
    "ratios, level",
    [
        ({k: (0.3, 0.2, 0.6) for k in KEYS}, REPRODUCED),
        ({k: (0.5, 0.3, 0.99) for k in KEYS}, REPRODUCED),  # boundary: ratio 0.5, CI just below 1
        ({**{k: (0.9, 0.5, 1.3) for k in KEYS}, ("U", "ddpg_scratch"): (0.4, 0.2, 0.8)}, PARTLY),  # one met
        ({**{k: (0.3, 0.2, 0.6) for k in KEYS}, ("U", "ddpg_scratch"): (0.6, 0.4, 0.8)}, PARTLY),  # ratio > 0.5
        ({k: (0.4, 0.2, 1.2) for k in KEYS}, PARTLY),  # every ratio < 1, no CI below 1
        ({**{k: (0.8, 0.5, 1.3) for k in KEYS}, ("H", "ddpg_pretrained"): (1.0, 0.8, 1.2)}, NOT_REPRODUCED),
        ({k: (1.5, 1.1, 2.0) for k in KEYS}, NOT_REPRODUCED),
        ({k: (math.inf, math.nan, math.nan) for k in KEYS}, NOT_REPRODUCED),
    ],
)
def test_judge_levels(ratios, level):
    verdict = ft.judge(_result(ratios))
    assert verdict.level == level
    met = sum(r <= 0.5 and hi < 1 for r, _, hi in ratios.values())
    assert verdict.numbers["comparisons met (ratio <= 0.5, CI < 1) / total"] == f"{met} / 4"
    r, _, hi = ratios[("U", "ddpg_pretrained")]
    status = "met" if r <= 0.5 and hi < 1 else "not met"
    assert verdict.numbers["U: SQL pretrained / ddpg pretrained, steps ratio [95% CI]"].endswith(f"(reached 1/2 vs 1/2) {status}")
    assert "H: SAC pretrained / ddpg scratch (information)" in verdict.numbers


def test_judge_needs_the_sql_comparisons():
    result = _result({k: (0.3, 0.2, 0.6) for k in KEYS})
    del result["tasks"]["U"]["ratios"]["sql_pretrained"]["ddpg_pretrained"]
    with pytest.raises(KeyError, match="sql_pretrained over ddpg_pretrained"):
        ft.judge(result)
    with pytest.raises(ValueError):
        ft.judge({"tasks": {}})


@pytest.mark.parametrize(
    "spec, word",
    [
        (dict(kind="uniform", sigma=0.1), "kind"),
        (dict(kind="gaussian", sigma=-0.1), "sigma"),
        (dict(kind="gaussian", sigma=float("nan")), "sigma"),
    ],
)
def test_bad_action_noise_spec_raises(spec, word):
    from sb3_softopt.experiments.infra.noise import make_action_noise

    with pytest.raises(ValueError, match=word):
        make_action_noise(spec, 2)
