"""Figures for every experiment: one colour per algorithm, mean-and-interval bands, atomic saving.

Figures are drawn on :class:`matplotlib.figure.Figure` objects, never through pyplot, so that
library code leaves the user's matplotlib backend alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sb3_softopt.experiments.infra.atomic import atomic_path

__all__ = ["COLORS", "color", "plot_band", "save_figure"]

#: one colour per algorithm or arm, the same in every figure
COLORS: dict[str, str] = {
    "SAC": "tab:blue",
    "sac": "tab:blue",
    "sac_pretrained": "tab:blue",
    "sac_scratch": "tab:cyan",
    "DDPG": "tab:orange",
    "ddpg": "tab:orange",
    "ddpg_scratch": "tab:orange",
    "ddpg_pretrained": "tab:red",
    "SQL": "tab:green",
    "sql": "tab:green",
    "sql_pretrained": "tab:green",
    "sql_scratch": "tab:olive",
    "SoftDQN": "tab:purple",
    "soft_dqn": "tab:purple",
    "EntropyPPO": "tab:brown",
}


def color(name: str) -> str | None:
    """The colour of algorithm or arm ``name`` (None: matplotlib's next colour)."""
    return COLORS.get(name)


def plot_band(
    ax: Any, x: npt.ArrayLike, mean: npt.ArrayLike, lo: npt.ArrayLike, hi: npt.ArrayLike, label: str, **line_kwargs: Any
) -> None:
    """A line for ``mean`` and a shaded band from ``lo`` to ``hi`` (no band if a bound is not finite).

    :param ax: matplotlib axes.
    :param label: legend label; also picks the colour from :data:`COLORS` unless ``color=`` is given.
    :param line_kwargs: passed to ``ax.plot`` (e.g. a format via ``marker=``).
    """
    c = line_kwargs.pop("color", color(label))
    (line,) = ax.plot(x, mean, label=label, color=c, **line_kwargs)
    low, high = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Lay out ``fig`` and write it atomically to ``path`` (format from its suffix); returns ``path``."""
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path
