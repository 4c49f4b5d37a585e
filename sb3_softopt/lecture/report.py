"""Run every lecture claim's experiment and write one honest ``report.md``.

``python -m sb3_softopt.lecture all --out DIR [--quick]`` (or ``python -m
sb3_softopt.lecture.report --out DIR``) runs each claim's experiment module (their own
``run(out_dir, quick=..., seed=...)`` functions, imported, never re-implemented) into
``DIR/<claim>/`` and writes ``DIR/report.md`` with, per claim: what the lecture says, the
figure(s), the measured numbers, a verdict and the command that reruns that claim alone.

Verdicts are computed from the numbers each experiment returns, by the explicit criteria in
each claim's ``criteria`` text (shown in the report next to the verdict):

* **reproduced**: every criterion holds;
* **partly**: some criteria hold, or the effect has the right sign without statistical support;
* **not reproduced**: the measured effect is absent or reversed;
* **undetermined**: the experiment returned numbers the criteria cannot be evaluated on
  (e.g. a key is missing); the raw numbers are still shown;
* **not run**: the module is missing or raised; the error is shown and the report is still
  written.

``--quick`` budgets are smoke tests: a verdict computed on them is printed but marked as such.

Resuming (``--reuse``): a claim's ``claim_result.json`` is removed before the claim (re)runs and
written atomically once its experiment returned, so it exists only when every file of the claim's
folder comes from the run it describes. A saved result that is unreadable or was made with another
``quick``, ``seed``, claim or module is not trusted: the claim is rerun and the report says why.
"""

from __future__ import annotations

import argparse
import importlib
import math
import platform
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sb3_softopt.common.atomic import InvalidResult, atomic_write_json, atomic_write_text, load_json

__all__ = [
    "CLAIMS",
    "Claim",
    "ClaimResult",
    "Verdict",
    "lookup",
    "main",
    "render_report",
    "run_all",
    "run_claim",
]

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
UNDETERMINED = "undetermined"
NOT_RUN = "not run"


@dataclass
class Verdict:
    """A verdict level, the reason in plain words and the numbers it was computed from."""

    level: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Claim:
    """One lecture claim: where its experiment lives and how to judge its numbers.

    :param name: CLI sub-command and output sub-folder.
    :param title: short heading.
    :param section: lecture section.
    :param statement: one sentence of what the lecture says.
    :param modules: candidate module paths exposing ``run(out_dir, quick=False, seed=0)``,
        tried in order (the first importable one is used).
    :param criteria: the verdict rule in words (printed in the report).
    :param judge: computes the :class:`Verdict` from ``run``'s returned dict.
    """

    name: str
    title: str
    section: str
    statement: str
    modules: tuple[str, ...]
    criteria: str
    judge: Callable[[Mapping[str, Any]], Verdict]


@dataclass
class ClaimResult:
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


class MissingKey(KeyError):
    """A number the verdict needs is not in the experiment's result."""


def lookup(result: Mapping[str, Any], *paths: str) -> Any:
    """Value at the first dotted path present in ``result`` (``"a.b"`` -> ``result["a"]["b"]``)."""
    for path in paths:
        node: Any = result
        ok = True
        for part in path.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                ok = False
                break
        if ok:
            return node
    raise MissingKey(" or ".join(paths))


def _f(x: Any) -> float:
    return float(x)


# ---------------------------------------------------------------------------------------------
# Verdict rules, one per claim. They only read numbers; the thresholds are in `criteria`.
# ---------------------------------------------------------------------------------------------


def judge_lottery(r: Mapping[str, Any]) -> Verdict:
    exact = _f(lookup(r, "exact_buy_prob", "p_buy_exact", "exact.p_buy", "exact.buy_prob"))
    var = _f(lookup(r, "variational_buy_prob", "p_buy_variational", "variational.p_buy", "variational.buy_prob"))
    numbers = {"P(buy) exact inference": exact, "P(buy) variational": var}
    ok_exact, ok_var = exact > 0.5, var < 0.5
    if ok_exact and ok_var:
        return Verdict(REPRODUCED, "exact inference prefers buying the ticket, the variational policy does not", numbers)
    if ok_exact or ok_var:
        return Verdict(PARTLY, f"exact buys: {ok_exact}; variational refuses: {ok_var}", numbers)
    return Verdict(NOT_REPRODUCED, "the optimism of exact inference was not observed", numbers)


