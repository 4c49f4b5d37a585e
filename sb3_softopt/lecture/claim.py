"""What a lecture claim is, and what judging one produces.

Every claim is one module of :mod:`sb3_softopt.experiments` exposing

* ``CLAIM``: a :class:`Claim` (what the lecture says and the verdict rule in words);
* ``run(out_dir, quick=False, seed=0, **options) -> <Result>``: runs the experiment, writes its
  files into ``out_dir`` and returns the measured numbers as a ``TypedDict`` (JSON-serialisable,
  so that a saved result can be judged again). Every claim takes ``quick`` and ``seed`` (a claim
  with several seeds adds ``seed`` to each of its default ones, so ``seed=0`` is its default run);
  its other parameters are its own options, keyword arguments with defaults;
* ``judge(result) -> Verdict``: the rule of ``CLAIM.criteria``, computed from the numbers only;
* optionally ``add_arguments(parser)``: the experiment's own command-line options (defined there
  only), whose ``dest`` names are keyword arguments of ``run``; :mod:`sb3_softopt.lecture.cli`
  adds ``--out``, ``--quick`` and ``--seed`` and builds both ``python -m sb3_softopt.lecture NAME``
  and the module's own ``python -m`` command (its ``main``) from them;
* optionally ``print_summary(result, out_dir)``: what those commands print before the verdict
  (default: the result's scalar numbers as JSON).

:mod:`sb3_softopt.lecture.registry` lists the modules, :mod:`~sb3_softopt.lecture.runner` runs and
saves them, :mod:`~sb3_softopt.lecture.report` renders the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LEVELS", "NOT_REPRODUCED", "NOT_RUN", "PARTLY", "REPRODUCED", "UNDETERMINED", "Claim", "Verdict", "ci_text"]

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
#: the numbers the rule needs are missing from the result
UNDETERMINED = "undetermined"
#: the experiment failed or was not run
NOT_RUN = "not run"
LEVELS = (REPRODUCED, PARTLY, NOT_REPRODUCED, UNDETERMINED, NOT_RUN)


@dataclass(frozen=True)
class Claim:
    """One lecture claim.

    :param name: CLI sub-command and output sub-folder (an identifier other than ``all``).
    :param title: short heading.
    :param section: lecture section(s).
    :param statement: one sentence of what the lecture says.
    :param criteria: the verdict rule in words (printed in the report next to the verdict).
    """

    name: str
    title: str
    section: str
    statement: str
    criteria: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name == "all":
            raise ValueError(f"claim name must be an identifier other than 'all', got name={self.name!r}")


@dataclass
class Verdict:
    """A verdict level, the reason in plain words and the numbers it was computed from."""

    level: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got level={self.level!r}")


def ci_text(value: float, ci: Sequence[float]) -> str:
    """``value [low, high]`` with three significant digits."""
    return f"{value:.3g} [{float(ci[0]):.3g}, {float(ci[1]):.3g}]"
