"""The lecture claim the robustness experiment tests, the type of its result and the verdict rule."""

from __future__ import annotations

import math
from typing import Any, TypedDict

from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict

__all__ = ["BASELINE", "CLAIM", "PRIMARY", "RobustnessResult", "SuccessStats", "judge"]

#: the comparison the verdict is about: the energy-based policy, sampled, against DDPG
PRIMARY, BASELINE = "SQL stochastic", "DDPG deterministic"

CLAIM = Claim(
    name="robustness",
    title="Robustness to perturbations",
    section="4.6",
    statement="Max-entropy policies cover more states, so they recover better from disturbances than "
    "deterministic policies (Eysenbach & Levine 2022: trained without obstacles, the stochastic max-ent "
    "policy goes around obstacles placed on its path, the deterministic one collides).",
    criteria="on PointGoal-v0, trained without obstacles, each policy is evaluated with one obstacle at a time "
    "on its own learned path (3 positions x 3 widths); a seed's score is its success rate averaged over the 9 "
    "obstacles. Reproduced if SQL (sampled, as the theory is about the stochastic policy) and DDPG both solve "
    "the obstacle-free task (success >= 0.5) and SQL's score exceeds DDPG's with a Welch 95% interval of the "
    "difference above 0; partly if SQL is ahead without that support, or if SAC (sampled) is significantly "
    "ahead instead; not reproduced otherwise. Deterministic evaluations of SQL and SAC and the second family "
    "(velocity pushes, action noise) are reported, not judged. Pre-registered: the verdict comes from one run "
    "on seeds 1000-1039 (40 seeds never used before, from a power calculation on the earlier runs), with DDPG "
    "as RegularisedDDPG (actor lr 1e-4, pre-tanh penalty 1e-3), whose obstacle-free success did not depend on "
    "the CPU's vector kernels on seeds 0-19.",
)


class SuccessStats(TypedDict):
    """Success rate over seeds: mean, Student-t 95% interval, and the per-seed values."""

    mean: float
    ci: list[float]
    per_seed: list[float]


class Difference(TypedDict):
    """Mean difference ``arm - DDPG`` of the per-seed scores with a Welch 95% interval."""

    diff: float
    ci: list[float]


class RobustnessResult(TypedDict):
    """What :func:`~sb3_softopt.experiments.robustness.run` measures (also in ``robustness.json``).

    Arms are ``"<algo> <mode>"``: ``SQL stochastic``, ``SQL deterministic``, ``SAC stochastic``,
    ``SAC deterministic``, ``DDPG deterministic``.
    """

    claim: str
    env_id: str
    quick: bool
    budget: dict[str, int]
    seeds: list[int]
    arms: list[str]
    clean_success: dict[str, SuccessStats]
    #: per seed: mean success over the obstacle placements
    obstacle_success: dict[str, SuccessStats]
    #: arm -> "fraction=..., half_width=..." -> mean success over seeds
    obstacle_grid: dict[str, dict[str, float]]
    obstacle_diff: dict[str, Difference]
    #: SQL / SAC: paired difference sampled - deterministic of the obstacle scores, t 95% interval
    obstacle_mode_diff: dict[str, Difference]
    #: arm -> share of seeds whose clean success is >= 0.5
    clean_solved_share: dict[str, float]
    #: fraction of obstacle placements on the learned path (the others on the straight line)
    on_path_share: float
    #: per seed: mean success over every push and action-noise strength > 0
    disturbance_success: dict[str, SuccessStats]
    disturbance_diff: dict[str, Difference]
    #: family ("push", "action_noise") -> arm -> strength, success, success_lo, success_hi lists
    curves: dict[str, dict[str, dict[str, list[float]]]]
    #: wall seconds of this call (small when finished runs were reused)
    seconds: float
    #: CPU seconds of all its runs, reused or not (what the experiment costs on an idle machine)
    cpu_s: float
    figures: list[str]


def _ci(d: Difference) -> str:
    lo, hi = (float(x) for x in d["ci"])
    return f"{float(d['diff']):+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _significant(d: Difference) -> bool:
    lo = float(d["ci"][0])
    return float(d["diff"]) > 0 and math.isfinite(lo) and lo > 0


def judge(result: RobustnessResult) -> Verdict:
    clean, obst, diffs = result["clean_success"], result["obstacle_success"], result["obstacle_diff"]
    numbers: dict[str, Any] = {
        f"success without obstacles, {arm}": f"{float(clean[arm]['mean']):.2f}" for arm in result["arms"]
    }
    numbers.update({f"success with an obstacle on the path, {arm}": f"{float(obst[arm]['mean']):.2f}" for arm in result["arms"]})
    numbers.update({f"difference {arm} - DDPG, 95% CI": _ci(d) for arm, d in diffs.items()})
    numbers.update({f"seeds solving the obstacle-free task, {arm}": f"{share:.2f}" for arm, share in result["clean_solved_share"].items()})
    modes = result["obstacle_mode_diff"]
    numbers.update({f"{algo} sampled - deterministic with obstacles (paired), 95% CI": _ci(d) for algo, d in modes.items()})
    dist = result["disturbance_diff"]
    numbers.update({f"pushes and action noise: {arm} - DDPG": _ci(d) for arm, d in dist.items()})
    d = diffs[PRIMARY]
    if min(float(clean[PRIMARY]["mean"]), float(clean[BASELINE]["mean"])) < 0.5:
        return Verdict(
            NOT_REPRODUCED if float(d["diff"]) <= 0 else PARTLY,
            "SQL or DDPG did not learn the obstacle-free task (success < 0.5), so robustness is not comparable",
            numbers,
        )
    if _significant(d):
        return Verdict(REPRODUCED, "the sampled SQL policy gets past obstacles on its path significantly more often than DDPG", numbers)
    if float(d["diff"]) > 0:
        return Verdict(PARTLY, "SQL (sampled) is ahead of DDPG with obstacles, but the 95% interval includes zero", numbers)
    if "SAC stochastic" in diffs and _significant(diffs["SAC stochastic"]):
        return Verdict(PARTLY, "SAC (sampled) is significantly more robust than DDPG, SQL is not", numbers)
    return Verdict(NOT_REPRODUCED, "the sampled max-ent policy is not more robust to obstacles than DDPG here", numbers)
