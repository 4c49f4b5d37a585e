"""Command line: ``python -m sb3_softopt.experiments.finetune``."""

from __future__ import annotations

import argparse
from pathlib import Path
from collections.abc import Sequence
from sb3_softopt.common.executors import BACKENDS
from sb3_softopt.experiments.finetune.claim import FinetuneResult
from sb3_softopt.experiments.finetune.config import ARMS, BUDGETS, DEFAULT_ARMS, DEFAULT_PRETRAIN_ENV, DEFAULT_SEEDS, QUICK_SEEDS
from sb3_softopt.experiments.finetune.runner import run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture finetune`` (keyword arguments of :func:`run`)."""
    parser.add_argument(
        "--umaze-replication",
        action="store_true",
        help="also run (resume) the pre-registered U-maze replication into OUT/umaze_preregistered",
    )
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default min(2, cores))")
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="local process pool (default) or Dask distributed")
    parser.add_argument("--dask-address", default=None, help="Dask scheduler address (default: a local cluster of --workers processes)")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _parse_task(text: str) -> tuple[str, float]:
    env_id, sep, thr = text.rpartition(":")
    if not sep or not env_id:
        raise argparse.ArgumentTypeError(f"--finetune-env must be ENV_ID:THRESHOLD, got {text!r}")
    try:
        return env_id, float(thr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--finetune-env threshold must be a number, got {thr!r} in {text!r}") from None


def main(argv: Sequence[str] | None = None) -> FinetuneResult:
    parser = argparse.ArgumentParser(prog="python -m sb3_softopt.experiments.finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--seeds", type=int, default=None, help=f"number of seeds (default {DEFAULT_SEEDS}, quick: {QUICK_SEEDS})")
    parser.add_argument("--budget", default="default", choices=sorted(BUDGETS), help="step budget preset")
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test budget")
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default min(2, cores))")
    parser.add_argument("--pretrain-env", default=DEFAULT_PRETRAIN_ENV)
    parser.add_argument("--finetune-env", action="append", type=_parse_task, default=None, metavar="ENV_ID:THRESHOLD")
    parser.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS, help="default: %(default)s")
    parser.add_argument("--env-module", action="append", default=[], help="module to import to register env ids")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="local process pool (default) or Dask distributed")
    parser.add_argument("--dask-address", default=None, help="Dask scheduler address (default: a local cluster of --workers processes)")
    parser.add_argument(
        "--umaze-replication",
        action="store_true",
        help="also run (resume) the pre-registered U-maze replication into OUT/umaze_preregistered (seeds 3000-3065, 20k steps)",
    )
    args = parser.parse_args(argv)
    tasks = dict(args.finetune_env) if args.finetune_env else None
    summary = run(
        args.out,
        quick=args.quick,
        seeds=args.seeds,
        budget=args.budget,
        pretrain_env=args.pretrain_env,
        tasks=tasks,
        arms=args.arms,
        workers=args.workers,
        env_modules=args.env_module,
        progress=not args.no_progress,
        backend=args.backend,
        dask_address=args.dask_address,
        umaze_replication=args.umaze_replication,
    )
    print((Path(args.out) / "summary.md").read_text())
    if "umaze_replication" in summary:
        from sb3_softopt.experiments.finetune.preregistered import judge_umaze

        rep = summary["umaze_replication"]
        verdict = judge_umaze(rep)
        print(f"U-maze replication ({'pre-registered' if rep['preregistered'] else 'pilot, not counted'}): {verdict.level}")
        for key, value in verdict.numbers.items():
            print(f"  {key}: {value}")
        print(f"  CPU time of its runs: {rep['cpu_s']:.0f} s")
    print(f"wall time {summary['wall_s']:.0f} s; outputs in {args.out}")
    return summary
