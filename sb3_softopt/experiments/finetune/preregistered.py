"""The pre-registered U-maze replication of the finetune claim (issue #32): protocol, statistics, rule.

The 10-seed run of the lecture report met the claim on the hallway but decided nothing on the
U-maze: at 8k finetuning steps most runs never reach the threshold, so the censored
steps-to-threshold IQM sits at the budget for every arm. This module fixes, before the run, a
replication on the U-maze alone:

* :data:`UMAZE_PROTOCOL`: task and threshold, seeds (fresh, 3000 onwards), budget (20k finetuning
  steps), arms, margins and bootstrap settings: the replication's settings in one place;
* :func:`replication_stats`: from the per-seed steps to threshold, per arm the fraction of seeds
  that reach the threshold, the IQM of the steps with a run that never reaches it counted as the
  budget, the restricted mean (the mean of the same censored steps); per comparison the difference
  in reach fractions, the IQM ratio and the restricted-mean difference, each with a 95%
  percentile-bootstrap CI (the two arms' seeds resampled independently);
* :func:`judge_umaze`: the verdict rule, written before the run (``CRITERIA``);
* :func:`run_replication`: runs (or resumes) it with the experiment's runner (local pool or Dask),
  records its CPU time and writes ``replication.json``;
* :func:`n_seeds_two_proportions`, :func:`bootstrap_power`: the power calculation that chose the
  number of seeds (``benchmarks/finetune_umaze_power.py`` applies them to the runs made before).

The claim's :func:`~sb3_softopt.experiments.finetune.claim.judge` takes the U-maze verdict from
this replication once it has been run (``<claim folder>/umaze_preregistered/replication.json``);
until then the claim is judged on the earlier 10-seed run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_write_text, load_json
from sb3_softopt.experiments.infra.stats import bootstrap_ci, diff_ci, iqm, ratio_ci
from sb3_softopt.experiments.finetune.config import BUDGETS, DEFAULT_TASKS, QUICK_SEEDS, Budget
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Verdict, ci_text

__all__ = [
    "CRITERIA",
    "REPLICATION_DIR",
    "REPLICATION_FILE",
    "UMAZE_PROTOCOL",
    "Protocol",
    "ReplicationResult",
    "bootstrap_power",
    "judge_umaze",
    "load_replication",
    "n_seeds_two_proportions",
    "replication_stats",
    "run_replication",
]

#: sub-folder of the claim's folder that holds the replication (a finetune experiment folder)
REPLICATION_DIR = "umaze_preregistered"
REPLICATION_FILE = "replication.json"


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Everything the pre-registered replication fixes before it runs.

    :param task: the finetune env (pretraining on the experiment's ``PointPretrain-v0``).
    :param threshold: success threshold on the deterministic evaluation return.
    :param first_seed: first seed; the run uses ``first_seed .. first_seed + n_seeds - 1``.
    :param n_seeds: number of seeds (from the power calculation).
    :param budget: pretraining / finetuning steps and evaluation cadence.
    :param judged_arm: the arm the claim is about.
    :param baselines: the arms it is compared with (each comparison judged).
    :param info_arms: arms run and reported, not judged.
    :param reach_margin: smallest difference in reach fractions that counts as "the right sign".
    :param target_ratio: the lecture's "at least twice as fast": steps-IQM ratio at most this.
    :param n_boot: bootstrap resamples of every interval.
    :param conf: confidence level of every interval.
    """

    task: str = "PointUMaze-v0"
    threshold: float = DEFAULT_TASKS["PointUMaze-v0"]
    first_seed: int = 3000
    n_seeds: int = 66
    budget: Budget = dataclasses.field(default_factory=lambda: Budget(pretrain_steps=5_000, finetune_steps=20_000, eval_freq=500))
    judged_arm: str = "sql_pretrained"
    baselines: tuple[str, ...] = ("ddpg_scratch", "ddpg_pretrained")
    info_arms: tuple[str, ...] = ("sac_pretrained", "sql_scratch")
    reach_margin: float = 0.10
    target_ratio: float = 0.5
    n_boot: int = 10_000
    conf: float = 0.95

    @property
    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.n_seeds))

    @property
    def arms(self) -> tuple[str, ...]:
        return (self.judged_arm, *self.baselines, *self.info_arms)


