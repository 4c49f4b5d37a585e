"""The lecture claim this experiment tests, the type of its result and the verdict rule."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any, TypedDict

from sb3_softopt.experiments.infra.atomic import InvalidResult
from sb3_softopt.experiments.finetune.preregistered import CRITERIA as UMAZE_CRITERIA
from sb3_softopt.experiments.finetune.preregistered import UMAZE_PROTOCOL, ReplicationResult, judge_umaze, load_replication
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict, ci_text

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # Python 3.10
    from typing_extensions import NotRequired

__all__ = ["CLAIM", "TARGET_RATIO", "AggregateResult", "ArmResult", "FinetuneResult", "RatioResult", "TaskResult", "judge", "ratio_met"]

#: The paper's claim in numbers: the soft-pretrained agent needs at most half of DDPG's steps.
TARGET_RATIO = 0.5
#: The arm the claim is judged on (the paper pretrains with soft Q-learning) and its baselines.
JUDGED_ARM = "sql_pretrained"
INFO_ARM = "sac_pretrained"
BASELINES = ("ddpg_scratch", "ddpg_pretrained")

CLAIM = Claim(
    name="finetune",
    title="Max-entropy pretraining, then finetuning",
    section="4.6, 4.7",
    statement="Policies pretrained with a maximum-entropy method cover more behaviours and finetune faster than "
    "DDPG, whether DDPG starts from scratch or from its own pretraining.",
    criteria="on each finetune task, the steps to reach the task's return threshold of the SQL-pretrained arm "
    "(finetuned with an annealed temperature) over those of DDPG from scratch and of DDPG pretrained (both with "
    "Ornstein-Uhlenbeck exploration noise, the paper's baseline): ratio of the IQMs over seeds, a run that never "
    "reaches the threshold counting as the whole finetuning budget, with a 95% percentile-bootstrap CI resampling "
    "each arm's seeds independently. A comparison is met if the ratio is <= 0.5 and the CI's upper bound is < 1. "
    "Reproduced if every comparison (two per task) is met; partly if at least one is, or if every ratio is < 1 "
    "without that support; not reproduced otherwise. SAC-pretrained ratios are reported, not judged. Pre-registered "
    "(issue #32): once its run is made, the U-maze is judged on a replication alone, the hallway keeping its 10-seed "
    "result. "
    + UMAZE_CRITERIA
    + " The claim is then reproduced if both hallway comparisons are met and the U-maze is reproduced; not reproduced "
    "if no hallway comparison is met nor every hallway ratio < 1, and the U-maze is not reproduced; partly otherwise.",
)


class ArmResult(TypedDict):
    """One arm on one task, over the seeds (IQM with percentile-bootstrap 95% intervals)."""

    #: per seed; None if the threshold was never reached
    steps_to_threshold: list[int | None]
    n_reached: int
    #: IQM and CI of the steps, a run that never reached the threshold counting ``finetune_steps``
    steps_iqm: float
    steps_ci: list[float]
    #: per seed: mean of the last three evaluations
    final_return: list[float]
    final_iqm: float
    final_ci: list[float]


class RatioResult(TypedDict):
    """Steps-to-threshold IQM of a pretrained soft arm over a DDPG arm's (censored steps as in ``steps_iqm``)."""

    ratio: float
    #: percentile-bootstrap 95% CI, the two arms' seeds resampled independently
    ci: list[float]


class TaskResult(TypedDict):
    threshold: float
    arms: dict[str, ArmResult]
    #: soft arm ("sql_pretrained", "sac_pretrained") -> DDPG arm ("ddpg_scratch", "ddpg_pretrained") -> ratio
    ratios: dict[str, dict[str, RatioResult]]


class AggregateResult(TypedDict):
    """One arm over every task: IQM of all runs with stratified-bootstrap 95% CIs (tasks resampled apart)."""

    steps_iqm: float
    steps_ci: list[float]
    final_iqm: float
    final_ci: list[float]


class FinetuneResult(TypedDict):
    """What :func:`~sb3_softopt.experiments.finetune.run` measures (also in ``summary.json``)."""

    tasks: dict[str, TaskResult]
    #: arm -> its aggregate over the tasks
    aggregate: dict[str, AggregateResult]
    #: pretrained algorithm -> "explore" / "deterministic" -> coverage measure -> per seed;
    #: "goal_reach" -> task -> {"criterion": words, "fraction": per seed}; "pretrain_final_eval": per seed
    coverage: dict[str, dict[str, Any]]
    budget: dict[str, Any]
    seeds: list[int]
    #: CPU seconds of all runs (what the experiment costs on an idle machine)
    cpu_s: float
    #: runs done by this call (the others were reused): "pretrain", "finetune"
    ran: dict[str, int]
    wall_s: float
    #: the pre-registered U-maze replication, when this call ran it (``umaze_replication=True``)
    umaze_replication: NotRequired[ReplicationResult]


def ratio_met(entry: RatioResult) -> bool:
    """The target for one comparison: ratio <= 0.5 and its CI below 1 (NaN bounds never meet it)."""
    return float(entry["ratio"]) <= TARGET_RATIO and float(entry["ci"][1]) < 1.0


