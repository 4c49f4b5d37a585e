"""Summary of ``benchmarks/mujoco_bench.py``: IQMs with bootstrap CIs, the SQL comparison table, curves.

Reads ``<out>/runs/<env>/<algo>_seed<k>.json``. Runs at different budgets (a ``--steps`` pilot
beside the 100k runs) are never pooled: every table row and curve is one (env, algo, budget).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

ALGOS = ("sql", "sac", "td3", "ddpg")
MODES = {"det": "deterministic", "sto": "stochastic"}
#: SQL against: (other algo, SQL's mode, other's mode); the paper's protocol samples from SQL and
#: runs DDPG's actor as it is (TD3/DDPG have no stochastic policy: both modes are the actor)
COMPARISONS = (("ddpg", "det", "det"), ("ddpg", "sto", "det"), ("sac", "det", "det"), ("sac", "sto", "sto"))


def verdict(a: list[float], b: list[float]) -> str:
    """``ahead`` / ``behind`` when the IQM 95% bootstrap intervals do not overlap, else ``level``;
    with a single seed (no interval) the sign of the difference, marked ``(1 seed)``."""
    from sb3_softopt.experiments.infra.stats import bootstrap_ci, iqm

    if len(a) < 2 or len(b) < 2:
        d = iqm(a) - iqm(b)
        return ("ahead" if d > 0 else "behind" if d < 0 else "level") + " (1 seed)"
    (alo, ahi), (blo, bhi) = bootstrap_ci(a, iqm), bootstrap_ci(b, iqm)
    return "ahead" if alo > bhi else "behind" if ahi < blo else "level"


def _groups(runs: list[dict[str, Any]]) -> dict[tuple[str, int, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in sorted(runs, key=lambda r: (r["env_id"], -r["steps"], ALGOS.index(r["algo"]), r["seed"])):
        groups.setdefault((r["env_id"], r["steps"], r["algo"]), []).append(r)
    return groups


def _plot(env_id: str, groups: dict[tuple[str, int, str], list[dict[str, Any]]], path: Path) -> None:
    from matplotlib.figure import Figure

    from sb3_softopt.experiments.infra.plotting import save_figure

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2, sharey=True)
    budgets = sorted({b for e, b, _ in groups if e == env_id}, reverse=True)
    for (env, budget, algo), rs in groups.items():
        if env != env_id:
            continue
        label = algo.upper() if len(budgets) == 1 else f"{algo.upper()} @{budget}"
        n = min(len(r["curve"]) for r in rs)
        steps = np.array([c["step"] for c in rs[0]["curve"][:n]])
        cpu = np.median([[c["cpu_s"] for c in r["curve"][:n]] for r in rs], axis=0)
        modes = ("det", "sto") if algo in ("sql", "sac") else ("det",)
        for mode in modes:
            ys = np.array([[c[mode] for c in r["curve"][:n]] for r in rs])
            style = "-" if mode == "det" else "--"
            name = f"{label} {MODES[mode]} (median of {len(rs)})"
            colour = f"C{ALGOS.index(algo)}"  # one colour per algorithm, both modes
            for ax, x in zip(axes, (steps, cpu), strict=True):
                ax.plot(x, np.median(ys, axis=0), style, marker="o", ms=3, label=name, color=colour)
                if len(rs) > 1:
                    ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), alpha=0.12, color=colour)
    axes[0].set(xlabel="environment steps", ylabel="return", title=f"{env_id}: against environment steps")
    axes[1].set(xlabel="CPU seconds of training (one thread, evaluations excluded)", title="against CPU time")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    save_figure(fig, path)


def summarise(out: Path, anchors: dict[tuple[str, int], list[tuple[str, str, float]]] | None = None) -> dict[str, Any]:
    """Write ``summary.json``, ``summary.csv``, ``summary.md`` and ``curves_<env>.png`` under ``out``.

    :param out: the benchmark's output folder.
    :param anchors: published returns at a budget, ``(env, budget) -> [(source, algo, value)]``; quoted
        only beside rows of that same budget.
    """
    import pandas as pd

    from sb3_softopt.experiments.infra.stats import bootstrap_ci, iqm

    runs = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/*.json"))]
    groups = _groups(runs)
    rows: list[dict[str, Any]] = []
    for (env_id, budget, algo), rs in groups.items():
        for mode in MODES:
            finals = [r["final"][mode] for r in rs]
            lo, hi = bootstrap_ci(finals, iqm) if len(finals) > 1 else (math.nan, math.nan)
            rows.append(dict(env=env_id, steps=budget, algo=algo, mode=mode, seeds=len(rs), iqm=iqm(finals), ci_lo=lo, ci_hi=hi,
                             per_seed=[round(x, 1) for x in finals],
                             cpu_ms_per_step=1e3 * float(np.mean([r["cpu_s"] / r["steps"] for r in rs]))))  # fmt: skip
    table = pd.DataFrame(rows)
    comparisons: list[dict[str, Any]] = []
    for env_id, budget in dict.fromkeys((e, b) for e, b, _ in groups):
        sql = groups.get((env_id, budget, "sql"))
        for other, sql_mode, other_mode in COMPARISONS:
            rs = groups.get((env_id, budget, other))
            if sql and rs:
                a, b = [r["final"][sql_mode] for r in sql], [r["final"][other_mode] for r in rs]
                comparisons.append(dict(env=env_id, steps=budget, sql_mode=sql_mode, other=other, other_mode=other_mode,
                                        sql_iqm=iqm(a), other_iqm=iqm(b), verdict=verdict(a, b)))  # fmt: skip
    lines = [
        "| env | steps | algo | eval | seeds | final return IQM [95% CI] | per seed | CPU ms / env step |",
        "|---|---:|---|---|---:|---|---|---:|",
    ]
    for row in rows:
        ci = "" if math.isnan(row["ci_lo"]) else f" [{row['ci_lo']:.1f}, {row['ci_hi']:.1f}]"
        per_seed = ", ".join(f"{x:.1f}" for x in row["per_seed"])
        lines.append(f"| {row['env']} | {row['steps']:,} | {row['algo'].upper()} | {MODES[row['mode']]} | {row['seeds']} | "
                     f"{row['iqm']:.1f}{ci} | {per_seed} | {row['cpu_ms_per_step']:.2f} |")  # fmt: skip
    lines += ["", "| env | steps | SQL (eval) | vs | other (eval) | SQL IQM | other IQM | SQL is |", "|---|---:|---|---|---|---:|---:|---|"]
    for c in comparisons:
        other = f"{c['other'].upper()} ({MODES[c['other_mode']]})"
        lines.append(f"| {c['env']} | {c['steps']:,} | SQL ({MODES[c['sql_mode']]}) | vs | {other} | "
                     f"{c['sql_iqm']:.1f} | {c['other_iqm']:.1f} | {c['verdict']} |")  # fmt: skip
    quoted = [(e, b, src, algo, v) for (e, b), items in (anchors or {}).items() if (e, b) in {(r["env"], r["steps"]) for r in rows}
              for src, algo, v in items]  # fmt: skip
    lines += ["", "Published anchors at the same budget: " + ("; ".join(f"{e} @{b:,}: {algo} {v} ({src})" for e, b, src, algo, v in quoted)
                                                          if quoted else "none known (see docs/mujoco.md).")]  # fmt: skip
    for env_id in dict.fromkeys(e for e, _, _ in groups):
        _plot(env_id, groups, out / f"curves_{env_id}.png")
    summary = dict(rows=rows, comparisons=comparisons, anchors=[list(q) for q in quoted])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    table.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary
