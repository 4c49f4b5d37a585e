"""The perturbation wrapper and the robustness experiment (lecture 4.6)."""

import json

import gymnasium as gym
import numpy as np
import pytest
from scipy import stats

import sb3_softopt  # noqa: F401
from sb3_softopt.experiments.infra.stats import mean_ci, welch_diff_ci
from sb3_softopt.experiments.robustness import (
    PerturbationWrapper,
    evaluate_under_perturbation,
    judge,
    learned_path,
    place_obstacle,
    run,
)
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED


class GoToGoal:
    """Scripted policy for MultiGoal: full speed toward the goal (5, 0), with SB3's ``predict`` signature."""

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        d = np.array([5.0, 0.0]) - np.asarray(obs, dtype=np.float64)
        return np.clip(d, -1.0, 1.0).astype(np.float32), None


def test_push_moves_true_state_by_push_scale():
    env = PerturbationWrapper(gym.make("MultiGoal-v0"), push_prob=1.0, push_scale=0.5)
    obs, _ = env.reset(seed=3)
    before = env.unwrapped.position.copy()
    obs, *_ , info = env.step(np.zeros(2, dtype=np.float32))
    # Zero action: the whole displacement is the push, of norm push_scale, and it is observed.
    assert np.linalg.norm(env.unwrapped.position - before) == pytest.approx(0.5, abs=1e-5)
    np.testing.assert_allclose(obs, env.unwrapped.position, atol=1e-6)
    assert info["perturbation/n_pushes"] == 1 == env.n_pushes


def test_no_perturbation_is_transparent_and_seeded_runs_repeat():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(10, 2)).astype(np.float32)

    def rollout(env):
        obs, _ = env.reset(seed=7)
        traj = [obs]
        for a in actions:
            obs, r, term, trunc, _ = env.step(a)
            traj.append(np.append(obs, r))
            if term or trunc:
                break
        return np.concatenate([np.ravel(t) for t in traj])

    plain = rollout(gym.make("MultiGoal-v0"))
    wrapped = rollout(PerturbationWrapper(gym.make("MultiGoal-v0")))
    np.testing.assert_array_equal(plain, wrapped)
    noisy = [rollout(PerturbationWrapper(gym.make("MultiGoal-v0"), push_prob=0.5, push_scale=1.0, action_noise=0.5)) for _ in range(2)]
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.array_equal(noisy[0][: len(plain)], plain[: len(noisy[0])])


def test_action_noise_is_clipped_to_the_box():
    env = PerturbationWrapper(gym.make("MultiGoal-v0"), action_noise=5.0)
    env.reset(seed=0)
    for _ in range(5):
        before = env.unwrapped.position.copy()
        env.step(np.ones(2, dtype=np.float32))
        step = env.unwrapped.position - before
        assert np.all(np.abs(step) <= 1.0 + 1e-6)  # MultiGoal raises on out-of-box actions


def test_scripted_policy_success_degrades_with_perturbation():
    clean = evaluate_under_perturbation(GoToGoal(), "MultiGoal-v0", 5, seed=0)
    assert clean["success"] == 1.0 and clean["length"] == pytest.approx(4.0, abs=1)
    hard = evaluate_under_perturbation(GoToGoal(), "MultiGoal-v0", 10, seed=0, action_noise=3.0)
    assert hard["success"] < 1.0 or hard["length"] > clean["length"]
    assert hard["return"] < clean["return"]


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        (dict(push_prob=1.5), ValueError, "push_prob"),
        (dict(push_scale=-1.0), ValueError, "push_scale"),
        (dict(action_noise=float("nan")), ValueError, "action_noise"),
    ],
)
def test_bad_parameters_raise(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        PerturbationWrapper(gym.make("MultiGoal-v0"), **kwargs)


def test_discrete_actions_and_missing_state_raise():
    with pytest.raises(TypeError, match="action_space"):
        PerturbationWrapper(gym.make("CartPole-v1"))
    env = PerturbationWrapper(gym.make("MultiGoal-v0"), push_prob=1.0, push_scale=1.0, state_attr="nope")
    with pytest.raises(ValueError, match="nope"):
        env.reset(seed=0)


def test_confidence_intervals_match_scipy():
    a, b = [0.9, 0.8, 1.0, 0.7], [0.5, 0.6, 0.2]
    m, lo, hi = mean_ci(a)
    ref = stats.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=stats.sem(a))
    assert (m, lo, hi) == pytest.approx((np.mean(a), *ref))
    d, dlo, dhi = welch_diff_ci(a, b)
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    assert (d, dlo, dhi) == pytest.approx((np.mean(a) - np.mean(b), ci.low, ci.high))
    assert np.isnan(mean_ci([1.0])[1])


