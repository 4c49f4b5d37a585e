"""Lecture 4.7: soft policies compose.

The composition test of Haarnoja et al. (2018), "Composable Deep Reinforcement Learning for Robotic
Manipulation" (figure 2), on a point mass with inertia. ``PointComposeA-v0`` rewards reaching goal
N or E, ``PointComposeB-v0`` E or S, and the combined task ``PointComposeAB-v0`` (the rewards
averaged) peaks at E, where they meet (:mod:`sb3_softopt.envs.point_compose`). SQL is trained on
A and on B and the two models are composed (:func:`sb3_softopt.composition.compose`, AND: the
policy of the summed soft Q-functions) with zero environment steps. On the combined task it is
compared with SQL trained there from scratch with the constituents' total budget, and with the
naive composition of deterministic policies: the mean of the actions of DDPG trained on A and on B.

Per arm and seed the score is the success rate (at E at the last step); the summary reports means
with Student-t 95% intervals over seeds and the two differences with Welch 95% intervals
(:mod:`sb3_softopt.experiments.infra.stats`). Outputs: ``runs/seed<k>.json`` (one per seed: every
evaluation and a few paths; resumable), ``composition_runs.csv``, ``composition.json``,
``composition.png``.

Run it alone::

    python -m sb3_softopt.experiments.composition --out runs/composition [--quick]

Modules: :mod:`.config` (settings), :mod:`.jobs` (one seed: training, composition, evaluation),
:mod:`.runner` (scheduling, summary, figure), :mod:`.claim` (the claim, the result type, the verdict rule).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import cast

from sb3_softopt.experiments.composition.claim import CLAIM, CompositionResult, judge
from sb3_softopt.experiments.composition.jobs import average_policy, evaluate
from sb3_softopt.experiments.composition.runner import run, summarize

__all__ = ["CLAIM", "CompositionResult", "average_policy", "evaluate", "judge", "main", "run", "summarize"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture composition`` and of this package (keyword arguments of :func:`run`).

    ``--seed`` (added by :mod:`sb3_softopt.lecture.cli`) offsets the budget's first seed.
    """
    parser.add_argument("--n-seeds", type=int, default=None, help="seeds (default 10: the pre-registered run; quick 2)")
    parser.add_argument("--train-steps", type=int, default=None, help="env steps per constituent, scratch twice (default 6000)")
    parser.add_argument("--n-eval-episodes", type=int, default=None, help="episodes per arm and seed (default 20)")


def main(argv: Sequence[str] | None = None) -> CompositionResult:
    """``python -m sb3_softopt.experiments.composition`` (= ``python -m sb3_softopt.lecture composition``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(CompositionResult, module_main(sys.modules[__name__], argv))
