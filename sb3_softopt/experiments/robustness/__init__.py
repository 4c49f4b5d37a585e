"""Lecture 4.6: max-entropy policies are more robust to perturbations.

The protocol of Eysenbach & Levine (2022), "Maximum Entropy RL (Provably) Solves Some Robust RL
Problems", figure 1, on ``PointGoal-v0`` (a point mass with inertia that must reach a goal 12 units
away): SQL (the lecture's energy-based policy), SAC and DDPG are trained *without* obstacles with
the same budget (env steps), network, optimiser and replay; DDPG has its own update schedule and
exploration noise, the settings under which it learns the task (:mod:`.config`). Each trained
policy is then evaluated with one obstacle at a time placed on its own learned path (the
deterministic rollout; 3 positions along it x 3 widths). Running into an obstacle stops the agent
dead, so a policy that keeps pushing straight stays there, one that also moves sideways can slide
past. The max-ent policies are evaluated by sampling (what the theory is about) and
deterministically; DDPG deterministically. The earlier protocol is kept as a second family:
velocity pushes and Gaussian action noise of growing strength.

Per arm and seed the score is the success rate averaged over the obstacle placements; the
summary reports means with Student-t 95% intervals over seeds and the difference to DDPG with a
Welch 95% interval (:mod:`sb3_softopt.experiments.infra.stats`). Outputs: ``runs/<algo>_seed<k>.json`` (one per
trained policy: every evaluation and its learned path; resumable), ``robustness_runs.csv``,
``robustness.json``, ``robustness.png``.

Run it alone::

    python -m sb3_softopt.experiments.robustness --out runs/robustness [--quick]

Modules: :mod:`.config` (settings), :mod:`.perturbation` (the disturbance wrapper),
:mod:`.jobs` (one training and its evaluations), :mod:`.runner` (scheduling, summary, figure),
:mod:`.claim` (the claim, the result type, the verdict rule).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import cast

from sb3_softopt.experiments.robustness.claim import CLAIM, RobustnessResult, judge
from sb3_softopt.experiments.robustness.jobs import learned_path, place_obstacle
from sb3_softopt.experiments.robustness.perturbation import PerturbationWrapper, evaluate_under_perturbation
from sb3_softopt.experiments.robustness.runner import run, summarize

__all__ = [
    "CLAIM",
    "PerturbationWrapper",
    "RobustnessResult",
    "evaluate_under_perturbation",
    "judge",
    "learned_path",
    "main",
    "place_obstacle",
    "run",
    "summarize",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture robustness`` and of this package (keyword arguments of :func:`run`).

    ``--seed`` (added by :mod:`sb3_softopt.lecture.cli`) offsets the budget's first seed.
    """
    parser.add_argument("--n-seeds", type=int, default=None, help="seeds per algorithm (default 40: the pre-registered run; quick 2)")
    parser.add_argument("--train-steps", type=int, default=None, help="training steps per run (default 10000)")
    parser.add_argument("--n-eval-episodes", type=int, default=None, help="episodes per setting and mode (default 10)")
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default min(2, cores))")
    parser.add_argument("--backend", default="local", choices=("local", "dask"), help="local process pool (default) or Dask distributed")
    parser.add_argument("--dask-address", default=None, help="Dask scheduler address (default: a local cluster of --workers processes)")


def main(argv: Sequence[str] | None = None) -> RobustnessResult:
    """``python -m sb3_softopt.experiments.robustness`` (= ``python -m sb3_softopt.lecture robustness``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(RobustnessResult, module_main(sys.modules[__name__], argv))
