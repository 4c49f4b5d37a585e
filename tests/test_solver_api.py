"""The solvers' calling convention (everything after ``alpha`` keyword-only) and the two readings
of a discount in the exact backup that ``exact_inference``'s docstring describes (#17)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.special import logsumexp

from sb3_softopt.inference import TabularMDP, exact_inference, forward_backward, soft_value_iteration, state_marginals


@pytest.mark.parametrize("solver", [soft_value_iteration, exact_inference, forward_backward, state_marginals])
def test_everything_after_alpha_is_keyword_only(solver):
    params = list(inspect.signature(solver).parameters.values())
    assert [p.name for p in params[:2]] == ["mdp", "alpha"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:])


def test_a_positional_horizon_or_gamma_is_refused():
    mdp = TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), horizon=3)
    # exact_inference(mdp, a, 1) used to mean horizon 1, soft_value_iteration(mdp, a, 1) gamma 1.
    with pytest.raises(TypeError):
        exact_inference(mdp, 1.0, 1)
    with pytest.raises(TypeError):
        soft_value_iteration(mdp, 1.0, 1)


def _random_model(seed: int, S: int = 4, A: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(S), size=(S, A)), rng.normal(size=(S, A))


@pytest.mark.parametrize("seed", [0, 1])
def test_discount_inside_the_exponential(seed):
    P, r = _random_model(seed)
    alpha, gamma, T = 0.7, 0.8, 6
    v = np.zeros(P.shape[0])
    for _ in range(T):
        q = r + alpha * np.log(P @ np.exp(gamma * v / alpha))
        v = alpha * logsumexp(q / alpha, axis=1)
    np.testing.assert_allclose(exact_inference(TabularMDP(P, r), alpha, gamma=gamma, horizon=T).v[0], v, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_discount_as_termination_through_an_absorbing_state(seed):
    P, r = _random_model(seed)
    S, A = r.shape
    alpha, gamma, T = 0.7, 0.8, 6
    # The docstring's alternative: an absorbing zero-value state reached with probability 1 - gamma.
    P2 = np.zeros((S + 1, A, S + 1))
    P2[:S, :, :S] = gamma * P
    P2[:S, :, S] = 1.0 - gamma
    P2[S, :, S] = 1.0
    absorbing = np.zeros(S + 1, dtype=bool)
    absorbing[S] = True
    mdp = TabularMDP(P2, np.vstack([r, np.zeros(A)]), terminal_states=absorbing)
    v = np.zeros(S)
    for _ in range(T):
        q = r + alpha * np.log(gamma * (P @ np.exp(v / alpha)) + (1.0 - gamma))
        v = alpha * logsumexp(q / alpha, axis=1)
    sol = exact_inference(mdp, alpha, horizon=T)
    np.testing.assert_allclose(sol.v[0, :S], v, rtol=1e-12)
    # ... which is a different backup from discounting inside the exponential.
    inside = exact_inference(TabularMDP(P, r), alpha, gamma=gamma, horizon=T).v[0]
    assert np.max(np.abs(inside - v)) > 1e-3
