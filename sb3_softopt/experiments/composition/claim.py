"""The lecture claim the composition experiment tests, the type of its result and the verdict rule."""

from __future__ import annotations

import math
from typing import Any, TypedDict

from sb3_softopt.experiments.composition.config import MARGIN
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict

__all__ = ["CLAIM", "CompositionResult", "Difference", "SuccessStats", "judge"]

#: the two comparisons the verdict is about
VS_SCRATCH, VS_DDPG = "SQL composed - SQL scratch", "SQL composed - DDPG average"

CLAIM = Claim(
    name="composition",
    title="Soft policies compose",
    section="4.7",
    statement="The soft Q-functions of tasks learned separately add up to the policy of the combined task, with no new "
    "environment step (Haarnoja et al. 2018, 'Composable Deep Reinforcement Learning for Robotic Manipulation'); "
    "averaging the actions of deterministic policies does not compose them.",
    criteria="PointComposeA-v0 rewards reaching goal N or E, PointComposeB-v0 E or S; the combined task "
    "PointComposeAB-v0 (rewards averaged) peaks at E, where they meet. SQL is trained on A and on B (6,000 env steps "
    "each) and composed (AND, weights 1/2; a fresh sampler fitted for 2,000 gradient steps on the frozen composed "
    "critic) with zero environment steps; it is compared on the combined task, by the success rate of the sampled "
    "policy (within 1.5 of E at the last of 30 steps, 20 episodes per seed), against SQL trained from scratch on the "
    f"combined task with the constituents' total (12,000 steps, sampled) and against the mean of the greedy actions of "
    f"DDPG trained on A and on B (6,000 steps each). Reproduced if both (i) the composed policy is within {MARGIN:g} of "
    "the scratch policy (mean success difference >= -0.15) and (ii) it is ahead of the DDPG average with a Welch 95% "
    "interval of the difference above 0; partly if one of the two holds; not reproduced otherwise. Deterministic "
    "evaluations and the constituents' own success are reported, not judged. Pre-registered before the run: seeds "
    "2000-2009 (the pilot used seeds 0-1), budget and rule as stated.",
)


class SuccessStats(TypedDict):
    """Success rate over seeds: mean, Student-t 95% interval (clipped to [0, 1]), and the per-seed values."""

    mean: float
    ci: list[float]
    per_seed: list[float]


class Difference(TypedDict):
    """Mean difference of the per-seed success rates with a Welch 95% interval."""

    diff: float
    ci: list[float]


class CompositionResult(TypedDict):
    """What :func:`~sb3_softopt.experiments.composition.run` measures (also in ``composition.json``).

    ``arms`` are evaluated on ``PointComposeAB-v0``: ``SQL composed``, ``SQL scratch``, ``DDPG
    average`` and the two SQL arms with their deterministic particle; ``constituents`` on their own
    task: ``SQL A``, ``SQL B`` (sampled), ``DDPG A``, ``DDPG B`` (greedy).
    """

    claim: str
    env_ids: list[str]
    quick: bool
    budget: dict[str, int]
    seeds: list[int]
    margin: float
    arms: list[str]
    success: dict[str, SuccessStats]
    #: ``VS_SCRATCH`` and ``VS_DDPG``, Welch 95% intervals over seeds
    diff: dict[str, Difference]
    constituents: list[str]
    constituent_success: dict[str, SuccessStats]
    #: arm (and constituent) -> goal reached at the last step ("N", "E", "S", "none") -> share of episodes over seeds
    ends: dict[str, dict[str, float]]
    #: the most environment steps any composed model took (the claim needs 0)
    composed_env_steps: int
    #: wall seconds of this call (small when finished seeds were reused)
    seconds: float
    #: CPU seconds of all its seeds, reused or not (what the experiment costs on an idle machine)
    cpu_s: float
    figures: list[str]


def _ci(d: Difference) -> str:
    lo, hi = (float(x) for x in d["ci"])
    return f"{float(d['diff']):+.3f} [{lo:+.3f}, {hi:+.3f}]"


def judge(result: CompositionResult) -> Verdict:
    success, diff = result["success"], result["diff"]
    margin = float(result["margin"])
    numbers: dict[str, Any] = {f"success on the combined task, {arm}": f"{float(success[arm]['mean']):.2f}" for arm in result["arms"]}
    numbers.update({f"difference {name}, 95% CI": _ci(d) for name, d in diff.items()})
    numbers.update({f"success on its own task, {c}": f"{float(s['mean']):.2f}" for c, s in result["constituent_success"].items()})
    numbers["environment steps of the composed policy"] = int(result["composed_env_steps"])
    if int(result["composed_env_steps"]) != 0:
        return Verdict(NOT_REPRODUCED, "the composed policy took environment steps: it is no zero-shot composition", numbers)
    near_scratch = float(diff[VS_SCRATCH]["diff"]) >= -margin
    lo = float(diff[VS_DDPG]["ci"][0])
    beats_ddpg = float(diff[VS_DDPG]["diff"]) > 0 and math.isfinite(lo) and lo > 0
    if near_scratch and beats_ddpg:
        return Verdict(
            REPRODUCED,
            f"the composed SQL policy, with zero environment steps, is within {margin:g} of SQL trained from scratch with the "
            "constituents' total and significantly ahead of the averaged DDPG policies",
            numbers,
        )
    if near_scratch:
        why = f"the composed policy is within {margin:g} of scratch, but not significantly ahead of the DDPG average"
        return Verdict(PARTLY, why, numbers)
    if beats_ddpg:
        why = f"the composed policy beats the DDPG average significantly, but trails scratch by more than {margin:g}"
        return Verdict(PARTLY, why, numbers)
    return Verdict(NOT_REPRODUCED, "the composed policy neither matches scratch nor beats the averaged DDPG policies", numbers)
