"""Tests for the lecture environments (sb3_softopt.envs)."""

from __future__ import annotations

import importlib
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from scipy.special import logsumexp
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sb3_softopt
from sb3_softopt.envs import (
    LotteryMDP,
    MultiGoal,
    OneHotObservation,
    ReachingGridworld,
    TwoPeakBandit,
    TwoPeakBanditDiscrete,
    build_reaching_model,
    two_peak_log_density,
)

ENV_IDS = [
    "LotteryMDP-v0",
    "TwoPeakBandit-v0",
    "TwoPeakBanditDiscrete-v0",
    "ReachingGridworld-v0",
    "MultiGoal-v0",
]
MAX_STEPS = {
    "LotteryMDP-v0": 1,
    "TwoPeakBandit-v0": 1,
    "TwoPeakBanditDiscrete-v0": 1,
    "ReachingGridworld-v0": 30,
    "MultiGoal-v0": 30,
}


# --------------------------------------------------------------------------- registration
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_registered_with_time_limit(env_id):
    assert gym.spec(env_id).max_episode_steps == MAX_STEPS[env_id]
    env = gym.make(f"sb3_softopt:{env_id}")
    assert env.spec.max_episode_steps == MAX_STEPS[env_id]
    env.close()


def test_registration_is_idempotent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(sb3_softopt.envs)
        importlib.reload(sb3_softopt)
    for env_id in ENV_IDS:
        assert env_id in gym.registry


# --------------------------------------------------------------------------------- checkers
@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_env_checkers(env_id, render_mode):
    env = gym.make(env_id, render_mode=render_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped, skip_render_check=render_mode is None)
        sb3_check_env(env.unwrapped, warn=True)
    env.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_slip": 0.2, "walls": [(5, 5), (5, 4)]},
        {"terminate_at_goal": True, "horizon": None, "p_slip": 0.2},
        {"width": 1, "height": 2, "start": (0, 0), "goal": (0, 1), "horizon": 3},
    ],
)
def test_reaching_variants_pass_checkers(kwargs):
    env = ReachingGridworld(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)
    P = env.transition_matrix
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
    assert P.max() <= 1.0


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_determinism(env_id):
    kwargs = {"p_win": 0.5} if env_id == "LotteryMDP-v0" else {}
    if env_id == "ReachingGridworld-v0":
        kwargs = {"p_slip": 0.5}

    def rollout(seed, n_episodes=8):
        env = gym.make(env_id, **kwargs)
        env.action_space.seed(seed)
        out = []
        for ep in range(n_episodes):
            obs, _ = env.reset(seed=seed + ep)
            out.append(np.asarray(obs, dtype=np.float64).ravel())
            done = False
            while not done:
                obs, r, term, trunc, _ = env.step(env.action_space.sample())
                out.append(np.append(np.asarray(obs, dtype=np.float64).ravel(), r))
                done = term or trunc
        return np.concatenate(out)

    a, b = rollout(3), rollout(3)
    np.testing.assert_array_equal(a, b)
    if env_id in ("LotteryMDP-v0", "ReachingGridworld-v0", "MultiGoal-v0"):  # stochastic ones
        c = rollout(4)
        assert a.shape != c.shape or not np.array_equal(a, c)


# ---------------------------------------------------------------------------------- lottery
def test_lottery_model_and_closed_form():
    env = gym.make("LotteryMDP-v0").unwrapped
    P, R = env.transition_matrix, env.reward_matrix
    assert P.shape == R.shape == (4, 2, 4)
    np.testing.assert_allclose(P.sum(-1), 1.0)
    expected_buy = (P[0, 1] * R[0, 1]).sum()
    assert expected_buy == pytest.approx(0.01 * 10000 - 0.99 * 1000)
    # Exact inference: Q(buy) = alpha log E exp(r / alpha) > 0 = Q(don't buy) iff alpha < 2957.68.
    for alpha, buys in [(2950.0, True), (2965.0, False)]:
        q_buy = alpha * logsumexp(R[0, 1] / alpha, b=P[0, 1])
        assert (q_buy > 0) == buys


