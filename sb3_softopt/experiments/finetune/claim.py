"""The lecture claim this experiment tests, the type of its result and the verdict rule."""

from __future__ import annotations

from typing import Any, TypedDict

from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict, ci_text

__all__ = ["CLAIM", "ArmResult", "FinetuneResult", "TaskResult", "judge"]

CLAIM = Claim(
    name="finetune",
    title="Max-entropy pretraining, then finetuning",
    section="4.6, 4.7",
    statement="Policies pretrained with a maximum-entropy method cover more behaviours and finetune faster than "
    "DDPG, whether DDPG starts from scratch or from its own pretraining.",
    criteria="on each finetune task, compare the SAC-pretrained arm's final-return IQM with DDPG from scratch "
    "and DDPG pretrained: reproduced if it wins every comparison and at least half of them with "
    "non-overlapping 95% bootstrap intervals; partly if it wins a majority; not reproduced otherwise.",
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


class TaskResult(TypedDict):
    threshold: float
    arms: dict[str, ArmResult]


class FinetuneResult(TypedDict):
    """What :func:`~sb3_softopt.experiments.finetune.run` measures (also in ``summary.json``)."""

    tasks: dict[str, TaskResult]
    #: pretrained algorithm -> "explore" / "deterministic" -> coverage measure -> per seed
    coverage: dict[str, dict[str, Any]]
    budget: dict[str, Any]
    seeds: list[int]
    #: CPU seconds of all runs (what the experiment costs on an idle machine)
    cpu_s: float
    #: runs done by this call (the others were reused): "pretrain", "finetune"
    ran: dict[str, int]
    wall_s: float


def judge(result: FinetuneResult) -> Verdict:
    tasks = result["tasks"]
    if not tasks:
        raise ValueError("the result holds no task")
    numbers: dict[str, Any] = {}
    won = significant = total = 0
    for task, entry in tasks.items():
        arms = entry["arms"]
        soft = arms["sac_pretrained"]
        s_iqm, s_lo = float(soft["final_iqm"]), float(soft["final_ci"][0])
        numbers[f"{task}: final return IQM [95% CI], SAC pretrained"] = ci_text(s_iqm, soft["final_ci"])
        for base in ("ddpg_scratch", "ddpg_pretrained"):
            if base not in arms:
                continue
            b = arms[base]
            b_iqm, b_hi = float(b["final_iqm"]), float(b["final_ci"][1])
            numbers[f"{task}: {base.replace('_', ' ')}"] = ci_text(b_iqm, b["final_ci"])
            total += 1
            won += s_iqm > b_iqm
            significant += s_iqm > b_iqm and s_lo > b_hi
    if total == 0:
        raise KeyError("no DDPG arm (ddpg_scratch, ddpg_pretrained) to compare with")
    numbers["comparisons won (significant) / total"] = f"{won} ({significant}) / {total}"
    if won == total and 2 * significant >= total:
        return Verdict(REPRODUCED, "the SAC-pretrained agent finetunes to a higher return than both DDPG baselines on every task", numbers)
    if 2 * won > total:
        return Verdict(PARTLY, "the SAC-pretrained agent is ahead in most comparisons, not all or not significantly", numbers)
    return Verdict(NOT_REPRODUCED, "max-entropy pretraining did not beat the DDPG baselines", numbers)
