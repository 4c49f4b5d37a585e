r"""
Maximum (causal) entropy inverse RL on the exact toolkit (Ziebart 2010, chapters 9-10).

The lecture's backward and forward messages, in a loop. With a reward :math:`r_\theta(s, a)` (and,
optionally, a terminal reward :math:`r_{T,\theta}(s)` paid in the state after the last decision),
soft value iteration (:func:`~sb3_softopt.inference.soft_value_iteration`, temperature
:math:`\alpha`, discount :math:`\gamma`) gives the soft-optimal policy
:math:`\pi_{\theta,t}(a|s) = \exp((Q_t(s,a) - V_t(s))/\alpha)`. Maximum causal entropy IRL fits
:math:`\theta` by maximising the log-likelihood of the demonstrations

.. math::  LL(\theta) = \frac1N \sum_i \sum_{t < L_i} \gamma^t \log \pi_{\theta,t}(a^i_t | s^i_t)

(for an occupancy measure: :math:`\sum_t \gamma^t \sum_{s,a} \rho^E_t(s,a) \log \pi_t(a|s)`).
Since :math:`\log \pi_t = (r + \gamma \mathbb{E}_{s'} V_{t+1} - V_t)/\alpha`, the sum telescopes
along a demonstration: :math:`\alpha LL = \mathbb{E}_E[\sum_t \gamma^t r(s_t,a_t) + \gamma^T r_T(s_T)]
- \mathbb{E}_{s_0 \sim p^E_0}[V_0(s_0)]` -- exactly for exact occupancies or deterministic dynamics,
in expectation for trajectories sampled in stochastic dynamics (then the gradient below is that of
the *expected* log-likelihood). The derivative of :math:`V_0` with respect to :math:`r(s, a)` is
the discounted occupancy :math:`\rho^\theta(s,a) = \sum_t \gamma^t d_t(s) \pi_t(a|s)` of the
soft-optimal policy started from the *expert's* start distribution, so

.. math::  \alpha \frac{\partial LL}{\partial r(s,a)} = \rho^E(s,a) - \rho^\theta(s,a), \qquad
           \alpha \frac{\partial LL}{\partial r_T(s)} = \gamma^T (d^E_T(s) - d^\theta_T(s)),

and for a linear reward :math:`r = \phi\,\theta`, :math:`\alpha \nabla_\theta LL = \mu_E - \mu_\theta`
(expert minus model feature expectations). **Convention:** ``gradient``, ``grad_l2`` and the
direction the optimiser follows are :math:`\alpha \nabla LL` (the usual MCE feature-matching
gradient); the log-likelihood itself is in nats. A non-linear reward (a ``torch.nn.Module``)
back-propagates :math:`\rho^E - \rho^\theta` through the network.

Per iteration: one backward pass on ``mdp.with_rewards(r)``, one forward pass
(:func:`~sb3_softopt.inference.occupancy_measure`, ``O(T nnz)``; one sparse solve for an infinite
horizon) and the gradient. A demonstration that stops at ``L < T`` (or any demonstration, for an
infinite horizon) adds :math:`\gamma^L \rho^\theta` from its expected next state on: its
likelihood says nothing about the rest of the episode (one more forward pass per distinct ``L``).
Terminal (absorbing) states of the model have no reward, so their entries of the gradient are 0.

Optimiser: ``torch.optim.Adam`` (``lr=0.1``) by default. Adam normalises each coordinate, so one
step size works whatever the occupancy scale (``T``, ``1/(1-gamma)``) and ``alpha``; plain
gradient ascent is ``optimizer_cls=torch.optim.SGD`` (its ``lr`` then multiplies occupancies).
Stopping rule as imitation's MCE-IRL: ``linf_delta = max |rho^E - rho^theta| <= linf_eps`` or
``||alpha grad LL||_2 <= grad_l2_eps``, or ``max_iter`` evaluations. See ``docs/irl.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sb3_softopt.inference.demos import ExpertOccupancy, expert_occupancy
from sb3_softopt.inference.mdp import (
    InvalidMDPError,
    TabularMDP,
    _as_float_array,
    check_alpha,
    check_gamma,
    check_positive_int,
)
from sb3_softopt.inference.validation import check_nonnegative
from sb3_softopt.inference.messages import occupancy_measure
from sb3_softopt.inference.solvers import (
    MDP_HORIZON,
    SoftSolution,
    _check_mdp,
    resolve_horizon,
    soft_value_iteration,
)
from sb3_softopt.inference.steps import StepArray

__all__ = ["IRLResult", "maxent_irl"]


@dataclass(eq=False)
class IRLResult:
    """
    The result of :func:`maxent_irl`, all at the last evaluated reward.

    :ivar reward: ``(S, A)`` learned reward ``r(s, a)`` (the model ignores it in terminal states).
    :ivar terminal_reward: ``(S,)`` learned terminal reward (``None`` without ``terminal_features``).
    :ivar theta: ``(K,)`` linear parameters (``None`` with a ``reward_model``).
    :ivar theta_terminal: ``(K_T,)`` parameters of the terminal reward, or ``None``.
    :ivar reward_model: the trained module (the one passed in), or ``None``.
    :ivar solution: soft value iteration of the learned reward (its policy is the imitation policy).
    :ivar expert_feature_expectations: ``phi^T rho^E`` (``(K,)``; then the terminal ones).
    :ivar model_feature_expectations: the same for the model over the demonstrations' time windows.
    :ivar gradient: ``alpha * dLL/d(parameters)``, flat (``theta`` or the module's parameters, then
        ``theta_terminal``); for a linear reward ``expert - model`` feature expectations.
    :ivar reward_gradient: ``(S, A)`` ``alpha * dLL/dr = rho^E - rho^model``.
    :ivar log_likelihood: the demonstrations' (discounted) log-likelihood per trajectory, nats.
    :ivar n_iter: number of evaluations (backward + forward passes).
    :ivar converged: a tolerance was met (else ``max_iter`` was reached).
    :ivar history: per evaluation: ``iteration``, ``log_likelihood``, ``linf_delta``, ``grad_l2``
        (``pandas.DataFrame(result.history)``).
    :ivar expert: the :class:`~sb3_softopt.inference.demos.ExpertOccupancy` used.
    """

    reward: np.ndarray
    terminal_reward: np.ndarray | None
    theta: np.ndarray | None
    theta_terminal: np.ndarray | None
    reward_model: torch.nn.Module | None
    solution: SoftSolution
    expert_feature_expectations: np.ndarray
    model_feature_expectations: np.ndarray
    gradient: np.ndarray
    reward_gradient: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool
    history: dict[str, list[float]]
    expert: ExpertOccupancy


def maxent_irl(  # noqa: C901  argument checks of the public entry point
    mdp: TabularMDP,
    features: Any,
    demonstrations: Any,
    *,
    alpha: float = 1.0,
    gamma: float = 1.0,
    horizon: int | str | None = MDP_HORIZON,
    terminal_features: Any = None,
    reward_model: torch.nn.Module | None = None,
    theta_init: Any = None,
    theta_terminal_init: Any = None,
    lr: float = 0.1,
    optimizer_cls: Callable[..., torch.optim.Optimizer] = torch.optim.Adam,
    max_iter: int = 1000,
    linf_eps: float = 1e-3,
    grad_l2_eps: float = 1e-4,
    progress_bar: bool = False,
) -> IRLResult:
    """
    Maximum causal entropy IRL: the reward whose soft-optimal policy maximises the likelihood of
    the demonstrations (see the module docstring for the maths). ``mdp``'s own rewards (and
    terminal reward) are ignored; its dynamics, start distribution (unused: the expert's is),
    action prior and terminal states are kept.

    :param mdp: the model whose dynamics the expert acted in.
    :param features: ``(S, K)`` state features (broadcast over actions) or ``(S, A, K)`` state-action
        features, finite. The reward is ``features @ theta``, or ``reward_model`` of them.
    :param demonstrations: trajectories, rollouts, an occupancy measure or an
        :class:`~sb3_softopt.inference.demos.ExpertOccupancy`; see
        :func:`~sb3_softopt.inference.demos.expert_occupancy`.
    :param alpha: temperature of the expert model, > 0.
    :param gamma: discount in (0, 1] (``horizon=None`` needs ``gamma < 1``).
    :param horizon: ``T``; default ``mdp.horizon``; ``None``: discounted infinite horizon.
    :param terminal_features: ``(S, K_T)`` features of a learned linear terminal reward paid in the
        state after the last decision (finite horizon only); default: no terminal reward.
    :param reward_model: a ``torch.nn.Module`` mapping the ``(S*A, K)`` features (row ``s*A + a``;
        state features repeated over actions) to ``(S*A,)`` or ``(S*A, 1)`` rewards; trained in place.
    :param theta_init: ``(K,)`` initial linear parameters (default zeros; not with ``reward_model``).
    :param theta_terminal_init: ``(K_T,)`` initial terminal parameters (default zeros).
    :param lr: learning rate, > 0.
    :param optimizer_cls: a ``torch.optim.Optimizer`` class, built as ``optimizer_cls(params, lr=lr)``.
    :param max_iter: maximum number of evaluations, >= 1 (the last one takes no step).
    :param linf_eps: stop when ``max |rho^E - rho^model| <= linf_eps`` (>= 0).
    :param grad_l2_eps: stop when ``||alpha grad LL||_2 <= grad_l2_eps`` (>= 0).
    :param progress_bar: show a tqdm bar with the log-likelihood and ``linf_delta``.
    :return: an :class:`IRLResult`.
    """
    mdp = _check_mdp(mdp)
    alpha, gamma = check_alpha(alpha), check_gamma(gamma)
    T = resolve_horizon(mdp, horizon)
    if T is None and gamma >= 1.0:
        raise InvalidMDPError("horizon=None (infinite horizon) needs gamma < 1, got gamma=1")
    S, A = mdp.n_states, mdp.n_actions
    phi = _check_features("features", features, S, A, allow_actions=True)
    phi_T = None
    if terminal_features is not None:
        if T is None:
            raise InvalidMDPError("terminal_features needs a finite horizon (there is no last state for horizon=None)")
        phi_T = _check_features("terminal_features", terminal_features, S, A, allow_actions=False)
    elif theta_terminal_init is not None:
        raise InvalidMDPError("theta_terminal_init needs terminal_features (the terminal reward is terminal_features @ theta)")
    lr = check_nonnegative("lr", lr, positive=True)
    linf_eps = check_nonnegative("linf_eps", linf_eps)
    grad_l2_eps = check_nonnegative("grad_l2_eps", grad_l2_eps)
    max_iter = check_positive_int("max_iter", max_iter)

    if reward_model is None:
        theta = torch.nn.Parameter(torch.from_numpy(_check_init("theta_init", theta_init, phi.shape[-1])))
        phi_t = torch.from_numpy(phi)
        params = [theta]

        def reward_fn() -> torch.Tensor:
            r = phi_t @ theta
            return r[:, None].expand(S, A) if phi.ndim == 2 else r

    else:
        if not isinstance(reward_model, torch.nn.Module) or not list(reward_model.parameters()):
            raise TypeError(f"reward_model must be a torch.nn.Module with parameters, got {type(reward_model).__name__}")
        if theta_init is not None:
            raise InvalidMDPError("theta_init is for the linear reward: initialise reward_model's parameters instead")
        p = next(reward_model.parameters())
        x = np.broadcast_to(phi[:, None, :], (S, A, phi.shape[-1])) if phi.ndim == 2 else phi
        x_t = torch.as_tensor(x.reshape(S * A, -1), dtype=p.dtype, device=p.device)
        params = list(reward_model.parameters())

        def reward_fn() -> torch.Tensor:
            out = reward_model(x_t)
            if tuple(out.shape) not in ((S * A,), (S * A, 1)):
                raise InvalidMDPError(f"reward_model must map ({S * A}, K) features to ({S * A},) rewards, got {tuple(out.shape)}")
            return out.reshape(S, A)

        with torch.no_grad():
            reward_fn()  # shape check before any solve
    theta_T = None
    if phi_T is not None:
        theta_T = torch.nn.Parameter(torch.from_numpy(_check_init("theta_terminal_init", theta_terminal_init, phi_T.shape[1])))
        params.append(theta_T)
    if not callable(optimizer_cls):
        raise TypeError(f"optimizer_cls must be a torch.optim.Optimizer class such as torch.optim.Adam, got {optimizer_cls!r}")
    optimizer = optimizer_cls(params, lr=lr)
    demo = expert_occupancy(mdp, demonstrations, gamma=gamma, horizon=T)

    mdp.PT  # noqa: B018  (build the cached transpose once: every per-iteration copy below shares it)
    base = mdp.with_rewards(np.zeros((S, A)), terminal_reward=np.zeros(S))
    mask = mdp.terminal_states
    rho_E = _masked(demo.occupancy.copy(), mask)
    term_E = _masked(demo.terminal.copy(), mask) if phi_T is not None else None
    history: dict[str, list[float]] = {"iteration": [], "log_likelihood": [], "linf_delta": [], "grad_l2": []}
    converged = False
    bar = tqdm(range(int(max_iter)), desc="MaxEnt IRL", disable=not progress_bar)
    for k in bar:
        optimizer.zero_grad()
        r = reward_fn()
        r_T = None if theta_T is None else torch.from_numpy(phi_T) @ theta_T
        m = base.with_rewards(
            r.detach().cpu().numpy().astype(np.float64), None if r_T is None else r_T.detach().numpy()
        )
        sol = soft_value_iteration(m, alpha, gamma=gamma, horizon=T)
        rho_M, term_M = _model_occupancy(m, sol, demo, gamma, mask, need_terminal=phi_T is not None)
        g = rho_E - rho_M
        loss = -(torch.as_tensor(g, dtype=r.dtype, device=r.device) * r).sum()
        linf = float(np.max(np.abs(g)))
        if r_T is not None:
            assert term_E is not None and term_M is not None  # both are computed when there is a terminal reward
            g_T = term_E - term_M
            loss = loss - (torch.from_numpy(g_T) * r_T).sum()
            linf = max(linf, float(np.max(np.abs(g_T))))
        loss.backward()  # p.grad = -alpha dLL/dp: the optimisers minimise
        grads = [torch.zeros_like(q) if q.grad is None else q.grad.detach() for q in params]  # unused parameters: 0
        gradient = -torch.cat([q.reshape(-1).cpu().double() for q in grads]).numpy()
        grad_l2 = float(np.linalg.norm(gradient))
        ll = _log_likelihood(sol, demo)
        for key, value in zip(history, (k, ll, linf, grad_l2), strict=True):
            history[key].append(value)
        bar.set_postfix(ll=f"{ll:.4g}", linf=f"{linf:.2e}", refresh=False)
        if linf <= linf_eps or grad_l2 <= grad_l2_eps:
            converged = True
            break
        if k + 1 < max_iter:
            optimizer.step()
    bar.close()

    def expectations(rho: np.ndarray, term: np.ndarray | None) -> np.ndarray:
        mu = phi.T @ rho.sum(axis=1) if phi.ndim == 2 else np.tensordot(rho, phi, 2)
        return mu if term is None else np.concatenate([mu, phi_T.T @ term])  # type: ignore[union-attr]

    return IRLResult(
        reward=r.detach().cpu().numpy().astype(np.float64),
        terminal_reward=None if r_T is None else r_T.detach().numpy().copy(),
        theta=theta.detach().numpy().copy() if reward_model is None else None,
        theta_terminal=None if theta_T is None else theta_T.detach().numpy().copy(),
        reward_model=reward_model,
        solution=sol,
        expert_feature_expectations=expectations(rho_E, term_E),
        model_feature_expectations=expectations(rho_M, term_M),
        gradient=gradient,
        reward_gradient=g,
        log_likelihood=ll,
        n_iter=k + 1,
        converged=converged,
        history=history,
        expert=demo,
    )


def _model_occupancy(
    m: TabularMDP, sol: SoftSolution, demo: ExpertOccupancy, gamma: float, mask: np.ndarray | None, need_terminal: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's discounted occupancy over the demonstrations' time windows (masked), and its
    ``gamma^T``-weighted final-state distribution when ``need_terminal``."""
    rho = occupancy_measure(m, sol, gamma=gamma, initial_state_dist=demo.initial_state_dist)
    term = _final_mass(m, rho, demo.initial_state_dist, gamma) if need_terminal else None
    S, A, T = m.n_states, m.n_actions, sol.horizon
    for L, src in demo.continuation.items():
        # Continuations from terminal states stay there, where the gradient is 0 anyway.
        src = _masked(src.copy(), mask)
        c = float(src.sum())
        if c <= 0.0:
            continue
        policy: Any = sol
        if T is not None:
            policy = StepArray(lambda t, states=None, L=L: sol.policy_at(t + L, states), (T - L, S, A), "policy")
        rho_c = c * occupancy_measure(m, policy, gamma=gamma, initial_state_dist=src / c)
        rho -= rho_c
        if term is not None:
            term -= _final_mass(m, rho_c, src, gamma)
    return _masked(rho, mask), None if term is None else _masked(term, mask)


def _final_mass(m: TabularMDP, rho: np.ndarray, d0: np.ndarray, gamma: float) -> np.ndarray:
    """``gamma^T d_T`` from flow conservation, ``sum_t gamma^t d_{t+1} = P^T rho``: one mat-vec
    instead of a second forward pass."""
    return gamma * (m.PT @ rho.ravel()) - rho.sum(axis=1) + d0


def _log_likelihood(sol: SoftSolution, demo: ExpertOccupancy) -> float:
    t, s, a, w = demo.steps
    if sol.horizon is None:
        return float(w @ sol.log_policy[s, a])
    if sol.keeps_q:
        return float(w @ sol.log_policy[t, s, a])
    total = 0.0
    for step in np.unique(t):  # large models: only the rows the demonstrations visit at each step
        sel = np.flatnonzero(t == step)
        lp = sol.log_policy_at(int(step), s[sel])
        total += float(w[sel] @ lp[np.arange(sel.size), a[sel]])
    return total


def _masked(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is not None:
        x[mask] = 0.0
    return x


def _check_features(name: str, value: Any, S: int, A: int, allow_actions: bool) -> np.ndarray:
    arr = _as_float_array(name, value)
    ok = (arr.ndim == 2 and arr.shape[0] == S) or (allow_actions and arr.ndim == 3 and arr.shape[:2] == (S, A))
    if not ok or arr.shape[-1] == 0:
        shapes = f"(S, K) = ({S}, K)" + (f" or (S, A, K) = ({S}, {A}, K)" if allow_actions else "")
        raise InvalidMDPError(f"{name} must have shape {shapes} with K >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InvalidMDPError(f"{name} contains {float(arr[idx])!r} at index {idx}; features must be finite")
    return np.ascontiguousarray(arr)


def _check_init(name: str, value: Any, K: int) -> np.ndarray:
    if value is None:
        return np.zeros(K)
    arr = _as_float_array(name, value)
    if arr.shape != (K,) or not np.all(np.isfinite(arr)):
        raise InvalidMDPError(f"{name} must be a finite array of shape ({K},) (one per feature), got shape {arr.shape}")
    return arr.copy()
