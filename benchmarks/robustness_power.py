"""How many seeds does the pre-registered robustness run need? A power calculation on the runs made
before it (seeds 0-9 and 10-19, in benchmarks/results/robustness_seeds*).

The judged statistic is the Welch difference of the per-seed obstacle scores, SQL sampled minus
DDPG. With per-arm standard deviations ``s1, s2`` and ``n`` seeds per arm its standard error is
``sqrt((s1^2 + s2^2) / n)``; a two-sided 5% test detects an effect ``d`` with power ``1 - beta``
when ``d >= (z_{0.975} + z_{1 - beta}) * SE`` (normal approximation; at n >= 30 the t quantile
differs by < 3%). The largest standard deviations measured are used, and the effects are the
measured differences shrunk towards zero: the earlier DDPG failed the clean task on some seeds,
which scored 0 with obstacles and inflated the difference; the pre-registered DDPG solves it.

Usage::

    python benchmarks/robustness_power.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
RUNS = {"seeds 0-9": ROOT / "benchmarks/results/robustness_seeds0-9/robustness.json", "seeds 10-19": ROOT / "benchmarks/results/robustness_seeds10-19/robustness.json"}
ARMS = ("SQL stochastic", "DDPG deterministic")


def n_seeds(sd_a: float, sd_b: float, effect: float, power: float = 0.8, level: float = 0.05) -> int:
    """Seeds per arm for a two-sided Welch test at ``level`` to detect ``effect`` with ``power``."""
    z = norm.ppf(1 - level / 2) + norm.ppf(power)
    return math.ceil((z * math.hypot(sd_a, sd_b) / effect) ** 2)


def main() -> None:
    sds = {arm: 0.0 for arm in ARMS}
    for name, path in RUNS.items():
        data = json.loads(path.read_text())
        result = data.get("result", data)
        line = []
        for arm in ARMS:
            v = np.asarray(result["obstacle_success"][arm]["per_seed"])
            sds[arm] = max(sds[arm], float(v.std(ddof=1)))
            line.append(f"{arm} {v.mean():.3f} (sd {v.std(ddof=1):.3f})")
        print(f"{name}: " + ", ".join(line))
    sd_a, sd_b = (sds[a] for a in ARMS)
    print(f"largest sds: {sd_a:.3f}, {sd_b:.3f}")
    for effect in (0.20, 0.15, 0.13, 0.10):
        print(f"effect {effect:.2f}: {n_seeds(sd_a, sd_b, effect)} seeds for 80% power, {n_seeds(sd_a, sd_b, effect, 0.9)} for 90%")
    for n in (30, 40):
        se = math.hypot(sd_a, sd_b) / math.sqrt(n)
        print(f"{n} seeds: standard error {se:.3f}; detectable effect at 80% power {(norm.ppf(0.975) + norm.ppf(0.8)) * se:.3f}")


if __name__ == "__main__":
    main()
