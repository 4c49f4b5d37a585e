"""
``python -m sb3_softopt.lecture NAME --out DIR [--quick] [--seed S] [options]``.

One sub-command per claim of :mod:`sb3_softopt.lecture.registry` plus ``all`` (every claim and a
``report.md``, see :mod:`sb3_softopt.lecture.runner`). Headless: figures are written with Agg.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from sb3_softopt.lecture import registry, runner

_COMMON = ("command", "out", "quick", "seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_softopt.lecture",
        description="Reproduce the claims of the lecture 'control as inference' (CSV/JSON + PNG into --out).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join([*registry.names(), "all"]) + "}")
    for name in registry.names():
        module = registry.get(name)
        p = sub.add_parser(name, help=module.CLAIM.title, description=module.CLAIM.statement)
        p.add_argument("--out", required=True, help="output folder (created)")
        p.add_argument("--quick", action="store_true", help="smaller, faster setting")
        p.add_argument("--seed", type=int, default=0)
        if hasattr(module, "add_arguments"):
            module.add_arguments(p)
    runner.add_arguments(sub.add_parser("all", help="run every claim and write OUT/report.md"))
    return parser


def _summary(result: dict[str, Any]) -> str:
    scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None}
    return json.dumps(scalars, indent=2, default=str)


def main(argv: Sequence[str] | None = None) -> Any:
    # A CLI owns the process: headless figures unless the user chose a backend.
    os.environ.setdefault("MPLBACKEND", "Agg")
    args = build_parser().parse_args(argv)
    if args.command == "all":
        results = runner.run_all(
            args.out, quick=args.quick, seed=args.seed, claims=args.only, reuse=args.reuse, saved_only=args.saved_only
        )
        print(f"report: {os.path.join(args.out, 'report.md')}")
        return results
    options = {k: v for k, v in vars(args).items() if k not in _COMMON}
    module = registry.get(args.command)
    result = runner.call_run(module, args.out, args.quick, args.seed, **options)
    print(_summary(result))
    verdict = runner.judge(module, result, args.out)
    print(f"verdict: {verdict.level} - {verdict.reason}" + (" (quick budget: a smoke test)" if args.quick else ""))
    print(f"files written to {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
