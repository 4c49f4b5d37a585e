"""Command line: ``python -m sb3_softopt.experiments.finetune`` (= ``python -m sb3_softopt.lecture finetune``).

Both are built from :func:`add_arguments` by :mod:`sb3_softopt.lecture.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from sb3_softopt.experiments.infra.executors import BACKENDS
from sb3_softopt.experiments.finetune.claim import FinetuneResult
from sb3_softopt.experiments.finetune.config import ARMS, BUDGETS, DEFAULT_ARMS, DEFAULT_PRETRAIN_ENV, DEFAULT_SEEDS, QUICK_SEEDS


def _parse_task(text: str) -> tuple[str, float]:
    env_id, sep, thr = text.rpartition(":")
    if not sep or not env_id:
        raise argparse.ArgumentTypeError(f"--finetune-env must be ENV_ID:THRESHOLD, got {text!r}")
    try:
        return env_id, float(thr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--finetune-env threshold must be a number, got {thr!r} in {text!r}") from None


class _TaskAction(argparse.Action):
    """``--finetune-env ENV_ID:THRESHOLD`` (repeatable) -> ``tasks={env_id: threshold, ...}``."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None
    ) -> None:
        env_id, threshold = values
        tasks = dict(getattr(namespace, self.dest) or {})
        tasks[env_id] = threshold
        setattr(namespace, self.dest, tasks)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture finetune`` and of this package (keyword arguments of :func:`run`)."""
    parser.add_argument(
        "--seeds", type=int, default=None, help=f"number of seeds, from --seed on (default {DEFAULT_SEEDS}, quick: {QUICK_SEEDS})"
    )
    parser.add_argument("--budget", default="default", choices=sorted(BUDGETS), help="step budget preset")
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default min(2, cores))")
    parser.add_argument("--pretrain-env", default=DEFAULT_PRETRAIN_ENV)
    parser.add_argument(
        "--finetune-env", dest="tasks", action=_TaskAction, type=_parse_task, default=None, metavar="ENV_ID:THRESHOLD",
        help="a finetuning task and its success threshold (repeat for several; default: the point-mass tasks)",
    )  # fmt: skip
    parser.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS, help="default: %(default)s")
    parser.add_argument("--env-module", dest="env_modules", action="append", default=[], help="module to import to register env ids")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="local process pool (default) or Dask distributed")
    parser.add_argument("--dask-address", default=None, help="Dask scheduler address (default: a local cluster of --workers processes)")
    parser.add_argument(
        "--umaze-replication",
        action="store_true",
        help="also run (resume) the pre-registered U-maze replication into OUT/umaze_preregistered (seeds 3000-3065, 20k steps)",
    )


def print_summary(summary: FinetuneResult, out_dir: str | Path) -> None:
    """What the command line prints before the verdict: ``summary.md`` and the U-maze replication."""
    print((Path(out_dir) / "summary.md").read_text())
    if "umaze_replication" in summary:
        from sb3_softopt.experiments.finetune.preregistered import judge_umaze

        rep = summary["umaze_replication"]
        verdict = judge_umaze(rep)
        print(f"U-maze replication ({'pre-registered' if rep['preregistered'] else 'pilot, not counted'}): {verdict.level}")
        for key, value in verdict.numbers.items():
            print(f"  {key}: {value}")
        print(f"  CPU time of its runs: {rep['cpu_s']:.0f} s")
    print(f"wall time {summary['wall_s']:.0f} s; outputs in {out_dir}")


def main(argv: Sequence[str] | None = None) -> FinetuneResult:
    """``python -m sb3_softopt.experiments.finetune`` (= ``python -m sb3_softopt.lecture finetune``)."""
    import sb3_softopt.experiments.finetune as package
    from sb3_softopt.lecture.cli import module_main

    return cast(FinetuneResult, module_main(package, argv))
