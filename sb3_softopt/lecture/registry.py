"""
Registry of the lecture reproductions: ``name -> run function`` (plus optional CLI options).

Each experiment is a module exposing ``run(out_dir, quick=False, seed=0, **options) -> dict``
(the measured numbers, also written to JSON in ``out_dir``) and optionally
``add_arguments(parser)`` for its own command-line options, whose ``dest`` names are the
``options`` of ``run``. ``python -m sb3_softopt.lecture NAME --out DIR`` runs one of them.

Adding a claim::

    from sb3_softopt.lecture.registry import register, lazy_run
    register("two_peaks", lazy_run("sb3_softopt.experiments.two_peaks"), "soft policies keep both modes")

Claims listed in :mod:`sb3_softopt.lecture.report` (``CLAIMS``) are registered automatically
(imported only when run), so the report and the CLI always offer the same names.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EXPERIMENTS", "Experiment", "get", "lazy_run", "register"]

RunFn = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Experiment:
    """One reproducible lecture claim."""

    name: str
    run: RunFn
    help: str = ""
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


#: name -> experiment; the CLI builds one sub-command per entry, in insertion order.
EXPERIMENTS: dict[str, Experiment] = {}


def register(
    name: str,
    run: RunFn,
    help: str = "",
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    *,
    overwrite: bool = False,
) -> Experiment:
    """Add an experiment under ``name`` (a CLI sub-command and an output sub-folder name)."""
    if not name.isidentifier() or name == "all":
        raise ValueError(f"experiment name must be an identifier other than 'all', got {name!r}")
    if name in EXPERIMENTS and not overwrite:
        raise ValueError(f"experiment {name!r} is already registered (pass overwrite=True to replace it)")
    if not callable(run):
        raise TypeError(f"run must be callable, got {run!r}")
    exp = Experiment(name, run, help, add_arguments)
    EXPERIMENTS[name] = exp
    return exp


def lazy_run(*modules: str) -> RunFn:
    """A run function importing the first importable of ``modules`` only when called."""
    if not modules:
        raise ValueError("lazy_run needs at least one module path")

    def run(out_dir: str | Path, quick: bool = False, seed: int = 0, **options: Any) -> dict[str, Any]:
        errors = []
        for mod_name in modules:
            try:
                mod = importlib.import_module(mod_name)
            except ModuleNotFoundError as exc:
                if exc.name and mod_name.startswith(exc.name):
                    errors.append(f"{mod_name}: not found")
                    continue
                raise
            params = inspect.signature(mod.run).parameters
            if "seed" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
                options["seed"] = seed
            # else: the module takes its own ``seeds`` list and runs with its default seeds.
            return mod.run(out_dir, quick=quick, **options)
        raise ModuleNotFoundError(f"no experiment module among {modules} ({'; '.join(errors)})")

    run.__doc__ = f"Run the experiment of the first importable module among {modules}."
    return run


def get(name: str) -> Experiment:
    """The experiment registered as ``name`` (``KeyError`` lists the known names)."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; registered: {sorted(EXPERIMENTS)}") from None


def _register_builtin() -> None:
    from sb3_softopt.lecture import lottery, reaching

    register("lottery", lottery.run, "exact inference buys the lottery ticket, variational does not", lottery.add_arguments)
    register("reaching", reaching.run, "forward/backward cones and exact vs variational under slip", reaching.add_arguments)
    try:
        from sb3_softopt.lecture.report import CLAIMS
    except ImportError:  # the report module is optional for single experiments
        return
    for claim in CLAIMS:
        if claim.name not in EXPERIMENTS:
            register(claim.name, lazy_run(*claim.modules), claim.title)


_register_builtin()
