"""The two estimators of soft Q-learning for continuous actions, as plain torch functions.

* :func:`uniform_soft_value`: ``V(s) = alpha log ∫ exp(Q(s, a) / alpha) da`` over the action box
  ``[-1, 1]^d``, by importance sampling with a uniform proposal (Haarnoja et al. 2017, eq. 10).
* :func:`svgd_direction` with :func:`rbf_kernel`: Stein variational gradient descent (Liu & Wang
  2016) that moves a set of particles towards a target density; SQL pushes it into an amortised
  sampler network (eq. 13).

They take tensors and return tensors, with no module state, so that the tests can check them
against closed forms and known densities without an environment.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from collections.abc import Callable

import torch as th

if TYPE_CHECKING:
    from stable_baselines3.common.type_aliases import PyTorchObs

    from sb3_softopt.sql.policies import SVGDActor

#: Added inside ``log(1 - a^2 + eps)`` (the tanh correction), as in the official code.
SQUASH_EPS = 1e-6

#: Spaces the SVGD update can run in: the sampler's pre-tanh outputs or the squashed actions.
SVGD_SPACES = ("pre_tanh", "action")

#: Floor of the kernel bandwidth ``h`` (softlearning's ``h_min``).
MIN_BANDWIDTH = 1e-3


def uniform_soft_value(q_values: th.Tensor, ent_coef: float, action_dim: int) -> th.Tensor:
    """Importance-sampling estimate of the soft value with a uniform proposal on ``[-1, 1]^d``.

    With ``a_i ~ U[-1, 1]^d`` (density ``2^-d``), ``Z = ∫ exp(Q/alpha) da = E[2^d exp(Q(a_i)/alpha)]``, so

        ``V = alpha * (logsumexp_i(Q(s, a_i) / alpha) - log M + d log 2)``.

    ``exp(V / alpha)`` is an unbiased estimate of ``Z``; ``V`` itself is biased low by Jensen's
    inequality for a finite ``M`` (the bias vanishes as ``M`` grows). torch's logsumexp keeps it
    finite for any ``Q / alpha`` that float32 can hold (rewards of 1e4 at alpha = 1e-3 included).

    :param q_values: ``Q(s, a_i)``, shape ``(..., M)``: ``M`` uniform particles per state
    :param ent_coef: the temperature alpha > 0
    :param action_dim: ``d``, the dimension of the action box
    :return: shape ``(..., 1)``
    """
    n_particles = q_values.shape[-1]
    log_volume = action_dim * math.log(2.0) - math.log(n_particles)
    return ent_coef * (th.logsumexp(q_values / ent_coef, dim=-1, keepdim=True) + log_volume)


def rbf_kernel(xs: th.Tensor, ys: th.Tensor, h_min: float = MIN_BANDWIDTH) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """RBF kernel ``k(x, y) = exp(-||x - y||^2 / h)`` with the median bandwidth heuristic.

    As softlearning's ``adaptive_isotropic_gaussian_kernel``: per leading index,
    ``h = median_{x,y} ||x - y||^2 / log(K_x)``, floored at ``h_min``, without gradient.

    :param xs: shape ``(B, Kx, d)`` with ``Kx >= 2``
    :param ys: shape ``(B, Ky, d)``
    :return: ``(k, grad_x k, h)`` of shapes ``(B, Kx, Ky)``, ``(B, Kx, Ky, d)`` and ``(B,)``
    """
    n_x = xs.shape[-2]
    if n_x < 2:
        raise ValueError(f"the median heuristic divides by log(Kx): need at least 2 particles in xs, got {n_x}")
    diff = xs.unsqueeze(-2) - ys.unsqueeze(-3)  # (B, Kx, Ky, d)
    dist_sq = diff.pow(2).sum(dim=-1)  # (B, Kx, Ky)
    # torch's median of an even count is the lower middle value, the element softlearning's top_k picks.
    median = dist_sq.detach().flatten(start_dim=-2).median(dim=-1).values
    h = (median / math.log(n_x)).clamp(min=h_min)
    kappa = th.exp(-dist_sq / h[..., None, None])
    kappa_grad = -2.0 * diff / h[..., None, None, None] * kappa.unsqueeze(-1)
    return kappa, kappa_grad, h


def svgd_direction(
    fixed: th.Tensor, updated: th.Tensor, grad_log_p: th.Tensor, h_min: float = MIN_BANDWIDTH
) -> tuple[th.Tensor, th.Tensor]:
    """The SVGD update of the ``updated`` particles, estimated on the ``fixed`` ones:

        ``phi(y_i) = mean_j [k(x_j, y_i) grad log p(x_j) + grad_{x_j} k(x_j, y_i)]``

    (attraction towards high density, repulsion between particles). Moving particles by
    ``eps * phi`` is the steepest descent of ``KL(q || p)`` in the kernel's RKHS.

    :param fixed: ``x_j``, shape ``(B, Kx, d)``
    :param updated: ``y_i``, shape ``(B, Ky, d)`` (not differentiated here)
    :param grad_log_p: ``grad log p(x_j)``, shape ``(B, Kx, d)``
    :return: ``(phi, h)``: the direction, shape ``(B, Ky, d)``, and the bandwidth, shape ``(B,)``
    """
    kappa, kappa_grad, h = rbf_kernel(fixed, updated.detach(), h_min=h_min)
    phi = (kappa.unsqueeze(-1) * grad_log_p.unsqueeze(-2) + kappa_grad).mean(dim=-3)
    return phi, h


def svgd_sampler_loss(
    actor: SVGDActor,
    observations: PyTorchObs,
    log_density: Callable[[th.Tensor], th.Tensor],
    n_fixed: int,
    n_updated: int,
    space: str = "pre_tanh",
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """Surrogate loss whose gradient moves the sampler's particles along the SVGD direction
    towards ``p(a|s) ∝ exp(log_density(a))`` on the box (SQL: ``log_density = Q / alpha``).

    Per state, ``n_fixed`` particles (no gradient) estimate the direction ``phi`` for
    ``n_updated`` others, through which it is pushed into the sampler:
    ``loss = -mean(stop_grad(phi) . y)``. The SVGD target is
    ``log_density(a) + sum log(1 - a^2 + eps)``: in ``space="pre_tanh"`` it is the exact density of
    the pre-tanh particles ``u`` (``a = tanh(u)``, log-Jacobian included) and the kernel runs on
    ``u``; in ``space="action"`` (the official code) the same formula is applied to the squashed
    actions, which then sample ``exp(log_density) * prod(1 - a^2)``.

    :param actor: the sampler
    :param observations: a batch of ``B`` observations
    :param log_density: maps squashed actions ``(B, n_fixed, d)`` to unnormalised log-densities
        ``(B, n_fixed)``, differentiably
    :param n_fixed: particles per state that estimate the direction (>= 2)
    :param n_updated: particles per state that are moved (>= 1)
    :param space: one of :data:`SVGD_SPACES`
    :return: ``(loss, bandwidth per state, mean spread of the actions across the particles)``,
        the last two detached
    """
    features = actor.extract_features(observations, actor.features_extractor)
    # The fixed particles need no gradient through the sampler: drawn apart, under no_grad,
    # the backward pass only runs over the updated ones.
    with th.no_grad():
        u_fixed = actor.particles(features, n_fixed)
    fixed = (u_fixed if space == "pre_tanh" else th.tanh(u_fixed)).requires_grad_(True)
    fixed_actions = th.tanh(fixed) if space == "pre_tanh" else fixed
    log_p = log_density(fixed_actions) + th.log(1.0 - fixed_actions.pow(2) + SQUASH_EPS).sum(dim=-1)
    (grad_log_p,) = th.autograd.grad(log_p.sum(), fixed)
    # The updated particles (and their graph through the sampler) are made only now, after the
    # graph of log_density is freed: the two are never held at once (a lower peak of memory, and
    # fewer fresh pages to fault in on every step). Same draws, in the same order, as before.
    u_updated = actor.particles(features, n_updated)
    updated = u_updated if space == "pre_tanh" else th.tanh(u_updated)
    direction, bandwidth = svgd_direction(fixed.detach(), updated, grad_log_p)
    loss = -(direction.detach() * updated).sum(dim=-1).mean()
    spread = th.tanh(th.cat([u_fixed.detach(), u_updated.detach()], dim=1)).std(dim=1).mean()
    return loss, bandwidth, spread
