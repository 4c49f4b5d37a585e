"""The ``softopt-zoo`` command line."""

from __future__ import annotations

import os
import re
import runpy
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sb3_softopt.zoo.constants import (
    COMMANDS,
    DEFAULT_HEARTBEAT,
    FIGURES_ENV,
    HEARTBEAT_ENV,
    STOCHASTIC_EVAL_ENV,
    TRACEBACK_ENV,
    ZOO_ALGOS,
    ZooBridgeError,
)
from sb3_softopt.zoo.patches import BridgeOptions, bridge_options, register


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
USAGE = f"""usage: softopt-zoo [--stochastic-eval] [--figures DIR] [--traceback] [--heartbeat SECONDS]
                   COMMAND [rl-zoo3 arguments]

COMMAND is one of: {', '.join(COMMANDS)} (rl-zoo3's own commands and arguments;
`softopt-zoo COMMAND -h` shows them). Extra algorithms: {', '.join(ZOO_ALGOS)}
(sac is sb3_softopt.SAC). Default hyperparameters: zoo_configs/<algo>.yml.

bridge options (may appear anywhere, removed before rl-zoo3 parses the rest):
  --stochastic-eval  evaluate with stochastic actions during train/-optimize
                     (also: {STOCHASTIC_EVAL_ENV}=1, or hyperparameter deterministic_eval: false)
  --figures DIR      plotting commands: save each figure as DIR/<title>.png
                     (also: {FIGURES_ENV}=DIR)
  --traceback        on error, print the full traceback instead of one line
                     (also: {TRACEBACK_ENV}=1); exit status 1, or 2 for bad usage
  --heartbeat SECONDS
                     -optimize with --storage: running trials send a heartbeat every
                     SECONDS; a trial silent for 2*SECONDS (dead worker) is marked FAIL
                     (default {DEFAULT_HEARTBEAT}, 0: off; also: {HEARTBEAT_ENV}=SECONDS)
"""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _heartbeat(value: str, origin: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ZooBridgeError(f"{origin} needs a whole number of seconds (0: no heartbeat), got {value!r}")
    return seconds


def _split_bridge_options(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    heartbeat = os.environ.get(HEARTBEAT_ENV, "").strip()
    options: dict[str, Any] = {
        "stochastic_eval": _flag(STOCHASTIC_EVAL_ENV),
        "figures": os.environ.get(FIGURES_ENV) or None,
        "traceback": _flag(TRACEBACK_ENV),
        "heartbeat": _heartbeat(heartbeat, HEARTBEAT_ENV) if heartbeat else DEFAULT_HEARTBEAT,
    }
    examples = {"--figures": "a folder, e.g. --figures plots/", "--heartbeat": "seconds, e.g. --heartbeat 60"}
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--stochastic-eval":
            options["stochastic_eval"] = True
        elif arg == "--traceback":
            options["traceback"] = True
        elif name in examples:
            if "=" in arg:
                value = arg.split("=", 1)[1]
            else:
                if i + 1 >= len(args) or args[i + 1].startswith("-"):
                    raise ZooBridgeError(f"{name} needs {examples[name]}")
                i += 1
                value = args[i]
            if name == "--figures":
                options["figures"] = value
            else:
                options["heartbeat"] = _heartbeat(value, name)
        else:
            rest.append(arg)
        i += 1
    return options, rest


def _save_figures(folder: str) -> list[Path]:
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for number in plt.get_fignums():
        fig = plt.figure(number)
        label = str(fig.get_label() or (fig.axes[0].get_title() if fig.axes else "") or f"figure_{number}")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or f"figure_{number}"
        path = out / f"{name}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        saved.append(path)
        print(f"Saved figure {path}")
    plt.close("all")
    return saved


def _disable_broken_rliable() -> None:
    """rl-zoo3's plot_from_file treats rliable as optional but only catches ImportError; with
    pandas >= 3 rliable's dependency arch (< 8) fails with a TypeError, which would break every
    plotting command (``rl_zoo3.plots`` imports plot_from_file). Turn that into a missing rliable."""
    try:
        import rliable.library  # noqa: F401
    except ImportError:
        return
    except Exception as exc:
        for name in [m for m in sys.modules if m == "rliable" or m.startswith("rliable.")]:
            del sys.modules[name]
        sys.modules["rliable"] = None  # type: ignore[assignment]  # makes `import rliable` raise ImportError
        warnings.warn(
            f"rliable cannot be imported ({type(exc).__name__}: {exc}); plot_from_file runs without its "
            "rliable options (-r/-iqm/-vs). rliable 1.2 needs arch<8, and arch 7 fails with pandas>=3.",
            stacklevel=2,
        )


def _run_command(command: str) -> None:
    if command == "record_video":
        # record_video.py only runs under `if __name__ == "__main__"`.
        runpy.run_module("rl_zoo3.record_video", run_name="__main__", alter_sys=False)
        return
    if command == "train":
        from rl_zoo3.train import train

        train()
    elif command == "enjoy":
        from rl_zoo3.enjoy import enjoy

        enjoy()
    else:
        _disable_broken_rliable()
        import rl_zoo3.plots

        getattr(rl_zoo3.plots, command)()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``softopt-zoo`` / ``python -m sb3_softopt.zoo``.

    :param argv: command line without the program name (default: ``sys.argv[1:]``)
    :raises ZooBridgeError: bad bridge usage when ``argv`` is given (from the command line:
        a one-line error and exit status 2, like argparse)
    :raises Exception: whatever rl-zoo3 raises, when ``argv`` is given (from the command line:
        one line on stderr, the traceback only with ``--traceback``, and exit status 1)
    """
    try:
        options, args = _split_bridge_options(sys.argv[1:] if argv is None else argv)
        if not args or args[0] in ("-h", "--help"):
            print(USAGE)
            return
        command, rest = args[0], args[1:]
        if command not in COMMANDS:
            raise ZooBridgeError(f"unknown command {command!r}; choose one of {', '.join(COMMANDS)}")
    except ZooBridgeError as exc:
        if argv is not None:
            raise
        print(f"softopt-zoo: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    if options["figures"] is not None and command in ("all_plots", "plot_train", "plot_from_file"):
        import matplotlib

        # Headless: plt.show() becomes a no-op and the figures stay open to be saved.
        matplotlib.use("Agg")
        Path(options["figures"]).mkdir(parents=True, exist_ok=True)

    register(command)
    run_options = BridgeOptions(stochastic_eval=bool(options["stochastic_eval"]), heartbeat=options["heartbeat"])
    saved_argv = sys.argv
    sys.argv = [f"softopt-zoo {command}", *rest]
    try:
        with bridge_options(run_options):
            _run_command(command)
    except Exception as exc:
        if argv is not None or options["traceback"]:
            raise
        from sb3_softopt.zoo.runs import error_line

        # rl-zoo3's own output went to stdout; the reason it stopped is this one line.
        print(error_line(exc, f"softopt-zoo {command}") + "  (--traceback shows where)", file=sys.stderr)
        raise SystemExit(2 if isinstance(exc, ZooBridgeError) else 1) from None
    finally:
        sys.argv = saved_argv
    if options["figures"] is not None and command in ("all_plots", "plot_train", "plot_from_file"):
        with warnings.catch_warnings():
            _save_figures(options["figures"])
