"""The one command line of a lecture claim.

A claim's options are defined once, in its module's ``add_arguments(parser)``; this module adds
the options every claim shares (``--out``, ``--quick``, ``--seed``) and runs the claim the same way
from both places that offer it::

    python -m sb3_softopt.lecture NAME --out DIR [--quick] [--seed S] [options]
    python -m sb3_softopt.experiments.NAME --out DIR [--quick] [--seed S] [options]   # the same

The second is :func:`module_main` (each claim module's ``main``). The ``dest`` of every option a
claim adds is a keyword argument of its ``run``, and ``run(out_dir, quick=..., seed=..., **options)``
is called with the parsed values as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["COMMON_OPTIONS", "add_claim_arguments", "claim_parser", "module_main", "run_parsed"]

#: ``dest`` of the options every claim has (the rest are keyword arguments of its ``run``)
COMMON_OPTIONS = ("out", "quick", "seed")


def add_claim_arguments(parser: argparse.ArgumentParser, module: ModuleType) -> argparse.ArgumentParser:
    """Add the shared options and the claim's own (``module.add_arguments``, if it has one) to ``parser``."""
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--quick", action="store_true", help="smaller, faster setting (a smoke test)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed (claims with several seeds: offset added to each of them; default 0)"
    )
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    return parser


def claim_parser(module: ModuleType, prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``: the same options as ``python -m sb3_softopt.lecture NAME``."""
    # Run as ``python -m``, the module is ``__main__``; its spec keeps the importable name.
    spec = getattr(module, "__spec__", None)
    name = spec.name if spec is not None else module.__name__
    parser = argparse.ArgumentParser(
        prog=prog or f"python -m {name.removesuffix('.__main__')}",
        description=f"{module.CLAIM.title}: {module.CLAIM.statement}",
    )
    return add_claim_arguments(parser, module)


def _scalars(result: dict[str, Any]) -> str:
    scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None}
    return json.dumps(scalars, indent=2, default=str)


def run_parsed(module: ModuleType, args: argparse.Namespace, command: str = "command") -> dict[str, Any]:
    """Run claim ``module`` with parsed ``args``, print its summary and verdict; return its result.

    The summary is ``module.print_summary(result, out_dir)`` where the module has one, else its
    scalar numbers as JSON.
    """
    from sb3_softopt.lecture import runner

    options = {k: v for k, v in vars(args).items() if k not in (*COMMON_OPTIONS, command)}
    result = runner.call_run(module, args.out, args.quick, args.seed, **options)
    if hasattr(module, "print_summary"):
        module.print_summary(result, args.out)
    else:
        print(_scalars(result))
    verdict = runner.judge(module, result, args.out)
    print(f"verdict: {verdict.level} - {verdict.reason}" + (" (quick budget: a smoke test)" if args.quick else ""))
    for key, value in verdict.numbers.items():
        print(f"  {key}: {value}")
    print(f"files written to {args.out}", file=sys.stderr)
    return result


def module_main(module: ModuleType, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``python -m <claim module>``: parse ``argv`` with :func:`claim_parser` and run the claim."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # a CLI owns the process: headless figures
    return run_parsed(module, claim_parser(module).parse_args(argv))
