"""Temperature tracking: the learned temperature makes the entropy follow its target.

``python -m sb3_softopt.experiments.temperature --out DIR [--quick]``

SAC on Pendulum-v1 (``dim(A) = 1``), three runs with the same seed:

* ``auto``: ``ent_coef="auto"``, ``target_entropy="auto"`` (= -dim(A) = -1): the entropy is
  driven to the constant target.
* ``target_schedule``: ``ent_coef="auto"``, ``target_entropy="lin_-1_-4"``: the target decreases
  linearly over training and the learned temperature makes the entropy follow it down, moving
  the policy towards a greedy one.
* ``ent_coef_schedule``: a fixed temperature annealed log-linearly, ``ent_coef="loglin_0.1_0.001"``
  (Haarnoja et al. 2017's finetuning anneal): no target; lowering alpha lowers the entropy.

The entropy, its target and alpha are recorded after every update by
:class:`sb3_softopt.common.callbacks.EntropyTrackingCallback`. Outputs: ``temperature.csv``
(all records, column ``run``), ``temperature_<run>.csv``, ``temperature.json`` (summary:
mean |entropy - target| over the last half of training, final entropy and alpha, evaluation
return) and ``temperature.png``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np

from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict

CLAIM = Claim(
    name="temperature",
    title="Automatic temperature and annealing",
    section="4.4.4, 4.6",
    statement="Automatic temperature adjustment keeps the policy entropy at a target; lowering the temperature "
    "moves the policy toward the greedy one.",
    criteria="reproduced if, with a learned alpha, the policy entropy stays within 0.5 nats of its target on "
    "average over the second half of training, for both the constant and the decreasing target, and "
    "annealing a fixed alpha lowers the entropy (mean of the last 10% of records vs the first 10%) by "
    "more than 0.5 nats; partly if one holds.",
)

ENV_ID = "Pendulum-v1"
RUNS: dict[str, dict[str, Any]] = {
    "auto": dict(ent_coef="auto", target_entropy="auto"),
    "target_schedule": dict(ent_coef="auto", target_entropy="lin_-1_-4"),
    "ent_coef_schedule": dict(ent_coef="loglin_0.1_0.001"),
}
# rl-zoo3's Pendulum-v1 learning rate; smaller networks and batches than SB3's defaults keep the
# three runs cheap on a shared CPU (this is a diagnostic, not a score benchmark).
COMMON_KWARGS: dict[str, Any] = dict(learning_rate=1e-3, batch_size=128, policy_kwargs=dict(net_arch=[64, 64]))
FULL_STEPS = 10_000
QUICK_STEPS = 1_000
#: each run's evaluation return: episodes, and the seed of their env (apart from the training seeds)
EVAL_EPISODES = 5
EVAL_SEED = 10_000


def _evaluate(model, n_episodes: int = EVAL_EPISODES, seed: int = EVAL_SEED) -> float:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    result = evaluate_policy(model, make_vec_env(ENV_ID, n_envs=1, seed=seed), n_eval_episodes=n_episodes)
    # SB3 types both of evaluate_policy's return forms; without return_episode_rewards it is (mean, std).
    mean_return, _ = cast(tuple[float, float], result)
    return float(mean_return)


class RunSummary(TypedDict):
    """One run's end state and how closely its entropy followed the target."""

    kwargs: dict[str, Any]
    n_records: int
    final_entropy: float | None
    final_target_entropy: float | None
    final_ent_coef: float | None
    #: mean |entropy - target| over the records of the second half of training (learned alpha only)
    mean_abs_gap_second_half: float | None
    eval_return: float


class TemperatureResult(TypedDict):
    """What :func:`run` measures (also written to ``temperature.json``, without ``files``)."""

    env: str
    seed: int
    steps: int
    common: dict[str, Any]
    runs: dict[str, RunSummary]
    #: ``csv`` (all records, column ``run``), ``json``, ``png`` -> path
    files: dict[str, str]


