"""The summary: curves table, steps to threshold and final return per arm, ``summary.md``."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import numpy as np

from sb3_softopt.experiments.infra.atomic import atomic_path
from sb3_softopt.experiments.infra.stats import bootstrap_ci, iqm, ratio_ci, stratified_bootstrap_ci
from sb3_softopt.experiments.infra.atomic import atomic_write_text as _atomic_write
from sb3_softopt.experiments.finetune.claim import TARGET_RATIO, ratio_met
from sb3_softopt.experiments.finetune.config import FINAL_EVALS, RATIO_ARMS, RATIO_BASELINES, Budget
from sb3_softopt.experiments.finetune.jobs import _curve_path
from sb3_softopt.experiments.finetune.plots import _plot_coverage, _plot_curves


def steps_to_threshold(steps: Sequence[int], returns: Sequence[float], threshold: float) -> int | None:
    """First evaluation step whose return is >= ``threshold`` (``None`` if never)."""
    for s, r in zip(steps, returns, strict=True):
        if r >= threshold:
            return int(s)
    return None


def _load_curves(out: Path, tasks, arms, seeds):
    import pandas as pd

    frames = []
    for task in tasks:
        for arm in arms:
            for s in seeds:
                df = pd.read_csv(_curve_path(out, task, arm, s))
                df.insert(0, "seed", s)
                df.insert(0, "arm", arm)
                df.insert(0, "task", task)
                frames.append(df)
    return pd.concat(frames, ignore_index=True)


def summarize(out: Path, tasks: dict[str, float], arms, seeds, bud: Budget, algos) -> dict:
    """Write ``curves.csv``, ``summary.md``, ``finetune_curves.png`` and ``coverage.png``."""
    df = _load_curves(out, tasks, arms, seeds)
    with atomic_path(out / "curves.csv") as tmp:
        df.to_csv(tmp, index=False)
    result: dict[str, Any] = {"tasks": {}, "coverage": {}, "budget": dataclasses.asdict(bud), "seeds": list(seeds)}
    for task, thr in tasks.items():
        result["tasks"][task] = {"threshold": thr, "arms": {}}
        for arm in arms:
            sts, finals = [], []
            for s in seeds:
                d = df[(df.task == task) & (df.arm == arm) & (df.seed == s)].sort_values("step")
                sts.append(steps_to_threshold(d.step.tolist(), d.eval_return.tolist(), thr))
                finals.append(float(d.eval_return.tail(FINAL_EVALS).mean()))
            censored = _censored({"steps_to_threshold": sts}, bud)
            result["tasks"][task]["arms"][arm] = {
                "steps_to_threshold": sts,
                "n_reached": sum(v is not None for v in sts),
                "steps_iqm": iqm(censored),
                "steps_ci": bootstrap_ci(censored),
                "final_return": finals,
                "final_iqm": iqm(finals),
                "final_ci": bootstrap_ci(finals),
            }
        result["tasks"][task]["ratios"] = _ratios(result["tasks"][task]["arms"], bud)
    result["aggregate"] = _aggregate(result["tasks"], arms, bud)
    for algo in algos:
        covs = [json.loads((out / "pretrain" / f"{algo}_seed{s}.json").read_text()) for s in seeds]
        result["coverage"][algo] = {
            mode: {
                k: [c["coverage"][mode][k] for c in covs] for k in ("position_entropy", "heading_spread", "mean_speed")
            }
            for mode in ("explore", "deterministic")
        }
        result["coverage"][algo]["pretrain_final_eval"] = [c["eval"][-1][1] if c["eval"] else math.nan for c in covs]
        result["coverage"][algo]["goal_reach"] = {
            task: {
                "criterion": covs[0]["coverage"]["goal_reach"][task]["criterion"],
                "fraction": [c["coverage"]["goal_reach"][task]["fraction"] for c in covs],
            }
            for task in tasks
        }
    cpu = 0.0
    for f in list((out / "pretrain").glob("*.json")) if (out / "pretrain").exists() else []:
        cpu += float(json.loads(f.read_text()).get("cpu_s", 0.0))
    for task in tasks:
        for arm in arms:
            for s in seeds:
                try:  # informative only: a missing or unreadable one counts 0
                    cpu += float(_curve_path(out, task, arm, s).with_suffix(".cpu").read_text())
                except (OSError, ValueError):
                    pass
    # Sum of the runs' process CPU time: what the experiment costs on an idle machine, whatever
    # the load was while it ran (divide by the number of cores used in parallel).
    result["cpu_s"] = cpu
    _write_table(out, result, tasks, arms, seeds, bud)
    _plot_curves(out, df, tasks, arms)
    if algos:
        _plot_coverage(out, algos, seeds)
    return result


def _censored(arm: dict, bud: Budget) -> list[int]:
    """Steps to threshold per seed, a run that never reached it counting the whole budget."""
    return [bud.finetune_steps if v is None else v for v in arm["steps_to_threshold"]]


def _ratios(arms: dict, bud: Budget) -> dict:
    """Steps-to-threshold IQM of each pretrained soft arm over each DDPG arm, with its bootstrap CI.

    A run that never reached the threshold counts as the budget, shorter than its unknown true
    time: for the baseline this can only raise the ratio (conservative), for the soft arm it can
    lower it; ``n_reached`` of both arms says how much censoring there is.
    """
    out: dict = {}
    for arm in RATIO_ARMS:
        for base in RATIO_BASELINES:
            if arm in arms and base in arms:
                r, lo, hi = ratio_ci(_censored(arms[arm], bud), _censored(arms[base], bud))
                out.setdefault(arm, {})[base] = {"ratio": r, "ci": [lo, hi]}
    return out


def _aggregate(tasks: dict, arms, bud: Budget) -> dict:
    """Per arm, IQM over all tasks' runs with stratified-bootstrap CIs (each task resampled on its own)."""
    out = {}
    for arm in arms:
        steps = [_censored(t["arms"][arm], bud) for t in tasks.values()]
        finals = [t["arms"][arm]["final_return"] for t in tasks.values()]
        out[arm] = {
            "steps_iqm": iqm(np.concatenate(steps)),
            "steps_ci": list(stratified_bootstrap_ci(steps)),
            "final_iqm": iqm(np.concatenate(finals)),
            "final_ci": list(stratified_bootstrap_ci(finals)),
        }
    return out