class Straight:
    """Scripted deterministic policy for PointGoal: full push towards +x, whatever the state."""

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(obs)  # batched or not, as SB3's predict
        return np.broadcast_to(np.array([1.0, 0.0], dtype=np.float32), obs.shape[:-1] + (2,)).copy(), None


def test_obstacles_are_placed_on_the_learned_path():
    path = learned_path(Straight(), seed=0)
    assert path[0] == pytest.approx([0.0, 0.0]) and np.hypot(*(path[-1] - [12.0, 0.0])) <= 1.0
    rect, on_path = place_obstacle(path, 0.5, 1.0)
    length = np.linalg.norm(np.diff(path, axis=0), axis=1).sum()
    assert on_path and rect == pytest.approx([0.5 * length - 0.5, -1.0, 0.5 * length + 0.5, 1.0], abs=1e-6)
    # A policy that never moved: the placement falls back to the straight line to the goal.
    rect, on_path = place_obstacle(np.zeros((5, 2)), 0.5, 2.0)
    assert not on_path and rect == pytest.approx([5.5, -2.0, 6.5, 2.0])


def test_a_straight_pusher_is_stopped_by_an_obstacle_on_its_path():
    rect, _ = place_obstacle(learned_path(Straight(), seed=0), 0.5, 1.0)
    clean = evaluate_under_perturbation(Straight(), "PointGoal-v0", 3, seed=0)
    blocked = evaluate_under_perturbation(Straight(), "PointGoal-v0", 3, seed=0, env_kwargs={"obstacles": [rect]})
    assert clean["success"] == 1.0 and blocked["success"] == 0.0 and blocked["length"] == 60.0


def test_robustness_verdicts():
    def result(sql, ddpg, ci, clean=1.0, sac_ci=(-0.1, 0.1)):
        stats = lambda m: {"mean": m, "ci": [m, m], "per_seed": [m]}  # noqa: E731
        arms = ["SQL stochastic", "SAC stochastic", "DDPG deterministic"]
        return {
            "arms": arms,
            "clean_success": {a: stats(clean) for a in arms},
            "obstacle_success": {"SQL stochastic": stats(sql), "SAC stochastic": stats(0.5), "DDPG deterministic": stats(ddpg)},
            "obstacle_diff": {"SQL stochastic": {"diff": sql - ddpg, "ci": list(ci)}, "SAC stochastic": {"diff": 0.1, "ci": list(sac_ci)}},
            "disturbance_diff": {"SQL stochastic": {"diff": 0.0, "ci": [-0.1, 0.1]}},
            "clean_solved_share": {a: float(clean >= 0.5) for a in arms},
            "obstacle_mode_diff": {"SQL": {"diff": 0.2, "ci": [0.1, 0.3]}},
        }

    assert judge(result(0.8, 0.3, (0.2, 0.8))).level == REPRODUCED
    assert judge(result(0.5, 0.3, (-0.1, 0.5))).level == PARTLY
    assert judge(result(0.2, 0.3, (-0.4, 0.2), sac_ci=(0.05, 0.2))).level == PARTLY  # SAC significant instead
    assert judge(result(0.2, 0.3, (-0.4, 0.2))).level == NOT_REPRODUCED
    assert judge(result(0.8, 0.3, (0.2, 0.8), clean=0.2)).level == PARTLY  # not comparable, SQL ahead
    numbers = judge(result(0.8, 0.3, (0.2, 0.8))).numbers
    assert "pushes and action noise: SQL stochastic - DDPG" in numbers
    assert numbers["seeds solving the obstacle-free task, DDPG deterministic"] == "1.00"
    assert numbers["SQL sampled - deterministic with obstacles (paired), 95% CI"] == "+0.200 [+0.100, +0.300]"


