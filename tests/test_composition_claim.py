"""The composition claim (lecture 4.7): the PointCompose task pair and the experiment's verdict rule."""

import copy
import json
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sb3_softopt  # noqa: F401  (registers the ids)
from sb3_softopt.envs import PointComposeEnv
from sb3_softopt.experiments.composition import average_policy, judge, run
from sb3_softopt.lecture import registry
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED

IDS = ("PointComposeA-v0", "PointComposeB-v0", "PointComposeAB-v0")


def _pd_to(goal):
    def act(obs):  # a PD controller onto ``goal``
        return np.clip(np.asarray(goal) - obs[:2] - 3.0 * obs[2:], -1, 1).astype(np.float32)

    return act


def test_the_three_ids_pass_the_checkers_and_share_their_spaces():
    envs = [gym.make(i) for i in IDS]
    for env in envs:
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env)
        assert env.spec.max_episode_steps == 30
        assert env.observation_space == envs[0].observation_space and env.action_space == envs[0].action_space
    assert [e.unwrapped.weights for e in envs] == [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5)]
    assert [e.unwrapped.targets for e in envs] == [("N", "E"), ("E", "S"), ("E",)]
    img = gym.make("PointComposeAB-v0", render_mode="rgb_array")
    img.reset(seed=0)
    assert img.render().dtype == np.uint8


def test_combined_reward_is_the_weighted_sum_of_the_task_rewards():
    # one action sequence in the three envs: same dynamics, so the rewards can be compared step by step
    actions = np.random.default_rng(0).uniform(-1, 1, size=(30, 2)).astype(np.float32)
    actions[:12] = [1.0, 0.3]  # run towards E so that the goal bonus is part of the sum
    envs = [gym.make(i) for i in IDS]
    for env in envs:
        env.reset(seed=3)
    for a in actions:
        (oa, ra, *_), (ob, rb, *_), (oab, rab, *_) = (env.step(a) for env in envs)
        np.testing.assert_array_equal(oa, oab)
        np.testing.assert_array_equal(ob, oab)
        assert rab == pytest.approx(0.5 * ra + 0.5 * rb, abs=1e-12)
    # any weights: w_A r_A + w_B r_B - cost
    env = PointComposeEnv(weights=(0.3, 2.0), action_cost=0.1)
    env.reset(seed=0)
    _, r, *_ = env.step(np.array([0.5, -0.5], dtype=np.float32))
    x, y = env.state[:2]
    assert r == pytest.approx(0.3 * env.task_reward("A", x, y) + 2.0 * env.task_reward("B", x, y) - 0.1 * 0.5)


def test_the_combined_reward_peaks_where_the_two_tasks_meet():
    env = PointComposeEnv(weights=(0.5, 0.5))
    at = {g: 0.5 * env.task_reward("A", *p) + 0.5 * env.task_reward("B", *p) for g, p in {"N": (0, 5), "E": (5, 0), "S": (0, -5)}.items()}
    assert at["E"] == pytest.approx(1.0) and at["N"] == pytest.approx(at["S"]) and at["N"] < 0
    assert env.task_reward("A", 0, 5) == env.task_reward("A", 5, 0) == 1.0  # A: N and E equally good
    assert env.task_reward("B", 0, -5) == env.task_reward("B", 5, 0) == 1.0
    assert env.task_reward("A", 0, 0) == pytest.approx(-1.0)  # -distance / 5 from the start


@pytest.mark.parametrize(
    ("env_id", "goal", "success"),
    [
        ("PointComposeAB-v0", (5, 0), True),
        ("PointComposeAB-v0", (0, 5), False),
        ("PointComposeA-v0", (0, 5), True),
        ("PointComposeB-v0", (0, 5), False),
    ],
)
def test_success_is_being_at_a_target_goal_at_that_step(env_id, goal, success):
    env = gym.make(env_id, start_noise=0.0)
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        obs, _, term, trunc, info = env.step(_pd_to(goal)(obs))
    assert not term and trunc and math.hypot(obs[0] - goal[0], obs[1] - goal[1]) < 0.5
    assert info["is_success"] is success and info["goal"] == {(5, 0): "E", (0, 5): "N"}[goal]
    env.unwrapped.state = (0.0, 0.0, 0.0, 0.0)
    _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
    assert info["goal"] == "" and not info["is_success"]


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [(dict(weights=(0, 0)), "weights"), (dict(weights=(1, -1)), "weights"), (dict(weights=(1,)), "weights"),
     (dict(weights="ab"), "weights"),
     (dict(goal_radius=3.0), "goal_radius"), (dict(goal_radius=0), "goal_radius"), (dict(goal_reward=-1), "goal_reward")],
)  # fmt: skip
def test_bad_parameters_raise(kwargs, word):
    with pytest.raises(ValueError, match=word):
        PointComposeEnv(**kwargs)