def judge_reaching(r: Mapping[str, Any]) -> Verdict:
    ent = [float(x) for x in lookup(r, "marginal_entropy", "state_marginal_entropy", "entropy_per_step", "entropies")]
    T = len(ent)
    if T < 3:
        return Verdict(UNDETERMINED, f"need >= 3 time steps of marginal entropy, got {T}", {})
    t_peak = int(max(range(T), key=lambda t: ent[t]))
    lo, hi = math.floor(0.2 * (T - 1)), math.ceil(0.8 * (T - 1))
    interior = lo <= t_peak <= hi
    ends = max(ent[0], ent[-1])
    margin = ent[t_peak] - ends
    numbers = {
        "steps": T,
        "peak step": t_peak,
        "peak entropy (nats)": ent[t_peak],
        "entropy at start / end (nats)": f"{ent[0]:.3g} / {ent[-1]:.3g}",
    }
    if interior and margin > 0.5:
        return Verdict(REPRODUCED, "the state marginal is narrow at both ends and widest mid-trajectory (two cones)", numbers)
    if interior and margin > 0:
        return Verdict(PARTLY, "the marginal entropy peaks mid-trajectory but by less than 0.5 nats over the ends", numbers)
    return Verdict(NOT_REPRODUCED, "the marginal entropy does not peak in the middle 60% of the trajectory", numbers)


def _mode_share(r: Mapping[str, Any], arm: str, modes: Sequence[str]) -> tuple[float, int]:
    counts = lookup(r, f"arms.{arm}.modes")
    n = sum(int(v) for v in counts.values())
    if n == 0:
        raise MissingKey(f"arms.{arm}.modes (no seeds)")
    return sum(int(counts.get(m, 0)) for m in modes) / n, n


def judge_two_peaks(r: Mapping[str, Any]) -> Verdict:
    soft, n_soft = _mode_share(r, "soft_dqn", ("both",))
    ddpg, n_ddpg = _mode_share(r, "ddpg", ("left", "right"))
    numbers: dict[str, Any] = {
        "seeds where the soft (Boltzmann) policy keeps both peaks": f"{soft:.0%} of {n_soft}",
        "seeds where DDPG commits to one peak": f"{ddpg:.0%} of {n_ddpg}",
    }
    arms = lookup(r, "arms")
    if "sac" in arms:
        sac_both, n_sac = _mode_share(r, "sac", ("both",))
        numbers["seeds where SAC (unimodal Gaussian) covers both peaks"] = f"{sac_both:.0%} of {n_sac}"
    keeps, commits = soft >= 0.8, ddpg >= 0.8
    if keeps and commits:
        return Verdict(REPRODUCED, "the energy-based (soft Q) policy keeps both peaks, DDPG commits to one", numbers)
    if keeps or commits or (soft > 0.5 and ddpg > 0.5):
        return Verdict(PARTLY, f"soft policy keeps both in >= 80% of seeds: {keeps}; DDPG commits in >= 80%: {commits}", numbers)
    return Verdict(NOT_REPRODUCED, "no difference in mode coverage between the soft policy and DDPG", numbers)


