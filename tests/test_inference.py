"""Exact control-as-inference toolkit: closed forms, brute-force enumeration, limits, errors."""

from __future__ import annotations

import itertools
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, logsumexp, softmax

from mdp_oracles import random_mdp

import sb3_softopt  # noqa: F401  (registers the environments)
from sb3_softopt.inference import (
    ConvergenceWarning,
    InvalidMDPError,
    SoftSolution,
    TabularMDP,
    evaluate_policy,
    exact_inference,
    forward_backward,
    forward_messages,
    marginal_entropy,
    soft_value_iteration,
    state_marginals,
)

# ------------------------------------------------------------------------------------ helpers


def brute_force(P, R, p0, T, alpha, terminal_reward=None, log_prior=None):
    """Enumerate every trajectory: p(tau | O) ∝ p0 prod p(s'|s,a) prior(a|s) exp((sum r + r_T) / alpha).

    Returns (log Z, marginals (T+1, S), V_0 per start state, first-action posterior (S, A))."""
    S, A, _ = P.shape
    Rsas = R if R.ndim == 3 else np.repeat(R[:, :, None], S, axis=2)
    rT = np.zeros(S) if terminal_reward is None else terminal_reward
    lp = np.zeros((S, A)) if log_prior is None else log_prior
    logw, states, first = [], [], []
    for s0 in range(S):
        for acts in itertools.product(range(A), repeat=T):
            for nxt in itertools.product(range(S), repeat=T):
                traj = (s0, *nxt)
                lw, ret = 0.0, 0.0
                ok = True
                for t in range(T):
                    p = P[traj[t], acts[t], traj[t + 1]]
                    if p == 0:
                        ok = False
                        break
                    lw += math.log(p) + lp[traj[t], acts[t]]
                    ret += Rsas[traj[t], acts[t], traj[t + 1]]
                if not ok:
                    continue
                logw.append(lw + (ret + rT[traj[T]]) / alpha)
                states.append(traj)
                first.append((s0, acts[0]))
    logw = np.array(logw)
    states = np.array(states)
    first = np.array(first)
    # V_0(s) = alpha * log sum over trajectories from s (p0 excluded)
    v0 = np.array([alpha * logsumexp(logw[states[:, 0] == s]) for s in range(S)])
    with np.errstate(divide="ignore"):
        logw_p0 = logw + np.log(p0)[states[:, 0]]
    log_z = logsumexp(logw_p0)
    w = np.exp(logw_p0 - log_z)
    marg = np.zeros((T + 1, S))
    for t in range(T + 1):
        np.add.at(marg[t], states[:, t], w)
    pol = np.zeros((S, A))
    for s in range(S):
        for a in range(A):
            sel = (first[:, 0] == s) & (first[:, 1] == a)
            pol[s, a] = logsumexp(logw[sel]) if sel.any() else -np.inf
        pol[s] = np.exp(pol[s] - logsumexp(pol[s]))
    return log_z, marg, v0, pol


def hard_value_iteration(P, R, T, terminal_reward, optimistic=False):
    """Hard Bellman backups: V = max_a [r + E V'] (or max over reachable s' for the optimistic limit)."""
    S, A, _ = P.shape
    v = terminal_reward.copy()
    vs, qs = [], []
    for _ in range(T):
        if optimistic:
            q = R + np.where(P > 0, v[None, None, :], -np.inf).max(axis=2)
        else:
            q = R + P @ v
        v = q.max(axis=1)
        vs.append(v)
        qs.append(q)
    return np.array(vs[::-1]), np.array(qs[::-1])


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# ----------------------------------------------------------------------------- closed forms


def lottery_q_buy(alpha, p=0.01, w=10000.0, l=-1000.0):
    return alpha * np.logaddexp(np.log(p) + w / alpha, np.log1p(-p) + l / alpha)


