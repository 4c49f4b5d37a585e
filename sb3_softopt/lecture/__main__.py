"""
``python -m sb3_softopt.lecture NAME --out DIR [--quick] [--seed S] [options]``.

One sub-command per entry of :data:`sb3_softopt.lecture.registry.EXPERIMENTS` (``lottery``,
``reaching``, and the other claims once their modules exist) plus ``all`` (every claim and a
``report.md``, from :mod:`sb3_softopt.lecture.report`). Headless: figures are written with Agg.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

from sb3_softopt.lecture.registry import EXPERIMENTS  # noqa: E402

_COMMON = ("command", "out", "quick", "seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_softopt.lecture",
        description="Reproduce the claims of the lecture 'control as inference' (CSV/JSON + PNG into --out).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join([*EXPERIMENTS, "all"]) + "}")
    for name, exp in EXPERIMENTS.items():
        p = sub.add_parser(name, help=exp.help, description=exp.help)
        p.add_argument("--out", required=True, help="output folder (created)")
        p.add_argument("--quick", action="store_true", help="smaller, faster setting")
        p.add_argument("--seed", type=int, default=0)
        if exp.add_arguments is not None:
            exp.add_arguments(p)
    try:
        from sb3_softopt.lecture import report
    except ImportError:
        report = None  # type: ignore[assignment]
    if report is not None:
        p = sub.add_parser("all", help="run every claim and write OUT/report.md")
        report.add_arguments(p)
    return parser


def _summary(result: dict[str, Any]) -> str:
    scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None}
    return json.dumps(scalars, indent=2, default=str)


def main(argv: Sequence[str] | None = None) -> Any:
    args = build_parser().parse_args(argv)
    if args.command == "all":
        from sb3_softopt.lecture import report

        return report.run_all(
            args.out, quick=args.quick, seed=args.seed, claims=args.only, reuse=args.reuse, saved_only=args.saved_only
        )
    options = {k: v for k, v in vars(args).items() if k not in _COMMON}
    result = EXPERIMENTS[args.command].run(args.out, quick=args.quick, seed=args.seed, **options)
    print(_summary(result))
    print(f"files written to {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
