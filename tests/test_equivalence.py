"""Soft Q-learning vs entropy-regularised policy gradient against the exact soft policy (lecture 4.3)."""

import json

import numpy as np
import pytest
from scipy.special import logsumexp

from sb3_softopt.experiments.equivalence import (
    MAX_EPISODE_STEPS,
    _make_agent,
    KLTracker,
    exact_reference,
    make_env,
    policy_log_probs,
    run,
    weighted_kl,
)

ALPHA, GAMMA = 0.5, 0.9


@pytest.fixture(scope="module")
def ref():
    return exact_reference(make_env(), ALPHA, GAMMA)


def _soft_vi_by_hand(env, alpha, gamma, iters=2000):
    """Independent dense soft value iteration with the goal as a zero-value terminal state."""
    u = env.unwrapped
    P = np.asarray(u.transition_matrix, dtype=np.float64)
    R = np.asarray(u.reward_matrix, dtype=np.float64)
    r_sa = np.einsum("sat,sat->sa", P, R) if R.ndim == 3 else R
    goal = int(u.goal)
    v = np.zeros(P.shape[0])
    for _ in range(iters):
        q = r_sa + gamma * P @ v
        v = alpha * logsumexp(q / alpha, axis=1)
        v[goal] = 0.0
    q = r_sa + gamma * P @ v
    return q / alpha - logsumexp(q / alpha, axis=1, keepdims=True)


def test_exact_reference_matches_independent_soft_value_iteration(ref):
    env = make_env()
    goal = int(env.unwrapped.goal)
    log_pi = _soft_vi_by_hand(env, ALPHA, GAMMA)
    mask = np.arange(ref.n_states) != goal
    np.testing.assert_allclose(ref.log_policy[mask], log_pi[mask], atol=1e-6)
    np.testing.assert_allclose(np.exp(ref.log_policy).sum(1), 1.0)
    assert ref.weights.sum() == pytest.approx(1.0)
    assert ref.weights[goal] == 0.0 and not ref.nonterminal[goal]
    start = int(np.argmax(env.unwrapped.initial_state_dist))
    assert ref.weights[start] == ref.weights.max()  # every episode starts there
    # The soft-optimal policy heads for the goal but stays stochastic.
    pi_start = np.exp(ref.log_policy[start])
    assert pi_start.argmax() == 4 and 0.05 < 1 - pi_start.max() < 0.95


def test_weighted_kl_closed_forms(ref):
    assert weighted_kl(ref, ref.log_policy) == pytest.approx((0.0, 0.0), abs=1e-12)
    A = ref.log_policy.shape[1]
    uniform = np.full_like(ref.log_policy, -np.log(A))
    pi = np.exp(ref.log_policy)
    kl_s = np.log(A) + np.sum(pi * ref.log_policy, axis=1)  # log A - H(pi*(.|s))
    w, u = weighted_kl(ref, uniform)
    assert w == pytest.approx(float(ref.weights @ kl_s))
    assert u == pytest.approx(float(kl_s[ref.nonterminal].mean()))
    assert w > 0.05