@pytest.mark.parametrize("alpha", [1.0, 10.0, 500.0, 2957.0, 2958.5, 1e4, 1e5])
def test_lottery_closed_form(alpha):
    mdp = TabularMDP.from_env(gym.make("LotteryMDP-v0"))
    ex = exact_inference(mdp, alpha=alpha)
    va = soft_value_iteration(mdp, alpha=alpha, gamma=1.0)
    q_buy = lottery_q_buy(alpha)
    assert ex.q.shape == (1, 4, 2) and ex.v.shape == (1, 4) and ex.policy.shape == (1, 4, 2)
    assert ex.q[0, 0, 1] == pytest.approx(q_buy, rel=1e-12, abs=1e-9)
    assert ex.q[0, 0, 0] == 0.0 and va.q[0, 0, 0] == 0.0
    assert va.q[0, 0, 1] == pytest.approx(-890.0, rel=1e-12)
    assert ex.policy[0, 0, 1] == pytest.approx(expit(q_buy / alpha), rel=1e-10)
    assert va.policy[0, 0, 1] == pytest.approx(expit(-890.0 / alpha), rel=1e-10, abs=1e-300)
    assert (ex.policy[0, 0, 1] > 0.5) == (alpha < 2957.6824934955)
    assert va.policy[0, 0, 1] < 0.5
    assert np.all(np.isfinite(ex.q)) and np.all(np.isfinite(va.q))