#: The pre-registered replication (docs/lecture.md, "Finetune: pre-registered U-maze replication").
#: Budget: the 20k-step run on 5 seeds (benchmarks/results/umaze_20k) reached the threshold in
#: every seed that reached it by 9k steps, where 8k steps cut two of them off. Seeds 3000-3065: never
#: used by any experiment of this repository (the finetune runs used 0-9, robustness 0-19 and
#: 1000-1039, composition 0-1 and 2000-2009). 66 of them: the two-proportion sample size for 80%
#: power against the effect the lecture claims (twice DDPG's hazard) for the weaker of the two
#: baselines, ``benchmarks/finetune_umaze_power.py``.
UMAZE_PROTOCOL = Protocol()

#: The rule in words (the claim's criteria quote it).
CRITERIA = (
    f"U-maze, pre-registered replication: seeds {UMAZE_PROTOCOL.first_seed}-{UMAZE_PROTOCOL.first_seed + UMAZE_PROTOCOL.n_seeds - 1}, "
    f"{UMAZE_PROTOCOL.budget.finetune_steps} finetuning steps (evaluation every {UMAZE_PROTOCOL.budget.eval_freq}), threshold "
    f"{UMAZE_PROTOCOL.threshold:g}. Against each DDPG arm: the difference in the fraction of seeds that reach the threshold "
    "(SQL pretrained - DDPG) and the ratio of the steps-to-threshold IQMs (a run that never reaches it counting as the "
    "budget), both with 95% percentile-bootstrap CIs (the arms' seeds resampled independently). A comparison is met if "
    f"the reach difference's CI is above 0 and the ratio is <= {UMAZE_PROTOCOL.target_ratio:g} with its CI below 1; "
    "SQL is ahead if the reach difference's CI is above 0; it has the right sign if the reach difference is >= "
    f"{UMAZE_PROTOCOL.reach_margin:g} and the ratio < 1. U-maze reproduced if both comparisons are met; partly if "
    "SQL is ahead of at least one DDPG arm, or has the right sign against both; not reproduced otherwise. SAC "
    "pretrained and SQL from scratch are reported, not judged."
)


class ArmStats(TypedDict):
    """One arm over the seeds (intervals: 95% percentile bootstrap)."""

    #: per seed; None if the threshold was never reached within the budget
    steps_to_threshold: list[int | None]
    n_reached: int
    reach_fraction: float
    reach_ci: list[float]
    #: IQM of the steps, a run that never reached the threshold counting as the budget
    steps_iqm: float
    steps_ci: list[float]
    #: restricted mean time to threshold: mean of the same censored steps
    rmst: float
    rmst_ci: list[float]
    #: per seed: mean of the last three evaluations
    final_return: list[float]


class Comparison(TypedDict):
    """An arm against a baseline: reach difference, steps-IQM ratio and restricted-mean difference."""

    reach_diff: float
    reach_diff_ci: list[float]
    ratio: float
    ratio_ci: list[float]
    rmst_diff: float
    rmst_diff_ci: list[float]


class ReplicationResult(TypedDict):
    """What :func:`run_replication` measures (also in ``replication.json``)."""

    protocol: dict[str, Any]
    #: True only for the pre-registered seeds and budget: a pilot or a quick run never decides
    preregistered: bool
    task: str
    threshold: float
    budget: dict[str, Any]
    seeds: list[int]
    arms: dict[str, ArmStats]
    #: the judged arm and ``sac_pretrained`` (information) -> baseline -> comparison
    comparisons: dict[str, dict[str, Comparison]]
    #: CPU seconds of all its runs (pretraining and finetuning, reused ones included)
    cpu_s: float
    #: mean CPU seconds per run: "pretrain <algo>" and "finetune <arm>"
    cpu_s_per_run: dict[str, float]
    wall_s: float
    ran: dict[str, int]


def _censored(steps: Sequence[int | None], budget_steps: int) -> np.ndarray:
    return np.asarray([budget_steps if v is None else v for v in steps], dtype=float)


def _reached(steps: Sequence[int | None]) -> np.ndarray:
    return np.asarray([v is not None for v in steps], dtype=float)


