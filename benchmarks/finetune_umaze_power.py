"""How many seeds, and how much CPU, does the pre-registered U-maze replication of the finetune claim need?

Reads every U-maze measurement made before the replication:

* ``docs/lecture/finetune`` (seeds 0-9, 8k finetuning steps, the six default arms, OU-noise DDPG);
* ``benchmarks/results/finetune_sql_prelim`` (seeds 0-4, 8k steps, the SQL arms' first run);
* ``benchmarks/results/umaze_20k`` (seeds 0-4, 20k steps; SAC pretrained and the Gaussian-noise DDPG
  arms of the time, named ``ddpg_*`` there).

Power. The judged statistic that censoring does not decide is the difference in the fraction of
seeds that reach the threshold within the budget (SQL pretrained - DDPG). The reach fraction of
each arm at 20k steps is projected from the 8k runs with a constant hazard per evaluation after
step 0 (pretrained policies that are at the threshold before finetuning count at step 0), a
projection that can only overstate the later hazard (the temperature anneals, and the 20k run's
arms reached the threshold by 9k steps or never). The effect to detect is the one the lecture
claims: SQL pretrained "twice as fast" as DDPG, i.e. twice DDPG's hazard, so a reach fraction of
``1 - (1 - p_DDPG)^2`` at the same budget. Seeds per arm: the textbook two-proportion sample size
(normal approximation) and the Monte Carlo power of the rule's own percentile-bootstrap test
(:func:`sb3_softopt.experiments.finetune.preregistered.bootstrap_power`).

Cost. Mean CPU seconds per run measured at 8k steps (``.cpu`` files beside the curves and ``cpu_s``
of the pretraining jsons), scaled linearly to 20k finetuning steps (gradient steps dominate), and,
as an upper estimate, the 20k runs' own CPU seconds (measured on 2 cores shared with two other
jobs, which inflates CPU time).

Usage::

    python benchmarks/finetune_umaze_power.py
"""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sb3_softopt.experiments.finetune.preregistered import UMAZE_PROTOCOL, bootstrap_power, n_seeds_two_proportions

ROOT = Path(__file__).resolve().parents[1]
TASK = UMAZE_PROTOCOL.task
THRESHOLD = UMAZE_PROTOCOL.threshold
RUNS = {
    "lecture 8k (seeds 0-9)": ROOT / "docs/lecture/finetune",
    "SQL prelim 8k (seeds 0-4)": ROOT / "benchmarks/results/finetune_sql_prelim",
    "20k (seeds 0-4; SAC, Gaussian DDPG)": ROOT / "benchmarks/results/umaze_20k",
}
BUDGET = UMAZE_PROTOCOL.budget.finetune_steps


def first_hits(folder: Path) -> tuple[dict[str, list[int | None]], int, int]:
    """arm -> per seed, first evaluation step at the threshold; the folder's budget and eval cadence."""
    df = pd.read_csv(folder / "curves.csv")
    df = df[df.task == TASK]
    out: dict[str, list[int | None]] = {}
    for arm, g in df.groupby("arm"):
        for _, d in g.groupby("seed"):
            hit = d.sort_values("step")
            hit = hit[hit.eval_return >= THRESHOLD]
            out.setdefault(str(arm), []).append(int(hit.step.iloc[0]) if len(hit) else None)
    steps = sorted(df.step.unique())
    return out, int(steps[-1]), int(steps[1] - steps[0])