def test_averaging_deterministic_policies_that_chose_different_goals_stalls_between_them():
    class Greedy:
        def __init__(self, goal):
            self.act = _pd_to(goal)

        def predict(self, obs, deterministic=True):
            return self.act(obs), None

    env = gym.make("PointComposeAB-v0", start_noise=0.0)
    act = average_policy([Greedy((0, 5)), Greedy((0, -5))])  # A chose N, B chose S
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        obs, _, _, _, info = env.step(act(obs))
    assert np.hypot(*obs[:2]) < 0.5 and not info["is_success"]


def _result(composed, scratch, ddpg, env_steps=0):
    """A hand-made result with per-seed success rates of the three judged arms."""
    from sb3_softopt.experiments.composition.runner import _diff, _stats

    per = {"SQL composed": composed, "SQL scratch": scratch, "DDPG average": ddpg}
    return dict(
        arms=list(per), success={a: _stats(v) for a, v in per.items()}, margin=0.15, composed_env_steps=env_steps,
        diff={"SQL composed - SQL scratch": _diff(composed, scratch), "SQL composed - DDPG average": _diff(composed, ddpg)},
        constituent_success={"SQL A": _stats([1.0, 1.0, 1.0])},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("composed", "scratch", "ddpg", "level", "word"),
    [
        ([0.9, 0.8, 0.85], [0.95, 0.9, 1.0], [0.1, 0.3, 0.0], REPRODUCED, "within 0.15"),
        ([0.5, 0.6, 0.55], [0.95, 0.9, 1.0], [0.1, 0.3, 0.0], PARTLY, "trails scratch"),
        ([0.9, 0.8, 0.85], [0.95, 0.9, 1.0], [0.9, 0.7, 1.0], PARTLY, "not significantly ahead"),
        ([0.2, 0.3, 0.1], [0.95, 0.9, 1.0], [0.3, 0.2, 0.1], NOT_REPRODUCED, "neither"),
    ],
)
def test_verdicts(composed, scratch, ddpg, level, word):
    v = judge(_result(composed, scratch, ddpg))
    assert v.level == level and word in v.reason
    assert v.numbers["difference SQL composed - SQL scratch, 95% CI"].startswith(f"{np.mean(composed) - np.mean(scratch):+.3f}")
    assert v.numbers["success on its own task, SQL A"] == "1.00"


def test_a_composition_that_took_environment_steps_is_not_zero_shot():
    v = judge(_result([0.9, 0.8, 0.85], [0.95, 0.9, 1.0], [0.1, 0.3, 0.0], env_steps=10))
    assert v.level == NOT_REPRODUCED and "environment steps" in v.reason


def test_the_claim_is_the_eighth_lecture_claim():
    assert registry.names()[7] == "composition"
    mod = registry.get("composition")
    assert mod.CLAIM.section == "4.7" and "2000-2009" in mod.CLAIM.criteria and "Pre-registered" in mod.CLAIM.criteria


def test_run_tiny_budget_writes_the_summary_and_resumes(tmp_out):
    s = run(tmp_out, quick=True, n_seeds=2, train_steps=100, n_eval_episodes=1, progress=False)
    assert s["seeds"] == [0, 1] and s["composed_env_steps"] == 0
    assert s["arms"] == ["SQL composed", "SQL scratch", "DDPG average", "SQL composed deterministic", "SQL scratch deterministic"]
    for arm in s["arms"]:
        per_seed = s["success"][arm]["per_seed"]
        assert len(per_seed) == 2 and all(0.0 <= x <= 1.0 for x in per_seed)
        assert sum(s["ends"][arm].values()) == pytest.approx(1.0)
    d = s["diff"]["SQL composed - DDPG average"]
    assert d["diff"] == pytest.approx(np.mean(s["success"]["SQL composed"]["per_seed"]) - np.mean(s["success"]["DDPG average"]["per_seed"]))
    assert (tmp_out / "composition.png").stat().st_size > 0
    assert json.loads((tmp_out / "composition.json").read_text())["seeds"] == [0, 1]
    # 9 evaluations (5 arms on the combined task, 4 constituents on their own) x 2 seeds
    assert (tmp_out / "composition_runs.csv").read_text().count("\n") == 1 + 9 * 2
    saved = json.loads((tmp_out / "runs" / "seed0.json").read_text())
    assert saved["train_cpu_s"].keys() == {"SQL A", "SQL B", "DDPG A", "DDPG B", "compose", "SQL scratch"}
    # resuming reuses every finished seed: nothing is retrained
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_out / "runs").iterdir()}
    again = run(tmp_out, quick=True, n_seeds=2, train_steps=100, n_eval_episodes=1, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_out / "runs").iterdir()} == stamps
    assert again["success"] == s["success"]
    # the judge accepts the saved result as is
    assert judge(copy.deepcopy(again)).level in (REPRODUCED, PARTLY, NOT_REPRODUCED)


def test_bad_run_arguments(tmp_out):
    with pytest.raises(ValueError, match="n_seeds"):
        run(tmp_out, quick=True, n_seeds=0)
    with pytest.raises(ValueError, match="train_steps"):
        run(tmp_out, quick=True, train_steps=0)