@pytest.mark.parametrize("p_win", [0.01, 0.3])
def test_lottery_empirical_win_rate(p_win):
    """20k seeded episodes: win rate and mean reward inside a 4-sigma binomial band."""
    env = LotteryMDP(p_win=p_win)
    n = 20_000
    env.reset(seed=123)
    rewards = np.empty(n)
    wins = 0
    for i in range(n):
        env.reset()
        obs, r, term, trunc, info = env.step(1)
        assert term and not trunc
        rewards[i] = r
        wins += info["won"]
        assert (obs == 1) == info["won"]
    sd = math.sqrt(p_win * (1 - p_win) / n)
    assert abs(wins / n - p_win) < 4 * sd
    mean = p_win * 10000 - (1 - p_win) * 1000
    assert abs(rewards.mean() - mean) < 4 * 11000 * sd
    assert set(np.unique(rewards)) == {10000.0, -1000.0}
    env.reset()
    assert env.step(0)[:3] == (3, 0.0, True)


def test_lottery_reward_scale_and_ansi():
    env = LotteryMDP(p_win=1.0, reward_scale=1e-3, render_mode="ansi")
    env.reset(seed=0)
    assert env.step(1)[1] == pytest.approx(10.0)
    text = env.render()
    assert "win" in text and "buy" in text


# ------------------------------------------------------------------- tabular model vs step()
def _tabular_cases():
    return [
        ("lottery", lambda: LotteryMDP(p_win=0.3)),
        ("two_peak_discrete", lambda: TwoPeakBanditDiscrete(n_actions=7)),
        ("reaching_slip_walls", lambda: ReachingGridworld(
            width=6, height=4, start=(0, 1), goal=(5, 2), p_slip=0.4, horizon=10_000,
            walls=[(2, 1), (2, 2), (3, 0)])),
        ("reaching_terminating", lambda: ReachingGridworld(
            width=5, height=3, start=(0, 1), goal=(3, 1), p_slip=0.3, horizon=None,
            terminate_at_goal=True, goal_reward=7.0, walls=[(2, 0)])),
    ]


def _set_state(env, s):
    env.state = s
    if isinstance(env, ReachingGridworld):
        env.t = 0


@pytest.mark.parametrize("name,factory", _tabular_cases(), ids=[c[0] for c in _tabular_cases()])
def test_tabular_model_matches_step(name, factory):
    env = factory()
    P, R, mu = env.transition_matrix, env.reward_matrix, env.initial_state_dist
    S, A = env.observation_space.n, env.action_space.n
    assert P.shape == (S, A, S) and P.dtype == np.float64
    assert R.shape in [(S, A), (S, A, S)]
    assert mu.shape == (S,) and mu.sum() == pytest.approx(1.0)
    assert env.terminal_reward.shape == (S,)
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
    term = env.terminal_states
    assert term.shape == (S,) and term.dtype == np.bool_
    assert term.any() == (not isinstance(env, ReachingGridworld) or env.terminate_at_goal)
    for s in np.flatnonzero(term):  # the episode has ended: absorbing, zero reward
        assert np.all(P[s, :, s] == 1.0) and np.all(R[s] == 0)
        _set_state(env, s)
        s_next, r, terminated, _, _ = env.step(0)
        assert s_next == s and r == 0.0 and terminated
    assert np.all(P >= 0)
    obs, _ = env.reset(seed=0)
    assert mu[int(obs)] == 1.0

    rng = np.random.default_rng(0)
    pairs = [(s, a) for s in range(S) for a in range(A)]
    if len(pairs) > 24:
        pairs = [pairs[i] for i in rng.choice(len(pairs), 24, replace=False)]
    n = 1500
    for s, a in pairs:
        counts = np.zeros(S)
        for _ in range(n):
            _set_state(env, s)
            s_next, r, *_ = env.step(a)
            counts[int(s_next)] += 1
            expected_r = R[s, a, int(s_next)] if R.ndim == 3 else R[s, a]
            if abs(r - expected_r) > 1e-12:
                pytest.fail(f"reward {r} != model {expected_r} for (s, a, s') = {(s, a, int(s_next))}")
        freq, p = counts / n, P[s, a]
        assert np.all(freq[p == 0] == 0), (s, a)  # impossible transitions never happen
        band = 4 * np.sqrt(np.clip(p * (1 - p), 0, None) / n) + 1e-12
        assert np.all(np.abs(freq - p) <= band), (s, a, freq, p)