def test_bad_solver_parameters_raise():
    with pytest.raises(ValueError, match="gamma"):
        exact_reference(make_env(), ALPHA, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        exact_reference(make_env(), 0.0, GAMMA)
    with pytest.raises(ValueError, match="eval_freq"):
        KLTracker(exact_reference(make_env(), ALPHA, GAMMA), 0)


def test_policy_log_probs_of_both_agents_are_normalised(ref):
    from sb3_softopt import EntropyPPO, SoftDQN

    obs = np.eye(ref.n_states, dtype=np.float32)
    for model in (SoftDQN("MlpPolicy", make_env(), ent_coef=ALPHA), EntropyPPO("MlpPolicy", make_env(), soft_ent_coef=ALPHA)):
        logp = policy_log_probs(model, obs)
        assert logp.shape == ref.log_policy.shape
        np.testing.assert_allclose(np.exp(logp).sum(1), 1.0, atol=1e-5)


def _initial_kl_by_hand(algo: str, ref) -> float:
    import torch as th

    model = _make_agent(algo, make_env(), ALPHA, GAMMA, seed=0)  # run()'s default seed
    obs = th.eye(ref.n_states)
    with th.no_grad():
        if algo == "SoftDQN":
            logits = model.q_net(obs) / ALPHA
        else:
            logits = model.policy.get_distribution(obs).distribution.logits
    log_q = th.log_softmax(logits.double(), dim=1).numpy()
    pi_star = np.exp(ref.log_policy)
    return float(ref.weights @ np.sum(pi_star * (ref.log_policy - log_q), axis=1))


#: Training budget and bounds of the convergence oracle (see _convergence_failures).
EQ_STEPS, EQ_FRACTION, EQ_SOFTDQN_KL = 2500, 0.25, 0.05


def _convergence_failures(s) -> list[str]:
    """Both agents end at most a quarter of their initial KL(pi* || pi) from the exact soft-optimal
    policy, and SoftDQN below 0.05 nats (the experiment's convergence threshold).

    The budget is 2500 steps because SoftDQN's KL is not monotone: its first updates from a small
    replay buffer overshoot (the KL peaks at 1.3-2.7 nats near step 1000) before it falls. At 1500
    steps it was still coming down: "below half the initial KL" held on 12 of seeds 0-15. At 2500
    steps, on seeds 0-15, SoftDQN's KL is 0.002-0.036 nats (at most 8% of the initial 0.27-0.49),
    so both bounds hold with a margin while still requiring convergence, not just progress."""
    failures = []
    for algo in ("SoftDQN", "EntropyPPO"):
        first, last = s["initial_kl"][algo], s["final_kl"][algo]
        if not last <= EQ_FRACTION * first:
            failures.append(f"{algo}: KL {first:.3f} -> {last:.3f}, not below {EQ_FRACTION} x the initial")
    if not s["final_kl"]["SoftDQN"] <= EQ_SOFTDQN_KL:
        failures.append(f"SoftDQN: final KL {s['final_kl']['SoftDQN']:.3f} > {EQ_SOFTDQN_KL}")
    return failures


def test_both_agents_move_toward_the_exact_policy(tmp_out, ref):
    s = run(tmp_out, total_timesteps=EQ_STEPS, eval_freq=250, progress=False)
    for algo in ("SoftDQN", "EntropyPPO"):
        c = s["curves"][algo]
        assert c["steps"][0] == 0 and c["steps"][-1] >= EQ_STEPS  # PPO rounds up to whole rollouts
        # The first point is the untrained agent's KL to the exact policy: rebuild that agent (same
        # seed, same initial weights) and compute KL(pi* || pi_0) from its network by hand.
        assert c["kl"][0] == pytest.approx(_initial_kl_by_hand(algo, ref), rel=1e-5)
        assert c["kl"][0] > 0
    assert not _convergence_failures(s), (_convergence_failures(s), s["curves"])
    assert (tmp_out / "equivalence_kl.png").stat().st_size > 0
    saved = json.loads((tmp_out / "equivalence.json").read_text())
    assert saved["alpha"] == ALPHA and saved["gamma"] == GAMMA and saved["kl_threshold"] == 0.05


@pytest.mark.slow
def test_convergence_oracle_seed_sweep(tmp_path, record_property):
    """The convergence oracle on seeds 0-15: it must hold on at least 15 (reports the pass count)."""
    failures = {}
    for seed in range(16):
        s = run(tmp_path / str(seed), seed=seed, total_timesteps=EQ_STEPS, eval_freq=250, progress=False)
        failures[seed] = _convergence_failures(s)
    passed = sum(not f for f in failures.values())
    record_property("passed_seeds", passed)
    print(f"equivalence convergence oracle: {passed}/16 seeds pass; failures: { {k: f for k, f in failures.items() if f} }")
    assert passed >= 15, failures


def test_visit_weights_equal_a_hand_propagation(ref):
    """The weights come from forward_messages; propagate the state distribution by hand instead."""
    base = make_env().unwrapped
    P = np.asarray(base.transition_matrix, dtype=np.float64)
    P_pi = np.einsum("sa,sat->st", np.exp(ref.log_policy), P)
    p, visits = np.asarray(base.initial_state_dist, dtype=np.float64).copy(), np.zeros(P.shape[0])
    for _ in range(MAX_EPISODE_STEPS):  # mass entering the goal stops there
        p = np.where(~ref.nonterminal, 0.0, p)
        visits += p
        p = p @ P_pi
    np.testing.assert_allclose(ref.weights, visits / visits.sum(), atol=1e-12)