def project(hits: list[int | None], budget: int, eval_freq: int, target: int) -> float:
    """Reach fraction at ``target`` steps: the step-0 share plus a constant per-evaluation hazard after it."""
    n = len(hits)
    at0 = sum(h == 0 for h in hits)
    later = [h for h in hits if h is not None and h > 0]
    # evaluations at risk after step 0: up to the hit for those that hit later, all of them for the others
    at_risk = sum(h // eval_freq for h in later) + (n - at0 - len(later)) * (budget // eval_freq)
    hazard = len(later) / at_risk if at_risk else 0.0
    p0 = at0 / n
    return p0 + (1 - p0) * (1 - (1 - hazard) ** (target // UMAZE_PROTOCOL.budget.eval_freq))


def cpu_per_run(folder: Path) -> dict[str, float]:
    per: dict[str, list[float]] = {}
    for f in glob.glob(str(folder / "curves" / TASK / "*.cpu")):
        per.setdefault("finetune " + Path(f).name.rsplit("_seed", 1)[0], []).append(float(Path(f).read_text()))
    for f in glob.glob(str(folder / "pretrain" / "*.json")):
        info = json.loads(Path(f).read_text())
        per.setdefault(f"pretrain {info['algo']}", []).append(float(info["cpu_s"]))
    return {k: float(np.mean(v)) for k, v in sorted(per.items())}


def main() -> None:
    print(f"Protocol: {TASK}, threshold {THRESHOLD:g}, {BUDGET} finetuning steps, arms {list(UMAZE_PROTOCOL.arms)}")
    print("\n1. Reached the threshold (first evaluation >= threshold), per run folder:")
    hits_8k: dict[str, list[int | None]] = {}
    for name, folder in RUNS.items():
        hits, budget, freq = first_hits(folder)
        print(f"  {name}: budget {budget}, evaluation every {freq}")
        for arm, h in hits.items():
            n_hit = sum(v is not None for v in h)
            print(f"    {arm:16s} {n_hit}/{len(h)} = {n_hit / len(h):.2f}   {['-' if v is None else v for v in h]}")
            if budget == 8000:
                hits_8k.setdefault(arm, []).extend(h)
    print("\n2. Reach fraction at 8k (the 8k runs pooled) and projected to 20k (constant hazard after step 0):")
    proj = {}
    for arm, h in hits_8k.items():
        proj[arm] = project(h, 8000, 500, BUDGET)
        print(f"    {arm:16s} 8k {sum(v is not None for v in h)}/{len(h)}   20k projected {proj[arm]:.2f}")
    sql = proj["sql_pretrained"]
    print("\n3. Effects and seeds per arm (two-sided 5%; n for 80% / 90% power by the normal approximation;")
    print("   Monte Carlo power of the rule's bootstrap test at n = 20, 30, 40, 60, 80 and the chosen n):")
    scenarios = {}
    for base in UMAZE_PROTOCOL.baselines:
        pd_ = proj[base]
        scenarios[f"measured (projected): SQL pretrained {sql:.2f} vs {base} {pd_:.2f}"] = (sql, pd_)
        twice = 1 - (1 - pd_) ** 2
        scenarios[f"claimed, twice DDPG's hazard: {twice:.2f} vs {base} {pd_:.2f}"] = (twice, pd_)
    scenarios["20k run (5 seeds): SAC pretrained 0.40 vs DDPG 0.20"] = (0.4, 0.2)
    for name, (p1, p2) in scenarios.items():
        if abs(p1 - p2) < 0.01:
            print(f"  {name}: difference {p1 - p2:+.2f}, no number of seeds detects it")
            continue
        n80, n90 = n_seeds_two_proportions(p1, p2), n_seeds_two_proportions(p1, p2, 0.9)
        mc = ", ".join(f"{bootstrap_power(p1, p2, n, sims=2000, n_boot=2000):.2f}" for n in (20, 30, 40, 60, 80, UMAZE_PROTOCOL.n_seeds))
        print(f"  {name}: difference {p1 - p2:+.2f}; n = {n80} (80%), {n90} (90%); bootstrap power {mc}")
    n = UMAZE_PROTOCOL.n_seeds
    print(f"\n   Chosen: {n} seeds. Smallest reach difference detected with 80% power at n = {n} (bootstrap test):")
    for p2 in (0.2, 0.3, 0.4):
        d = next(d for d in np.arange(0.10, 0.6, 0.02) if bootstrap_power(min(p2 + d, 1.0), p2, n, sims=1000, n_boot=1000) >= 0.8)
        print(f"    DDPG at {p2:.1f}: {d:.2f}")
    print("\n4. Cost (CPU seconds per run):")
    c8 = {}
    for name, folder in RUNS.items():
        c = cpu_per_run(folder)
        print(f"  {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in c.items()))
        for k, v in c.items():
            c8.setdefault(k, []).append((name, v))
    scale = BUDGET / 8000
    lecture = cpu_per_run(RUNS["lecture 8k (seeds 0-9)"])
    long = cpu_per_run(RUNS["20k (seeds 0-4; SAC, Gaussian DDPG)"])
    low = high = 0.0
    for algo in ("sql", "sac", "ddpg"):
        low += lecture[f"pretrain {algo}"]
        high += lecture[f"pretrain {algo}"]
    lines = []
    for arm in UMAZE_PROTOCOL.arms:
        v8 = lecture[f"finetune {arm}"]
        lin = v8 * scale
        # upper: the 20k runs' measured CPU over their 8k counterparts, applied to this arm
        ref = "finetune sac_pretrained" if arm.startswith(("sql", "sac")) else f"finetune {arm}"
        factor = long[ref] / lecture[ref] if ref in long else scale
        lines.append(f"    finetune {arm:16s} 8k {v8:5.1f} -> 20k {lin:5.1f} (linear) .. {v8 * factor:5.1f} (as the 20k runs)")
        low += lin
        high += v8 * factor
    print("\n".join(lines))
    print(f"  per seed (3 pretrainings + 5 finetunings): {low:.0f} .. {high:.0f} CPU-s")
    total_low, total_high = low * n, high * n
    print(
        f"  {n} seeds: {total_low:.0f} .. {total_high:.0f} CPU-s = {total_low / 3600:.1f} .. {total_high / 3600:.1f} CPU-hours, "
        f"{total_low / 7200:.1f} .. {total_high / 7200:.1f} h of wall time on 2 idle cores"
    )
    assert math.isfinite(total_low)


if __name__ == "__main__":
    main()