# ---------------------------------------------------------------------------------- two peak
def test_two_peak_reward_closed_form():
    env = TwoPeakBandit()
    phi = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    for x in [-5.0, -2.0, 0.0, 1.3, 2.0, 5.0]:
        assert env.reward_at_x(x) == pytest.approx(math.log(0.5 * phi(x + 2) + 0.5 * phi(x - 2)), rel=1e-12)
    assert env.max_reward == pytest.approx(math.log(0.5 * phi(0) + 0.5 * phi(4)), abs=1e-6)
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step(np.array([0.4], dtype=np.float32))
    assert term and not trunc and obs.shape == (1,) and obs[0] == 0.0
    assert r == pytest.approx(float(env.reward(np.float32(0.4))))
    # Extreme weights and far-away points never overflow or produce NaN.
    lone = TwoPeakBandit(weights=(1.0, 0.0))
    assert lone.reward_at_x(-2.0) == pytest.approx(-0.5 * math.log(2 * math.pi))
    assert np.isfinite(two_peak_log_density(np.array([-1e3, 1e3]), (3, 1))).all()
    assert TwoPeakBandit(weights=(2, 6)).weights.tolist() == [0.25, 0.75]


def test_two_peak_soft_optimal_density():
    env = TwoPeakBandit()
    a = np.linspace(-1, 1, 101)
    # alpha = 1: the optimal policy is the mixture itself (truncated to [-5, 5]).
    closed = np.log(env.action_scale) + env.reward(a) - np.log(env.mixture_mass())
    np.testing.assert_allclose(env.soft_optimal_log_density(a, alpha=1.0), closed, atol=1e-6)
    grid = np.linspace(-1, 1, 40_001)
    for alpha in (0.3, 2.0):
        dens = np.exp(env.soft_optimal_log_density(grid, alpha=alpha))
        assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-6)


def test_two_peak_discrete_matches_continuous():
    cont = TwoPeakBandit(action_scale=4.0, weights=(1, 3))
    disc = TwoPeakBanditDiscrete(n_actions=11, action_scale=4.0, weights=(1, 3))
    np.testing.assert_allclose(disc.action_grid, np.linspace(-1, 1, 11))
    np.testing.assert_allclose(disc.action_values, 4.0 * disc.action_grid)
    np.testing.assert_allclose(disc.rewards, cont.reward(disc.action_grid), rtol=0, atol=1e-12)
    np.testing.assert_allclose(disc.reward_matrix[0], disc.rewards)
    np.testing.assert_array_equal(disc.reward_matrix[1], 0.0)
    for i in range(11):
        disc.reset(seed=i)
        cont.reset(seed=i)
        _, r_d, *_ = disc.step(i)
        _, r_c, *_ = cont.step(np.array([disc.action_grid[i]], dtype=np.float32))
        assert r_d == pytest.approx(r_c, abs=1e-5)
    for alpha in (0.5, 1.0, 10.0):
        pi = disc.soft_optimal_policy(alpha)
        np.testing.assert_allclose(pi, np.exp(disc.rewards / alpha) / np.exp(disc.rewards / alpha).sum())


# --------------------------------------------------------------------------------- multigoal
def test_multigoal_dynamics_reward_and_goals():
    env = MultiGoal()
    obs, _ = env.reset(seed=0)
    assert np.linalg.norm(obs) < 1.0
    starts = np.array([MultiGoal().reset(seed=s)[0] for s in range(400)])
    assert abs(starts.std() - 0.1) < 0.015 and np.all(np.abs(starts.mean(0)) < 0.03)

    env.position = np.array([3.5, 0.0])
    obs, r, term, trunc, info = env.step(np.array([1.0, 0.0], dtype=np.float32))
    np.testing.assert_allclose(obs, [4.5, 0.0])
    assert term and not trunc and info["goal_index"] == 0
    assert r == pytest.approx(-30.0 - 0.25 + 10.0)

    env.position = np.array([0.0, -3.0])  # lands exactly 1.0 from (0, -5): not "within" (strict)
    obs, r, term, _, info = env.step(np.array([0.0, -1.0], dtype=np.float32))
    assert not term and info["goal_index"] == -1
    assert r == pytest.approx(-30.0 - 1.0)

    env.position = np.array([-6.5, 6.8])  # clipped to the box; reward uses the state after the move
    a = np.array([-1.0, 0.5], dtype=np.float32)
    obs, r, term, *_ = env.step(a)
    np.testing.assert_allclose(obs, [-7.0, 7.0])
    d2 = min(((np.array([-7.0, 7.0]) - g) ** 2).sum() for g in env.goals)
    assert r == pytest.approx(-30 * 1.25 - d2) and not term


