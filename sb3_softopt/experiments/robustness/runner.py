"""Scheduling (parallel, resumable), the summary over seeds and the figure."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import as_completed
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from sb3_softopt.experiments.infra.atomic import atomic_write_json, is_trusted
from sb3_softopt.experiments.infra.executors import BACKENDS, make_executor
from sb3_softopt.experiments.infra.plotting import color, plot_band, save_figure
from sb3_softopt.experiments.infra.stats import mean_ci, welch_diff_ci
from sb3_softopt.experiments.robustness import config as C
from sb3_softopt.experiments.robustness.claim import BASELINE, Difference, RobustnessResult, SuccessStats
from sb3_softopt.experiments.robustness.jobs import check_job, run_job, worker_init

__all__ = ["run", "summarize"]


def run(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    n_seeds: int | None = None,
    train_steps: int | None = None,
    n_eval_episodes: int | None = None,
    algos: Sequence[str] = C.ALGOS,
    workers: int | None = None,
    progress: bool = True,
    backend: str = "local",
    dask_address: str | None = None,
) -> RobustnessResult:
    """Train SQL, SAC and DDPG without obstacles; evaluate them with obstacles and disturbances.

    Resumable: a run whose ``runs/<algo>_seed<k>.json`` is whole and made with this budget is reused.

    :param out_dir: output folder (created).
    :param quick: smoke-test budget (2 seeds, 600 steps, 2 episodes per setting).
    :param seed: offset of the seeds: they are ``first_seed + seed .. first_seed + seed + n_seeds - 1``
        with the budget's ``first_seed`` (default budget: the pre-registered 1000, so ``seed=0`` is
        the pre-registered run; quick: 0).
    :param n_seeds: seeds per algorithm (default 40, quick 2).
    :param train_steps: training steps per run (default 10000, quick 600).
    :param n_eval_episodes: episodes per setting and evaluation mode (default 10, quick 2).
    :param algos: subset of ``("SQL", "SAC", "DDPG")``; DDPG is needed for the comparison.
    :param workers: parallel processes (default ``min(2, cpu_count)``).
    :param progress: tqdm progress bar.
    :param backend: ``"local"`` (a process pool, the default) or ``"dask"``: the same jobs on Dask
        distributed (:func:`sb3_softopt.experiments.infra.executors.make_executor`; same results).
    :param dask_address: Dask scheduler address (default: a local cluster of ``workers`` processes).
    """
    from dataclasses import replace

    from tqdm.auto import tqdm

    base = C.BUDGETS["quick" if quick else "default"]
    budget = replace(
        base,
        **{k: int(v) for k, v in dict(n_seeds=n_seeds, train_steps=train_steps, n_eval_episodes=n_eval_episodes).items() if v is not None},
    )
    for name in ("n_seeds", "train_steps", "n_eval_episodes"):
        if getattr(budget, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={getattr(budget, name)!r}")
    if not algos or any(a not in C.ALGOS for a in algos) or "DDPG" not in algos:
        raise ValueError(f"algos must be a subset of {C.ALGOS} that includes DDPG, got {list(algos)!r}")
    workers = max(1, min(2, os.cpu_count() or 1)) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got workers={workers!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(budget.first_seed + seed, budget.first_seed + seed + budget.n_seeds))
    jobs = [(a, s) for s in seeds for a in algos]
    todo = [(a, s) for a, s in jobs if not is_trusted(check_job, out, a, s, budget, who="robustness")]
    t0 = time.perf_counter()
    if todo:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        # a Dask worker's parent is its nanny, not this process: it must not watch our pid
        init_args = (os.getpid() if backend == "local" else None,)
        with make_executor(backend, workers, dask_address, mp_context=ctx, initializer=worker_init, initargs=init_args) as pool:
            futures = [pool.submit(run_job, a, s, budget, str(out)) for a, s in todo]
            for fut in tqdm(as_completed(futures), total=len(futures), desc="robustness: train+eval", disable=not progress):
                fut.result()  # re-raises a worker's error
    saved = [check_job(out, a, s, budget) for a, s in jobs]
    rows = [row for run_ in saved for row in run_["rows"]]
    result = summarize(rows, quick, budget, seeds)
    result["seconds"] = time.perf_counter() - t0
    result["cpu_s"] = float(sum(run_["cpu_s"] for run_ in saved))
    _plot(result, out / "robustness.png")
    atomic_write_json(out / "robustness.json", result, indent=1)
    import pandas as pd

    pd.DataFrame(rows).drop(columns=["obstacle"]).to_csv(out / "robustness_runs.csv", index=False)
    return result


def _stats(values: Sequence[float] | np.ndarray) -> SuccessStats:
    m, lo, hi = mean_ci(values)
    # Rates: the t-interval is clipped to [0, 1].
    return {"mean": m, "ci": [max(lo, 0.0), min(hi, 1.0)], "per_seed": [float(v) for v in values]}


def _diff(a: Sequence[float], b: Sequence[float]) -> Difference:
    d, lo, hi = welch_diff_ci(a, b)
    return {"diff": d, "ci": [lo, hi]}


def summarize(rows: list[dict], quick: bool, budget: C.Budget, seeds: list[int]) -> RobustnessResult:
    """Per-seed scores, means with t-intervals, differences to DDPG with Welch intervals."""
    import dataclasses

    import pandas as pd

    df = pd.DataFrame(rows)
    df["arm"] = df["algo"] + " " + df["mode"]
    arms = [f"{a} {m}" for a in C.ALGOS for m in C.MODES[a] if f"{a} {m}" in set(df["arm"])]

    def per_seed(family: str | tuple[str, ...]) -> dict[str, list[float]]:
        fam = [family] if isinstance(family, str) else list(family)
        sub = df[df["family"].isin(fam)].groupby(["arm", "seed"])["success"].mean()
        return {arm: [float(sub.loc[(arm, s)]) for s in seeds] for arm in arms}

    clean, obst, dist = per_seed("clean"), per_seed("obstacle"), per_seed(("push", "action_noise"))
    # within an algorithm the modes share the trained policy: a paired difference
    mode_diff: dict[str, Difference] = {}
    for algo in C.MAXENT:
        sampled, greedy = f"{algo} stochastic", f"{algo} deterministic"
        if sampled in obst and greedy in obst:
            d, lo, hi = mean_ci(np.subtract(obst[sampled], obst[greedy]))
            mode_diff[algo] = {"diff": d, "ci": [lo, hi]}
    obstacles = df[df["family"] == "obstacle"]
    grid = obstacles.groupby(["arm", "fraction", "half_width"])["success"].mean()
    curves: dict[str, dict[str, dict[str, list[float]]]] = {}
    for family, strengths in (("push", C.PUSH_STRENGTHS), ("action_noise", C.ACTION_NOISE_STRENGTHS)):
        curves[family] = {}
        for arm in arms:
            entry: dict[str, list[float]] = {k: [] for k in ("strength", "success", "success_lo", "success_hi")}
            for s in strengths:
                # strength 0 is the undisturbed evaluation
                at = (df["family"] == family) & (df["strength"] == s) if s else df["family"] == "clean"
                sub = df[(df["arm"] == arm) & at]
                st = _stats(sub.groupby("seed")["success"].mean().to_numpy())
                entry["strength"].append(float(s))
                entry["success"].append(st["mean"])
                entry["success_lo"].append(st["ci"][0])
                entry["success_hi"].append(st["ci"][1])
            curves[family][arm] = entry
    return RobustnessResult(
        claim="robustness",
        env_id=C.ENV_ID,
        quick=quick,
        budget=dataclasses.asdict(budget),
        seeds=seeds,
        arms=arms,
        clean_success={a: _stats(clean[a]) for a in arms},
        obstacle_success={a: _stats(obst[a]) for a in arms},
        obstacle_grid={
            a: {f"fraction={f}, half_width={h}": float(grid.loc[(a, f, h)]) for f in C.PATH_FRACTIONS for h in C.HALF_WIDTHS} for a in arms
        },
        obstacle_diff={a: _diff(obst[a], obst[BASELINE]) for a in arms if a != BASELINE},
        obstacle_mode_diff=mode_diff,
        clean_solved_share={a: float(np.mean(np.asarray(clean[a]) >= C.SOLVED)) for a in arms},
        on_path_share=float(obstacles["on_path"].mean()),
        disturbance_success={a: _stats(dist[a]) for a in arms},
        disturbance_diff={a: _diff(dist[a], dist[BASELINE]) for a in arms if a != BASELINE},
        curves=curves,
        seconds=0.0,
        cpu_s=0.0,
        figures=["robustness.png"],
    )


def _plot(result: RobustnessResult, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3)
    styles = {"stochastic": "-", "deterministic": "--"}
    grid = result["obstacle_grid"]
    halves = list(dict.fromkeys(float(k.split("half_width=")[1]) for k in next(iter(grid.values()))))
    for arm in result["arms"]:
        algo, mode = arm.split(" ")
        # Obstacles: mean over the placements at each width (the grid already averages the seeds).
        ys = [np.mean([v for k, v in grid[arm].items() if k.endswith(f"half_width={h}")]) for h in halves]
        axes[0].plot(halves, ys, styles[mode], marker="o", label=arm, color=color(algo))
        for ax, family in zip(axes[1:], ("push", "action_noise"), strict=True):
            c = result["curves"][family][arm]
            plot_band(ax, c["strength"], c["success"], c["success_lo"], c["success_hi"], label=arm, color=color(algo), ls=styles[mode],
                      marker="o")  # fmt: skip
    axes[0].set(xlabel="obstacle half-width (on the learned path)", ylabel="success rate", title="obstacles (mean over 3 positions)")
    axes[1].set(xlabel="velocity push norm (p = 0.1 per step)", title="pushes")
    axes[2].set(xlabel="action-noise std (x half action range)", title="action noise")
    for ax in axes:
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Robustness on {result['env_id']}: mean over {len(result['seeds'])} seeds (bands: 95% t-CI)")
    return save_figure(fig, path)
