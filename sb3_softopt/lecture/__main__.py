"""
``python -m sb3_softopt.lecture NAME --out DIR [--quick] [--seed S] [options]``.

One sub-command per claim of :mod:`sb3_softopt.lecture.registry` plus ``all`` (every claim and a
``report.md``, see :mod:`sb3_softopt.lecture.runner`). A claim's sub-command has the options of
``python -m sb3_softopt.experiments.NAME`` (both are built by :mod:`sb3_softopt.lecture.cli` from
the claim's ``add_arguments``). Headless: figures are written with Agg.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from sb3_softopt.lecture import cli, registry, runner


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_softopt.lecture",
        description="Reproduce the claims of the lecture 'control as inference' (CSV/JSON + PNG into --out).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join([*registry.names(), "all"]) + "}")
    for name in registry.names():
        module = registry.get(name)
        p = sub.add_parser(name, help=module.CLAIM.title, description=f"{module.CLAIM.title}: {module.CLAIM.statement}")
        cli.add_claim_arguments(p, module)
    runner.add_arguments(sub.add_parser("all", help="run every claim and write OUT/report.md"))
    return parser


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
    return cli.run_parsed(registry.get(args.command), args)


if __name__ == "__main__":
    main()