def _annealed_entropy_drop(r: Mapping[str, Any]) -> tuple[float, float]:
    """Mean entropy over the first and last 10% of the records of the annealed-alpha run."""
    import pandas as pd

    path = Path(lookup(r, "files")["csv"])
    if not path.exists() and "_out_dir" in r:  # the run folder was moved or copied since
        path = Path(r["_out_dir"]) / path.name
    table = pd.read_csv(path)
    sub = table[table["run"] == "ent_coef_schedule"]["entropy"].to_numpy(dtype=float)
    if sub.size < 10:
        raise MissingKey("ent_coef_schedule records in the temperature CSV")
    k = max(1, sub.size // 10)
    return float(sub[:k].mean()), float(sub[-k:].mean())


def judge_temperature(r: Mapping[str, Any]) -> Verdict:
    gaps = {name: _f(lookup(r, f"runs.{name}.mean_abs_gap_second_half")) for name in ("auto", "target_schedule")}
    h0, h1 = _annealed_entropy_drop(r)
    numbers: dict[str, Any] = {
        "mean |entropy - target|, 2nd half, constant target (nats)": gaps["auto"],
        "mean |entropy - target|, 2nd half, decreasing target (nats)": gaps["target_schedule"],
        "entropy first / last 10% of the annealed-alpha run (nats)": f"{h0:.3g} / {h1:.3g}",
    }
    tracks, anneals = max(gaps.values()) <= 0.5, h1 < h0 - 0.5
    if tracks and anneals:
        return Verdict(REPRODUCED, "the learned temperature holds the entropy on its (moving) target, and annealing alpha makes the policy greedier", numbers)
    if tracks or anneals:
        return Verdict(PARTLY, f"tracks the target within 0.5 nats: {tracks}; annealing lowers the entropy by > 0.5 nats: {anneals}", numbers)
    return Verdict(NOT_REPRODUCED, "neither effect observed", numbers)


def judge_finetune(r: Mapping[str, Any]) -> Verdict:
    tasks = lookup(r, "tasks")
    if not isinstance(tasks, Mapping) or not tasks:
        raise MissingKey("tasks")
    numbers: dict[str, Any] = {}
    won = significant = total = 0
    for task, entry in tasks.items():
        arms = lookup(entry, "arms")
        soft = arms["sac_pretrained"]
        s_iqm, (s_lo, _s_hi) = _f(soft["final_iqm"]), (float(x) for x in soft["final_ci"])
        numbers[f"{task}: final return IQM [95% CI], SAC pretrained"] = _ci_text(s_iqm, soft["final_ci"])
        for base in ("ddpg_scratch", "ddpg_pretrained"):
            if base not in arms:
                continue
            b = arms[base]
            b_iqm, b_hi = _f(b["final_iqm"]), float(b["final_ci"][1])
            numbers[f"{task}: {base.replace('_', ' ')}"] = _ci_text(b_iqm, b["final_ci"])
            total += 1
            won += s_iqm > b_iqm
            significant += s_iqm > b_iqm and s_lo > b_hi
    if total == 0:
        raise MissingKey("tasks.*.arms.ddpg_*")
    numbers["comparisons won (significant) / total"] = f"{won} ({significant}) / {total}"
    if won == total and 2 * significant >= total:
        return Verdict(REPRODUCED, "the SAC-pretrained agent finetunes to a higher return than both DDPG baselines on every task", numbers)
    if 2 * won > total:
        return Verdict(PARTLY, "the SAC-pretrained agent is ahead in most comparisons, not all or not significantly", numbers)
    return Verdict(NOT_REPRODUCED, "max-entropy pretraining did not beat the DDPG baselines", numbers)


def _ci_text(m: float, ci: Sequence[float]) -> str:
    return f"{m:.3g} [{float(ci[0]):.3g}, {float(ci[1]):.3g}]"


def judge_robustness(r: Mapping[str, Any]) -> Verdict:
    sac = _f(lookup(r, "perturbed_success.SAC"))
    ddpg = _f(lookup(r, "perturbed_success.DDPG"))
    clean_sac, clean_ddpg = _f(lookup(r, "clean_success.SAC")), _f(lookup(r, "clean_success.DDPG"))
    diff = _f(lookup(r, "success_diff_sac_minus_ddpg"))
    lo, hi = (float(x) for x in lookup(r, "success_diff_ci95"))
    numbers = {
        "success unperturbed, SAC / DDPG": f"{clean_sac:.2f} / {clean_ddpg:.2f}",
        "success under perturbation (mean over strengths > 0), SAC / DDPG": f"{sac:.2f} / {ddpg:.2f}",
        "difference SAC - DDPG, 95% CI": f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}]",
    }
    if min(clean_sac, clean_ddpg) < 0.5:
        return Verdict(
            NOT_REPRODUCED if diff <= 0 else PARTLY,
            "at least one algorithm did not learn the unperturbed task (success < 0.5), so robustness is not comparable",
            numbers,
        )
    if diff > 0 and math.isfinite(lo) and lo > 0:
        return Verdict(REPRODUCED, "SAC keeps a significantly higher success rate under perturbations", numbers)
    if diff > 0:
        return Verdict(PARTLY, "SAC is ahead under perturbations, but the 95% interval includes zero", numbers)
    return Verdict(NOT_REPRODUCED, "SAC is not more robust than DDPG here", numbers)


