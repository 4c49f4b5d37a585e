"""Figures: finetuning curves and pretrained coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sb3_softopt.common.atomic import atomic_path
from sb3_softopt.common.stats import mean_ci_band


_COLORS = {
    "sac_pretrained": "tab:blue",
    "ddpg_pretrained": "tab:red",
    "ddpg_scratch": "tab:orange",
    "sac_scratch": "tab:cyan",
    "sql_pretrained": "tab:green",
    "sql_scratch": "tab:olive",
}


def _plot_curves(out: Path, df, tasks: dict[str, float], arms) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * len(tasks), 4))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, (task, thr) in zip(axes[0], tasks.items()):
        for arm in arms:
            d = df[(df.task == task) & (df.arm == arm)]
            piv = d.pivot_table(index="seed", columns="step", values="eval_return")
            steps = piv.columns.to_numpy()
            mean, half = mean_ci_band(piv.to_numpy())
            ax.plot(steps, mean, label=arm, color=_COLORS.get(arm))
            ax.fill_between(steps, mean - half, mean + half, alpha=0.2, color=_COLORS.get(arm))
        ax.axhline(thr, color="k", ls="--", lw=0.8, label="threshold")
        ax.set_title(task)
        ax.set_xlabel("finetuning env steps")
        ax.set_ylabel("evaluation return")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Finetuning after max-entropy (SAC) vs DDPG pretraining: mean ± 95% CI over seeds")
    fig.tight_layout()
    with atomic_path(out / "finetune_curves.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def _plot_coverage(out: Path, algos, seeds) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    # Shared axes: the point is to compare how much of the plane each pretrained policy covers.
    fig = Figure(figsize=(4.5 * len(algos), 4.8))
    axes = fig.subplots(1, len(algos), squeeze=False, sharex=True, sharey=True)
    for ax, algo in zip(axes[0], algos):
        for s in seeds:
            info = json.loads((out / "pretrain" / f"{algo}_seed{s}.json").read_text())
            for t in info["coverage"]["explore"]["trajectories"]:
                t = np.asarray(t)
                ax.plot(t[:, 0], t[:, 1], lw=0.6, alpha=0.6, color=matplotlib.colormaps["tab10"](s % 10))
        ax.set_title(f"{algo} pretrained: exploratory rollouts\n(colour = seed)", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    fig.tight_layout()
    with atomic_path(out / "coverage.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