def _comparison(task: str, entry: TaskResult, arm: str, base: str) -> tuple[RatioResult, str]:
    try:
        ratio = entry["ratios"][arm][base]
    except KeyError:
        raise KeyError(f"{task}: no steps ratio of {arm} over {base} (the result needs both arms)") from None
    arms = entry["arms"]
    n = len(arms[arm]["steps_to_threshold"])
    reached = f"reached {arms[arm]['n_reached']}/{n} vs {arms[base]['n_reached']}/{len(arms[base]['steps_to_threshold'])}"
    return ratio, f"{ci_text(ratio['ratio'], ratio['ci'])} ({reached})"


def _replication(result: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str]:
    """The replication that decides the U-maze (None if there is none yet) and a note for the numbers."""
    rep = result.get("umaze_replication")
    where = "in the result"
    if rep is None and result.get("_out_dir"):
        try:
            rep = load_replication(result["_out_dir"])
        except InvalidResult as exc:
            return None, f"not trusted ({exc}); the U-maze is judged on the earlier run"
        where = "saved in the claim's folder"
    if rep is None:
        return None, (
            f"not run yet (pre-registered: seeds {UMAZE_PROTOCOL.first_seed}-{UMAZE_PROTOCOL.first_seed + UMAZE_PROTOCOL.n_seeds - 1}, "
            f"{UMAZE_PROTOCOL.budget.finetune_steps} finetuning steps); the U-maze is judged on the earlier run"
        )
    if not rep.get("preregistered"):
        return None, f"a pilot {where} (not the pre-registered seeds and budget): reported, not judged"
    return rep, f"the pre-registered run, {where}"


def judge(result: FinetuneResult) -> Verdict:
    tasks = result["tasks"]
    if not tasks:
        raise ValueError("the result holds no task")
    rep, note = _replication(result)
    numbers: dict[str, Any] = {}
    met = below_one = total = 0
    for task, entry in tasks.items():
        decided_elsewhere = rep is not None and task == rep["task"]
        for base in BASELINES:
            ratio, text = _comparison(task, entry, JUDGED_ARM, base)
            ok = ratio_met(ratio)
            if decided_elsewhere:
                numbers[f"{task}: SQL pretrained / {base.replace('_', ' ')}, earlier run (history, not judged)"] = text
                continue
            numbers[f"{task}: SQL pretrained / {base.replace('_', ' ')}, steps ratio [95% CI]"] = text + (" met" if ok else " not met")
            total += 1
            met += ok
            below_one += not math.isnan(ratio["ratio"]) and ratio["ratio"] < 1
    for task, entry in tasks.items():
        for base in BASELINES:
            if base in entry["ratios"].get(INFO_ARM, {}):
                numbers[f"{task}: SAC pretrained / {base.replace('_', ' ')} (information)"] = _comparison(task, entry, INFO_ARM, base)[1]
    numbers[f"comparisons met (ratio <= {TARGET_RATIO}, CI < 1) / total"] = f"{met} / {total}"
    numbers["U-maze pre-registered replication"] = note
    pilot = result.get("umaze_replication")
    if rep is None and pilot is not None:
        numbers.update({f"(pilot) {k}": v for k, v in judge_umaze(pilot).numbers.items()})
    if rep is not None:
        umaze = judge_umaze(rep)
        numbers.update(umaze.numbers)
        numbers["U-maze replication verdict"] = umaze.level
        return _combined(met, below_one, total, umaze, numbers)
    if met == total:
        reason = "the SQL-pretrained agent reaches the threshold in at most half the steps of both DDPG baselines on every task"
        return Verdict(REPRODUCED, reason, numbers)
    if met > 0 or below_one == total:
        reason = "the SQL-pretrained agent is faster than DDPG, but not at least twice as fast with a CI below 1 in every comparison"
        return Verdict(PARTLY, reason, numbers)
    return Verdict(NOT_REPRODUCED, "SQL pretraining did not finetune faster than the DDPG baselines", numbers)


def _combined(met: int, below_one: int, total: int, umaze: Verdict, numbers: dict[str, Any]) -> Verdict:
    """The claim's verdict from the other tasks' comparisons (the hallway) and the U-maze replication's verdict."""
    others_all = met == total  # vacuous with no other task: the U-maze alone decides
    others_none = total > 0 and met == 0 and below_one < total
    if others_all and umaze.level == REPRODUCED:
        return Verdict(REPRODUCED, "met on the hallway, and " + umaze.reason, numbers)
    if (others_none or total == 0) and umaze.level == NOT_REPRODUCED:
        return Verdict(NOT_REPRODUCED, umaze.reason + (" (and not met on the other tasks)" if total else ""), numbers)
    if total == 0:
        return Verdict(umaze.level, umaze.reason, numbers)
    hallway = "met on the hallway" if others_all else "not met on every hallway comparison"
    return Verdict(PARTLY, f"{hallway}; {umaze.reason} (U-maze replication: {umaze.level})", numbers)