def test_run_tiny_budget_writes_the_summary_and_resumes(tmp_out):
    s = run(tmp_out, quick=True, n_seeds=2, train_steps=300, n_eval_episodes=2, progress=False)
    assert s["seeds"] == [0, 1]
    for algo in ("SQL", "SAC"):
        paired = np.subtract(s["obstacle_success"][f"{algo} stochastic"]["per_seed"], s["obstacle_success"][f"{algo} deterministic"]["per_seed"])
        assert s["obstacle_mode_diff"][algo]["diff"] == pytest.approx(paired.mean())
    assert s["clean_solved_share"]["DDPG deterministic"] == pytest.approx(np.mean(np.asarray(s["clean_success"]["DDPG deterministic"]["per_seed"]) >= 0.5))
    assert s["arms"] == ["SQL stochastic", "SQL deterministic", "SAC stochastic", "SAC deterministic", "DDPG deterministic"]
    for arm in s["arms"]:
        per_seed = s["obstacle_success"][arm]["per_seed"]
        assert len(per_seed) == 2 and all(0.0 <= x <= 1.0 for x in per_seed)
        assert s["obstacle_success"][arm]["mean"] == pytest.approx(np.mean(per_seed))
        assert len(s["obstacle_grid"][arm]) == 9
        for family in ("push", "action_noise"):
            c = s["curves"][family][arm]
            assert c["strength"][0] == 0.0 and c["success"][0] == pytest.approx(s["clean_success"][arm]["mean"])
    d = s["obstacle_diff"]["SQL stochastic"]
    want = np.mean(s["obstacle_success"]["SQL stochastic"]["per_seed"]) - np.mean(s["obstacle_success"]["DDPG deterministic"]["per_seed"])
    assert d["diff"] == pytest.approx(want)
    assert (tmp_out / "robustness.png").stat().st_size > 0
    assert json.loads((tmp_out / "robustness.json").read_text())["seeds"] == [0, 1]
    # 5 arms x 2 seeds x (clean + 9 obstacles + 2 pushes + 2 action noises)
    assert (tmp_out / "robustness_runs.csv").read_text().count("\n") == 1 + 5 * 2 * 14
    # Resuming reuses every finished run: nothing is retrained.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_out / "runs").iterdir()}
    again = run(tmp_out, quick=True, n_seeds=2, train_steps=300, n_eval_episodes=2, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_out / "runs").iterdir()} == stamps
    assert again["obstacle_success"] == s["obstacle_success"]


def test_bad_run_arguments(tmp_out):
    with pytest.raises(ValueError, match="includes DDPG"):
        run(tmp_out, quick=True, algos=("SQL",))
    with pytest.raises(ValueError, match="n_seeds"):
        run(tmp_out, quick=True, n_seeds=0)


def test_ddpg_arm_gets_its_own_schedule_and_ou_noise_the_max_ent_arms_the_shared_one():
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise

    from sb3_softopt.experiments.robustness import config as C
    from sb3_softopt.experiments.robustness.jobs import make_model

    budget = C.BUDGETS["quick"]
    ddpg = make_model("DDPG", 0, budget)
    assert (ddpg.train_freq.frequency, ddpg.gradient_steps) == (C.DDPG_KWARGS["train_freq"], C.DDPG_KWARGS["gradient_steps"])
    assert isinstance(ddpg.action_noise, OrnsteinUhlenbeckActionNoise)
    assert ddpg.action_noise._theta == C.DDPG_ACTION_NOISE["theta"] and ddpg.action_noise._dt == C.DDPG_ACTION_NOISE["dt"]
    assert np.all(ddpg.action_noise._sigma == C.DDPG_ACTION_NOISE["sigma"])
    for algo in ("SQL", "SAC"):
        m = make_model(algo, 0, budget)
        assert (m.train_freq.frequency, m.gradient_steps) == (C.COMMON_KWARGS["train_freq"], C.COMMON_KWARGS["gradient_steps"])
    # overrides (the sweep in benchmarks/robustness_ddpg.py) replace the defaults, for any arm
    assert make_model("SAC", 0, budget, overrides=dict(train_freq=1, gradient_steps=1)).gradient_steps == 1
    assert make_model("DDPG", 0, budget, overrides={}).gradient_steps == C.COMMON_KWARGS["gradient_steps"]
    # the DDPG settings are part of what a saved run must match to be reused
    assert C.settings()["ddpg_kwargs"] == C.DDPG_KWARGS and C.settings()["ddpg_action_noise"] == C.DDPG_ACTION_NOISE


