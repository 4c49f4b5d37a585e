"""PointGoal-v0: the navigation task of the robustness claim, with obstacles as a kwarg."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sb3_softopt  # noqa: F401  (registers the ids)
from sb3_softopt.envs import PointGoalEnv

RIGHT = np.array([1.0, 0.0], dtype=np.float32)


def _run(env, policy, seed=0):
    obs, _ = env.reset(seed=seed)
    total, info, t = 0.0, {}, 0
    for t in range(1, 1000):
        obs, r, term, trunc, info = env.step(policy(obs))
        total += r
        if term or trunc:
            break
    return obs, total, t, term, info


def test_checkers_pass_with_and_without_obstacles():
    check_env(gym.make("PointGoal-v0").unwrapped, skip_render_check=True)
    check_env(gym.make("PointGoal-v0", obstacles=[(5, -1, 7, 1)]).unwrapped, skip_render_check=True)
    env = gym.make("PointGoal-v0", render_mode="rgb_array", obstacles=[(5, -1, 7, 1)])
    env.reset(seed=0)
    img = env.render()
    assert img.dtype == np.uint8 and img.shape[2] == 3 and (img == 110).all(axis=2).any()  # walls drawn grey
    sb3_check_env(gym.make("PointGoal-v0", obstacles=[(5, -1, 7, 1)]))


def test_reaching_the_goal_is_a_success_that_does_not_end_the_episode():
    env = gym.make("PointGoal-v0", action_cost=0.0, start_noise=0.0)

    def to_goal(o):  # a PD controller onto the goal
        return np.clip(np.array([12.0, 0.0]) - o[:2] - 3.0 * o[2:], -1, 1).astype(np.float32)

    obs, total, t, term, info = _run(env, to_goal)
    assert not term and t == 60 and info["is_success"] and math.hypot(obs[0] - 12.0, obs[1]) <= 1.0
    # Progress rewards telescope (start distance - final distance) plus 1 per step at the goal.
    env.reset(seed=0)
    total, steps_at_goal, o = 0.0, 0, env.reset(seed=0)[0]
    for _ in range(60):
        o, r, *_ = env.step(to_goal(o))
        total += r
        steps_at_goal += math.hypot(o[0] - 12.0, o[1]) <= 1.0
    assert steps_at_goal > 30
    assert total == pytest.approx(12.0 - math.hypot(o[0] - 12.0, o[1]) + steps_at_goal, abs=1e-4)
    # Once reached, the success flag stays set for the episode even after leaving the goal.
    env.reset(seed=0)
    flags = [env.step(RIGHT)[4]["is_success"] for _ in range(20)]
    assert flags.index(True) == 13 and all(flags[13:]) and env.unwrapped.state[0] > 13.0


def test_action_cost_at_the_default_weight():
    """The robustness experiment uses the registered default, action_cost = 0.05: each step's reward
    is the progress (plus the goal bonus) minus 0.05 ||a||^2, ``a`` clipped to the box; a zero
    action costs nothing. Checked against the same trajectory with action_cost = 0."""
    costly, free = gym.make("PointGoal-v0"), gym.make("PointGoal-v0", action_cost=0.0)
    assert costly.unwrapped.action_cost == 0.05
    costly.reset(seed=1)
    free.reset(seed=1)
    rng = np.random.default_rng(0)
    actions = [np.zeros(2, np.float32), np.array([0.6, -0.8], np.float32), np.array([3.0, 0.0], np.float32)]
    actions += list(rng.uniform(-1.5, 1.5, size=(40, 2)).astype(np.float32))
    total_cost = 0.0
    for a in actions:
        o1, r1, *_ = costly.step(a)
        o2, r2, *_ = free.step(a)
        assert np.array_equal(o1, o2)  # the cost changes the reward, not the dynamics
        clipped = np.clip(a.astype(np.float64), -1, 1)
        cost = 0.05 * float(clipped @ clipped)
        assert r1 == pytest.approx(r2 - cost, abs=1e-12)
        total_cost += cost
    assert total_cost > 0.5
    # the zero action and the unit action [0.6, -0.8] (cost exactly 0.05) by name
    costly.reset(seed=1)
    free.reset(seed=1)
    assert costly.step(actions[0])[1] == free.step(actions[0])[1]
    assert costly.step(actions[1])[1] == pytest.approx(free.step(actions[1])[1] - 0.05, abs=1e-7)  # float32 action


def test_an_obstacle_on_the_path_stops_a_straight_push_and_a_sidestep_passes_it():
    env = gym.make("PointGoal-v0", obstacles=[(5, -1, 7, 1)], start_noise=0.0)
    obs, _, t, term, info = _run(env, lambda o: RIGHT)
    assert not term and not info["is_success"] and t == 60  # truncated at the registered limit
    assert obs[0] == pytest.approx(5.0) and obs[2] == 0.0 and obs[3] == 0.0  # stuck at the face, at rest

    def around(o):  # up beside the obstacle, then steer to the goal (a PD controller)
        if o[1] < 1.2 and o[0] < 7.0:
            return np.array([0.3, 1.0], dtype=np.float32)
        return np.clip(np.array([12.0, 0.0]) - o[:2] - 3.0 * o[2:], -1, 1).astype(np.float32)

    _, _, _, term, info = _run(env, around)
    assert info["is_success"]


def test_seeded_resets_are_deterministic():
    a, b = gym.make("PointGoal-v0"), gym.make("PointGoal-v0")
    assert np.array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    assert not np.array_equal(a.reset(seed=3)[0], a.reset(seed=4)[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(obstacles=[(5, -1, 4, 1)]), "x0 < x1"),
        (dict(obstacles=[(5, -1, 7)]), "4 numbers"),
        (dict(obstacles=[(5, -1, 30, 1)]), "inside the world"),
        (dict(obstacles=[(-1, -1, 1, 1)]), "covers the start"),
        (dict(obstacles=[(11, -1, 13, 1)]), "goal must be"),
        (dict(goal=(50.0, 0.0)), "goal must be"),
        (dict(goal_radius=0.0), "goal_radius"),
        (dict(goal_reward=-1.0), "goal_reward"),
    ],
)
def test_bad_kwargs_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PointGoalEnv(**kwargs)


def test_state_property_moves_the_agent_and_is_checked():
    env = PointGoalEnv(obstacles=[(5, -1, 7, 1)])
    env.reset(seed=0)
    env.state = (2.0, 3.0, 3.0, 4.0)
    assert np.allclose(env.state, (2.0, 3.0, 0.6, 0.8))  # speed capped at 1
    with pytest.raises(ValueError, match="inside a wall"):
        env.state = (6.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="4 finite numbers"):
        env.state = (1.0, math.nan, 0.0, 0.0)