def run(
    out_dir: str | os.PathLike[str],
    quick: bool = False,
    seed: int = 0,
    steps: int | None = None,
    runs: tuple[str, ...] = tuple(RUNS),
    progress: bool = True,
) -> TemperatureResult:
    """Train the runs, write CSV / JSON / PNG into ``out_dir`` and return the summary.

    :param out_dir: output folder (created)
    :param quick: a smoke run (1000 steps) unless ``steps`` is given
    :param seed: seed shared by the runs
    :param steps: environment steps per run (default 10000)
    :param runs: subset of ``("auto", "target_schedule", "ent_coef_schedule")``
    :param progress: show a tqdm bar
    """
    import pandas as pd
    import torch as th
    from tqdm import tqdm

    from sb3_softopt import SAC
    from sb3_softopt.common.callbacks import EntropyTrackingCallback, plot_entropy_tracking

    th.set_num_threads(1)
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        raise ValueError(f"runs must be a subset of {tuple(RUNS)}, got unknown {unknown}")
    steps = int(steps if steps is not None else (QUICK_STEPS if quick else FULL_STEPS))
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    records: dict[str, list[dict[str, float]]] = {}
    summary: TemperatureResult = dict(  # type: ignore[typeddict-item]  # ``files`` is added below
        env=ENV_ID, seed=seed, steps=steps, common=COMMON_KWARGS, runs={}
    )
    for name in tqdm(runs, desc="temperature runs", disable=not progress):
        kwargs = RUNS[name]
        learned = str(kwargs["ent_coef"]).startswith("auto")
        callback = EntropyTrackingCallback(
            out / f"temperature_{name}.csv",
            # With a fixed alpha the target entropy plays no role: do not draw it.
            target_key="train/target_entropy" if learned else None,
        )
        # deep copy: SB3 stores policy_kwargs by reference and adds keys to it
        model = SAC("MlpPolicy", ENV_ID, seed=seed, **copy.deepcopy(COMMON_KWARGS), **kwargs)
        model.learn(steps, callback=callback)
        rows = callback.records
        records[name] = rows
        late = [r for r in rows if r["timestep"] >= steps / 2]
        gaps = [abs(r["entropy"] - r["target_entropy"]) for r in late if not math.isnan(r["target_entropy"])]
        summary["runs"][name] = dict(
            kwargs=kwargs,
            n_records=len(rows),
            final_entropy=rows[-1]["entropy"] if rows else None,
            final_target_entropy=rows[-1]["target_entropy"] if rows and learned else None,
            final_ent_coef=rows[-1]["ent_coef"] if rows else None,
            mean_abs_gap_second_half=float(np.mean(gaps)) if gaps else None,
            eval_return=_evaluate(model),
        )

    table = pd.concat([pd.DataFrame(rows).assign(run=name) for name, rows in records.items()], ignore_index=True)
    table.to_csv(out / "temperature.csv", index=False)
    (out / "temperature.json").write_text(json.dumps(summary, indent=2))
    plot_entropy_tracking(records, out / "temperature.png", title=f"SAC on {ENV_ID}: entropy vs target (seed {seed})")
    summary["files"] = {k: str(out / f"temperature.{k}") for k in ("csv", "json", "png")}
    return summary


def _annealed_entropy_drop(result: TemperatureResult) -> tuple[float, float]:
    """Mean entropy over the first and last 10% of the records of the annealed-alpha run."""
    import pandas as pd

    path = Path(result["files"]["csv"])
    if not path.exists() and "_out_dir" in result:  # the run folder was moved or copied since
        path = Path(result["_out_dir"]) / path.name  # type: ignore[typeddict-item]
    table = pd.read_csv(path)
    sub = table[table["run"] == "ent_coef_schedule"]["entropy"].to_numpy(dtype=float)
    if sub.size < 10:
        raise ValueError(f"{path} has {sub.size} < 10 records of the ent_coef_schedule run")
    k = max(1, sub.size // 10)
    return float(sub[:k].mean()), float(sub[-k:].mean())


def judge(result: TemperatureResult) -> Verdict:
    gaps: dict[str, float] = {}
    for name in ("auto", "target_schedule"):
        gap = result["runs"][name]["mean_abs_gap_second_half"]
        if gap is None:
            raise ValueError(f"run {name!r} has no entropy gap: its temperature was not learned")
        gaps[name] = float(gap)
    h0, h1 = _annealed_entropy_drop(result)
    numbers: dict[str, Any] = {
        "mean |entropy - target|, 2nd half, constant target (nats)": gaps["auto"],
        "mean |entropy - target|, 2nd half, decreasing target (nats)": gaps["target_schedule"],
        "entropy first / last 10% of the annealed-alpha run (nats)": f"{h0:.3g} / {h1:.3g}",
    }
    tracks, anneals = max(gaps.values()) <= 0.5, h1 < h0 - 0.5
    if tracks and anneals:
        return Verdict(
            REPRODUCED,
            "the learned temperature holds the entropy on its (moving) target, and annealing alpha makes the policy greedier",
            numbers,
        )
    if tracks or anneals:
        return Verdict(
            PARTLY, f"tracks the target within 0.5 nats: {tracks}; annealing lowers the entropy by > 0.5 nats: {anneals}", numbers
        )
    return Verdict(NOT_REPRODUCED, "neither effect observed", numbers)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture temperature`` and of this module (keyword arguments of :func:`run`)."""
    parser.add_argument("--steps", type=int, default=None, help=f"steps per run (default {FULL_STEPS}, {QUICK_STEPS} with --quick)")
    parser.add_argument("--runs", nargs="+", default=tuple(RUNS), choices=list(RUNS))


def print_summary(summary: TemperatureResult, out_dir: str | os.PathLike[str]) -> None:
    """What the command line prints before the verdict."""
    for name, s in summary["runs"].items():
        gap = s["mean_abs_gap_second_half"]
        print(
            f"{name:18s} final entropy {s['final_entropy']:.3f} target {s['final_target_entropy']} "
            f"alpha {s['final_ent_coef']:.4g} |gap| 2nd half {'-' if gap is None else f'{gap:.3f}'} "
            f"eval return {s['eval_return']:.1f}"
        )
    print("wrote", ", ".join(summary["files"].values()))


def main(argv: list[str] | None = None) -> TemperatureResult:
    """``python -m sb3_softopt.experiments.temperature`` (= ``python -m sb3_softopt.lecture temperature``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(TemperatureResult, module_main(sys.modules[__name__], argv))


if __name__ == "__main__":
    main()
