"""The toolkit's documented paths on large models: lazy per-step arrays, no (T, S, A) temporaries,
the fast exact backup against the row-by-row one, occupancy measures and reward swaps."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from sb3_softopt.inference import (
    InvalidMDPError,
    StepArray,
    TabularMDP,
    evaluate_policy,
    exact_inference,
    forward_backward,
    forward_messages,
    occupancy_measure,
    soft_value_iteration,
    state_marginals,
)
from sb3_softopt.inference.backup import _exact_backup_all, _exact_backup_rows
from mdp_oracles import random_mdp


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def grid_mdp(width: int, horizon: int, p_slip: float = 0.2) -> TabularMDP:
    """A user-built CSR gridworld (uniform start), as in benchmarks/inference.py."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "inference.py"
    spec = importlib.util.spec_from_file_location("bench_inference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    P, R = mod.build_user_gridworld(width, p_slip)
    return TabularMDP(P, R, None, horizon)


# ------------------------------------------------------------------------------- StepArray
@pytest.mark.parametrize("solver", [soft_value_iteration, exact_inference])
def test_step_array_indexing_matches_the_kept_arrays(rng, solver):
    P, R, p0 = random_mdp(rng, S=6, A=3, transition_rewards=True)
    mdp = TabularMDP(P, R, p0, 5, action_prior=rng.dirichlet(np.ones(3), size=6))
    kept, lazy = solver(mdp, 0.7, keep_q=True), solver(mdp, 0.7, keep_q=False)
    assert kept.keeps_q and not lazy.keeps_q
    for name in ("q", "log_policy", "policy"):
        ref, arr = getattr(kept, name), getattr(lazy, name)
        assert isinstance(ref, np.ndarray) and isinstance(arr, StepArray)
        assert arr.shape == ref.shape and len(arr) == 5 and arr.ndim == 3 and arr.dtype == np.float64
        np.testing.assert_allclose(np.asarray(arr), ref, rtol=1e-13, atol=1e-13)
        for key in (2, -1, (3, 4), (3, -2, 1), (slice(1, 4), 2), (slice(None), 1, 2), ([0, 4],), (np.array([1, 3]), 0),
                    (slice(None, None, 2),), (np.arange(5) > 2,)):
            np.testing.assert_allclose(arr[key], ref[key], rtol=1e-13, atol=1e-13, err_msg=f"{name}[{key}]")
        np.testing.assert_allclose(np.stack(list(arr)), ref, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(arr * 2.0 - 1.0, ref * 2.0 - 1.0, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(np.max(arr, axis=2), ref.max(axis=2), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(arr.to_numpy(np.float32), ref.astype(np.float32), rtol=1e-6, atol=1e-6)
        with pytest.raises(IndexError):
            arr[5]
    with pytest.raises(AttributeError, match=r"np.asarray\(x\)"):
        lazy.policy.sum()
    with pytest.raises(TypeError, match="read-only"):
        np.exp(kept.policy, out=lazy.policy)


def test_step_array_is_consumed_one_step_at_a_time(rng):
    P, R, p0 = random_mdp(rng, S=8, A=3)
    mdp = TabularMDP(P, R, p0, 6)
    kept, lazy = soft_value_iteration(mdp, 0.5, keep_q=True), soft_value_iteration(mdp, 0.5, keep_q=False)
    ref = forward_messages(mdp, kept)
    for policy in (lazy, lazy.policy, kept.policy, lazy.policy.to_numpy(), list(map(list, kept.policy))):
        np.testing.assert_allclose(forward_messages(mdp, policy), ref, atol=1e-14)
    np.testing.assert_allclose(forward_messages(mdp, lazy.policy.to_numpy(np.float32)), ref, atol=1e-6)
    np.testing.assert_allclose(evaluate_policy(mdp, lazy.policy, alpha=0.5), evaluate_policy(mdp, kept, alpha=0.5),
                               atol=1e-12)
    for wrong in (lazy.q, lazy.log_policy):
        with pytest.raises(InvalidMDPError, match="not a policy"):
            forward_messages(mdp, wrong)
    with pytest.raises(InvalidMDPError, match="does not match"):
        forward_messages(mdp, lazy.policy, horizon=4)


@pytest.mark.parametrize("bad, match", [
    (np.nan, "finite, non-negative"), (-0.1, "finite, non-negative"), (np.inf, "finite, non-negative"),
    (0.9, "rows must sum to 1; the row at index \\(3, 5\\)"),
])
def test_policy_arrays_are_checked_step_by_step(rng, bad, match):
    P, R, p0 = random_mdp(rng, S=8, A=3)
    mdp = TabularMDP(P, R, p0, 6)
    for dtype in (np.float64, np.float32):
        pi = np.full((6, 8, 3), 1 / 3, dtype=dtype)
        pi[3, 5, 1] = bad
        with pytest.raises(InvalidMDPError, match=match):
            forward_messages(mdp, pi)


def _peak_bytes(fn) -> int:
    fn()  # the model's cached transposes are built once, on first use
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_documented_paths_never_build_a_full_step_array(monkeypatch):
    """Above keep_q's threshold, the README's paths hold O(T*S) arrays plus a few (S, A) steps, and
    materialising the policy allocates the result and a few steps, never a second (T, S, A)."""
    import sb3_softopt.inference.solvers as solvers

    T = 40
    mdp = grid_mdp(60, T)  # S = 3600, A = 5: one (T, S, A) float64 array is 5.8 MB
    S, A = mdp.n_states, mdp.n_actions
    full, step, messages = T * S * A * 8, S * A * 8, (T + 1) * S * 8
    sol = soft_value_iteration(mdp, 1.0, keep_q=False)
    budget = messages + 8 * step
    for name, fn in {
        "forward_messages(mdp, sol)": lambda: forward_messages(mdp, sol),
        "forward_messages(mdp, sol.policy)": lambda: forward_messages(mdp, sol.policy),
        "sol.q[t] / sol.policy[t]": lambda: [(q.max(), p.max()) for q, p in zip(sol.q, sol.policy)],
        "occupancy_measure": lambda: occupancy_measure(mdp, sol),
    }.items():
        peak = _peak_bytes(fn)
        assert peak < budget < full, f"{name}: peak {peak / 2**20:.1f} MB, budget {budget / 2**20:.1f} MB"
    assert _peak_bytes(lambda: sol.policy.to_numpy()) < full + 8 * step
    assert _peak_bytes(lambda: sol.policy.to_numpy(np.float32)) < full // 2 + 8 * step
    # The backward passes and the exact marginals: O(T*S) (V, the messages) plus a few steps.
    two_messages = 2 * messages + 12 * step
    assert _peak_bytes(lambda: soft_value_iteration(mdp, 1.0, keep_q=False)) < messages + 8 * step
    assert _peak_bytes(lambda: exact_inference(mdp, 1.0, keep_q=False)) < messages + 8 * step
    monkeypatch.setattr(solvers, "KEEP_Q_MAX_ENTRIES", 1000)
    assert _peak_bytes(lambda: state_marginals(mdp, 1.0)) < two_messages
    assert _peak_bytes(lambda: state_marginals(mdp, 1.0, method="variational")) < two_messages


# --------------------------------------------------------------------- fast exact backup
@pytest.mark.parametrize("transition_rewards", [False, True])
@pytest.mark.parametrize("scale, alpha", [(1.0, 1.0), (1e4, 1.0), (1e3, 0.01)])
def test_fast_exact_backup_equals_row_by_row(rng, transition_rewards, scale, alpha):
    """The mat-vec backup with one global shift agrees with the per-row log-sum-exp, including
    rows where the shifted terms underflow (rewards of 1e4 at alpha = 1) and redone exactly."""
    P, R, p0 = random_mdp(rng, S=30, A=4, transition_rewards=transition_rewards, sparsity=0.6, reward_scale=scale)
    mdp = TabularMDP(P, R, p0, 3)
    v = rng.normal(size=30) * scale
    v[3] = -np.inf
    for gamma in (1.0, 0.9):
        fast = _exact_backup_all(mdp, v, alpha, gamma)
        indptr, nz = mdp.row_block(np.arange(30))
        slow = _exact_backup_rows(mdp, v, alpha, gamma, indptr, nz, mdp.r_sa)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-9 * max(scale, 1.0))


def test_deterministic_exact_backup_is_the_gather(rng):
    S, A = 20, 3
    P = sp.csr_matrix((np.ones(S * A), rng.integers(0, S, S * A), np.arange(S * A + 1)), shape=(S * A, S))
    R = rng.normal(size=(S, A)) * 1e4
    mdp = TabularMDP(P, R, None, 4)
    assert mdp.deterministic
    v = rng.normal(size=S) * 1e4
    np.testing.assert_allclose(_exact_backup_all(mdp, v, 0.3, 0.9), R + 0.9 * v[mdp.P.indices].reshape(S, A), rtol=1e-15)
    np.testing.assert_allclose(exact_inference(mdp, 0.3).v, soft_value_iteration(mdp, 0.3).v, rtol=1e-13)


def test_forward_backward_underflow_columns_are_exact(rng):
    """Forward messages whose shifted sum underflows are recomputed exactly: the evidence is the
    same at every step and the marginals equal the posterior rollout."""
    P, R, p0 = random_mdp(rng, S=10, A=3, transition_rewards=True, sparsity=0.5, reward_scale=3e3)
    mdp = TabularMDP(P, R, p0, 5)
    fb = forward_backward(mdp, 1.0)
    ev = [np.logaddexp.reduce(fb.log_forward[t] + fb.log_backward[t]) for t in range(6)]
    np.testing.assert_allclose(ev, fb.log_evidence, rtol=1e-12)
    d = forward_messages(mdp, exact_inference(mdp, 1.0), dynamics="posterior")
    np.testing.assert_allclose(fb.marginals, d, atol=1e-9)


# ------------------------------------------------------------------- occupancy and rewards
def test_occupancy_measure_finite_and_infinite(rng):
    P, R, p0 = random_mdp(rng, S=7, A=3, sparsity=0.4)
    mdp = TabularMDP(P, R, p0, 9)
    sol = soft_value_iteration(mdp, 0.8, keep_q=True)
    d = forward_messages(mdp, sol)
    for gamma in (1.0, 0.7):
        ref = np.einsum("t,ts,tsa->sa", gamma ** np.arange(9), d[:-1], sol.policy)
        np.testing.assert_allclose(occupancy_measure(mdp, sol, gamma=gamma), ref, atol=1e-14)
        np.testing.assert_allclose(occupancy_measure(mdp, sol.policy, gamma=gamma), ref, atol=1e-14)
    np.testing.assert_allclose(occupancy_measure(mdp, sol).sum(), 9.0, rtol=1e-13)
    # Infinite horizon: the discounted series, against a long finite rollout of the same policy.
    inf = soft_value_iteration(mdp, 0.8, gamma=0.9, horizon=None)
    rho = occupancy_measure(mdp, inf, gamma=0.9)
    long = occupancy_measure(mdp, np.broadcast_to(inf.policy, (400, 7, 3)), gamma=0.9)
    np.testing.assert_allclose(rho, long, atol=1e-12)
    np.testing.assert_allclose(rho.sum(), 10.0, rtol=1e-12)
    with pytest.raises(InvalidMDPError, match="gamma < 1"):
        occupancy_measure(mdp, inf.policy, horizon=None)


@pytest.mark.parametrize("transition_rewards", [False, True])
def test_with_rewards_equals_a_new_model(rng, transition_rewards):
    P, R, p0 = random_mdp(rng, S=6, A=2, transition_rewards=transition_rewards)
    term = np.zeros(6, dtype=bool)
    P[0] = 0.0
    P[0, :, 0] = 1.0
    term[0] = True
    mdp = TabularMDP(P, R, p0, 4, terminal_states=term)
    exact_inference(mdp, 0.5)  # fills the tilted-transition cache of the old rewards
    R2 = rng.normal(size=R.shape)
    new, ref = mdp.with_rewards(R2), TabularMDP(P, R2, p0, 4, terminal_states=term)
    assert new.P is mdp.P
    for solver in (soft_value_iteration, exact_inference):
        np.testing.assert_allclose(solver(new, 0.5).v, solver(ref, 0.5).v, rtol=1e-13)
    np.testing.assert_allclose(exact_inference(mdp, 0.5).v, exact_inference(TabularMDP(P, R, p0, 4, terminal_states=term), 0.5).v)
    with pytest.raises(InvalidMDPError, match="rewards"):
        mdp.with_rewards(np.zeros((5, 2)))


def test_iterative_discounted_solve_equals_the_exact_one(rng, monkeypatch):
    """Large infinite-horizon models use BiCGSTAB (checked) instead of a sparse LU: same answers."""
    import sb3_softopt.inference.evaluation as evaluation

    mdp = grid_mdp(40, None)
    sol = soft_value_iteration(mdp, 1.0, gamma=0.95, horizon=None)
    exact_rho, exact_v = occupancy_measure(mdp, sol, gamma=0.95), evaluate_policy(mdp, sol, alpha=1.0, gamma=0.95)
    monkeypatch.setattr(evaluation, "ITERATIVE_MIN_STATES", 1)
    rho, v = occupancy_measure(mdp, sol, gamma=0.95), evaluate_policy(mdp, sol, alpha=1.0, gamma=0.95)
    np.testing.assert_allclose(rho, exact_rho, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v, exact_v, rtol=1e-9)
    np.testing.assert_allclose(v, sol.v, rtol=1e-8)  # the soft-optimal policy's soft value is V itself