def judge_equivalence(r: Mapping[str, Any]) -> Verdict:
    final = {k: _f(v) for k, v in lookup(r, "final_kl").items()}
    first = {k: _f(v) for k, v in lookup(r, "initial_kl").items()}
    thr = _f(lookup(r, "kl_threshold")) if "kl_threshold" in r else 0.05
    numbers = {f"KL {k}: start -> end (nats)": f"{first[k]:.3g} -> {final[k]:.3g}" for k in final}
    close = {k: final[k] <= thr for k in final}
    fell = {k: final[k] <= 0.2 * first[k] for k in final}
    if all(close.values()) and all(fell.values()):
        return Verdict(REPRODUCED, f"both agents converge to the exact soft-optimal policy (KL <= {thr} nats)", numbers)
    if all(fell.values()) or any(close.values()):
        return Verdict(PARTLY, f"KL <= {thr}: {close}; KL fell by >= 80%: {fell}", numbers)
    return Verdict(NOT_REPRODUCED, "the agents' policies do not approach the exact soft-optimal policy", numbers)


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "lottery",
        "Optimism of exact inference (the lottery)",
        "3.1",
        "Exact posterior inference in a stochastic MDP is optimistic: it 'buys the lottery ticket' whose "
        "expected reward is negative, while the variational (soft value iteration) policy does not.",
        ("sb3_softopt.lecture.lottery", "sb3_softopt.experiments.lottery"),
        "reproduced if P(buy) > 0.5 under exact inference and < 0.5 under the variational solution; "
        "partly if only one holds.",
        judge_lottery,
    ),
    Claim(
        "reaching",
        "Forward/backward cones (reaching)",
        "2.4",
        "The state marginal p(s_t | O_1:T) is the product of forward and backward messages: narrow at the "
        "start and at the goal, widest in the middle of the trajectory.",
        ("sb3_softopt.lecture.reaching", "sb3_softopt.experiments.reaching"),
        "reproduced if the marginal's entropy peaks in the middle 60% of the steps and exceeds both ends "
        "by > 0.5 nats; partly if it peaks there by a smaller margin.",
        judge_reaching,
    ),
    Claim(
        "two_peaks",
        "Energy-based policies keep both peaks",
        "4.7 (ex. 3)",
        "When the Q-function has two peaks, a soft (energy-based) policy explores both, while a "
        "deterministic method such as DDPG commits to one.",
        ("sb3_softopt.experiments.two_peaks", "sb3_softopt.lecture.two_peaks"),
        "a seed 'keeps both peaks' when each peak holds >= 15% of the sampled actions (the experiment's "
        "classification). Reproduced if SoftDQN's Boltzmann policy keeps both peaks in >= 80% of the seeds "
        "and DDPG commits to a single peak in >= 80%; partly if one holds or both happen in a majority of "
        "seeds; not reproduced otherwise. SAC's unimodal Gaussian is reported for information.",
        judge_two_peaks,
    ),
    Claim(
        "temperature",
        "Automatic temperature and annealing",
        "4.4.4, 4.6",
        "Automatic temperature adjustment keeps the policy entropy at a target; lowering the temperature "
        "moves the policy toward the greedy one.",
        ("sb3_softopt.experiments.temperature", "sb3_softopt.lecture.temperature"),
        "reproduced if, with a learned alpha, the policy entropy stays within 0.5 nats of its target on "
        "average over the second half of training, for both the constant and the decreasing target, and "
        "annealing a fixed alpha lowers the entropy (mean of the last 10% of records vs the first 10%) by "
        "more than 0.5 nats; partly if one holds.",
        judge_temperature,
    ),
    Claim(
        "finetune",
        "Max-entropy pretraining, then finetuning",
        "4.6, 4.7",
        "Policies pretrained with a maximum-entropy method cover more behaviours and finetune faster than "
        "DDPG, whether DDPG starts from scratch or from its own pretraining.",
        ("sb3_softopt.experiments.finetune", "sb3_softopt.lecture.finetune"),
        "on each finetune task, compare the SAC-pretrained arm's final-return IQM with DDPG from scratch "
        "and DDPG pretrained: reproduced if it wins every comparison and at least half of them with "
        "non-overlapping 95% bootstrap intervals; partly if it wins a majority; not reproduced otherwise.",
        judge_finetune,
    ),
    Claim(
        "robustness",
        "Robustness to perturbations",
        "4.6",
        "Max-entropy policies cover more states, so they recover better from disturbances than "
        "deterministic policies.",
        ("sb3_softopt.experiments.robustness",),
        "reproduced if both SAC and DDPG solve the unperturbed task (success >= 0.5) and SAC's success "
        "rate averaged over the perturbed settings exceeds DDPG's with a Welch 95% interval above 0; "
        "partly if SAC is ahead but the interval includes 0 (or a baseline did not learn the task and "
        "SAC is still ahead); not reproduced otherwise.",
        judge_robustness,
    ),
    Claim(
        "equivalence",
        "Soft Q-learning ~ entropy-regularised policy gradient",
        "4.3",
        "Soft Q-learning and policy gradient with the entropy-regularised (soft) return optimise the "
        "same objective, so both converge to the same soft-optimal policy.",
        ("sb3_softopt.experiments.equivalence",),
        "reproduced if the visitation-weighted KL(pi_exact || pi_agent) of both SoftDQN and EntropyPPO "
        "ends <= the experiment's threshold (0.05 nats) and fell by >= 80% from its start; partly if "
        "both fell by >= 80% or one ends below the threshold.",
        judge_equivalence,
    ),
)


