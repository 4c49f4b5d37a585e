"""Statistics over seeds: IQM, bootstrap and t intervals, steps to a threshold."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np



# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------
def iqm(x: Sequence[float]) -> float:
    """Interquartile mean (25% trimmed mean), rliable's ``aggregate_iqm`` for one task."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(x, dtype=float), proportiontocut=0.25))


def bootstrap_ci(x: Sequence[float], stat=iqm, n_boot: int = 5000, conf: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over seeds (resampled with replacement)."""
    from scipy import stats
    from scipy.stats import trim_mean

    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        return (math.nan, math.nan)
    if arr.size < 2 or np.ptp(arr) == 0:  # every resample is the sample itself
        value = float(stat(arr))
        return (value, value)
    if stat is iqm:
        statistic = lambda s, axis: trim_mean(s, 0.25, axis=axis)  # noqa: E731  (vectorised IQM)
    else:
        statistic = lambda s, axis: np.apply_along_axis(stat, axis, s)  # noqa: E731
    res = stats.bootstrap(
        (arr,), statistic, n_resamples=n_boot, confidence_level=conf, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of a t-based 95% CI along axis 0 (for the curves)."""
    import warnings

    from scipy import stats

    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return mean, np.zeros_like(mean)
    with warnings.catch_warnings():  # identical values in a column: scipy warns, the half-width is 0
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(values, 0.0, axis=0).confidence_interval(0.95)
    half = np.where(np.ptp(values, axis=0) == 0, 0.0, (ci.high - ci.low) / 2)
    return mean, half




def steps_to_threshold(steps: Sequence[int], returns: Sequence[float], threshold: float) -> Optional[int]:
    """First evaluation step whose return is >= ``threshold`` (``None`` if never)."""
    for s, r in zip(steps, returns):
        if r >= threshold:
            return int(s)
    return None