def replication_stats(
    steps: Mapping[str, Sequence[int | None]],
    budget_steps: int,
    protocol: Protocol = UMAZE_PROTOCOL,
    finals: Mapping[str, Sequence[float]] | None = None,
) -> tuple[dict[str, ArmStats], dict[str, dict[str, Comparison]]]:
    """Per-arm statistics and the comparisons of :data:`UMAZE_PROTOCOL` from per-seed steps to threshold.

    :param steps: arm -> per seed, the first evaluation step at the threshold (None: never within the budget).
    :param budget_steps: the finetuning budget (the value of a censored run).
    :param finals: arm -> per-seed final returns (reported only).
    :returns: ``(arms, comparisons)`` as in :class:`ReplicationResult`.
    """
    kw: dict[str, Any] = dict(n_boot=protocol.n_boot, conf=protocol.conf)
    arms: dict[str, ArmStats] = {}
    for arm, per_seed in steps.items():
        censored, reached = _censored(per_seed, budget_steps), _reached(per_seed)
        if censored.size == 0:
            raise ValueError(f"arm {arm!r} has no seed")
        if np.any(censored < 0) or np.any(censored > budget_steps):
            raise ValueError(f"arm {arm!r}: steps to threshold must lie in [0, {budget_steps}], got {list(per_seed)}")
        arms[arm] = ArmStats(
            steps_to_threshold=[None if v is None else int(v) for v in per_seed],
            n_reached=int(reached.sum()),
            reach_fraction=float(reached.mean()),
            reach_ci=list(bootstrap_ci(reached, stat=np.mean, **kw)),
            steps_iqm=iqm(censored),
            steps_ci=list(bootstrap_ci(censored, **kw)),
            rmst=float(censored.mean()),
            rmst_ci=list(bootstrap_ci(censored, stat=np.mean, **kw)),
            final_return=[float(x) for x in (finals or {}).get(arm, [])],
        )
    comparisons: dict[str, dict[str, Comparison]] = {}
    for arm in (protocol.judged_arm, "sac_pretrained"):
        if arm not in steps:
            continue
        for base in protocol.baselines:
            if base not in steps:
                continue
            a, b = steps[arm], steps[base]
            d, dlo, dhi = diff_ci(_reached(a), _reached(b), **kw)
            r, rlo, rhi = ratio_ci(_censored(a, budget_steps), _censored(b, budget_steps), **kw)
            m, mlo, mhi = diff_ci(_censored(a, budget_steps), _censored(b, budget_steps), **kw)
            comparisons.setdefault(arm, {})[base] = Comparison(
                reach_diff=d, reach_diff_ci=[dlo, dhi], ratio=r, ratio_ci=[rlo, rhi], rmst_diff=m, rmst_diff_ci=[mlo, mhi]
            )
    return arms, comparisons


def _finite(*xs: float) -> bool:
    return all(math.isfinite(float(x)) for x in xs)


def comparison_status(c: Comparison, protocol: Protocol = UMAZE_PROTOCOL) -> str:
    """``"met"``, ``"ahead"``, ``"right sign"`` or ``"not ahead"`` for one comparison (the rule of :data:`CRITERIA`)."""
    d, (dlo, _) = float(c["reach_diff"]), c["reach_diff_ci"]
    r, (_, rhi) = float(c["ratio"]), c["ratio_ci"]
    ahead = _finite(dlo) and float(dlo) > 0
    twice = _finite(r, rhi) and r <= protocol.target_ratio and float(rhi) < 1
    if ahead and twice:
        return "met"
    if ahead:
        return "ahead"
    if _finite(d, r) and d >= protocol.reach_margin and r < 1:
        return "right sign"
    return "not ahead"


def _cmp_text(c: Comparison) -> str:
    d, (dlo, dhi) = float(c["reach_diff"]), c["reach_diff_ci"]
    return (
        f"reach difference {d:+.2f} [{float(dlo):+.2f}, {float(dhi):+.2f}], steps-IQM ratio {ci_text(c['ratio'], c['ratio_ci'])}, "
        f"restricted-mean difference {float(c['rmst_diff']):+.0f} "
        f"[{float(c['rmst_diff_ci'][0]):+.0f}, {float(c['rmst_diff_ci'][1]):+.0f}] steps"
    )