def test_multigoal_each_goal_reachable_and_time_limit():
    for k, goal in enumerate([(5, 0), (-5, 0), (0, 5), (0, -5)]):
        env = gym.make("MultiGoal-v0")
        env.reset(seed=k)
        env.unwrapped.position = np.zeros(2)  # 4 unit steps end exactly 1.0 away: not yet "within"
        a = np.array(goal, dtype=np.float32) / 5
        for t in range(10):
            obs, r, term, trunc, info = env.step(a)
            if term:
                break
        assert term and info["goal_index"] == k and t == 4
    env = gym.make("MultiGoal-v0")
    env.reset(seed=0)
    for t in range(30):
        _, _, term, trunc, _ = env.step(np.zeros(2, dtype=np.float32))
    assert trunc and not term


# ---------------------------------------------------------------------------------- reaching
def test_reaching_defaults_and_episode():
    env = gym.make("ReachingGridworld-v0").unwrapped
    assert (env.width, env.height, env.horizon) == (21, 11, 30)
    assert env.start_xy == (1, 5) and env.goal_xy == (19, 5)
    assert env.observation_space.n == 231 and env.action_space.n == 5
    assert env.reward_matrix.shape == (231, 5)
    assert env.terminal_reward[env.goal] == 0 and env.terminal_reward[env.start] == -5.0 * 18
    obs, _ = env.reset(seed=0)
    assert obs == 5 * 21 + 1
    # 18 rights then 12 stays: on the goal at the horizon.
    total, actions = 0.0, [4] * 18 + [0] * 12
    for t, a in enumerate(actions):
        obs, r, term, trunc, info = env.step(a)
        total += r
        assert term == (t == 29)
    assert obs == env.goal and total == pytest.approx(-0.1 * 18)
    # Stopping 3 cells short pays the terminal distance penalty.
    env.reset(seed=0)
    total = sum(env.step(a)[1] for a in [4] * 15 + [0] * 15)
    assert total == pytest.approx(-0.1 * 15 - 5.0 * 3)


def test_reaching_episode_return_matches_model():
    env = ReachingGridworld(width=7, height=5, horizon=12, p_slip=0.3, walls=[(3, 1), (3, 2)])
    rng = np.random.default_rng(1)
    for ep in range(20):
        s, _ = env.reset(seed=ep)
        total, expected, done = 0.0, 0.0, False
        while not done:
            a = int(rng.integers(5))
            s_next, r, term, trunc, _ = env.step(a)
            expected += env.reward_matrix[s, a]
            total += r
            s, done = s_next, term or trunc
        assert env.t == 12
        assert total == pytest.approx(expected + env.terminal_reward[s])


def test_reaching_walls_block_and_are_unreachable():
    env = ReachingGridworld(width=5, height=3, start=(0, 1), goal=(4, 1), walls=[(1, 1)], render_mode="ansi")
    env.reset(seed=0)
    obs, r, *_ = env.step(4)  # right into the wall: stays, still pays the move cost
    assert obs == env.xy_state(0, 1) and r == pytest.approx(-0.1)
    wall = env.xy_state(1, 1)
    assert env.transition_matrix[:, :, wall][np.arange(15) != wall].sum() == 0
    text = env.render()
    assert text.splitlines()[2] == "A#..G"
    env.state = env.xy_state(0, 0)
    obs, *_ = env.step(1)  # up out of the grid
    assert obs == env.xy_state(0, 0)


def test_reaching_slip_probabilities():
    env = ReachingGridworld(p_slip=0.5)
    P = env.transition_matrix
    s = env.xy_state(10, 5)
    # right: intended w.p. 1 - p + p/5; each other executed action p/5.
    assert P[s, 4, env.xy_state(11, 5)] == pytest.approx(0.6)
    for x, y in [(10, 5), (10, 4), (10, 6), (9, 5)]:
        assert P[s, 4, env.xy_state(x, y)] == pytest.approx(0.1)
    corner = env.xy_state(0, 0)  # stay, up and left all keep the agent in the corner
    assert P[corner, 0, corner] == pytest.approx(0.5 + 0.3)


def test_reaching_terminating_mode():
    env = gym.make("ReachingGridworld-v0", terminate_at_goal=True, horizon=None, goal_reward=10.0)
    assert env.spec.max_episode_steps == 30
    env.reset(seed=0)
    for t in range(18):
        obs, r, term, trunc, _ = env.step(4)
        assert term == (t == 17)
    assert r == pytest.approx(10.0 - 0.1)
    u = env.unwrapped
    assert u.horizon is None and np.all(u.terminal_reward == 0)
    assert np.all(u.transition_matrix[u.goal, :, u.goal] == 1) and np.all(u.reward_matrix[u.goal] == 0)
    env.reset(seed=0)
    for t in range(30):
        _, _, term, trunc, _ = env.step(0)
    assert trunc and not term


