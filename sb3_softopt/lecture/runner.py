"""Run lecture claims, save and judge their results, and write the report.

``python -m sb3_softopt.lecture all --out DIR [--quick]`` runs every registered claim into
``DIR/<claim>/`` and writes ``DIR/report.md`` (rendered by :mod:`sb3_softopt.lecture.report`) and
``DIR/report.json``. ``--quick`` budgets are smoke tests: their verdicts are printed but marked so.

Resuming (``--reuse``): a claim's ``claim_result.json`` is removed before the claim (re)runs and
written atomically once its experiment returned, so it exists only when every file of the claim's
folder comes from the run it describes. A saved result that is unreadable, was made with another
``quick``, ``seed`` or claim, or lacks a key of the claim's result type is not trusted: the claim
is rerun and the report says why.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_write_json, atomic_write_text, load_json
from sb3_softopt.lecture import registry
from sb3_softopt.lecture.claim import NOT_RUN, UNDETERMINED, Claim, Verdict

__all__ = ["RESULT_FILE", "ClaimResult", "add_arguments", "call_run", "judge", "run_all", "run_claim"]

RESULT_FILE = "claim_result.json"


@dataclass
class ClaimResult:
    """One claim's outcome: its numbers and verdict, or the error that stopped it."""

    claim: Claim
    status: str  # "ok" or "error"
    seconds: float
    result: dict[str, Any] | None = None
    error: str | None = None
    module: str | None = None
    figures: list[Path] = field(default_factory=list)
    verdict: Verdict | None = None
    reused: bool = False
    #: why a saved result was not trusted (the claim was rerun instead), if one was found
    distrusted: str | None = None


def call_run(module: ModuleType, out: str | Path, quick: bool, seed: int, **options: Any) -> dict[str, Any]:
    """``module.run(out, quick=quick, seed=seed, **options)``: every claim's ``run`` takes these
    (:mod:`sb3_softopt.lecture.claim`); ``options`` are keyword arguments of the claim's own."""
    result = module.run(out, quick=quick, seed=seed, **options)
    if not isinstance(result, Mapping):
        raise TypeError(f"{module.__name__}.run returned {type(result).__name__}, expected a dict")
    return dict(result)


def run_claim(
    name: str, out_dir: str | Path, quick: bool = False, seed: int = 0, reuse: bool = False, saved_only: bool = False
) -> ClaimResult:
    """Run claim ``name`` into ``out_dir`` and judge it; never raises for experiment errors.

    :param reuse: judge the saved result of an earlier run with the same ``quick`` and ``seed``
        instead of rerunning (one that is not trusted is rerun, :attr:`ClaimResult.distrusted` says why).
    :param saved_only: run nothing; a claim without a trusted saved result is reported "not run".
    """
    try:
        module = registry.get(name)
    except Exception as exc:
        placeholder = Claim(name, name, "?", "(the claim's module could not be imported)", "")
        return ClaimResult(placeholder, "error", 0.0, error=f"{type(exc).__name__}: {exc}", module=registry.CLAIM_MODULES.get(name))
    claim: Claim = module.CLAIM
    out = Path(out_dir)
    saved = out / RESULT_FILE
    distrusted = None
    if reuse or saved_only:
        try:
            data = _load_saved(saved, module, quick, seed)
        except FileNotFoundError:
            data = None
        except InvalidResult as exc:
            data, distrusted = None, str(exc)
        if data is not None:
            res = _judged(module, out, data["result"], float(data.get("seconds", 0.0)))
            res.reused = True
            return res
    if saved_only:
        why = distrusted or f"no saved result of this run (quick={quick}, seed={seed}) in {saved}"
        return ClaimResult(claim, "error", 0.0, error=f"{why}; run the claim first", distrusted=distrusted)
    out.mkdir(parents=True, exist_ok=True)
    # From here the folder's files are being replaced: an earlier result must not vouch for them
    # if this run fails or is killed half-way.
    saved.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        result = call_run(module, out, quick, seed)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
        return ClaimResult(claim, "error", time.perf_counter() - t0, error=error, module=module.__name__, distrusted=distrusted)
    seconds = time.perf_counter() - t0
    record = {"claim": claim.name, "quick": quick, "seed": seed, "module": module.__name__, "seconds": seconds, "result": result}
    try:
        atomic_write_json(saved, record, default=_jsonable)
    except (TypeError, ValueError, OSError):  # an unserialisable result only disables reuse
        pass
    res = _judged(module, out, result, seconds)
    res.distrusted = distrusted
    return res


