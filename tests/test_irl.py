"""Maximum-entropy inverse RL: finite-difference gradients, feature matching, reward recovery, demonstrations, errors."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import sb3_softopt  # noqa: F401  (registers the environments)
from sb3_softopt.inference import (
    InvalidMDPError,
    TabularMDP,
    Trajectory,
    expert_occupancy,
    forward_messages,
    maxent_irl,
    occupancy_measure,
    rollout_trajectories,
    sample_trajectories,
    soft_value_iteration,
)

EPS = 1e-6


def random_model(rng, S=4, A=3, deterministic=False):
    if deterministic:
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None], rng.integers(S, size=(S, A))] = 1.0
    else:
        P = rng.random((S, A, S))
        P /= P.sum(2, keepdims=True)
    p0 = rng.random(S)
    return P, p0 / p0.sum()


def random_policy(rng, T, S, A):
    pi = rng.random((T, S, A)) + 0.1
    return pi / pi.sum(-1, keepdims=True)


def soft_policy(P, p0, phi, theta, alpha, gamma, T, phi_T=None, theta_T=None):
    """The soft-optimal solution of ``r = phi theta`` on a freshly built model (independent of ``with_rewards``)."""
    A = P.shape[1]
    r = phi @ theta
    r = np.repeat(r[:, None], A, axis=1) if r.ndim == 1 else r
    mdp = TabularMDP(P, r, p0, T, terminal_reward=None if phi_T is None else phi_T @ theta_T)
    return soft_value_iteration(mdp, alpha, gamma=gamma, horizon=T)


def ll_occupancy(sol, rho, gamma):
    """``sum_t gamma^t <rho_t, log pi_t>`` ((T, S, A) per-step occupancies; (S, A) for an infinite horizon)."""
    if sol.horizon is None:
        return float((rho * sol.log_policy).sum())
    return float(sum(gamma**t * (rho[t] * sol.log_policy[t]).sum() for t in range(sol.horizon)))


def ll_trajectories(sol, trajs, gamma):
    lp = sol.log_policy
    return float(np.mean([sum(gamma**t * (lp if sol.horizon is None else lp[t])[s, a]
                              for t, (s, a) in enumerate(zip(st, ac))) for st, ac in trajs]))


def central_differences(f, x):
    g = np.empty(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = EPS
        g[k] = (f(x + e) - f(x - e)) / (2 * EPS)
    return g


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------------------- the gradient
@pytest.mark.parametrize(
    "alpha, gamma, horizon, action_features, terminal",
    [(0.7, 0.9, 5, True, True), (2.0, 1.0, 4, False, True), (0.5, 0.85, None, True, False)],
)
def test_gradient_is_alpha_times_finite_differences_of_the_log_likelihood(rng, alpha, gamma, horizon, action_features, terminal):
    """Exact expert occupancies of a random policy on random stochastic dynamics: the returned gradient
    is ``alpha * dLL/dtheta`` (with sampled trajectories on stochastic dynamics it would be the gradient of the
    *expected* log-likelihood only, so the exact oracle uses occupancies)."""
    S, A, K = 4, 3, 3
    P, p0 = random_model(rng, S, A)
    mdp = TabularMDP(P, rng.normal(size=(S, A)), p0, horizon, terminal_reward=rng.normal(size=S))  # rewards ignored
    phi = rng.normal(size=(S, A, K) if action_features else (S, K))
    phi_T = rng.normal(size=(S, 2)) if terminal else None
    if horizon is None:
        rho = occupancy_measure(mdp, random_policy(rng, 1, S, A)[0], None, gamma=gamma)
    else:
        pi = random_policy(rng, horizon, S, A)
        rho = forward_messages(mdp, pi)[:-1, :, None] * pi
    theta, theta_T = rng.normal(size=K), rng.normal(size=2)
    res = maxent_irl(mdp, phi, rho, alpha=alpha, gamma=gamma, horizon=horizon, terminal_features=phi_T,
                     theta_init=theta, theta_terminal_init=theta_T if terminal else None, max_iter=1)

    def ll(th, thT=theta_T):
        return ll_occupancy(soft_policy(P, p0, phi, th, alpha, gamma, horizon, phi_T, thT), rho, gamma)

    fd = central_differences(ll, theta)
    if terminal:
        fd = np.concatenate([fd, central_differences(lambda x: ll(theta, x), theta_T)])
    np.testing.assert_allclose(res.gradient, alpha * fd, rtol=1e-6, atol=1e-7)
    assert res.log_likelihood == pytest.approx(ll(theta), rel=1e-12)
    np.testing.assert_allclose(res.gradient, res.expert_feature_expectations - res.model_feature_expectations, atol=1e-12)
    assert res.n_iter == 1 and not res.converged and np.array_equal(res.theta, theta)


@pytest.mark.parametrize("horizon, gamma", [(6, 0.95), (None, 0.8)])
def test_gradient_with_trajectories_on_deterministic_dynamics(rng, horizon, gamma):
    """Deterministic dynamics make the telescoping exact per trajectory, also for truncated trajectories
    (their model continuation) and for trajectories without a final state."""
    S, A, K, alpha = 5, 3, 4, 1.5
    P, p0 = random_model(rng, S, A, deterministic=True)
    mdp = TabularMDP(P, np.zeros((S, A)), p0, horizon)
    trajs = sample_trajectories(mdp, random_policy(rng, 6, S, A), 7, seed=1, horizon=6)
    trajs = [(tr.states[: L + 1], tr.actions[:L]) for tr, L in zip(trajs, [6, 6, 4, 2, 6, 1, 3])]
    trajs[1] = (trajs[1][0][:-1], trajs[1][1])  # no final state
    trajs[3] = {"obs": trajs[3][0], "acts": trajs[3][1]}
    phi, phi_T = rng.normal(size=(S, A, K)), (rng.normal(size=(S, 2)) if horizon else None)
    theta, theta_T = rng.normal(size=K), rng.normal(size=2)
    res = maxent_irl(mdp, phi, trajs, alpha=alpha, gamma=gamma, horizon=horizon, terminal_features=phi_T,
                     theta_init=theta, theta_terminal_init=theta_T if horizon else None, max_iter=1)
    plain = [(t["obs"], t["acts"]) if isinstance(t, dict) else t for t in trajs]

    def ll(th, thT=theta_T):
        return ll_trajectories(soft_policy(P, p0, phi, th, alpha, gamma, horizon, phi_T, thT), plain, gamma)

    fd = central_differences(ll, theta)
    if horizon:
        fd = np.concatenate([fd, central_differences(lambda x: ll(theta, x), theta_T)])
    np.testing.assert_allclose(res.gradient, alpha * fd, rtol=1e-6, atol=1e-7)
    assert res.log_likelihood == pytest.approx(ll(theta), rel=1e-12)


def test_large_model_path_equals_the_kept_arrays(rng, monkeypatch):
    """Large models keep only V (lazy per-step policies, per-step rows for the log-likelihood and the
    continuations) and restrict forward steps to the support: same gradient and likelihood."""
    from sb3_softopt.inference import messages, solvers

    S, A, T = 6, 3, 5
    P, p0 = random_model(rng, S, A)
    mdp = TabularMDP(P, np.zeros((S, A)), p0, T)
    trajs = sample_trajectories(mdp, random_policy(rng, T, S, A), 6, seed=2)
    trajs = [(tr.states[: L + 1], tr.actions[:L]) for tr, L in zip(trajs, [5, 2, 5, 3, 1, 5])]
    kwargs = dict(terminal_features=rng.normal(size=(S, 2)), theta_init=rng.normal(size=S), max_iter=3)
    small = maxent_irl(mdp, np.eye(S), trajs, **kwargs)
    monkeypatch.setattr(solvers, "KEEP_Q_MAX_ENTRIES", 0)
    monkeypatch.setattr(messages, "SUPPORT_MIN_STATES", 1)
    monkeypatch.setattr(messages, "SUPPORT_FRACTION", 1.0)
    large = maxent_irl(mdp, np.eye(S), trajs, **kwargs)
    assert small.solution.keeps_q and not large.solution.keeps_q
    np.testing.assert_allclose(large.gradient, small.gradient, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(large.history["log_likelihood"], small.history["log_likelihood"], rtol=1e-12)


def test_terminal_states_get_no_gradient(rng):
    """Absorbing terminal states have no reward in the model, so the likelihood does not depend on
    theirs: zero gradient entries (finite differences, trajectories that end in them early)."""
    S, A, T, alpha = 5, 2, 6, 1.0
    P, p0 = random_model(rng, S, A, deterministic=True)
    P[4] = 0.0
    P[4, :, 4] = 1.0
    P[0, 1] = 0.0
    P[0, 1, 4] = 1.0  # (0, 1) ends the episode
    mask = np.arange(S) == 4
    mdp = TabularMDP(P, np.zeros((S, A)), p0, T, terminal_states=mask)
    trajs = [tr for tr in sample_trajectories(mdp, random_policy(rng, T, S, A), 40, seed=0)]
    trajs = [(st[: int(np.argmax(st == 4)) + 1], ac[: int(np.argmax(st == 4))]) if (st == 4).any() and st[0] != 4 else (st, ac)
             for st, ac in trajs]
    trajs = [tr for tr in trajs if len(tr[1]) > 0]
    assert any(len(ac) < T for _, ac in trajs)
    phi = np.eye(S)
    theta = rng.normal(size=S)
    res = maxent_irl(mdp, phi, trajs, alpha=alpha, theta_init=theta, max_iter=1)
    assert res.gradient[4] == 0.0 and np.all(res.reward_gradient[4] == 0.0)

    def ll(th):
        model = TabularMDP(P, np.repeat((phi @ th)[:, None], A, 1), p0, T, terminal_states=mask)
        return ll_trajectories(soft_value_iteration(model, alpha), trajs, 1.0)

    np.testing.assert_allclose(res.gradient, alpha * central_differences(ll, theta), rtol=1e-6, atol=1e-7)


def test_torch_linear_module_gives_the_linear_gradient_and_learns(rng):
    S, A, K, T = 5, 3, 4, 6
    P, p0 = random_model(rng, S, A)
    mdp = TabularMDP(P, np.zeros((S, A)), p0, T)
    phi = rng.normal(size=(S, K))
    pi = random_policy(rng, T, S, A)
    rho = forward_messages(mdp, pi)[:-1, :, None] * pi
    theta = rng.normal(size=K)
    linear = maxent_irl(mdp, phi, rho, theta_init=theta, max_iter=1)
    module = torch.nn.Linear(K, 1, bias=False).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(theta)[None])
    res = maxent_irl(mdp, phi, rho, reward_model=module, max_iter=1)
    np.testing.assert_allclose(res.gradient, linear.gradient, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.reward, linear.reward, atol=1e-12)
    assert res.theta is None and res.reward_model is module

    # A non-linear reward learns to imitate a soft-optimal expert (of a reward it can represent).
    expert = soft_policy(P, p0, phi, 2.0 * rng.normal(size=K), 1.0, 1.0, T)
    rho = forward_messages(mdp, expert)[:-1, :, None] * expert.policy
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(K, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    learned = maxent_irl(mdp, phi, rho, reward_model=net, max_iter=150, lr=0.05)
    ll = learned.history["log_likelihood"]
    # The network trained in place: its reward gives the reported (higher) likelihood.
    with torch.no_grad():
        r = net(torch.from_numpy(np.repeat(phi, A, axis=0))).numpy().reshape(S, A)
    sol = soft_value_iteration(TabularMDP(P, r, p0, T), 1.0)
    assert ll_occupancy(sol, rho, 1.0) == pytest.approx(ll[-1], rel=1e-10)
    assert ll[-1] - ll[0] > 0.8 * (ll_occupancy(expert, rho, 1.0) - ll[0])


# --------------------------------------------------------------------------------- convergence
def test_converged_model_matches_the_expert_feature_expectations(rng):
    S, A, K, T = 5, 3, 3, 6
    P, p0 = random_model(rng, S, A)
    mdp = TabularMDP(P, np.zeros((S, A)), p0, T)
    phi = rng.normal(size=(S, A, K))
    pi = random_policy(rng, T, S, A)
    rho = forward_messages(mdp, pi)[:-1, :, None] * pi
    res = maxent_irl(mdp, phi, rho, max_iter=3000, linf_eps=0.0, grad_l2_eps=1e-4)
    assert res.converged and res.n_iter < 3000
    # Independent recomputation: the soft-optimal policy of the returned reward, rolled out from the expert's start.
    sol = soft_value_iteration(TabularMDP(P, res.reward, p0, T), 1.0)
    mu_model = np.tensordot(occupancy_measure(mdp, sol), phi, 2)
    mu_expert = np.tensordot(rho.sum(0), phi, 2)
    np.testing.assert_allclose(mu_model, mu_expert, atol=1e-3)
    np.testing.assert_allclose(res.expert_feature_expectations, mu_expert, atol=1e-12)
    ll = res.history["log_likelihood"]
    assert ll[-1] > ll[0] and len(ll) == res.n_iter and res.history["grad_l2"][-1] <= 1e-4


def test_reaching_gridworld_recovers_the_expert_policy():
    """Slippery reaching grid, exact expert occupancies of the soft-optimal expert: the soft-optimal policy
    of the recovered reward matches the expert's (visitation-weighted KL), and with the task's own
    features (move indicator, distance at the horizon) the true parameters (-0.1, -5) come back."""
    env = gym.make("ReachingGridworld-v0", width=7, height=7, horizon=12, p_slip=0.2)
    mdp = TabularMDP.from_env(env)
    S, A, T = mdp.n_states, mdp.n_actions, mdp.horizon
    expert = soft_value_iteration(mdp, 1.0)
    d = forward_messages(mdp, expert)
    rho = d[:-1, :, None] * expert.policy
    move = np.broadcast_to((np.arange(A) > 0).astype(float)[None, :, None], (S, A, 1))
    one_hot = np.concatenate([np.broadcast_to(np.eye(S)[:, None], (S, A, S)), move], axis=2)
    res = maxent_irl(mdp, one_hot, rho, terminal_features=np.eye(S), lr=0.2, max_iter=150, linf_eps=0.0)
    kl = sum(d[t] @ (expert.policy[t] * (expert.log_policy[t] - res.solution.log_policy[t])).sum(1) for t in range(T)) / T
    assert 0.0 <= kl < 0.01

    distance = -mdp.terminal_reward[:, None] / 5.0
    res = maxent_irl(mdp, move, rho, terminal_features=distance, lr=0.5, max_iter=400, linf_eps=0.0, grad_l2_eps=1e-7)
    np.testing.assert_allclose([res.theta[0], res.theta_terminal[0]], [-0.1, -5.0], rtol=1e-2)


# ------------------------------------------------------------------------------ demonstrations
def test_expert_occupancy_of_trajectories_by_hand():
    P = np.zeros((3, 2, 3))
    P[:, 0, 0] = 1.0  # action 0 -> state 0
    P[:, 1, 2] = 0.5  # action 1 -> state 1 or 2
    P[:, 1, 1] = 0.5
    mdp = TabularMDP(P, np.zeros((3, 2)), None, 3)
    trajs = [([1, 0, 0, 0], [0, 0, 1]), Trajectory(np.array([2, 1]), np.array([1]))]
    demo = expert_occupancy(mdp, trajs, gamma=0.5)
    expected = np.zeros((3, 2))
    expected[1, 0] += 1.0 / 2
    expected[0, 0] += 0.5 / 2
    expected[0, 1] += 0.25 / 2
    expected[2, 1] += 1.0 / 2
    np.testing.assert_allclose(demo.occupancy, expected)
    np.testing.assert_allclose(demo.initial_state_dist, [0, 0.5, 0.5])
    np.testing.assert_allclose(demo.terminal, 0.125 / 2 * np.array([0, 0.5, 0.5]))  # expected s_3 of the first
    assert list(demo.continuation) == [1]
    np.testing.assert_allclose(demo.continuation[1], 0.5 / 2 * np.array([0, 0.5, 0.5]))
    assert demo.n_trajectories == 2

    class ImitationTrajectory:  # imitation's Trajectory has .obs (L + 1) and .acts (L)
        def __init__(self, obs, acts):
            self.obs, self.acts = np.asarray(obs), np.asarray(acts)

    same = expert_occupancy(mdp, [ImitationTrajectory(*trajs[0]), {"states": [2], "actions": [1]}], gamma=0.5)
    np.testing.assert_allclose(same.occupancy, demo.occupancy)
    assert expert_occupancy(mdp, demo, gamma=0.5) is demo


def test_sample_trajectories_follow_the_occupancy_measure(rng):
    S, A, T, n = 4, 3, 5, 20000
    P, p0 = random_model(rng, S, A)
    mdp = TabularMDP(P, np.zeros((S, A)), p0, T)
    pi = random_policy(rng, T, S, A)
    trajs = sample_trajectories(mdp, pi, n, seed=3)
    assert all(tr.states.shape == (T + 1,) and tr.actions.shape == (T,) for tr in trajs)
    empirical = expert_occupancy(mdp, trajs).occupancy
    # Each entry is a mean of T Bernoulli counts: standard error <= sqrt(T / 4 / n) ~ 0.008.
    np.testing.assert_allclose(empirical, occupancy_measure(mdp, pi), atol=0.04)
    a, b = sample_trajectories(mdp, pi, 5, seed=4), sample_trajectories(mdp, pi, 5, seed=4)
    assert all(np.array_equal(x.states, y.states) and np.array_equal(x.actions, y.actions) for x, y in zip(a, b))


def test_rollout_trajectories_of_an_sb3_model():
    from sb3_softopt import SoftDQN

    env = gym.make("ReachingGridworld-v0", width=5, height=3, horizon=8, p_slip=0.2)
    model = SoftDQN("MlpPolicy", env, seed=0)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state().clone())
    trajs = rollout_trajectories(model, env, 4, seed=7)
    after = (random.getstate(), np.random.get_state()[1], torch.random.get_rng_state())
    # Seeding the rollouts leaves the global generators as they were (library code does not own them).
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and torch.equal(before[2], after[2])
    assert len(trajs) == 4
    for tr in trajs:
        assert tr.states.shape == (9,) and tr.actions.shape == (8,)
        assert tr.states.min() >= 0 and tr.states.max() < 15 and tr.actions.min() >= 0 and tr.actions.max() < 5
        assert tr.states[0] == env.unwrapped.start
    again = rollout_trajectories(model, env, 4, seed=7)
    assert all(np.array_equal(a.states, b.states) and np.array_equal(a.actions, b.actions) for a, b in zip(trajs, again))
    greedy = rollout_trajectories(model, env, 1, deterministic=True, seed=1)[0]
    with torch.no_grad():  # the Q-network one-hot encodes Discrete observations itself
        q = model.q_net(torch.as_tensor(greedy.states[:-1])).argmax(1).numpy()
    np.testing.assert_array_equal(greedy.actions, q)
    mdp = TabularMDP.from_env(env)
    res = maxent_irl(mdp, np.eye(15), trajs, max_iter=2)
    assert res.expert.occupancy.sum() == pytest.approx(8.0)


# ------------------------------------------------------------------------------------- errors
def _setup():
    rng = np.random.default_rng(1)
    P, p0 = random_model(rng, 3, 2)
    mdp = TabularMDP(P, np.zeros((3, 2)), p0, 2)
    pi = np.full((2, 3, 2), 0.5)
    return mdp, np.eye(3), forward_messages(mdp, pi)[:-1, :, None] * pi


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(features=np.ones((4, 2))), InvalidMDPError, "features must have shape"),
        (dict(features=np.full((3, 2), np.nan)), InvalidMDPError, "features contains nan"),
        (dict(terminal_features=np.ones((3, 2, 1))), InvalidMDPError, "terminal_features must have shape"),
        (dict(terminal_features=np.ones((3, 1)), horizon=None, gamma=0.9), InvalidMDPError, "terminal_features needs a finite horizon"),
        (dict(demonstrations=[]), InvalidMDPError, "demonstrations is empty"),
        (dict(demonstrations=[([0], [])]), InvalidMDPError, r"demonstrations\[0\] has no actions"),
        (dict(demonstrations=[([0, 5, 1], [0, 1])]), InvalidMDPError, r"demonstrations\[0\] states\[1\] = 5 is outside \[0, 3\)"),
        (dict(demonstrations=[([0, 1], [2])]), InvalidMDPError, r"demonstrations\[0\] actions\[0\] = 2 is outside \[0, 2\)"),
        (dict(demonstrations=[([0, 1, 1, 1], [0, 1, 1])]), InvalidMDPError, "more than the horizon T=2"),
        (dict(demonstrations=[([0.0, 1.0], [1])]), TypeError, "must hold integer indices"),
        (dict(demonstrations=[([0, 1, 2, 0], [1])]), InvalidMDPError, "4 states for 1 actions"),
        (dict(demonstrations=np.ones((3, 2)) / 6), InvalidMDPError, r"demonstrations: horizon=2 needs per-step"),
        (dict(demonstrations=-np.ones((2, 3, 2))), InvalidMDPError, "demonstrations: an occupancy measure must be finite and non-negative"),
        (dict(demonstrations=np.ones((2, 3, 2))), InvalidMDPError, "demonstrations: the occupancy of step t=0 sums to 6"),
        (dict(demonstrations=np.ones((3, 2)), horizon=None, gamma=0.5), InvalidMDPError, r"sum to 1 / \(1 - gamma\)"),
        (dict(demonstrations="abc"), TypeError, "demonstrations must be a sequence"),
        (dict(alpha=0.0), InvalidMDPError, "alpha must be a finite number > 0"),
        (dict(gamma=1.5), InvalidMDPError, r"gamma must be a number in \(0, 1\]"),
        (dict(horizon=None), InvalidMDPError, "horizon=None .* needs gamma < 1"),
        (dict(lr=-1.0), InvalidMDPError, "lr must be a finite number > 0"),
        (dict(lr="fast"), TypeError, "lr must be a finite number > 0"),
        (dict(max_iter=0), InvalidMDPError, "max_iter must be an integer >= 1"),
        (dict(linf_eps=-1.0), InvalidMDPError, "linf_eps must be a finite number >= 0"),
        (dict(grad_l2_eps=float("nan")), InvalidMDPError, "grad_l2_eps must be a finite number >= 0"),
        (dict(theta_init=np.ones(2)), InvalidMDPError, r"theta_init must be a finite array of shape \(3,\)"),
        (dict(theta_terminal_init=np.ones(1)), InvalidMDPError, "theta_terminal_init needs terminal_features"),
        (dict(reward_model=lambda x: x), TypeError, "reward_model must be a torch.nn.Module"),
        (dict(reward_model=torch.nn.Linear(3, 2)), InvalidMDPError, r"reward_model must map \(6, K\) features to \(6,\) rewards"),
        (dict(mdp="not an mdp"), TypeError, "mdp must be a TabularMDP"),
        (dict(optimizer_cls="adam"), TypeError, "optimizer_cls must be a torch.optim.Optimizer class such as torch.optim.Adam"),
    ],
)
def test_bad_inputs_raise_before_any_solve(monkeypatch, change, error, match):
    from sb3_softopt.inference import irl

    monkeypatch.setattr(irl, "soft_value_iteration", lambda *a, **k: pytest.fail("solved before validating"))
    mdp, phi, rho = _setup()
    kwargs = dict(mdp=mdp, features=phi, demonstrations=rho)
    kwargs.update(change)
    with pytest.raises(error, match=match):
        maxent_irl(kwargs.pop("mdp"), kwargs.pop("features"), kwargs.pop("demonstrations"), **kwargs)


def test_bad_rollout_arguments():
    env = gym.make("Pendulum-v1")
    with pytest.raises(TypeError, match="env.observation_space must be gymnasium.spaces.Discrete"):
        rollout_trajectories(object(), env, 1)
    env = gym.make("ReachingGridworld-v0")
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 1"):
        rollout_trajectories(object(), env, 0)
    with pytest.raises(TypeError, match="model must have SB3's predict"):
        rollout_trajectories(object(), env, 1)
    from stable_baselines3.common.env_util import make_vec_env

    with pytest.raises(TypeError, match="env must be a single Gymnasium env, not a VecEnv"):
        rollout_trajectories(object(), make_vec_env("ReachingGridworld-v0", n_envs=1), 1)


# ------------------------------------------------------------------------------ docs and example
def test_docs_example_runs_in_under_a_minute():
    text = (Path(__file__).parents[1] / "docs" / "irl.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    start = time.perf_counter()
    namespace: dict = {}
    exec(compile(code, "docs/irl.md", "exec"), namespace)  # noqa: S102  (the documented snippet itself)
    assert time.perf_counter() - start < 60
    assert namespace["kl"] < 0.05


def test_irl_gridworld_quick_cli(tmp_out, capsys):
    import json

    import pandas as pd

    from sb3_softopt.experiments import irl_gridworld

    irl_gridworld.main(["--out", str(tmp_out), "--quick"])
    assert "visitation KL" in capsys.readouterr().out
    summary = json.loads((tmp_out / "irl_gridworld.json").read_text())
    history = pd.read_csv(tmp_out / "irl_gridworld.csv")
    assert len(history) == summary["n_iter"] == 40
    assert history.log_likelihood.iloc[-1] > history.log_likelihood.iloc[0]
    assert (tmp_out / "irl_gridworld.png").stat().st_size > 0