def test_reaching_sparse_builder():
    env = ReachingGridworld(width=9, height=6, p_slip=0.2, walls=[(4, 2), (4, 3)])
    model = build_reaching_model(width=9, height=6, p_slip=0.2, walls=[(4, 2), (4, 3)])
    np.testing.assert_array_equal(model.transition.toarray().reshape(54, 5, 54), env.transition_matrix)
    np.testing.assert_array_equal(model.reward, env.reward_matrix)
    big = build_reaching_model(200, 150, p_slip=0.1)
    assert big.transition.shape == (150_000, 30_000) and big.reward.shape == (30_000, 5)
    np.testing.assert_allclose(np.asarray(big.transition.sum(axis=1)).ravel(), 1.0)
    assert big.initial_state_dist[big.start] == 1 and big.terminal_reward.shape == (30_000,)
    huge_env = ReachingGridworld(width=150, height=150)
    with pytest.raises(ValueError, match="transition_matrix_sparse"):
        _ = huge_env.transition_matrix
    assert huge_env.transition_matrix_sparse.shape == (22_500 * 5, 22_500)


# ----------------------------------------------------------------------- wrapper, rendering
def test_one_hot_observation():
    env = OneHotObservation(gym.make("ReachingGridworld-v0"))
    assert env.observation_space.shape == (231,) and env.observation_space.dtype == np.float32
    obs, _ = env.reset(seed=0)
    assert obs.sum() == 1 and obs[5 * 21 + 1] == 1
    obs, *_ = env.step(4)
    assert obs[5 * 21 + 2] == 1
    sb3_check_env(env, warn=True)
    with pytest.raises(TypeError, match="Discrete"):
        OneHotObservation(gym.make("MultiGoal-v0"))


@pytest.mark.parametrize(
    "env_id,shape",
    [
        ("LotteryMDP-v0", (64, 256, 3)),
        ("TwoPeakBandit-v0", (96, 192, 3)),
        ("TwoPeakBanditDiscrete-v0", (96, 192, 3)),
        ("ReachingGridworld-v0", (11 * 16, 21 * 16, 3)),
        ("MultiGoal-v0", (200, 200, 3)),
    ],
)
def test_render_shapes(env_id, shape):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    action = {"ReachingGridworld-v0": 4, "MultiGoal-v0": np.array([1, 1], dtype=np.float32)}.get(env_id)
    env.step(env.action_space.sample() if action is None else action)
    img = env.render()
    assert img.shape == first.shape == shape and img.dtype == np.uint8
    assert not np.array_equal(first, img)  # the picture shows the new state / last action
    text_env = gym.make(env_id, render_mode="ansi")
    text_env.reset(seed=0)
    assert isinstance(text_env.render(), str)


