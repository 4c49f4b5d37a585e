"""Figures: finetuning curves and pretrained coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sb3_softopt.experiments.infra.plotting import color, plot_band, save_figure
from sb3_softopt.experiments.infra.stats import mean_ci_band
from sb3_softopt.experiments.finetune.config import arm_algo




def _style(arm: str) -> dict:
    """The Gaussian-noise DDPG arms: their OU twin's colour, dashed (the palette has no entry of their own)."""
    if arm_algo(arm) == "ddpg_gauss":
        return dict(color=color(arm.replace("ddpg_gauss", "ddpg")), ls="--")
    return {}


def _plot_curves(out: Path, df, tasks: dict[str, float], arms) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * len(tasks), 4))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, (task, thr) in zip(axes[0], tasks.items(), strict=True):
        for arm in arms:
            d = df[(df.task == task) & (df.arm == arm)]
            piv = d.pivot_table(index="seed", columns="step", values="eval_return")
            steps = piv.columns.to_numpy()
            mean, half = mean_ci_band(piv.to_numpy())
            plot_band(ax, steps, mean, mean - half, mean + half, label=arm, **_style(arm))
        ax.axhline(thr, color="k", ls="--", lw=0.8, label="threshold")
        ax.set_title(task)
        ax.set_xlabel("finetuning env steps")
        ax.set_ylabel("evaluation return")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Finetuning after max-entropy (SQL, SAC) vs DDPG pretraining: mean ± 95% CI over seeds")
    save_figure(fig, out / "finetune_curves.png")


def _plot_coverage(out: Path, algos, seeds) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    # Shared axes: the point is to compare how much of the plane each pretrained policy covers.
    fig = Figure(figsize=(4.5 * len(algos), 4.8))
    axes = fig.subplots(1, len(algos), squeeze=False, sharex=True, sharey=True)
    for ax, algo in zip(axes[0], algos, strict=True):
        for s in seeds:
            info = json.loads((out / "pretrain" / f"{algo}_seed{s}.json").read_text())
            for t in info["coverage"]["explore"]["trajectories"]:
                t = np.asarray(t)
                ax.plot(t[:, 0], t[:, 1], lw=0.6, alpha=0.6, color=matplotlib.colormaps["tab10"](s % 10))
        ax.set_title(f"{algo} pretrained: exploratory rollouts\n(colour = seed)", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    save_figure(fig, out / "coverage.png")