def _claim_by_name(name: str) -> Claim:
    for c in CLAIMS:
        if c.name == name:
            return c
    raise ValueError(f"unknown claim {name!r}; choose from {[c.name for c in CLAIMS]}")


def _import_run(claim: Claim) -> tuple[str, Callable[..., dict[str, Any]]]:
    errors = []
    for mod_name in claim.modules:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name and mod_name.startswith(exc.name):
                errors.append(f"{mod_name}: not found")
                continue
            raise
        if not callable(getattr(mod, "run", None)):
            errors.append(f"{mod_name}: has no run()")
            continue
        return mod_name, mod.run
    raise ModuleNotFoundError(f"no experiment module for claim {claim.name!r} ({'; '.join(errors)})")


def _call_run(run: Callable[..., Any], out: Path, quick: bool, seed: int) -> Any:
    """Call ``run(out, quick=..., seed=...)``; a run without a ``seed`` parameter (e.g. one taking a
    list of ``seeds``) runs with its own default seeds."""
    import inspect

    params = inspect.signature(run).parameters
    kwargs: dict[str, Any] = {"quick": quick}
    if "seed" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs["seed"] = seed
    return run(out, **kwargs)


RESULT_FILE = "claim_result.json"


def run_claim(
    claim: Claim | str,
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    reuse: bool = False,
    saved_only: bool = False,
) -> ClaimResult:
    """Run one claim's experiment into ``out_dir`` and judge it; never raises for experiment errors.

    Each successful run saves its returned dict to ``out_dir/claim_result.json``; with ``reuse``
    a saved result made with the same ``quick`` and ``seed`` is judged again instead of rerunning
    (one that is unreadable or from another configuration is not trusted: the claim is rerun and
    :attr:`ClaimResult.distrusted` says why); with ``saved_only`` nothing is run and a claim without
    a trusted saved result is reported "not run".
    """
    claim = _claim_by_name(claim) if isinstance(claim, str) else claim
    out = Path(out_dir)
    saved = out / RESULT_FILE
    distrusted = None
    if reuse:
        try:
            data = _load_saved(saved, claim, quick, seed)
        except FileNotFoundError:
            data = None
        except InvalidResult as exc:
            data, distrusted = None, str(exc)
        if data is not None:
            res = _judged(claim, out, data["result"], data.get("module"), float(data.get("seconds", 0.0)))
            res.reused = True
            return res
    if saved_only:
        why = distrusted or f"no saved result of this run (quick={quick}, seed={seed}) in {saved}"
        return ClaimResult(claim, "error", 0.0, error=f"{why}; run the claim first", distrusted=distrusted)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    module = None
    try:
        module, run = _import_run(claim)
        # From here the folder's files are being replaced: an earlier result must not vouch for
        # them if this run fails or is killed half-way.
        saved.unlink(missing_ok=True)
        result = _call_run(run, out, quick, seed)
        if not isinstance(result, Mapping):
            raise TypeError(f"{module}.run returned {type(result).__name__}, expected a dict")
        result = dict(result)
    except Exception as exc:  # noqa: BLE001 - the report must survive any claim's failure
        tb = traceback.format_exc(limit=6)
        error = f"{type(exc).__name__}: {exc}\n{tb}"
        return ClaimResult(claim, "error", time.perf_counter() - t0, error=error, module=module, distrusted=distrusted)
    seconds = time.perf_counter() - t0
    record = {"claim": claim.name, "quick": quick, "seed": seed, "module": module, "seconds": seconds, "result": result}
    try:
        atomic_write_json(saved, record, default=_jsonable)
    except (TypeError, ValueError, OSError):  # an unserialisable result only disables reuse
        pass
    res = _judged(claim, out, result, module, seconds)
    res.distrusted = distrusted
    return res


