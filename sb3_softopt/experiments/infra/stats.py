"""Statistics over seeds, for every experiment: IQM, bootstrap and Student-t intervals.

All intervals come from :mod:`scipy.stats`; the functions only fix conventions (the IQM as
rliable's ``aggregate_iqm``, degenerate samples whose interval is the point itself, NaN bounds
for a single value).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

#: a statistic of one sample of values (``iqm``, ``np.mean``, ...)
Stat = Callable[[np.ndarray], float]

__all__ = ["bootstrap_ci", "diff_ci", "iqm", "mean_ci", "mean_ci_band", "ratio_ci", "stratified_bootstrap_ci", "welch_diff_ci"]


def iqm(x: npt.ArrayLike) -> float:
    """Interquartile mean (25% trimmed mean), rliable's ``aggregate_iqm`` for one task."""
    return float(stats.trim_mean(np.asarray(x, dtype=float), proportiontocut=0.25))


def bootstrap_ci(
    x: npt.ArrayLike, stat: Stat = iqm, n_boot: int = 5000, conf: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over seeds (``scipy.stats.bootstrap``, resampling with replacement)."""
    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        return (math.nan, math.nan)
    if arr.size < 2 or np.ptp(arr) == 0:  # every resample is the sample itself
        value = float(stat(arr))
        return (value, value)
    if stat is iqm:
        statistic = lambda s, axis: stats.trim_mean(s, 0.25, axis=axis)  # noqa: E731  (vectorised IQM)
    elif stat is np.mean:
        statistic = lambda s, axis: np.mean(s, axis=axis)  # noqa: E731
    else:
        statistic = lambda s, axis: np.apply_along_axis(stat, axis, s)  # noqa: E731
    res = stats.bootstrap(
        (arr,), statistic, n_resamples=n_boot, confidence_level=conf, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_ci(values: npt.ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval across seeds (NaN bounds for a single value)."""
    x = np.asarray(values, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    if np.ptp(x) == 0:  # scipy warns on identical values; the interval is the point
        return m, m, m
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    return m, float(ci.low), float(ci.high)


def mean_ci_band(values: npt.ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of the Student-t interval along axis 0 (seeds x points: a curve's band)."""
    arr = np.asarray(values, dtype=np.float64)
    mean = arr.mean(axis=0)
    if arr.shape[0] < 2:
        return mean, np.zeros_like(mean)
    with warnings.catch_warnings():  # identical values in a column: scipy warns, the half-width is 0
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(arr, 0.0, axis=0).confidence_interval(level)
    half = np.where(np.ptp(arr, axis=0) == 0, 0.0, (ci.high - ci.low) / 2)
    return mean, half


def welch_diff_ci(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a - b`` with a Welch-Satterthwaite confidence interval (independent samples)."""
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = float(xa.mean() - xb.mean())
    if xa.size < 2 or xb.size < 2:
        return d, math.nan, math.nan
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return d, d, d
    ci = stats.ttest_ind(xa, xb, equal_var=False).confidence_interval(level)
    return d, float(ci.low), float(ci.high)


def _along_last_axis(stat: Stat) -> Callable[..., np.ndarray]:
    """``stat`` as a function of the last axis of an array (the form ``scipy.stats.bootstrap`` vectorises)."""
    if stat is iqm:
        return lambda x: stats.trim_mean(x, 0.25, axis=-1)
    if stat is np.mean:
        return lambda x: np.mean(x, axis=-1)
    return lambda x: np.apply_along_axis(stat, -1, x)


def _independent_bootstrap(
    samples: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], n_boot: int, conf: float, seed: int
) -> tuple[float, float]:
    """Percentile CI of ``statistic(*samples)`` (arrays of shape ``(..., n_i)``), each sample resampled independently.

    A sample that cannot vary (one value, or all equal) is held fixed: its resamples are itself,
    and ``scipy.stats.bootstrap`` refuses a single observation.
    """
    varying = [i for i, x in enumerate(samples) if x.size >= 2 and np.ptp(x) > 0]
    if not varying:
        value = float(statistic(*samples))
        return (value, value)

    def resampled(*drawn: np.ndarray, axis: int = -1) -> np.ndarray:
        batch = drawn[0].shape[:-1]
        full = [np.broadcast_to(x, batch + x.shape) for x in samples]
        for i, x in zip(varying, drawn, strict=True):
            full[i] = x
        return statistic(*full)

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # Infinite or undefined resampled values (a ratio over 0) make numpy warn in scipy's standard error.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.bootstrap(
            tuple(samples[i] for i in varying),
            resampled,
            n_resamples=n_boot,
            confidence_level=conf,
            method="percentile",
            paired=False,
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def stratified_bootstrap_ci(
    samples: Sequence[npt.ArrayLike],
    stat: Stat = iqm,
    n_boot: int = 5000,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` of the concatenated strata, each stratum resampled on its own.

    rliable's stratified bootstrap for an aggregate over tasks: ``samples[k]`` holds the runs
    (seeds) of task ``k``, and every resample keeps each task's number of runs. The point value
    is ``stat(np.concatenate(samples))``; with one stratum this is :func:`bootstrap_ci` (same
    resamples for the same ``seed``). The tasks' values should share a scale: the aggregate of
    a large-valued task and a small-valued one is mostly the large one.
    """
    strata = [np.asarray(x, dtype=float) for x in samples]
    if not strata or any(x.size == 0 for x in strata):
        return (math.nan, math.nan)
    along = _along_last_axis(stat)
    return _independent_bootstrap(strata, lambda *xs: along(np.concatenate(xs, axis=-1)), n_boot, conf, seed)


def ratio_ci(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    stat: Stat = iqm,
    n_boot: int = 5000,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``stat(a) / stat(b)`` with a percentile bootstrap CI, ``a`` and ``b`` resampled independently.

    ``a`` and ``b`` are independent groups of runs (different arms, not paired by seed), so
    each is resampled on its own (``scipy.stats.bootstrap(..., paired=False)``); a constant or
    single-valued group is held fixed, and two of them give the interval ``(ratio, ratio)``.

    Degenerate cases: if ``stat(b) == 0`` the ratio is ``inf`` (``nan`` if ``stat(a) == 0`` too)
    and both bounds are ``nan``; if only some resamples have ``stat(b) == 0`` they count as
    ``inf`` (upper bound ``inf`` when they are more than ``(1 - conf) / 2`` of them), or as
    ``nan`` when ``stat(a)`` is 0 too (bounds ``nan`` if any is). An empty group gives ``nan``
    everywhere.

    :returns: ``(ratio, low, high)``.
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        return (math.nan, math.nan, math.nan)
    along = _along_last_axis(stat)

    def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(along(x), along(y))

    value = float(ratio(xa, xb))
    if float(along(xb)) == 0.0:
        return (value, math.nan, math.nan)
    lo, hi = _independent_bootstrap([xa, xb], ratio, n_boot, conf, seed)
    return (value, lo, hi)


def diff_ci(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    stat: Stat = np.mean,
    n_boot: int = 5000,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``stat(a) - stat(b)`` with a percentile bootstrap CI, ``a`` and ``b`` resampled independently.

    For two arms' seeds (not paired), as :func:`ratio_ci`: with binary ``a`` and ``b`` (reached a
    threshold or not) and the default ``np.mean`` it is the difference of two fractions. A constant
    or single-valued group is held fixed; two of them give the interval ``(diff, diff)``. An empty
    group gives ``nan`` everywhere.

    :returns: ``(diff, low, high)``.
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        return (math.nan, math.nan, math.nan)
    along = _along_last_axis(stat)
    value = float(along(xa) - along(xb))
    lo, hi = _independent_bootstrap([xa, xb], lambda x, y: along(x) - along(y), n_boot, conf, seed)
    return (value, lo, hi)