def judge_umaze(rep: Mapping[str, Any], protocol: Protocol = UMAZE_PROTOCOL) -> Verdict:
    """The U-maze verdict of the replication ``rep`` (a :class:`ReplicationResult`), by :data:`CRITERIA`."""
    arms, comps = rep["arms"], rep["comparisons"]
    try:
        judged = comps[protocol.judged_arm]
        per_base = {base: judged[base] for base in protocol.baselines}
    except KeyError:
        raise KeyError(f"the replication needs {protocol.judged_arm} compared with {list(protocol.baselines)}") from None
    n = len(rep["seeds"])
    seeds = rep["seeds"]
    numbers: dict[str, Any] = {
        "U-maze replication": f"seeds {min(seeds)}-{max(seeds)} ({n}), {rep['budget']['finetune_steps']} finetuning steps"
        + ("" if rep.get("preregistered") else " (not the pre-registered run: a pilot)"),
    }
    for arm, a in arms.items():
        numbers[f"U-maze replication: {arm} reached / steps IQM [95% CI]"] = (
            f"{a['n_reached']}/{n} ({float(a['reach_fraction']):.2f}), {ci_text(a['steps_iqm'], a['steps_ci'])}"
        )
    statuses = {}
    for base, c in per_base.items():
        statuses[base] = comparison_status(c, protocol)
        numbers[f"U-maze replication: SQL pretrained vs {base.replace('_', ' ')}"] = f"{_cmp_text(c)}: {statuses[base]}"
    for base, c in comps.get("sac_pretrained", {}).items():
        numbers[f"U-maze replication: SAC pretrained vs {base.replace('_', ' ')} (information)"] = _cmp_text(c)
    values = list(statuses.values())
    if all(s == "met" for s in values):
        reason = (
            "on the U-maze the SQL-pretrained agent reaches the threshold significantly more often and at least twice as "
            "fast as both DDPG arms"
        )
        return Verdict(REPRODUCED, reason, numbers)
    if any(s in ("met", "ahead") for s in values) or all(s == "right sign" for s in values):
        reason = "on the U-maze the SQL-pretrained agent is ahead of DDPG, but not significantly and twice as fast against both arms"
        return Verdict(PARTLY, reason, numbers)
    return Verdict(NOT_REPRODUCED, "on the U-maze the SQL-pretrained agent does not reach the threshold more often than DDPG", numbers)


# --------------------------------------------------------------------------------------------
# Power calculation
# --------------------------------------------------------------------------------------------
def n_seeds_two_proportions(p1: float, p2: float, power: float = 0.8, level: float = 0.05) -> int:
    """Seeds per arm for a two-sided test at ``level`` of ``p1 != p2`` to have ``power`` (normal
    approximation, pooled variance under the null: the textbook sample size of two proportions)."""
    from scipy.stats import norm

    if not (0 <= p1 <= 1 and 0 <= p2 <= 1) or p1 == p2:
        raise ValueError(f"p1 and p2 must be different probabilities, got {p1}, {p2}")
    pbar = (p1 + p2) / 2
    za, zb = norm.ppf(1 - level / 2), norm.ppf(power)
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p1 - p2) ** 2
    return math.ceil(n)


def bootstrap_power(p1: float, p2: float, n: int, sims: int = 4000, n_boot: int = 4000, conf: float = 0.95, seed: int = 0) -> float:
    """Monte Carlo power of the rule's test: the share of simulated experiments (``n`` seeds per arm,
    reach probabilities ``p1`` and ``p2``) whose percentile-bootstrap interval of the difference in
    reach fractions lies above 0. Resampling binary seeds is binomial, so the bootstrap is drawn as such."""
    rng = np.random.default_rng(seed)
    k1, k2 = rng.binomial(n, p1, sims), rng.binomial(n, p2, sims)
    b1 = rng.binomial(n, k1[:, None] / n, (sims, n_boot))
    b2 = rng.binomial(n, k2[:, None] / n, (sims, n_boot))
    low = np.quantile((b1 - b2) / n, (1 - conf) / 2, axis=1)
    return float((low > 0).mean())


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------
def load_replication(out_dir: str | Path) -> ReplicationResult | None:
    """The replication saved in ``out_dir`` (a claim folder or the replication's own), or None if there is none.

    :raises InvalidResult: if the file is unreadable or lacks a key.
    """
    out = Path(out_dir)
    path = out / REPLICATION_FILE if (out / REPLICATION_FILE).exists() else out / REPLICATION_DIR / REPLICATION_FILE
    if not path.exists():
        return None
    data = load_json(path, tuple(ReplicationResult.__annotations__))
    return data  # type: ignore[return-value]