def _load_saved(saved: Path, claim: Claim, quick: bool, seed: int) -> dict[str, Any]:
    """The saved result of ``claim`` in ``saved`` if it was made with ``quick`` and ``seed``.

    :raises FileNotFoundError: if there is none.
    :raises InvalidResult: if it is unreadable or from another configuration.
    """
    data = load_json(saved, ("result",), {"quick": quick, "seed": seed})
    # Results saved before the claim name was recorded carry none; they are still trusted.
    if data.get("claim", claim.name) != claim.name:
        raise InvalidResult(f"{saved} holds a result of claim {data['claim']!r}, not {claim.name!r}")
    if data.get("module") not in claim.modules:
        raise InvalidResult(f"{saved} was made by module {data.get('module')!r}, not one of {list(claim.modules)}")
    if not isinstance(data["result"], dict):
        raise InvalidResult(f"{saved} holds no result dict")
    return data


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _judged(claim: Claim, out: Path, result: dict[str, Any], module: str | None, seconds: float) -> ClaimResult:
    figures = _find_figures(result, out)
    try:
        # The judge may read files the experiment wrote; tell it where the claim's folder is now.
        verdict = claim.judge({**result, "_out_dir": str(out)})
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        verdict = Verdict(UNDETERMINED, f"cannot evaluate the criteria: {type(exc).__name__}: {exc}")
    return ClaimResult(claim, "ok", seconds, result=result, module=module, figures=figures, verdict=verdict)