def test_lottery_alpha_one_is_finite_and_posterior_wins():
    """Large rewards at alpha = 1: exp(10000) overflows, the log-space solver must not."""
    mdp = TabularMDP.from_env(gym.make("LotteryMDP-v0"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value RuntimeWarnings either
        ex = exact_inference(mdp, alpha=1.0)
        d = forward_messages(mdp, ex, dynamics="posterior")
        fb = forward_backward(mdp, alpha=1.0)
    assert ex.q[0, 0, 1] == pytest.approx(10000.0 + math.log(0.01), abs=1e-9)
    assert ex.policy[0, 0, 1] == 1.0
    # The exact posterior's tilted dynamics make the ticket win almost surely.
    assert d[1, 1] == pytest.approx(1.0, abs=1e-12)
    assert fb.log_evidence == pytest.approx(10000.0 + math.log(0.01), abs=1e-9)
    np.testing.assert_allclose(fb.marginals[1], [0, 1, 0, 0], atol=1e-12)


def test_lottery_threshold_matches_closed_form():
    from sb3_softopt.experiments.lottery import closed_form_threshold, solver_threshold

    cf = closed_form_threshold()
    assert cf == pytest.approx(2957.68, abs=0.01)
    # The defining equation holds at the closed-form root.
    assert 0.01 * math.exp(10000 / cf) + 0.99 * math.exp(-1000 / cf) == pytest.approx(1.0, abs=1e-12)
    measured = solver_threshold()
    assert measured == pytest.approx(cf, rel=1e-9)
    # Other lotteries: the solver's threshold follows the equation.
    assert solver_threshold(0.05, 500.0, -100.0) == pytest.approx(closed_form_threshold(0.05, 500.0, -100.0), rel=1e-9)
    with pytest.raises(ValueError, match="expected reward"):
        closed_form_threshold(0.5, 10.0, -1.0)


def test_deterministic_mdp_exact_equals_variational(rng):
    S, A, T = 6, 3, 7
    nxt = rng.integers(S, size=(S, A))
    P = np.zeros((S, A, S))
    P[np.arange(S)[:, None], np.arange(A)[None, :], nxt] = 1.0
    for R in (rng.normal(size=(S, A)), rng.normal(size=(S, A, S))):
        # A known start too: the exact posterior would otherwise also tilt p(s_0) by exp(V_0/alpha).
        mdp = TabularMDP(P, R, np.eye(S)[2], T, terminal_reward=rng.normal(size=S))
        for alpha in (0.3, 1.0, 5.0):
            ex, va = exact_inference(mdp, alpha), soft_value_iteration(mdp, alpha)
            np.testing.assert_allclose(ex.q, va.q, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ex.policy, va.policy, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(
                state_marginals(mdp, alpha, method="exact"), state_marginals(mdp, alpha, method="variational"), atol=1e-12
            )


def test_stochastic_exact_is_optimistic(rng):
    P, R, p0 = random_mdp(rng, S=5, A=3)
    mdp = TabularMDP(P, R, p0, 6)
    ex, va = exact_inference(mdp, 1.0), soft_value_iteration(mdp, 1.0)
    # Jensen: log E exp >= E, so exact values dominate, strictly with stochastic dynamics.
    assert np.all(ex.v >= va.v - 1e-12)
    assert np.max(ex.v - va.v) > 1e-3


@pytest.mark.parametrize("alpha", [0.1, 1.0, 7.0])
def test_one_step_bandit_is_softmax(rng, alpha):
    r = rng.normal(size=8) * 3
    P = np.zeros((2, 8, 2))
    P[:, :, 1] = 1.0
    R = np.zeros((2, 8))
    R[0] = r
    mdp = TabularMDP(P, R, [1.0, 0.0], horizon=1)
    for sol in (exact_inference(mdp, alpha), soft_value_iteration(mdp, alpha)):
        np.testing.assert_allclose(sol.policy[0, 0], softmax(r / alpha), rtol=1e-12)
        assert sol.v[0, 0] == pytest.approx(alpha * logsumexp(r / alpha), rel=1e-12)


def test_two_peak_discrete_env_softmax():
    env = gym.make("TwoPeakBanditDiscrete-v0")
    mdp = TabularMDP.from_env(env)
    r = env.unwrapped.reward_matrix[0]
    for alpha in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(soft_value_iteration(mdp, alpha).policy[0, 0], softmax(r / alpha), rtol=1e-12)


# ------------------------------------------------------------------ brute-force enumeration


@pytest.mark.parametrize("transition_rewards", [False, True])
@pytest.mark.parametrize("with_prior", [False, True])
def test_exact_matches_trajectory_enumeration(rng, transition_rewards, with_prior):
    S, A, T, alpha = 3, 2, 3, 0.7
    P, R, p0 = random_mdp(rng, S, A, transition_rewards, sparsity=0.3)
    rT = rng.normal(size=S)
    prior = rng.dirichlet(np.ones(A), size=S) if with_prior else None
    mdp = TabularMDP(P, R, p0, T, terminal_reward=rT, action_prior=prior)
    log_z, marg, v0, pol0 = brute_force(P, R, p0, T, alpha, rT, None if prior is None else np.log(prior))

    fb = forward_backward(mdp, alpha)
    assert fb.log_evidence == pytest.approx(log_z, rel=1e-12)
    np.testing.assert_allclose(fb.marginals, marg, atol=1e-12)
    np.testing.assert_allclose(state_marginals(mdp, alpha, method="exact"), marg[:T], atol=1e-12)
    np.testing.assert_allclose(fb.solution.v[0], v0, rtol=1e-12)
    np.testing.assert_allclose(fb.solution.policy[0], pol0, atol=1e-12)
    # Posterior action + posterior transition terms roll forward to the same marginals.
    np.testing.assert_allclose(forward_messages(mdp, fb.solution, dynamics="posterior"), marg, atol=1e-12)
    # alpha_t * beta_t has the same total (the evidence) at every t.
    np.testing.assert_allclose(logsumexp(fb.log_forward + fb.log_backward, axis=1), log_z, rtol=1e-12)


def test_variational_is_optimal_for_the_max_entropy_objective(rng):
    """Soft VI's V equals its own policy's soft return in the true dynamics and beats other policies."""
    P, R, p0 = random_mdp(rng, S=4, A=3, transition_rewards=True)
    T, alpha = 5, 0.8
    mdp = TabularMDP(P, R, p0, T, terminal_reward=rng.normal(size=4))
    va = soft_value_iteration(mdp, alpha)
    ev = evaluate_policy(mdp, va, alpha=alpha)
    np.testing.assert_allclose(ev[:T], va.v, rtol=1e-12, atol=1e-12)
    for _ in range(20):
        other = rng.dirichlet(np.ones(3), size=(T, 4))
        assert np.all(evaluate_policy(mdp, other, alpha=alpha)[0] <= va.v[0] + 1e-12)
    # The optimistic exact policy is worse when executed for real.
    ex = exact_inference(mdp, alpha)
    assert np.all(evaluate_policy(mdp, ex, alpha=alpha)[0] <= va.v[0] + 1e-12)


# ------------------------------------------------------------------------------ limits


def test_alpha_to_zero_recovers_hard_value_iteration(rng):
    P, R, p0 = random_mdp(rng, S=6, A=4)
    T, rT = 8, rng.normal(size=6)
    mdp = TabularMDP(P, R, p0, T, terminal_reward=rT)
    v_hard, q_hard = hard_value_iteration(P, R, T, rT)
    v_opt, _ = hard_value_iteration(P, R, T, rT, optimistic=True)
    for alpha in (1e-1, 1e-2, 1e-3):
        va = soft_value_iteration(mdp, alpha)
        # The soft max lies in [max, max + alpha log A] at each of the T steps.
        assert np.all(va.v >= v_hard - 1e-12)
        assert np.all(va.v <= v_hard + T * alpha * math.log(4) + 1e-12)
        ex = exact_inference(mdp, alpha)
        assert np.all(ex.v <= v_opt + T * alpha * math.log(4) + 1e-9)
    va = soft_value_iteration(mdp, 1e-3)
    np.testing.assert_allclose(va.v, v_hard, atol=T * 1e-3 * math.log(4))
    np.testing.assert_array_equal(va.policy.argmax(axis=2), q_hard.argmax(axis=2))
    assert np.all(va.policy.max(axis=2) > 0.99)
    # Exact inference tends to the optimistic hard backup (max over reachable s').
    np.testing.assert_allclose(exact_inference(mdp, 1e-4).v, v_opt, atol=T * 1e-4 * (math.log(4) + 20))


# ------------------------------------------------------------------------- infinite horizon


@pytest.mark.parametrize("transition_rewards", [False, True])
def test_infinite_horizon_fixed_point(rng, transition_rewards):
    P, R, p0 = random_mdp(rng, S=7, A=3, transition_rewards=transition_rewards, sparsity=0.4)
    alpha, gamma = 0.5, 0.9
    mdp = TabularMDP(P, R, p0)
    va = soft_value_iteration(mdp, alpha, gamma=gamma, horizon=None, tol=1e-13)
    assert va.converged and va.horizon is None
    assert va.v.shape == (7,) and va.q.shape == (7, 3) and va.policy.shape == (7, 3)
    # Residual of the soft Bellman equation, written out densely here.
    Rsa = R if R.ndim == 2 else (P * R).sum(axis=2)
    q = Rsa + gamma * P @ va.v
    np.testing.assert_allclose(va.v, alpha * logsumexp(q / alpha, axis=1), atol=1e-10)
    # Policy evaluation by a linear solve gives the same V (the fixed point is self-consistent).
    pi = va.policy
    r_pi = (pi * (Rsa - alpha * np.log(pi))).sum(axis=1)
    P_pi = np.einsum("sa,sat->st", pi, P)
    v_lin = np.linalg.solve(np.eye(7) - gamma * P_pi, r_pi)
    np.testing.assert_allclose(va.v, v_lin, atol=1e-9)
    np.testing.assert_allclose(evaluate_policy(mdp, va, alpha=alpha, gamma=gamma), v_lin, atol=1e-9)
    # Exact: fixed point of V = alpha lse_a[(log E exp((r + gamma V')/alpha))] (a gamma-contraction).
    ex = exact_inference(mdp, alpha, horizon=None, gamma=gamma, tol=1e-13)
    Rsas = R if R.ndim == 3 else np.repeat(R[:, :, None], 7, axis=2)
    with np.errstate(divide="ignore"):
        qe = alpha * logsumexp(np.log(P) + (Rsas + gamma * ex.v[None, None, :]) / alpha, axis=2)
    np.testing.assert_allclose(ex.v, alpha * logsumexp(qe / alpha, axis=1), atol=1e-10)
    # The long finite horizon converges to the stationary solution.
    fin = soft_value_iteration(mdp, alpha, gamma=gamma, horizon=400)
    np.testing.assert_allclose(fin.v[0], va.v, atol=1e-8)


def test_infinite_horizon_nonconvergence_warns(rng):
    P, R, p0 = random_mdp(rng)
    mdp = TabularMDP(P, R, p0)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        sol = soft_value_iteration(mdp, 1.0, gamma=0.99, horizon=None, max_iter=3)
    assert not sol.converged and sol.n_iter == 3


# ---------------------------------------------------------------- representations and messages


def test_sparse_equals_dense(rng):
    S, A, T = 9, 4, 6
    P, R, p0 = random_mdp(rng, S, A, transition_rewards=True, sparsity=0.6)
    dense = TabularMDP(P, R, p0, T)
    Psp = sp.csr_matrix(P.reshape(S * A, S))
    sparse = TabularMDP(Psp, sp.csr_matrix(R.reshape(S * A, S) * (P.reshape(S * A, S) > 0)), p0, T)
    coo = TabularMDP(sp.coo_matrix(Psp), R, p0, T)
    for alpha in (0.2, 1.0):
        for solver in (exact_inference, soft_value_iteration):
            ref = solver(dense, alpha)
            for other in (sparse, coo):
                sol = solver(other, alpha)
                np.testing.assert_allclose(sol.q, ref.q, rtol=1e-13, atol=1e-13)
                np.testing.assert_allclose(sol.policy, ref.policy, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(forward_backward(sparse, alpha).marginals, forward_backward(dense, alpha).marginals, atol=1e-13)


def test_forward_messages_sum_to_one_and_match_dense_rollout(rng):
    S, A, T = 8, 3, 10
    P, R, p0 = random_mdp(rng, S, A, sparsity=0.5)
    mdp = TabularMDP(P, R, p0, T)
    va = soft_value_iteration(mdp, 0.5)
    d = forward_messages(mdp, va)
    assert d.shape == (T + 1, S)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, atol=1e-14)
    ref = [p0]
    for t in range(T):
        ref.append(np.einsum("s,sa,sat->t", ref[-1], va.policy[t], P))
    np.testing.assert_allclose(d, np.array(ref), atol=1e-14)
    np.testing.assert_allclose(forward_messages(mdp, va.policy), d, atol=1e-15)
    # A stationary policy needs a horizon from somewhere; here the model's.
    stat = forward_messages(mdp, va.policy[0])
    assert stat.shape == (T + 1, S) and np.allclose(stat.sum(axis=1), 1.0)
    assert np.all(d >= 0)


def test_lazy_q_equals_kept_q(rng):
    P, R, p0 = random_mdp(rng, S=5, A=3, transition_rewards=True)
    mdp = TabularMDP(P, R, p0, 4)
    for solver in (exact_inference, soft_value_iteration):
        kept = solver(mdp, 0.7, keep_q=True)
        lazy = solver(mdp, 0.7, keep_q=False)
        assert lazy._q is None
        np.testing.assert_array_equal(lazy.v, kept.v)
        np.testing.assert_allclose(lazy.q, kept.q, rtol=1e-15)
        np.testing.assert_allclose(lazy.policy_at(2), kept.policy[2], rtol=1e-14)
        np.testing.assert_allclose(forward_messages(mdp, lazy), forward_messages(mdp, kept), atol=1e-15)


def test_action_prior_adds_alpha_log_prior_to_the_reward(rng):
    P, R, p0 = random_mdp(rng, S=4, A=3)
    prior = rng.dirichlet(np.ones(3), size=4)
    alpha = 0.6
    with_prior = TabularMDP(P, R, p0, 5, action_prior=prior)
    shifted = TabularMDP(P, R + alpha * np.log(prior), p0, 5)
    for solver in (exact_inference, soft_value_iteration):
        np.testing.assert_allclose(solver(with_prior, alpha).q, solver(shifted, alpha).q, rtol=1e-12)
    # A uniform normalised prior lowers V by alpha*log(A) per remaining step.
    uni = TabularMDP(P, R, p0, 5, action_prior=np.full(3, 1 / 3))
    base = TabularMDP(P, R, p0, 5)
    steps = np.arange(5, 0, -1)[:, None]
    np.testing.assert_allclose(
        soft_value_iteration(uni, alpha).v, soft_value_iteration(base, alpha).v - steps * alpha * math.log(3), rtol=1e-12
    )


def test_terminal_states_have_zero_value(rng):
    P, R, p0 = random_mdp(rng, S=4, A=2)
    P[3] = 0.0
    P[3, :, 3] = 1.0
    R[3] = 5.0  # ignored: the episode is over
    mask = np.array([False, False, False, True])
    mdp = TabularMDP(P, R, p0, terminal_states=mask, terminal_reward=np.full(4, 2.0))
    sol = soft_value_iteration(mdp, 0.5, gamma=0.9, horizon=None)
    assert sol.v[3] == pytest.approx(0.0, abs=1e-12)
    # Same as a TD target with a (1 - done) mask on the transitions into state 3.
    Pm = P[:3, :, :3]
    q = R[:3] + 0.9 * Pm @ sol.v[:3]
    np.testing.assert_allclose(sol.v[:3], 0.5 * logsumexp(q / 0.5, axis=1), atol=1e-9)
    fin = exact_inference(mdp, 0.5, horizon=4)
    np.testing.assert_allclose(fin.v[:, 3], 0.0, atol=1e-12)
    P[3, 1] = [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(InvalidMDPError, match="terminal state 3 must be absorbing"):
        TabularMDP(P, R, p0, terminal_states=mask)


# ----------------------------------------------------------------------------- environments


def test_reaching_two_cones():
    env = gym.make("ReachingGridworld-v0")
    mdp = TabularMDP.from_env(env)
    assert mdp.horizon == 30 and np.any(mdp.terminal_reward != 0)
    fb = forward_backward(mdp, 1.0)
    h = marginal_entropy(fb.marginals)
    T = mdp.horizon
    peak = int(np.argmax(h))
    assert 0.3 * T <= peak <= 0.7 * T
    assert h[0] == 0.0  # the start is known
    assert h[peak] > h[0] + 2.0 and h[peak] > h[-1] + 2.0
    # Rises to the peak, falls after it.
    assert np.all(np.diff(h[: peak + 1]) > -1e-9) and np.all(np.diff(h[peak:]) < 1e-9)
    # The forward cone widens, the backward cone narrows toward the goal.
    hf, hb = marginal_entropy(fb.forward), marginal_entropy(fb.backward)
    assert np.all(np.diff(hf) > -1e-9) and hb[-1] < hb[0]
    np.testing.assert_allclose(fb.marginals.sum(axis=1), 1.0, atol=1e-12)


def test_marginal_entropy_closed_forms():
    """Entropy in nats of each row (time step) of a (T, S) array: uniform over S states -> log S,
    a point mass -> 0, uniform over k of the S states -> log k, and a two-point (p, 1 - p) row ->
    the binary entropy written out."""
    S = 6
    p = 0.2
    rows = np.zeros((5, S))
    rows[0] = 1.0 / S
    rows[1, 4] = 1.0
    rows[2, :3] = 1.0 / 3
    rows[3, [0, 5]] = [p, 1 - p]
    rows[4, 0] = 1.0
    h = marginal_entropy(rows)
    assert h.shape == (5,)
    binary = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    np.testing.assert_allclose(h, [math.log(S), 0.0, math.log(3), binary, 0.0], atol=1e-12)


def test_reaching_slip_exact_differs_from_variational():
    mdp = TabularMDP.from_env(gym.make("ReachingGridworld-v0", p_slip=0.2))
    ex, va = exact_inference(mdp, 1.0), soft_value_iteration(mdp, 1.0)
    s0 = int(np.argmax(mdp.initial_state_dist))
    assert ex.v[0, s0] > va.v[0, s0] + 1.0
    assert np.max(np.abs(ex.policy - va.policy)) > 0.05
    # Executed in the real dynamics, the optimistic policy earns a lower soft return.
    assert evaluate_policy(mdp, ex, alpha=1.0)[0, s0] < evaluate_policy(mdp, va, alpha=1.0)[0, s0] - 1.0


def test_reaching_sparse_builder_matches_env():
    from sb3_softopt.envs.reaching import build_reaching_model

    env = gym.make("ReachingGridworld-v0", p_slip=0.1)
    m = build_reaching_model(p_slip=0.1)
    a = TabularMDP.from_env(env)
    b = TabularMDP(m.transition, m.reward, m.initial_state_dist, 30, terminal_reward=m.terminal_reward)
    dense = TabularMDP(env.unwrapped.transition_matrix, env.unwrapped.reward_matrix, m.initial_state_dist, 30,
                       terminal_reward=m.terminal_reward)
    for other in (b, dense):
        np.testing.assert_allclose(soft_value_iteration(other, 1.0).v, soft_value_iteration(a, 1.0).v, rtol=1e-13)


def test_large_rewards_no_overflow(rng):
    P, R, p0 = random_mdp(rng, S=6, A=3, transition_rewards=True, reward_scale=1e5)
    mdp = TabularMDP(P, R, p0, 5, terminal_reward=rng.normal(size=6) * 1e5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha in (1e-2, 1.0):
            ex, va = exact_inference(mdp, alpha), soft_value_iteration(mdp, alpha)
            fb = forward_backward(mdp, alpha)
            d = forward_messages(mdp, ex, dynamics="posterior")
            for arr in (ex.q, ex.v, ex.policy, va.q, va.policy, fb.marginals, d):
                assert np.all(np.isfinite(arr))
            np.testing.assert_allclose(ex.policy.sum(axis=2), 1.0, atol=1e-12)
            np.testing.assert_allclose(fb.marginals, d, atol=1e-9)


def test_result_object_fields(rng):
    P, R, p0 = random_mdp(rng)
    sol = soft_value_iteration(TabularMDP(P, R, p0, 3), alpha=0.5, gamma=0.95)
    assert isinstance(sol, SoftSolution)
    assert (sol.alpha, sol.gamma, sol.horizon, sol.converged, sol.n_iter) == (0.5, 0.95, 3, True, 3)
    np.testing.assert_allclose(np.exp(sol.log_policy), sol.policy)
    np.testing.assert_allclose(sol.v, 0.5 * logsumexp(sol.q / 0.5, axis=2), rtol=1e-13)
    assert "variational" in repr(sol)
    with pytest.raises(ValueError, match="t must be an integer"):
        sol.q_at(3)


# ------------------------------------------------------------------------------------ errors


def _ok(rng=np.random.default_rng(0)):
    P, R, p0 = random_mdp(rng)
    return P, R, p0


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda P, R, p0: (P * 1.1, R, p0), r"row \(s=0, a=0\) sums to"),
        (lambda P, R, p0: (np.where(np.arange(3) == 0, -0.2, P) + np.where(np.arange(3) == 1, 0.2, 0), R, p0), "negative probability"),
        (lambda P, R, p0: (P[:, :, :2], R, p0), r"shape \(S, A, S\)"),
        (lambda P, R, p0: (P, R[:2], p0), "rewards must have shape"),
        (lambda P, R, p0: (P, np.where(np.eye(3, 2) > 0, np.nan, R), p0), "rewards contain nan at"),
        (lambda P, R, p0: (P, R, p0[:2]), "initial_state_dist must have shape"),
        (lambda P, R, p0: (P, R, p0 * 2), "initial_state_dist must sum to 1"),
        (lambda P, R, p0: (np.full((3, 2, 3), np.nan), R, p0), "NaN or inf"),
    ],
)
def test_invalid_models(mutate, match):
    P, R, p0 = mutate(*_ok())
    with pytest.raises(InvalidMDPError, match=match):
        TabularMDP(P, R, p0)


def test_invalid_sparse_and_other_arguments():
    P, R, p0 = _ok()
    with pytest.raises(InvalidMDPError, match="multiple of S"):
        TabularMDP(sp.csr_matrix(np.ones((5, 3)) / 3), R, p0)
    with pytest.raises(InvalidMDPError, match="sparse rewards must have the shape"):
        TabularMDP(sp.csr_matrix(P.reshape(6, 3)), sp.csr_matrix(np.ones((3, 3))), p0)
    with pytest.raises(InvalidMDPError, match="terminal_reward must have shape"):
        TabularMDP(P, R, p0, terminal_reward=np.zeros(2))
    with pytest.raises(InvalidMDPError, match="action_prior row of state 0"):
        TabularMDP(P, R, p0, action_prior=np.ones((3, 2)))
    with pytest.raises(InvalidMDPError, match="horizon must be an integer >= 1"):
        TabularMDP(P, R, p0, horizon=0)
    with pytest.raises(TypeError, match="horizon must be an integer >= 1"):
        TabularMDP(P, R, p0, horizon=2.5)
    with pytest.raises(TypeError, match="does not expose a tabular model"):
        TabularMDP.from_env(gym.make("CartPole-v1"))


@pytest.mark.parametrize("solver", [soft_value_iteration, exact_inference])
def test_invalid_solver_arguments(solver):
    P, R, p0 = _ok()
    mdp = TabularMDP(P, R, p0, 3)
    for alpha in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidMDPError, match="alpha must be a finite number > 0"):
            solver(mdp, alpha=alpha)
    with pytest.raises(TypeError, match="alpha must be a finite number > 0"):
        solver(mdp, alpha="1")
    for gamma in (0.0, 1.5, -0.1):
        with pytest.raises(InvalidMDPError, match=r"gamma must be a number in \(0, 1\]"):
            solver(mdp, alpha=1.0, gamma=gamma)
    with pytest.raises(InvalidMDPError, match="gamma=1 with an infinite horizon"):
        solver(mdp, alpha=1.0, gamma=1.0, horizon=None)
    with pytest.raises(InvalidMDPError, match="max_iter"):
        solver(mdp, alpha=1.0, gamma=0.5, horizon=None, max_iter=0)
    with pytest.raises(TypeError, match="mdp must be a TabularMDP"):
        solver(P, alpha=1.0)


def test_invalid_message_arguments():
    P, R, p0 = _ok()
    mdp = TabularMDP(P, R, p0, 3)
    va = soft_value_iteration(mdp, 1.0)
    with pytest.raises(InvalidMDPError, match="dynamics='posterior' needs"):
        forward_messages(mdp, va, dynamics="posterior")
    with pytest.raises(InvalidMDPError, match="dynamics must be"):
        forward_messages(mdp, va, dynamics="imagined")
    with pytest.raises(InvalidMDPError, match="policy rows must sum to 1"):
        forward_messages(mdp, np.ones((3, 2)))
    with pytest.raises(InvalidMDPError, match="policy must have shape"):
        forward_messages(mdp, np.ones(3))
    with pytest.raises(InvalidMDPError, match="horizon=5 does not match"):
        forward_messages(mdp, va.policy, horizon=5)
    with pytest.raises(InvalidMDPError, match="needs a finite horizon"):
        forward_messages(TabularMDP(P, R, p0), va.policy[0])
    with pytest.raises(InvalidMDPError, match="method must be"):
        state_marginals(mdp, 1.0, method="mean-field")
    with pytest.raises(InvalidMDPError, match="forward_backward needs a finite horizon"):
        forward_backward(TabularMDP(P, R, p0), 1.0)


@pytest.mark.parametrize("transition_rewards", [False, True])
def test_forward_support_path_equals_full_path(rng, monkeypatch, transition_rewards):
    """forward_messages only computes the rows of states with d_t > 0 while the support is small."""
    import sb3_softopt.inference.messages as messages

    S, A, T = 12, 3, 6
    P, R, _ = random_mdp(rng, S, A, transition_rewards, sparsity=0.85)
    mdp = TabularMDP(P, R, np.eye(S)[0], T, action_prior=rng.dirichlet(np.ones(A), size=S))
    ex, va = exact_inference(mdp, 0.5, keep_q=False), soft_value_iteration(mdp, 0.5, keep_q=False)
    cases = [(va, "true"), (ex, "true"), (ex, "posterior"), (va.policy, "true")]
    monkeypatch.setattr(messages, "SUPPORT_MIN_STATES", 1)
    monkeypatch.setattr(messages, "SUPPORT_FRACTION", 1.0)
    restricted = [forward_messages(mdp, pol, dynamics=dyn) for pol, dyn in cases]
    monkeypatch.setattr(messages, "SUPPORT_FRACTION", 0.0)
    full = [forward_messages(mdp, pol, dynamics=dyn) for pol, dyn in cases]
    for a, b in zip(restricted, full):
        np.testing.assert_allclose(a, b, atol=1e-15)
    np.testing.assert_allclose(full[2], forward_backward(mdp, 0.5).marginals, atol=1e-12)


def test_from_env_uses_the_sparse_model_of_a_large_grid():
    # A dense (S, A, S') model of this grid would need 64 GB; from_env must not build it.
    mdp = TabularMDP.from_env(gym.make("ReachingGridworld-v0", width=200, height=200))
    assert mdp.P.shape == (200 * 200 * 5, 200 * 200)