_DDPG_PROBE = """
import sys, torch
torch.set_num_threads(1)
import sb3_softopt
from sb3_softopt.experiments.robustness import config as C
from sb3_softopt.experiments.robustness.jobs import make_model
from sb3_softopt.experiments.robustness.perturbation import evaluate_under_perturbation
seed = int(sys.argv[1])
model = make_model("DDPG", seed, C.BUDGETS["default"]).learn(C.BUDGETS["default"].train_steps)
res = evaluate_under_perturbation(model, C.ENV_ID, 5, seed=10_000 * (seed + 1), deterministic=True)
print(torch.backends.cpu.get_cpu_capability(), res["success"])
"""


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["default", None])
@pytest.mark.parametrize("seed", [0, 11])
def test_ddpg_baseline_learns_the_obstacle_free_task_with_either_kernel_set(kernels, seed):
    # SB3's DDPG failed seed 0 with the AVX-512 kernels and solved it with the default ones; seed 11
    # the other way round (benchmarks/robustness_ddpg.py --variants sb3). The baseline must not
    # depend on that: ATEN_CPU_CAPABILITY is read when torch loads, hence the subprocess.
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if kernels is not None:
        env["ATEN_CPU_CAPABILITY"] = kernels
    out = subprocess.run([sys.executable, "-c", _DDPG_PROBE, str(seed)], env=env, capture_output=True, text=True, timeout=600, check=True)
    capability, success = out.stdout.split()[-2:]
    assert kernels is None or capability.lower() == kernels
    assert float(success) >= 0.8, out.stdout


def test_regularised_ddpg_arguments_are_checked_and_saved(tmp_out):
    from sb3_softopt.experiments.robustness.ddpg import RegularisedDDPG

    with pytest.raises(ValueError, match="actor_lr_ratio"):
        RegularisedDDPG("MlpPolicy", "Pendulum-v1", actor_lr_ratio=0.0)
    with pytest.raises(ValueError, match="preactivation_reg"):
        RegularisedDDPG("MlpPolicy", "Pendulum-v1", preactivation_reg=float("nan"))
    model = RegularisedDDPG("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, learning_starts=50, batch_size=16, seed=0)
    model.learn(100)
    assert model.actor.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert model.critic.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    model.save(tmp_out / "ddpg")
    loaded = RegularisedDDPG.load(tmp_out / "ddpg")
    assert (loaded.actor_lr_ratio, loaded.preactivation_reg) == (0.1, 1e-3)


def test_penalised_preactivation_is_the_actors_pre_tanh_output():
    import torch as th

    from sb3_softopt.experiments.robustness.ddpg import RegularisedDDPG

    model = RegularisedDDPG("MlpPolicy", "Pendulum-v1", seed=0)
    obs = th.as_tensor(np.random.default_rng(0).normal(size=(16, 3)), dtype=th.float32)
    with th.no_grad():
        assert th.allclose(th.tanh(model._preactivation(obs)), model.actor(obs))
        assert not th.allclose(model._preactivation(obs), model.actor(obs))


def test_ddpg_settings_sweep_runs_and_summarises(tmp_out):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "robustness_ddpg.py"
    args = ["--out", str(tmp_out), "--seeds", "0", "--train-steps", "300", "--n-eval", "1", "--noises", "ou_0.3", "--workers", "1"]
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True, timeout=300)
    summary = json.loads((tmp_out / "summary.json").read_text())
    got = {(r["algo"], r["schedule"], r["noise"]) for r in summary["rows"]}
    assert got == {("DDPG", "shared_4x2", "ou_0.3"), ("DDPG", "sb3_1x1", "ou_0.3")}
    assert all(0.0 <= r["success"] <= 1.0 and r["seeds"] == 1 for r in summary["rows"])
    assert (tmp_out / "runs.csv").read_text().count("\n") == 1 + 2
