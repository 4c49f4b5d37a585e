"""Scheduling (one process, resumable), the summary over seeds and the figure."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sb3_softopt.experiments.infra.atomic import atomic_write_json, is_trusted
from sb3_softopt.experiments.infra.plotting import color, save_figure
from sb3_softopt.experiments.infra.stats import mean_ci, welch_diff_ci
from sb3_softopt.envs.point_compose import GOALS
from sb3_softopt.experiments.composition import config as C
from sb3_softopt.experiments.composition.claim import VS_DDPG, VS_SCRATCH, CompositionResult, Difference, SuccessStats
from sb3_softopt.experiments.composition.jobs import check_job, run_job

__all__ = ["run", "summarize"]

ARMS = (*C.ARMS, *C.DETERMINISTIC_ARMS)
CONSTITUENTS = ("SQL A", "SQL B", "DDPG A", "DDPG B")


def run(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    n_seeds: int | None = None,
    train_steps: int | None = None,
    n_eval_episodes: int | None = None,
    progress: bool = True,
) -> CompositionResult:
    """Train the constituents and the scratch model, compose, evaluate; summarise over seeds.

    One process, one seed after the other (torch at one thread while it runs). Resumable: a seed
    whose ``runs/seed<k>.json`` is whole and made with this budget is reused.

    :param out_dir: output folder (created).
    :param quick: smoke-test budget (2 seeds, 300 steps per constituent, 20 sampler steps, 2 episodes).
    :param seed: offset of the seeds: they are ``first_seed + seed .. first_seed + seed + n_seeds - 1``
        with the budget's ``first_seed`` (default budget: the pre-registered 2000, so ``seed=0`` is
        the pre-registered run; quick: 0).
    :param n_seeds: seeds (default 10, quick 2).
    :param train_steps: environment steps per constituent; scratch gets twice as many (default 6000, quick 300).
    :param n_eval_episodes: episodes per arm and seed (default 20, quick 2).
    :param progress: tqdm progress bar.
    """
    from dataclasses import replace

    import torch
    from tqdm.auto import tqdm

    base = C.BUDGETS["quick" if quick else "default"]
    budget = replace(
        base,
        **{k: int(v) for k, v in dict(n_seeds=n_seeds, train_steps=train_steps, n_eval_episodes=n_eval_episodes).items() if v is not None},
    )
    for name in ("n_seeds", "train_steps", "n_eval_episodes"):
        if getattr(budget, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={getattr(budget, name)!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(budget.first_seed + seed, budget.first_seed + seed + budget.n_seeds))
    todo = [s for s in seeds if not is_trusted(check_job, out, s, budget, who="composition")]
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for s in tqdm(todo, desc="composition: seeds", disable=not progress):
            run_job(s, budget, out)
    finally:
        torch.set_num_threads(threads)
    saved = {s: check_job(out, s, budget) for s in seeds}
    result = summarize(saved, quick, budget, seeds)
    result["seconds"] = time.perf_counter() - t0
    result["cpu_s"] = float(sum(r["cpu_s"] for r in saved.values()))
    _plot(result, saved, out / "composition.png")
    atomic_write_json(out / "composition.json", result, indent=1)
    import pandas as pd

    rows = [
        {"seed": s, "arm": arm, "success": ev["success"], "mean_return": ev["mean_return"]}
        | {f"end_{g or 'none'}": v for g, v in ev["ends"].items()}
        for s, r in saved.items()
        for arm, ev in r["evals"].items()
    ]
    pd.DataFrame(rows).to_csv(out / "composition_runs.csv", index=False)
    return result


def _stats(values: Sequence[float]) -> SuccessStats:
    m, lo, hi = mean_ci(values)
    # rates: the t-interval is clipped to [0, 1]
    return {"mean": m, "ci": [max(lo, 0.0), min(hi, 1.0)], "per_seed": [float(v) for v in values]}


def _diff(a: Sequence[float], b: Sequence[float]) -> Difference:
    d, lo, hi = welch_diff_ci(a, b)
    return {"diff": d, "ci": [lo, hi]}


def summarize(saved: dict[int, dict], quick: bool, budget: C.Budget, seeds: list[int]) -> CompositionResult:
    """Per-seed success rates, means with t-intervals, the two differences with Welch intervals."""
    import dataclasses

    def per_seed(arm: str) -> list[float]:
        return [float(saved[s]["evals"][arm]["success"]) for s in seeds]

    success = {arm: _stats(per_seed(arm)) for arm in ARMS}
    ends = {
        arm: {g or "none": float(np.mean([saved[s]["evals"][arm]["ends"][g] for s in seeds])) for g in ("N", "E", "S", "")}
        for arm in (*ARMS, *CONSTITUENTS)
    }
    return CompositionResult(
        claim="composition",
        env_ids=[C.ENV_A, C.ENV_B, C.ENV_AB],
        quick=quick,
        budget=dataclasses.asdict(budget),
        seeds=seeds,
        margin=C.MARGIN,
        arms=list(ARMS),
        success=success,
        diff={
            VS_SCRATCH: _diff(per_seed(C.PRIMARY), per_seed(C.SCRATCH)),
            VS_DDPG: _diff(per_seed(C.PRIMARY), per_seed(C.BASELINE)),
        },
        constituents=list(CONSTITUENTS),
        constituent_success={c: _stats(per_seed(c)) for c in CONSTITUENTS},
        ends=ends,
        composed_env_steps=max(int(saved[s]["composed_env_steps"]) for s in seeds),
        seconds=0.0,
        cpu_s=0.0,
        figures=["composition.png"],
    )


def _plot(result: CompositionResult, saved: dict[int, dict], path: Path) -> Path:
    """The paper's figure 2 on the point mass: the constituents' and the composed paths, then the success rates."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17, 4.2))
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 1.3]})
    seeds = result["seeds"][: min(3, len(result["seeds"]))]
    panels = [
        ("SQL on A and on B (sampled)", [("SQL A", "tab:blue"), ("SQL B", "tab:orange")]),
        ("composed: sum of the soft Qs (sampled)", [("SQL composed", "tab:green")]),
        ("DDPG on A, on B, and their action mean", [("DDPG A", "tab:blue"), ("DDPG B", "tab:orange"), ("DDPG average", "black")]),
    ]
    for ax, (title, arms) in zip(axes[:3], panels, strict=True):
        for g, (gx, gy) in GOALS.items():
            ax.add_patch(_circle((gx, gy), 1.5, g))
            ax.annotate(g, (gx, gy), ha="center", va="center", fontsize=11, weight="bold")
        for arm, col in arms:
            first = True
            for s in seeds:
                for p in saved[s]["evals"][arm]["paths"][:3]:
                    xy = np.asarray(p)
                    ax.plot(xy[:, 0], xy[:, 1], color=col, alpha=0.6, lw=1, label=arm if first else None)
                    ax.plot(*xy[-1], "o", color=col, ms=3)
                    first = False
        ax.plot(0, 0, "k*", ms=9)
        ax.set(xlim=(-4, 8.2), ylim=(-8.2, 8.2), aspect="equal", title=title)
        ax.legend(fontsize=7, loc="lower left")
    bar = axes[3]
    labels = list(result["arms"])
    means = [float(result["success"][a]["mean"]) for a in labels]
    los = [means[i] - float(result["success"][a]["ci"][0]) for i, a in enumerate(labels)]
    his = [float(result["success"][a]["ci"][1]) - means[i] for i, a in enumerate(labels)]
    cols = {"SQL composed": color("sql"), "SQL scratch": color("sql_scratch"), "DDPG average": color("ddpg")}
    bar_colors = [cols.get(a.replace(" deterministic", ""), "grey") for a in labels]
    bar.barh(range(len(labels)), means, xerr=[los, his], color=bar_colors, capsize=3)
    bar.set_yticks(range(len(labels)), [a.replace(" deterministic", "\n(deterministic)") for a in labels], fontsize=8)
    bar.invert_yaxis()
    bar.set(xlim=(0, 1.05), xlabel="success on the combined task (at E at the last step)", title="PointComposeAB-v0")
    bar.grid(alpha=0.3, axis="x")
    fig.suptitle(f"Composing soft policies: {len(result['seeds'])} seeds, constituents {result['budget']['train_steps']} steps each, "
                 "composed with 0 steps (bars: mean, 95% t-CI)")  # fmt: skip
    fig.tight_layout()
    return save_figure(fig, path)


def _circle(centre: tuple[float, float], radius: float, goal: str):
    from matplotlib.patches import Circle

    return Circle(centre, radius, color="tab:green" if goal == "E" else "0.8", alpha=0.35)
