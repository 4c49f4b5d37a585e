"""Checking an SVGD sampler against a known density, without an environment.

``fit_sampler`` trains a stand-alone :class:`~sb3_softopt.sql.policies.SVGDActor` (one constant
observation) with SQL's own update on a given log-density over the action box, and
``histogram_tv`` measures how far its samples are from that density. The tests and
``benchmarks/sql.py svgd`` use them; they are also a small way to watch SVGD work::

    from sb3_softopt.sql.diagnostics import fit_sampler, gaussian_mixture, histogram_tv, sampler_draws
    log_p = gaussian_mixture([[-0.4], [0.4]], sigma=0.2)
    actor = fit_sampler(log_p, action_dim=1, steps=2500)
    print(histogram_tv(sampler_draws(actor), log_p, n_bins=20))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import FlattenExtractor

from sb3_softopt.sql.policies import SVGDActor
from sb3_softopt.sql.svgd import svgd_sampler_loss

LogDensity = Callable[[th.Tensor], th.Tensor]


def gaussian_mixture(centres: Sequence[Sequence[float]], sigma: float) -> LogDensity:
    """Unnormalised log-density of an equal-weight isotropic Gaussian mixture, on ``(..., d)`` points."""
    c = th.as_tensor(np.asarray(centres, dtype=np.float32))

    def log_p(a: th.Tensor) -> th.Tensor:
        return th.logsumexp(-((a.unsqueeze(-2) - c) ** 2).sum(-1) / (2 * sigma**2), dim=-1)

    return log_p


def fit_sampler(
    log_density: LogDensity,
    action_dim: int,
    steps: int,
    seed: int = 0,
    n_particles: int = 32,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    net_arch: Sequence[int] = (64, 64),
) -> SVGDActor:
    """Train a sampler on ``log_density`` over ``[-1, 1]^action_dim`` with SQL's SVGD update
    (pre-tanh space, half the particles fixed), Adam with the learning rate decayed linearly to 0.

    :param log_density: maps actions ``(B, K, d)`` to unnormalised log-densities ``(B, K)``
    :param batch_size: independent particle groups per step (copies of the one observation)
    """
    th.manual_seed(seed)
    obs_space = spaces.Box(-1, 1, (1,), np.float32)
    act_space = spaces.Box(-1, 1, (action_dim,), np.float32)
    actor = SVGDActor(obs_space, act_space, list(net_arch), FlattenExtractor(obs_space), 1)
    optimizer = th.optim.Adam(actor.parameters(), lr=learning_rate)
    decay = th.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1 - i / steps)
    obs = th.zeros(batch_size, 1)
    for _ in range(steps):
        loss, _, _ = svgd_sampler_loss(actor, obs, log_density, n_fixed=n_particles // 2, n_updated=n_particles // 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        decay.step()
    return actor


def sampler_draws(actor: SVGDActor, n: int = 50_000) -> np.ndarray:
    """``n`` actions of a sampler trained by :func:`fit_sampler`, shape ``(n, d)``."""
    with th.no_grad():
        return actor.sample(th.zeros(n, 1), 1)[:, 0].numpy()


def histogram_tv(samples: np.ndarray, log_density: LogDensity, n_bins: int) -> float:
    """Total variation between the histogram of ``samples`` on ``[-1, 1]^d`` (``n_bins`` equal bins
    per axis) and the bin masses of the density (midpoint rule on a grid 20 times finer)."""
    d = samples.shape[1]
    fine = np.linspace(-1, 1, 20 * n_bins + 1)
    mids = (fine[:-1] + fine[1:]) / 2
    grid = np.stack(np.meshgrid(*[mids] * d, indexing="ij"), axis=-1).reshape(-1, d)
    with th.no_grad():
        lp = log_density(th.as_tensor(grid, dtype=th.float32)).numpy().astype(np.float64)
    weights = np.exp(lp - lp.max())

    def flat_bin(points: np.ndarray) -> np.ndarray:
        idx = np.clip(((points + 1) / 2 * n_bins).astype(int), 0, n_bins - 1)
        return np.ravel_multi_index(idx.T, (n_bins,) * d)

    target = np.bincount(flat_bin(grid), weights, minlength=n_bins**d)
    empirical = np.bincount(flat_bin(samples), minlength=n_bins**d) / len(samples)
    return 0.5 * float(np.abs(target / target.sum() - empirical).sum())
