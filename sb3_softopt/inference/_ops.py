"""Log-space reductions shared by the solvers (private)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special
import torch

#: Below this many elements numpy's exp is cheaper than handing the array to torch.
_TORCH_EXP_MIN = 1 << 14


def _inplace(a: np.ndarray, torch_fn: Any, np_fn: np.ufunc) -> np.ndarray:
    if a.size >= _TORCH_EXP_MIN and a.dtype in (np.float64, np.float32) and a.flags.writeable and a.flags.c_contiguous:
        t = torch.from_numpy(a)
        torch_fn(t, out=t)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            np_fn(a, out=a)
    return a


def exp_inplace(a: np.ndarray) -> np.ndarray:
    """``np.exp(a, out=a)``, through torch's vectorised kernel for large float arrays.

    numpy's float64 ``exp`` and ``log`` have SIMD code only for AVX-512; on AVX2 machines torch's
    (SLEEF, 1 ulp) are 3-4x faster, and they are most of the cost of every backward and forward step."""
    return _inplace(a, torch.exp, np.exp)


def log_inplace(a: np.ndarray) -> np.ndarray:
    """``np.log(a, out=a)`` (``log 0 = -inf`` without a warning), through torch for large arrays."""
    return _inplace(a, torch.log, np.log)


def segment_logsumexp(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """
    ``log sum exp`` of ``values[indptr[i]:indptr[i+1]]`` for every segment ``i``, in one
    vectorised pass (a max-shift per segment, so nothing overflows). Empty segments give ``-inf``.
    """
    counts = np.diff(indptr)
    n = counts.shape[0]
    if values.shape[0] == n and np.all(counts == 1):
        # Deterministic dynamics: one non-zero per row, nothing to reduce.
        return values.astype(np.float64, copy=True)
    out = np.full(n, -np.inf)
    nonempty = counts > 0
    if not np.any(nonempty):
        return out
    all_nonempty = bool(nonempty.all())
    starts = indptr[:-1] if all_nonempty else indptr[:-1][nonempty]
    m = np.maximum.reduceat(values, starts)
    m[~np.isfinite(m)] = 0.0  # all -inf segment: exp(-inf - 0) = 0, log 0 = -inf below
    shifted = values - np.repeat(m, counts if all_nonempty else counts[nonempty])
    exp_inplace(shifted)
    sums = np.add.reduceat(shifted, starts)
    with np.errstate(divide="ignore"):
        res = m + np.log(sums)
    if all_nonempty:
        return res
    out[nonempty] = res
    return out


def _reduce_last(z: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.reduce`` over a short last axis, one column at a time.

    numpy's reductions along a short contiguous axis (A = 5 actions) are ~10x slower than
    elementwise ops over the columns; A is small, so a loop over actions (never over states) wins.
    """
    out = np.array(z[..., 0], dtype=np.float64, copy=True)
    for a in range(1, z.shape[-1]):
        ufunc(out, z[..., a], out=out)
    return out


def _lse(z: np.ndarray, probs: bool, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    m = _reduce_last(z, np.maximum)
    if not np.all(np.isfinite(m)):
        m[~np.isfinite(m)] = 0.0  # an all -inf row: exp(-inf) = 0 and log 0 = -inf below
    if overwrite:
        # In place: on 10^6 x 5 arrays a fresh 40 MB temporary per step costs as much as the exp.
        e = z
        e -= m[..., None]
    else:
        e = z - m[..., None]
    exp_inplace(e)
    total = _reduce_last(e, np.add)
    with np.errstate(divide="ignore", invalid="ignore"):
        if probs:
            e /= total[..., None]
    lse = log_inplace(total)
    lse += m
    return lse, (e if probs else None)


def soft_value(q: np.ndarray, alpha: float, overwrite: bool = False) -> np.ndarray:
    """``V = alpha * logsumexp_a(Q / alpha)`` along the last axis (``overwrite``: ``q`` is scratch)."""
    if alpha == 1.0:
        return _lse(q, probs=False, overwrite=overwrite)[0]
    if overwrite:
        q /= alpha
        return alpha * _lse(q, probs=False, overwrite=True)[0]
    return alpha * _lse(q / alpha, probs=False, overwrite=True)[0]


def soft_max_actions(q: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``V = alpha * logsumexp_a(Q / alpha)`` and ``log pi = (Q - V) / alpha`` for ``q`` of shape (..., A)."""
    z = q / alpha
    lse, _ = _lse(z, probs=False)
    z -= lse[..., None]
    return alpha * lse, z


def soft_max_policy(q: np.ndarray, alpha: float) -> np.ndarray:
    """``pi = softmax(Q / alpha)`` along the last axis (one exp, no log-policy)."""
    return _lse(q / alpha, probs=True, overwrite=True)[1]  # type: ignore[return-value]


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of distributions along ``axis`` (``0 log 0 = 0``)."""
    # scipy.special.entr: -p log p, 0 at p = 0 (scipy.stats.entropy would also renormalise p).
    return special.entr(np.asarray(p, dtype=np.float64)).sum(axis=axis) + 0.0  # + 0.0 turns -0.0 into 0.0
