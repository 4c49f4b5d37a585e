"""Callbacks shared by the algorithms of the package.

:class:`EntropyTrackingCallback` records the policy entropy next to its target and the
temperature after every update window, writes them to CSV and plots them. It reads the
values the algorithm has just logged (``model.logger.name_to_value``), so it works with
any algorithm that logs them: :class:`sb3_softopt.SAC` and :class:`sb3_softopt.SoftDQN`
use the default keys (``train/entropy``, ``train/target_entropy``, ``train/ent_coef``);
for an algorithm that logs under other names, pass the keys.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from sb3_softopt.experiments.infra.plotting import save_figure
from sb3_softopt.common.validation import check_int

__all__ = ["EntropyTrackingCallback", "plot_entropy_tracking"]


class EntropyTrackingCallback(BaseCallback):
    """Record ``(timestep, entropy, target_entropy, ent_coef)`` after each ``train()``.

    SB3 calls ``train()`` right after a rollout (off-policy: after ``collect_rollouts``;
    on-policy: after the logs of the rollout are dumped), and the next rollout starts
    with ``on_rollout_start``; at that point ``model.logger.name_to_value`` holds the
    values of the update that just ended (the logger clears them only when it dumps,
    which happens later in the rollout). The last update is read in
    ``on_training_end``. A new row is taken only when ``model._n_updates`` moved (when
    the algorithm has that counter), so a window is never recorded twice.

    :param out_csv: CSV path written at the end of training (and every ``flush_every``
        rows); columns ``timestep, entropy, target_entropy, ent_coef`` (empty when a
        key is not logged)
    :param plot_png: optional PNG path for :func:`plot_entropy_tracking`
    :param entropy_key: logger key of the policy entropy
    :param target_key: logger key of the target entropy (``None`` to skip)
    :param ent_coef_key: logger key of the temperature (``None`` to skip)
    :param title: title of the plot
    :param flush_every: also write the CSV every this many rows (0: only at the end)
    :param verbose: SB3 verbosity
    """

    def __init__(
        self,
        out_csv: str | os.PathLike[str],
        plot_png: str | os.PathLike[str] | None = None,
        entropy_key: str = "train/entropy",
        target_key: str | None = "train/target_entropy",
        ent_coef_key: str | None = "train/ent_coef",
        title: str | None = None,
        flush_every: int = 0,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        for name, key in (("entropy_key", entropy_key), ("target_key", target_key), ("ent_coef_key", ent_coef_key)):
            if key is not None and (not isinstance(key, str) or not key):
                raise ValueError(f"{name} must be a non-empty logger key or None, got {key!r}")
        flush_every = check_int(flush_every, "flush_every", low=0)
        self.out_csv = Path(out_csv)
        self.plot_png = Path(plot_png) if plot_png is not None else None
        self.entropy_key = entropy_key
        self.target_key = target_key
        self.ent_coef_key = ent_coef_key
        self.title = title
        self.flush_every = flush_every
        self.records: list[dict[str, float]] = []
        self._last_n_updates: Any = None
        self._warned = False

    def _read(self) -> None:
        values = self.model.logger.name_to_value
        # ``name_to_value`` is a defaultdict: ``.get`` does not insert missing keys.
        entropy = values.get(self.entropy_key)
        if entropy is None:
            return
        n_updates = getattr(self.model, "_n_updates", None)
        if n_updates is not None and n_updates == self._last_n_updates:
            return
        self._last_n_updates = n_updates

        def _opt(key: str | None) -> float:
            value = values.get(key) if key is not None else None
            return float(value) if value is not None else math.nan

        self.records.append(
            dict(
                timestep=int(self.num_timesteps),
                entropy=float(entropy),
                target_entropy=_opt(self.target_key),
                ent_coef=_opt(self.ent_coef_key),
            )
        )
        if self.flush_every and len(self.records) % self.flush_every == 0:
            self.write_csv()

    def _on_rollout_start(self) -> None:
        self._read()

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._read()
        if not self.records and self.verbose and not self._warned:
            self._warned = True
            print(f"EntropyTrackingCallback: no '{self.entropy_key}' was logged; is it the right key?")
        self.write_csv()
        if self.plot_png is not None and self.records:
            plot_entropy_tracking(self.records, self.plot_png, title=self.title)

    def write_csv(self) -> Path:
        """Write the records so far to ``out_csv`` and return its path."""
        self.out_csv.parent.mkdir(parents=True, exist_ok=True)
        with self.out_csv.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["timestep", "entropy", "target_entropy", "ent_coef"])
            writer.writeheader()
            for row in self.records:
                writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
        return self.out_csv


def plot_entropy_tracking(
    records: list[dict[str, float]] | dict[str, list[dict[str, float]]],
    png: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Plot entropy vs target entropy (top) and the temperature (bottom, log scale).

    :param records: the rows of one run, or ``{label: rows}`` for several runs on one figure
    :param png: output path
    :param title: figure title
    """
    from matplotlib.figure import Figure

    runs = records if isinstance(records, dict) else {"": records}
    fig = Figure(figsize=(7, 5.5))
    (ax_h, ax_a) = fig.subplots(2, 1, sharex=True)
    for i, (label, rows) in enumerate(runs.items()):
        color = f"C{i}"
        prefix = f"{label}: " if label else ""
        t = [r["timestep"] for r in rows]
        ax_h.plot(t, [r["entropy"] for r in rows], color=color, lw=1.2, label=f"{prefix}entropy")
        target = [r["target_entropy"] for r in rows]
        if any(not math.isnan(v) for v in target):
            ax_h.plot(t, target, color=color, ls="--", lw=1.2, label=f"{prefix}target")
        alpha = [r["ent_coef"] for r in rows]
        if any(not math.isnan(v) for v in alpha):
            ax_a.plot(t, alpha, color=color, lw=1.2, label=f"{prefix}ent_coef")
    ax_h.set_ylabel("entropy (nats)")
    ax_h.legend(fontsize=7)
    ax_a.set_ylabel("temperature alpha")
    alphas = [r["ent_coef"] for rows in runs.values() for r in rows if not math.isnan(r["ent_coef"])]
    if alphas and min(alphas) > 0:
        ax_a.set_yscale("log")
    ax_a.set_xlabel("timesteps")
    if alphas:
        ax_a.legend(fontsize=7)
    if title:
        ax_h.set_title(title)
    return save_figure(fig, png, dpi=120)
