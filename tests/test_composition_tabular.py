"""Exact checks of soft Q-function composition (sb3_softopt.inference.composition) against soft value
iteration of the combined task: Haarnoja et al. 2018's bounds, Hunt et al. 2019's divergence
correction, van Niekerk et al. 2019's OR composition (exact for deterministic goal reaching, not in
general), and the argument checks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from mdp_oracles import random_mdp

import sb3_softopt  # noqa: F401  registers the environments
from sb3_softopt.inference import TabularMDP, exact_inference, soft_value_iteration
from sb3_softopt.inference.composition import (
    and_bounds,
    combined_task,
    compose,
    compose_q,
    composition_gap,
    divergence_correction,
)
from sb3_softopt.inference.mdp import InvalidMDPError

#: Tolerance of "exact": float64 solves to tol 1e-12 of values of order 10.
EXACT = 1e-8


def _random_pair(rng, S, A, horizon, transition_rewards=False, sparsity=0.0, scale=1.0):
    P, R1, p0 = random_mdp(rng, S=S, A=A, transition_rewards=transition_rewards, sparsity=sparsity, reward_scale=scale)
    R2 = rng.normal(size=R1.shape) * scale
    m1 = TabularMDP(P, R1, p0, horizon, terminal_reward=rng.normal(size=S) if horizon else None)
    m2 = m1.with_rewards(R2, terminal_reward=rng.normal(size=S) if horizon else None)
    return m1, m2


CASES = [
    # (S, A, horizon, gamma, alpha, transition rewards, sparsity, reward scale)
    (5, 2, None, 0.9, 1.0, False, 0.0, 1.0),
    (8, 4, None, 0.95, 0.3, True, 0.5, 2.0),
    (6, 3, 12, 1.0, 0.5, False, 0.3, 1.0),
    (10, 5, 7, 0.9, 2.0, True, 0.0, 3.0),
    (4, 2, None, 0.5, 0.1, False, 0.6, 1.0),
]


@pytest.mark.parametrize("case", CASES)
def test_and_bounds_hold_on_random_mdps(case):
    S, A, horizon, gamma, alpha, tr, sparsity, scale = case
    rng = np.random.default_rng(S * 100 + A)
    for _ in range(8):
        tasks = _random_pair(rng, S, A, horizon, tr, sparsity, scale)
        gap = composition_gap(tasks, alpha, gamma=gamma)
        upper, lower = and_bounds(gap.constituents)
        q_star = np.asarray(gap.optimal.q)
        np.testing.assert_allclose(upper, gap.composed.q, atol=1e-12)
        assert np.all(q_star <= upper + EXACT), "Q_Sigma >= Q*_C (upper bound)"
        assert np.all(q_star >= lower - EXACT), "Q*_C >= Q_Sigma - C* (lower bound)"
        # Not vacuous: the composition is not exact on these tasks, and the bound is informative.
        assert np.max(upper - q_star) > 1e-3
        assert gap.regret >= -EXACT


def test_and_bounds_nearly_tight():
    rng = np.random.default_rng(3)
    # Upper bound: rewards differing by a constant give equal policies (delta = 0), so Q_Sigma = Q*_C;
    # a small perturbation eps leaves a gap that vanishes with eps (second order in the policies).
    P, R, p0 = random_mdp(rng, S=6, A=3)
    base = TabularMDP(P, R, p0)
    noise = rng.normal(size=R.shape)
    widths = []
    for eps in (0.0, 1e-2, 1e-3):
        tasks = [base, base.with_rewards(R + 2.0 + eps * noise)]
        gap = composition_gap(tasks, 1.0, gamma=0.9, horizon=None)
        upper, lower = and_bounds(gap.constituents)
        q_star = np.asarray(gap.optimal.q)
        assert np.all(q_star <= upper + EXACT) and np.all(q_star >= lower - EXACT)
        widths.append(float(np.max(upper - lower)))
    assert widths[0] < 1e-9
    assert widths[2] < widths[1] / 50  # quadratic in eps
    # Lower bound: with action-independent dynamics C* does not depend on a' and the max in its
    # recursion is attained: Q*_C = Q_Sigma - C* exactly, however different the policies are.
    for _ in range(5):
        P, R1, p0 = random_mdp(rng, S=7, A=4)
        P[:] = P[:, :1, :]
        tasks = [TabularMDP(P, R1, p0), TabularMDP(P, 3 * rng.normal(size=R1.shape), p0)]
        gap = composition_gap(tasks, 0.5, gamma=0.8, horizon=None)
        upper, lower = and_bounds(gap.constituents)
        np.testing.assert_allclose(lower, gap.optimal.q, atol=EXACT)
        assert np.max(upper - lower) > 0.1


def test_paper_statement_with_renyi_divergence_also_holds():
    # Lemma 1 uses D_1/2(pi_1 || pi_2) = -2 log sum sqrt(pi_1 pi_2) = (2 / alpha) delta: the fixed
    # point is linear in the divergence, so its C is 2 C* at alpha = 1, a looser but valid bound.
    rng = np.random.default_rng(11)
    tasks = _random_pair(rng, 6, 3, None)
    gap = composition_gap(tasks, 1.0, gamma=0.9, horizon=None)
    upper, lower = and_bounds(gap.constituents)
    p1, p2 = (np.asarray(s.policy) for s in gap.constituents)
    d_half = -2.0 * np.log(np.sum(np.sqrt(p1 * p2), axis=1))
    c = np.zeros_like(upper)
    for _ in range(2000):
        c = 0.9 * (tasks[0].P @ (d_half + c.max(axis=1))).reshape(c.shape)
    np.testing.assert_allclose(c, 2.0 * (upper - lower), atol=1e-9)
    assert np.all(gap.optimal.q >= upper - c - EXACT)


@pytest.mark.parametrize("horizon", [None, 9])
def test_divergence_correction_recovers_the_optimum(horizon):
    rng = np.random.default_rng(5)
    for n in (2, 3):
        for _ in range(4):
            P, _, p0 = random_mdp(rng, S=7, A=3, sparsity=0.4)
            tasks = [TabularMDP(P, rng.normal(size=(7, 3)) * 2, p0, horizon) for _ in range(n)]
            w = rng.dirichlet(np.ones(n))
            gap = composition_gap(tasks, 0.7, w, gamma=0.9, horizon=horizon)
            corrected = gap.composed.q + divergence_correction(gap.constituents, w)
            np.testing.assert_allclose(corrected, gap.optimal.q, atol=EXACT)
            assert gap.max_q_gap > 1e-3  # the uncorrected composition is off


def _goal_reaching(rng, S=9, A=3, goals=(0, 1), horizon=25, stochastic=False):
    """Random dynamics with absorbing goals; two tasks differ only in the rewards for entering them."""
    if stochastic:
        P, _, _ = random_mdp(rng, S=S, A=A, sparsity=0.5)
    else:
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(S, size=(S, A))] = 1.0
    P[list(goals)] = 0.0
    for g in goals:
        P[g, :, g] = 1.0
    term = np.zeros(S, dtype=bool)
    term[list(goals)] = True
    running = np.broadcast_to(0.3 * rng.normal(size=(S, A))[:, :, None], (S, A, S)).copy()
    r1, r2 = running.copy(), running.copy()
    r1[:, :, goals[0]] += 2.0
    r1[:, :, goals[1]] -= 1.0
    r2[:, :, goals[1]] += 3.0
    m1 = TabularMDP(P, r1, None, horizon, terminal_states=term)
    return m1, m1.with_rewards(r2)


def test_or_exact_on_deterministic_goal_reaching():
    rng = np.random.default_rng(7)
    for weights in (None, [1.0, 1.0], [0.2, 3.0]):
        for _ in range(4):
            tasks = _goal_reaching(rng)
            gap = composition_gap(tasks, 0.5, weights, mode="or")
            assert gap.max_q_gap < EXACT and gap.max_kl < EXACT
            assert abs(gap.regret) < EXACT


def test_or_not_exact_in_general():
    rng = np.random.default_rng(8)
    # Stochastic dynamics: E exp(V'/alpha) is linear in exp(V'/alpha), exp(E V'/alpha) is not.
    tasks = _goal_reaching(rng, stochastic=True)
    gap = composition_gap(tasks, 0.5, mode="or")
    assert gap.max_q_gap > 0.05 and gap.regret > 1e-4
    # The optimistic (exact-inference) backup keeps the linearity: there OR composition is exact.
    sols = [exact_inference(t, 0.5) for t in tasks]
    q_or = compose_q([s.q for s in sols], mode="or", alpha=0.5)
    live = ~tasks[0].terminal_states
    np.testing.assert_allclose(q_or[:, live], exact_inference(combined_task(tasks, mode="or", alpha=0.5), 0.5).q[:, live], atol=EXACT)
    # Deterministic but discounted: exp(gamma V'/alpha) is not linear either.
    det = _goal_reaching(rng)
    assert composition_gap(det, 0.5, mode="or", gamma=0.9).max_q_gap > 1e-2


@pytest.mark.parametrize("p_slip", [0.0, 0.2])
def test_reaching_grid_with_two_goals(p_slip):
    def task(goal):
        return TabularMDP.from_env(gym.make("ReachingGridworld-v0", goal=goal, p_slip=p_slip))

    tasks = [task((19, 2)), task((19, 8))]
    or_gap = composition_gap(tasks, 1.0, mode="or")
    if p_slip == 0.0:
        assert or_gap.max_q_gap < EXACT and or_gap.max_kl < EXACT
    else:
        assert or_gap.max_q_gap > 1e-3
    and_gap = composition_gap(tasks, 1.0)
    upper, lower = and_bounds(and_gap.constituents)
    q_star = np.asarray(and_gap.optimal.q)
    assert np.all(q_star <= upper + EXACT) and np.all(q_star >= lower - EXACT)
    corrected = and_gap.composed.q + divergence_correction(and_gap.constituents)
    np.testing.assert_allclose(corrected, q_star, atol=EXACT)
    assert 0 < and_gap.regret


def test_compose_q_is_overflow_safe_and_matches_closed_forms():
    q1, q2 = np.array([[1e4, 0.0]]), np.array([[0.0, 1e4]])
    np.testing.assert_allclose(compose_q([q1, q2], [0.25, 0.75]), [[2500.0, 7500.0]])
    out = compose_q([q1, q2], [1.0, 1.0], mode="or", alpha=1.0)
    np.testing.assert_allclose(out, [[1e4, 1e4]])
    np.testing.assert_allclose(compose_q([q1, q1], mode="or", alpha=2.0), q1)


def test_compose_matches_soft_value_iteration_solutions():
    rng = np.random.default_rng(2)
    m1, m2 = _random_pair(rng, 5, 3, 6)
    s1, s2 = soft_value_iteration(m1, 0.5), soft_value_iteration(m2, 0.5)
    c = compose([s1, s2], [0.3, 0.7])
    np.testing.assert_allclose(c.q, 0.3 * s1.q + 0.7 * s2.q)
    np.testing.assert_allclose(c.policy.sum(axis=-1), 1.0)
    assert c.policy.shape == (6, 5, 3) and c.mode == "and" and c.horizon == 6


def test_bad_inputs_name_the_parameter():
    rng = np.random.default_rng(4)
    m1, m2 = _random_pair(rng, 5, 3, 6)
    s1, s2 = soft_value_iteration(m1, 0.5), soft_value_iteration(m2, 0.5)
    for weights, match in [
        ([1.0], "one entry per constituent"),
        ([0.5, -0.5], r"weights must be >= 0"),
        ([np.nan, 1.0], "finite"),
        ([np.inf, 1.0], "finite"),
        ([0.0, 0.0], "not all be 0"),
        ("ab", "weights must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            compose([s1, s2], weights)
    with pytest.raises(ValueError, match="sum to 1"):
        and_bounds([s1, s2], [1.0, 1.0])
    with pytest.raises(ValueError, match="sum to 1"):
        divergence_correction([s1, s2], [0.2, 0.2])
    with pytest.raises(ValueError, match=r"solutions\[1\].alpha"):
        compose([s1, soft_value_iteration(m2, 1.0)])
    with pytest.raises(ValueError, match=r"solutions\[1\].gamma"):
        compose([s1, soft_value_iteration(m2, 0.5, gamma=0.9)])
    with pytest.raises(ValueError, match=r"solutions\[1\].horizon"):
        compose([s1, soft_value_iteration(m2, 0.5, horizon=4)])
    other = _random_pair(rng, 5, 3, 6)[0]
    with pytest.raises(ValueError, match="share the dynamics"):
        compose([s1, soft_value_iteration(other, 0.5)])
    small = _random_pair(rng, 4, 3, 6)[0]
    with pytest.raises(ValueError, match=r"\(S, A\)"):
        composition_gap([m1, small])
    with pytest.raises(ValueError, match="shapes must match"):
        compose_q([np.zeros((2, 3)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match="mode must be one of"):
        compose([s1, s2], mode="xor")
    with pytest.raises(ValueError, match="differ only on the boundary"):
        composition_gap([m1, m2], mode="or")
    with pytest.raises(ValueError, match="alpha is required"):
        combined_task([m1, m2], mode="or")
    with pytest.raises(ValueError, match="exact_inference on stochastic"):
        compose([exact_inference(m1, 0.5), exact_inference(m2, 0.5)])
    with pytest.raises(ValueError, match="alpha must be"):
        composition_gap([m1, m2], alpha=-1.0)
    with pytest.raises(ValueError, match="non-empty sequence"):
        compose([])
    with pytest.raises(TypeError, match="SoftSolution"):
        compose([s1, np.zeros((5, 3))])


def test_tasks_with_rewards_in_different_forms():
    # r(s, a) for one task and r(s, a, s') for the other: combined at the transitions' non-zeros.
    rng = np.random.default_rng(9)
    m1, m2 = _goal_reaching(rng)
    # deterministic dynamics: r(s, a) = E_{s'} r(s, a, s') is the same task
    m1_sa = m1.with_rewards(m1.r_sa)
    gap = composition_gap([m1_sa, m2], 0.5, mode="or")
    assert gap.max_q_gap < EXACT
    P, R, p0 = random_mdp(rng, S=5, A=2)
    R2 = rng.normal(size=(5, 2, 5))
    a, b = TabularMDP(P, R, p0), TabularMDP(P, R2, p0)
    mixed = composition_gap([a, b], 0.7, gamma=0.9, horizon=None)
    dense = soft_value_iteration(TabularMDP(P, 0.5 * R[:, :, None] + 0.5 * R2, p0), 0.7, gamma=0.9, horizon=None)
    np.testing.assert_allclose(mixed.optimal.q, dense.q, atol=EXACT)