def run_replication(
    out_dir: str | Path,
    *,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    budget: Budget | None = None,
    workers: int | None = None,
    backend: str = "local",
    dask_address: str | None = None,
    progress: bool = True,
    protocol: Protocol = UMAZE_PROTOCOL,
) -> ReplicationResult:
    """Run (or resume) the U-maze replication into ``out_dir`` (a finetune experiment folder) and
    write ``replication.json`` there.

    Without ``seeds``, ``budget`` and ``quick`` this is the pre-registered run. Anything else is a
    pilot (``preregistered`` False): its numbers are reported, never judged. ``quick``: the smoke-test
    budget on seeds 0-1.

    :param workers: parallel processes (default ``min(2, cpu_count)``); ``backend``/``dask_address``
        as :func:`sb3_softopt.experiments.finetune.run`.
    """
    from sb3_softopt.experiments.finetune.runner import run

    t0 = time.perf_counter()
    if quick:
        seeds, budget = list(range(QUICK_SEEDS)), BUDGETS["quick"]
    run_seeds = protocol.seeds if seeds is None else [int(s) for s in seeds]
    bud = protocol.budget if budget is None else budget
    preregistered = run_seeds == protocol.seeds and bud == protocol.budget
    out = Path(out_dir)
    summary = run(
        out,
        seeds=run_seeds,
        budget=bud,
        tasks={protocol.task: protocol.threshold},
        arms=protocol.arms,
        workers=workers,
        progress=progress,
        backend=backend,
        dask_address=dask_address,
    )
    per_arm = summary["tasks"][protocol.task]["arms"]
    steps = {arm: per_arm[arm]["steps_to_threshold"] for arm in protocol.arms}
    finals = {arm: per_arm[arm]["final_return"] for arm in protocol.arms}
    arms, comparisons = replication_stats(steps, bud.finetune_steps, protocol, finals)
    result = ReplicationResult(
        protocol=_jsonable(dataclasses.asdict(protocol)),
        preregistered=preregistered,
        task=protocol.task,
        threshold=protocol.threshold,
        budget=dataclasses.asdict(bud),
        seeds=run_seeds,
        arms=arms,
        comparisons=comparisons,
        cpu_s=float(summary["cpu_s"]),
        cpu_s_per_run=_cpu_per_run(out, protocol, run_seeds),
        wall_s=time.perf_counter() - t0,
        ran=dict(summary["ran"]),
    )
    atomic_write_text(out / REPLICATION_FILE, json.dumps(result, indent=1))
    return result


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d))


def _cpu_per_run(out: Path, protocol: Protocol, seeds: Sequence[int]) -> dict[str, float]:
    """Mean CPU seconds per run, by pretraining algorithm and finetuning arm (the cost model's inputs)."""
    from sb3_softopt.experiments.finetune.config import arm_algo, is_pretrained
    from sb3_softopt.experiments.finetune.jobs import _curve_path

    per: dict[str, list[float]] = {}
    for algo in sorted({arm_algo(a) for a in protocol.arms if is_pretrained(a)}):
        for s in seeds:
            try:
                info = json.loads((out / "pretrain" / f"{algo}_seed{s}.json").read_text())
                per.setdefault(f"pretrain {algo}", []).append(float(info["cpu_s"]))
            except (OSError, ValueError, KeyError, InvalidResult):
                pass
    for arm in protocol.arms:
        for s in seeds:
            try:
                cpu = _curve_path(out, protocol.task, arm, s).with_suffix(".cpu").read_text()
                per.setdefault(f"finetune {arm}", []).append(float(cpu))
            except (OSError, ValueError):
                pass
    return {k: float(np.mean(v)) for k, v in per.items() if v}