def _find_figures(result: Mapping[str, Any], out: Path) -> list[Path]:
    listed: list[Path] = []
    for key in ("figures", "figure", "figure_paths", "plots"):
        value = result.get(key)
        if value is None:
            continue
        items = value.values() if isinstance(value, Mapping) else ([value] if isinstance(value, (str, Path)) else value)
        for item in items:
            p = Path(item)
            if not p.is_absolute() and (out / p).exists():
                p = out / p
            elif p.is_absolute() and not _is_inside(p, out) and (out / p.name).exists():
                p = out / p.name  # the folder was moved or copied since the run
            if p.exists() and p.suffix.lower() in (".png", ".svg", ".jpg") and p not in listed:
                listed.append(p)
    if not listed:
        listed = sorted(out.glob("*.png")) or sorted(out.rglob("*.png"))
    return listed


def _is_inside(p: Path, folder: Path) -> bool:
    try:
        p.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _scalars(result: Mapping[str, Any], prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Flat (key, value) list of the scalar numbers/strings in a result, for the raw-numbers table."""
    items: list[tuple[str, Any]] = []
    for k, v in result.items():
        key = f"{prefix}{k}"
        if isinstance(v, bool) or isinstance(v, (int, float)) or (isinstance(v, str) and len(v) < 60 and k != "claim"):
            items.append((key, v))
        elif isinstance(v, Mapping) and depth < 1 and k not in ("curves", "files", "figures"):
            items.extend(_scalars(v, key + ".", depth + 1))
    return items[:24]


def _cell(text: str) -> str:
    """A markdown table cell: a literal ``|`` would split the cell."""
    return str(text).replace("|", "\\|")


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    return f"{v:.4g}"


def claim_command(claim: Claim, out_dir: str | Path, quick: bool) -> str:
    return f"python -m sb3_softopt.lecture {claim.name} --out {Path(out_dir) / claim.name}" + (" --quick" if quick else "")


def render_report(results: Sequence[ClaimResult], out_dir: str | Path, quick: bool, seed: int, total_seconds: float) -> str:
    """Markdown text of the report; figure links are relative to ``out_dir``."""
    out = Path(out_dir)
    lines = [
        "# Lecture claims, reproduced",
        "",
        f"Generated by `python -m sb3_softopt.lecture all --out {out}{' --quick' if quick else ''}` "
        f"(seed {seed}) on {platform.machine()} / Python {platform.python_version()}: experiments took "
        f"{sum(r.seconds for r in results) / 60:.1f} min in total (per claim below).",
        "",
    ]
    reused = [r.claim.name for r in results if r.reused]
    if reused:
        lines += [
            f"Results of {', '.join(reused)} were saved by an earlier run into the same folder and judged again "
            "(`--reuse` / `--saved-only`); their times are those of the original runs.",
            "",
        ]
    for r in results:
        if r.distrusted:
            lines += [f"The saved result of {r.claim.name} was not trusted and not used ({_cell(r.distrusted)}).", ""]
    if quick:
        lines += [
            "> **Quick mode**: tiny smoke-test budgets. The verdicts below are computed by the same rules as",
            "> the full run but on too little training to support any conclusion; see the full run's report.",
            "",
        ]
    lines += ["| claim | lecture | verdict | time |", "|---|---|---|---|"]
    for r in results:
        level = r.verdict.level if r.verdict else NOT_RUN
        lines.append(f"| [{r.claim.title}](#{r.claim.name}) | {r.claim.section} | **{level}** | {r.seconds:.0f} s |")
    lines += [
        "",
        "Verdict levels: *reproduced* (every criterion holds), *partly* (some hold, or the right sign "
        "without statistical support), *not reproduced*, *undetermined* (the numbers needed are missing), "
        "*not run* (the experiment failed). The criteria are computed from the numbers, by the rules in "
        "`sb3_softopt/lecture/report.py`, quoted under each claim.",
        "",
    ]
    for r in results:
        c = r.claim
        lines += [f'<a id="{c.name}"></a>', f"## {c.title} (lecture {c.section})", "", f"**The lecture says:** {c.statement}", ""]
        lines += [f"**Reproduce this claim alone:** `{claim_command(c, out, quick)}`", ""]
        if r.status != "ok":
            lines += [f"**Verdict: {NOT_RUN}.** No result for this claim:", "", "```", (r.error or "").strip(), "```", ""]
            continue
        for fig in r.figures:
            try:
                rel = fig.resolve().relative_to(out.resolve())
            except ValueError:
                rel = fig
            lines += [f"![{c.name}]({rel.as_posix()})", ""]
        v = r.verdict
        assert v is not None
        lines += [f"**Verdict: {v.level}** — {v.reason}.", "", f"*Criteria:* {c.criteria}", ""]
        if v.numbers:
            lines += ["| measured | value |", "|---|---|"]
            lines += [f"| {_cell(k)} | {_cell(_fmt(val))} |" for k, val in v.numbers.items()]
            lines.append("")
        raw = _scalars(r.result or {})
        if raw:
            lines += ["<details><summary>all scalar results</summary>", "", "| key | value |", "|---|---|"]
            lines += [f"| `{k}` | {_fmt(val)} |" for k, val in raw]
            lines += ["", "</details>", ""]
        lines += [f"Module: `{r.module}`; run time {r.seconds:.0f} s; files in `{c.name}/`.", ""]
    return "\n".join(lines)


def run_all(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    claims: Sequence[str] | None = None,
    progress: bool = True,
    reuse: bool = False,
    saved_only: bool = False,
) -> list[ClaimResult]:
    """Run the claims (all by default) into ``out_dir/<claim>/`` and write ``out_dir/report.md``.

    :param reuse: judge saved results (``<claim>/claim_result.json`` of an earlier run with the same
        ``quick`` and ``seed``) instead of rerunning those claims.
    :param saved_only: run nothing: assemble the report from saved results only (implies ``reuse``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selected = [_claim_by_name(n) for n in claims] if claims else list(CLAIMS)
    results: list[ClaimResult] = []
    t0 = time.perf_counter()
    for claim in selected:
        if progress:
            print(f"[lecture] {claim.name} ...", flush=True)
        res = run_claim(claim, out / claim.name, quick=quick, seed=seed, reuse=reuse or saved_only, saved_only=saved_only)
        results.append(res)
        if progress:
            level = res.verdict.level if res.verdict else NOT_RUN
            if res.distrusted:
                print(f"[lecture] {claim.name}: saved result not trusted ({res.distrusted})", flush=True)
            how = "reused" if res.reused else ("not rerun" if saved_only else "rerun" if res.distrusted else "ran")
            print(f"[lecture] {claim.name}: {level} ({how}, {res.seconds:.0f} s)", flush=True)
    total = time.perf_counter() - t0
    atomic_write_text(out / "report.md", render_report(results, out, quick, seed, total))
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
    parser.add_argument("--out", required=True, help="output folder; the report is OUT/report.md")
    parser.add_argument("--quick", action="store_true", help="smoke-test budgets (< 5 min on 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", default=None, metavar="CLAIM", help=f"subset of {[c.name for c in CLAIMS]}")
    parser.add_argument(
        "--reuse", action="store_true", help="judge saved results of an earlier run into the same OUT instead of rerunning"
    )
    parser.add_argument(
        "--saved-only", action="store_true", help="run nothing; write the report from saved results (missing claims: not run)"
    )


def main(argv: Sequence[str] | None = None) -> list[ClaimResult]:
    parser = argparse.ArgumentParser(description="Run every lecture claim and write OUT/report.md")
    add_arguments(parser)
    args = parser.parse_args(argv)
    results = run_all(args.out, quick=args.quick, seed=args.seed, claims=args.only, reuse=args.reuse, saved_only=args.saved_only)
    print(f"report: {Path(args.out) / 'report.md'}")
    return results


if __name__ == "__main__":
    main()