def _load_saved(saved: Path, module: ModuleType, quick: bool, seed: int) -> dict[str, Any]:
    """The saved result in ``saved`` if it was made by this claim with ``quick`` and ``seed``.

    :raises FileNotFoundError: if there is none.
    :raises InvalidResult: if it is unreadable, from another configuration or of another schema.
    """
    name = module.CLAIM.name
    data = load_json(saved, ("result",), {"quick": quick, "seed": seed})
    # Results saved before the claim name was recorded carry none; they are still trusted.
    if data.get("claim", name) != name:
        raise InvalidResult(f"{saved} holds a result of claim {data['claim']!r}, not {name!r}")
    if not isinstance(data["result"], dict):
        raise InvalidResult(f"{saved} holds no result dict")
    missing = sorted(registry.required_keys(module) - data["result"].keys())
    if missing:
        raise InvalidResult(f"{saved} lacks {missing} of {name}'s result type (made by an older version?)")
    return data


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def judge(module: ModuleType, result: Mapping[str, Any], out: str | Path) -> Verdict:
    """``module.judge(result)``, or *undetermined* when the numbers it needs are missing or malformed."""
    try:
        # The judge may read files the experiment wrote; tell it where the claim's folder is now.
        return module.judge({**result, "_out_dir": str(out)})
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return Verdict(UNDETERMINED, f"cannot evaluate the criteria: {type(exc).__name__}: {exc}")


def _judged(module: ModuleType, out: Path, result: dict[str, Any], seconds: float) -> ClaimResult:
    verdict = judge(module, result, out)
    figures = _find_figures(result, out)
    return ClaimResult(module.CLAIM, "ok", seconds, result=result, module=module.__name__, figures=figures, verdict=verdict)


def _find_figures(result: Mapping[str, Any], out: Path) -> list[Path]:
    """The result's ``figures`` (paths relative to ``out``, or absolute), else every PNG in ``out``."""
    listed: list[Path] = []
    for item in result.get("figures") or ():
        p = Path(item)
        if not p.is_absolute():
            p = out / p
        elif not p.exists() and (out / p.name).exists():
            p = out / p.name  # the folder was moved or copied since the run
        if p.exists() and p.suffix.lower() in (".png", ".svg", ".jpg") and p not in listed:
            listed.append(p)
    return listed or sorted(out.glob("*.png")) or sorted(out.rglob("*.png"))


def run_all(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    claims: Sequence[str] | None = None,
    progress: bool = True,
    reuse: bool = False,
    saved_only: bool = False,
) -> list[ClaimResult]:
    """Run the claims (all by default) into ``out_dir/<claim>/``; write ``report.md`` and ``report.json``.

    :param claims: names to run (default: every registered claim, in registry order).
    :param reuse: judge saved results of an earlier run with the same ``quick`` and ``seed``.
    :param saved_only: run nothing: assemble the report from saved results only.
    """
    from sb3_softopt.lecture.report import render_report

    selected = list(claims) if claims else registry.names()
    unknown = [n for n in selected if n not in registry.CLAIM_MODULES]
    if unknown:  # before anything runs or is created
        raise ValueError(f"unknown claims {unknown}; choose from {registry.names()}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[ClaimResult] = []
    t0 = time.perf_counter()
    for name in selected:
        if progress:
            print(f"[lecture] {name} ...", flush=True)
        res = run_claim(name, out / name, quick=quick, seed=seed, reuse=reuse, saved_only=saved_only)
        results.append(res)
        if progress:
            level = res.verdict.level if res.verdict else NOT_RUN
            if res.distrusted:
                print(f"[lecture] {name}: saved result not trusted ({res.distrusted})", flush=True)
            how = "reused" if res.reused else ("not rerun" if saved_only else "rerun" if res.distrusted else "ran")
            print(f"[lecture] {name}: {level} ({how}, {res.seconds:.0f} s)", flush=True)
    total = time.perf_counter() - t0
    atomic_write_text(out / "report.md", render_report(results, out, quick, seed))
    summary = {
        r.claim.name: {
            "status": r.status,
            "verdict": r.verdict.level if r.verdict else NOT_RUN,
            "reason": r.verdict.reason if r.verdict else (r.error or "").splitlines()[0],
            "numbers": r.verdict.numbers if r.verdict else {},
            "seconds": r.seconds,
            "figures": [str(f) for f in r.figures],
        }
        for r in results
    }
    atomic_write_json(out / "report.json", {"quick": quick, "seed": seed, "seconds": total, "claims": summary}, indent=2, default=str)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture all``."""
    parser.add_argument("--out", required=True, help="output folder; the report is OUT/report.md")
    parser.add_argument("--quick", action="store_true", help="smoke-test budgets (< 5 min on 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", default=None, choices=registry.names(), metavar="CLAIM", help=f"subset of {registry.names()}")
    parser.add_argument(
        "--reuse", action="store_true", help="judge saved results of an earlier run into the same OUT instead of rerunning"
    )
    parser.add_argument(
        "--saved-only", action="store_true", help="run nothing; write the report from saved results (missing claims: not run)"
    )