# ------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    "env_id,kwargs,exc,match",
    [
        ("LotteryMDP-v0", {"p_win": 1.5}, ValueError, "p_win"),
        ("LotteryMDP-v0", {"p_win": -0.1}, ValueError, "p_win"),
        ("LotteryMDP-v0", {"win": float("inf")}, ValueError, "win"),
        ("LotteryMDP-v0", {"loss": float("nan")}, ValueError, "loss"),
        ("LotteryMDP-v0", {"reward_scale": 0.0}, ValueError, "reward_scale"),
        ("LotteryMDP-v0", {"p_win": "high"}, TypeError, "p_win"),
        ("TwoPeakBandit-v0", {"weights": (-1, 2)}, ValueError, "weights"),
        ("TwoPeakBandit-v0", {"weights": (0, 0)}, ValueError, "weights"),
        ("TwoPeakBandit-v0", {"weights": (1, 2, 3)}, ValueError, "weights"),
        ("TwoPeakBandit-v0", {"weights": (1, float("nan"))}, ValueError, "weights"),
        ("TwoPeakBandit-v0", {"action_scale": -1.0}, ValueError, "action_scale"),
        ("TwoPeakBanditDiscrete-v0", {"n_actions": 1}, ValueError, "n_actions"),
        ("TwoPeakBanditDiscrete-v0", {"n_actions": 2.5}, TypeError, "n_actions"),
        ("ReachingGridworld-v0", {"width": 0}, ValueError, "width"),
        ("ReachingGridworld-v0", {"height": 0}, ValueError, "height"),
        ("ReachingGridworld-v0", {"start": (21, 5)}, ValueError, "start"),
        ("ReachingGridworld-v0", {"goal": (3, -1)}, ValueError, "goal"),
        ("ReachingGridworld-v0", {"goal": (1, 5)}, ValueError, "start and goal"),
        ("ReachingGridworld-v0", {"start": "a"}, ValueError, "start"),
        ("ReachingGridworld-v0", {"walls": [(1, 5)]}, ValueError, "start"),
        ("ReachingGridworld-v0", {"walls": [(19, 5)]}, ValueError, "goal"),
        ("ReachingGridworld-v0", {"walls": [(30, 5)]}, ValueError, "walls"),
        ("ReachingGridworld-v0", {"p_slip": 1.2}, ValueError, "p_slip"),
        ("ReachingGridworld-v0", {"move_cost": float("inf")}, ValueError, "move_cost"),
        ("ReachingGridworld-v0", {"horizon": 0}, ValueError, "horizon"),
        ("ReachingGridworld-v0", {"horizon": None}, ValueError, "horizon"),
        ("MultiGoal-v0", {"goal_threshold": 0.0}, ValueError, "goal_threshold"),
        ("MultiGoal-v0", {"init_sigma": -1.0}, ValueError, "init_sigma"),
        ("MultiGoal-v0", {"action_cost_coeff": float("nan")}, ValueError, "action_cost_coeff"),
    ],
)
def test_bad_kwargs(env_id, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gym.make(env_id, **kwargs)


def test_unknown_kwarg_and_render_mode_rejected():
    with pytest.raises(TypeError):
        gym.make("LotteryMDP-v0", p_loose=0.3)
    for cls in (LotteryMDP, TwoPeakBandit, TwoPeakBanditDiscrete, ReachingGridworld, MultiGoal):
        with pytest.raises(ValueError, match="render_mode"):
            cls(render_mode="svg")


@pytest.mark.parametrize(
    "env_id,action",
    [
        ("LotteryMDP-v0", 2),
        ("LotteryMDP-v0", -1),
        ("LotteryMDP-v0", 0.5),
        ("TwoPeakBanditDiscrete-v0", 21),
        ("ReachingGridworld-v0", 5),
        ("TwoPeakBandit-v0", np.array([1.5], dtype=np.float32)),
        ("TwoPeakBandit-v0", np.array([np.nan], dtype=np.float32)),
        ("TwoPeakBandit-v0", np.array([0.1, 0.2], dtype=np.float32)),
        ("MultiGoal-v0", np.array([0.0, -1.01], dtype=np.float32)),
        ("MultiGoal-v0", "left"),
    ],
)
def test_invalid_actions_raise(env_id, action):
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_actions_at_the_bounds_accepted():
    env = gym.make("MultiGoal-v0")
    env.reset(seed=0)
    env.step(np.array([1.0, -1.0], dtype=np.float32))
    env.step(np.array([1.0 + 1e-7, -1.0], dtype=np.float64))  # float rounding of a clipped action
    env = gym.make("ReachingGridworld-v0")
    env.reset(seed=0)
    env.step(np.int64(4))
    env.step(np.array(4))


# ------------------------------------------------------------------------------ DDPG (about 19 s: a cheap strong oracle, runs by default)
def test_ddpg_commits_to_one_peak_with_shipped_config():
    """The zoo_configs/ddpg.yml entry makes DDPG's deterministic action land on a peak."""
    from pathlib import Path

    import yaml
    from stable_baselines3 import DDPG
    from stable_baselines3.common.noise import NormalActionNoise

    hp = dict(yaml.safe_load((Path(__file__).parents[1] / "zoo_configs" / "ddpg.yml").read_text())["TwoPeakBandit-v0"])
    n_timesteps, policy = hp.pop("n_timesteps"), hp.pop("policy")
    assert hp.pop("noise_type") == "normal"
    hp["action_noise"] = NormalActionNoise(np.zeros(1), hp.pop("noise_std") * np.ones(1))
    hp["policy_kwargs"] = eval(hp["policy_kwargs"])  # noqa: S307 - rl-zoo3's own convention
    env = gym.make("TwoPeakBandit-v0")
    model = DDPG(policy, env, seed=0, **hp).learn(n_timesteps)
    action, _ = model.predict(np.zeros(1, dtype=np.float32), deterministic=True)
    x = 5.0 * float(action[0])
    assert abs(abs(x) - 2.0) < 0.3
    assert env.unwrapped.max_reward - float(env.unwrapped.reward(action[0])) < 0.05