def _fmt_ci(v: float, ci: Sequence[float], digits: int = 0) -> str:
    return f"{v:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _fmt_ratio(entry: dict) -> str:
    return f"{entry['ratio']:.2f} [{entry['ci'][0]:.2f}, {entry['ci'][1]:.2f}]"


def _write_table(out: Path, result: dict, tasks, arms, seeds, bud: Budget) -> None:
    n = len(seeds)
    lines = [
        f"Seeds: {list(seeds)}; pretrain {bud.pretrain_steps} steps, finetune {bud.finetune_steps} steps, "
        f"deterministic evaluation ({bud.n_eval_episodes} episodes) every {bud.eval_freq} steps.",
        "Steps to threshold: IQM [bootstrap 95% CI] over seeds; a run that never reached it counts as the budget.",
        f"CPU time of all runs: {result['cpu_s']:.0f} s (about {result['cpu_s'] / 2:.0f} s of wall time on 2 idle cores).",
        "",
        "| task (threshold) | arm | steps to threshold (IQM [95% CI]) | reached | final return (IQM [95% CI]) |",
        "|---|---|---|---|---|",
    ]
    for task, thr in tasks.items():
        for arm in arms:
            r = result["tasks"][task]["arms"][arm]
            lines.append(
                f"| {task} ({thr:g}) | {arm} | {_fmt_ci(r['steps_iqm'], r['steps_ci'])} | "
                f"{r['n_reached']}/{n} | {_fmt_ci(r['final_iqm'], r['final_ci'], 1)} |"
            )
    if any(t["ratios"] for t in result["tasks"].values()):
        lines += [
            "",
            f"Steps-to-threshold ratios, pretrained soft arm / DDPG arm: IQM ratio [95% bootstrap CI, the two arms' seeds "
            f"resampled independently]; censored runs count as the budget. Target: ratio <= {TARGET_RATIO} with the CI "
            "below 1 (SQL: the claim; SAC: for information).",
            "",
            "| task | arm / baseline | steps ratio (IQM [95% CI]) | reached (arm, baseline) | target met |",
            "|---|---|---|---|---|",
        ]
        for task in tasks:
            t = result["tasks"][task]
            for arm, per_base in t["ratios"].items():
                for base, entry in per_base.items():
                    lines.append(
                        f"| {task} | {arm} / {base} | {_fmt_ratio(entry)} | {t['arms'][arm]['n_reached']}/{n}, "
                        f"{t['arms'][base]['n_reached']}/{n} | {'yes' if ratio_met(entry) else 'no'} |"
                    )
    if len(tasks) > 1:
        lines += [
            "",
            "Aggregate over the tasks: IQM of all runs [stratified-bootstrap 95% CI, each task's seeds resampled on "
            "their own]. Steps share a scale (one budget); final returns do not (the hallway's are larger).",
            "",
            "| arm | steps to threshold (IQM [95% CI]) | final return (IQM [95% CI]) |",
            "|---|---|---|",
        ]
        for arm, g in result["aggregate"].items():
            lines.append(f"| {arm} | {_fmt_ci(g['steps_iqm'], g['steps_ci'])} | {_fmt_ci(g['final_iqm'], g['final_ci'], 1)} |")
    if result["coverage"]:
        lines += [
            "",
            "Pretrained policy coverage (mean over seeds; 'explore' = as it acts during finetuning: SAC and SQL sample "
            "their policy, DDPG adds its exploration noise, Ornstein-Uhlenbeck for ddpg, Gaussian for ddpg_gauss):",
            "",
            "| algo | position entropy explore / deterministic (nats) "
            "| heading spread explore / deterministic (0 = one direction, 1 = all) | pretrain eval return |",
            "|---|---|---|---|",
        ]
        for algo, c in result["coverage"].items():
            lines.append(
                f"| {algo} | {np.mean(c['explore']['position_entropy']):.2f} / {np.mean(c['deterministic']['position_entropy']):.2f} | "
                f"{np.mean(c['explore']['heading_spread']):.2f} / {np.mean(c['deterministic']['heading_spread']):.2f} | "
                f"{np.nanmean(c['pretrain_final_eval']):.1f} |"
            )
        crit = "; ".join(f"{task}: {c['criterion']}" for task, c in next(iter(result["coverage"].values()))["goal_reach"].items())
        lines += [
            "",
            f"Exploratory episodes of the pretrained policy on each finetune task (before finetuning, {bud.coverage_episodes} "
            f"per seed) that reach the task's goal ({crit}): mean over seeds (seeds with any).",
            "",
            "| algo | " + " | ".join(tasks) + " |",
            "|---|" + "---|" * len(tasks),
        ]
        for algo, c in result["coverage"].items():
            cells = []
            for task in tasks:
                f = np.asarray(c["goal_reach"][task]["fraction"])
                cells.append(f"{f.mean():.0%} ({int((f > 0).sum())}/{n})")
            lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    _atomic_write(out / "summary.md", "\n".join(lines) + "\n")
