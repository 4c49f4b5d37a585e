r"""
The lecture's lottery (section 3.1): exact inference is optimistic, variational inference is not.

One decision in the start state: *buy* a ticket (win ``W = +10000`` with probability ``p = 0.01``,
otherwise ``L = -1000``; the reward sits on the transition) or *don't buy* (reward 0). With the
next-state values all 0 (the episode ends), the two backward passes give

* variational (soft value iteration): ``Q(buy) = E[r] = p W + (1 - p) L = -890`` for every alpha;
* exact inference: ``Q(buy) = alpha * log(p e^{W/alpha} + (1 - p) e^{L/alpha})``;

and ``Q(don't buy) = 0`` for both, ``p(buy) = sigmoid((Q(buy) - Q(don't)) / alpha)``.

**Threshold.** Exact inference prefers buying iff

.. math:: \alpha \log\left(p\, e^{W/\alpha} + (1-p)\, e^{L/\alpha}\right) > 0
          \iff p\, e^{W x} + (1-p)\, e^{L x} > 1, \qquad x = 1/\alpha .

``g(x) = log(p e^{Wx} + (1-p) e^{Lx})`` is convex with ``g(0) = 0``, ``g'(0) = E[r] < 0`` and
``g(x) -> +inf`` (``W > 0``, ``p > 0``), so it has exactly one positive root ``x*`` and exact
inference buys iff ``alpha < alpha* = 1 / x*``. For the default lottery ``alpha* = 2957.68...``
(:func:`closed_form_threshold` solves ``g(x) = 0`` with Brent's method; :func:`solver_threshold`
bisects on :func:`~sb3_softopt.inference.exact_inference` itself, and the two must agree). The
variational solution never prefers buying (``-890 < 0`` at every alpha); its ``p(buy)`` only tends
to 1/2 from below as ``alpha -> inf``.

Run: ``python -m sb3_softopt.lecture lottery --out DIR`` (writes ``lottery.csv``, ``lottery.json``,
``lottery.png``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import TypedDict, cast

import numpy as np
from scipy.optimize import brentq

from sb3_softopt.envs.lottery import BUY, DONT_BUY, LOSE, START, WIN, LotteryMDP
from sb3_softopt.inference import TabularMDP, exact_inference, forward_messages, soft_value_iteration
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict
from sb3_softopt.experiments.infra.plotting import save_figure

__all__ = [
    "CLAIM", "LotteryResult", "add_arguments", "closed_form_q_buy", "closed_form_threshold", "judge", "lottery_mdp", "main", "run",
    "solver_threshold",
]

CLAIM = Claim(
    name="lottery",
    title="Optimism of exact inference (the lottery)",
    section="3.1",
    statement="Exact posterior inference in a stochastic MDP is optimistic: it 'buys the lottery ticket' whose "
    "expected reward is negative, while the variational (soft value iteration) policy does not.",
    criteria="reproduced if P(buy) > 0.5 under exact inference and < 0.5 under the variational solution; "
    "partly if only one holds.",
)

#: The experiment's settings (``run``'s defaults): the lottery (win probability, prize, ticket
#: loss), the number of log-spaced alphas in [1, 1e5] (full and ``quick``) and the alpha at which
#: the buy probabilities are reported.
P_WIN = 0.01
WIN_PAYOFF = 10000.0
LOSS_PAYOFF = -1000.0
N_ALPHAS = 51
QUICK_N_ALPHAS = 11
REFERENCE_ALPHA = 1.0
DEFAULTS = {"p_win": P_WIN, "win": WIN_PAYOFF, "loss": LOSS_PAYOFF}


def lottery_mdp(p_win: float = P_WIN, win: float = WIN_PAYOFF, loss: float = LOSS_PAYOFF) -> TabularMDP:
    """The exact model of ``LotteryMDP-v0`` with these parameters."""
    return TabularMDP.from_env(LotteryMDP(p_win=p_win, win=win, loss=loss))


def closed_form_q_buy(alpha: float, p_win: float = P_WIN, win: float = WIN_PAYOFF, loss: float = LOSS_PAYOFF) -> float:
    """``alpha * log(p e^{W/alpha} + (1-p) e^{L/alpha})`` evaluated stably (log-add-exp)."""
    terms = []
    if p_win > 0:
        terms.append(math.log(p_win) + win / alpha)
    if p_win < 1:
        terms.append(math.log1p(-p_win) + loss / alpha)
    return float(alpha * np.logaddexp.reduce(terms))


def closed_form_threshold(p_win: float = P_WIN, win: float = WIN_PAYOFF, loss: float = LOSS_PAYOFF) -> float:
    """
    ``alpha*`` solving ``p e^{W/alpha} + (1-p) e^{L/alpha} = 1`` (see the module docstring).

    :raises ValueError: when no threshold exists (``p_win`` not in (0, 1), ``win <= 0`` or a
        non-negative expected reward, in which case even the variational solution buys).
    """
    if not (0.0 < p_win < 1.0) or win <= 0:
        raise ValueError(f"no finite threshold: need 0 < p_win < 1 and win > 0, got p_win={p_win!r}, win={win!r}")
    mean = p_win * win + (1 - p_win) * loss
    if mean >= 0:
        raise ValueError(f"no threshold: the expected reward {mean!r} >= 0, so every solver buys")

    def g(x: float) -> float:
        return float(np.logaddexp(math.log(p_win) + win * x, math.log1p(-p_win) + loss * x))

    # g < 0 just right of 0 (slope E[r] < 0) and g(x) >= log(p) + W x > 0 for x > -log(p)/W.
    hi = 2.0 * (-math.log(p_win)) / win
    lo = hi
    while g(lo) >= 0:
        lo /= 2.0
    x_star = brentq(g, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return 1.0 / x_star


def _prefers_buy(mdp: TabularMDP, alpha: float) -> float:
    q = exact_inference(mdp, alpha, horizon=1).q[0, START]
    return float(q[BUY] - q[DONT_BUY])


def solver_threshold(
    p_win: float = P_WIN, win: float = WIN_PAYOFF, loss: float = LOSS_PAYOFF, lo: float = 1.0, hi: float = 1e7, rtol: float = 1e-12
) -> float:
    """
    ``alpha*`` measured on the solver: bisection (in ``log alpha``) on the sign of
    ``Q_exact(buy) - Q_exact(don't buy)`` from :func:`~sb3_softopt.inference.exact_inference`.

    :raises ValueError: if the sign does not change between ``lo`` and ``hi``.
    """
    mdp = lottery_mdp(p_win, win, loss)
    f_lo, f_hi = _prefers_buy(mdp, lo), _prefers_buy(mdp, hi)
    if not (f_lo > 0 > f_hi):
        raise ValueError(
            f"exact inference must buy at alpha={lo:g} and not at alpha={hi:g} to bracket the threshold "
            f"(Q(buy) - Q(don't) = {f_lo:.6g}, {f_hi:.6g})"
        )
    a, b = math.log(lo), math.log(hi)
    while b - a > rtol:
        mid = 0.5 * (a + b)
        if _prefers_buy(mdp, math.exp(mid)) > 0:
            a = mid
        else:
            b = mid
    return math.exp(0.5 * (a + b))


def _table(mdp: TabularMDP, alphas: np.ndarray, p_win: float, win: float, loss: float) -> list[dict[str, float]]:
    rows = []
    for alpha in alphas:
        alpha = float(alpha)
        ex = exact_inference(mdp, alpha, horizon=1)
        va = soft_value_iteration(mdp, alpha, gamma=1.0, horizon=1)
        # Under the exact posterior the ticket "wins" far more often than p_win: the tilted dynamics.
        d1 = forward_messages(mdp, ex, dynamics="posterior")[1]
        bought = d1[WIN] + d1[LOSE]
        rows.append(
            {
                "alpha": alpha,
                "exact_q_buy": float(ex.q[0, START, BUY]),
                "exact_q_dont_buy": float(ex.q[0, START, DONT_BUY]),
                "exact_p_buy": float(ex.policy[0, START, BUY]),
                "exact_posterior_p_win": float(d1[WIN] / bought) if bought > 0 else float("nan"),
                "variational_q_buy": float(va.q[0, START, BUY]),
                "variational_q_dont_buy": float(va.q[0, START, DONT_BUY]),
                "variational_p_buy": float(va.policy[0, START, BUY]),
                "closed_form_exact_q_buy": closed_form_q_buy(alpha, p_win, win, loss),
                "expected_reward_buy": p_win * win + (1 - p_win) * loss,
            }
        )
    return rows


def _plot(rows: list[dict[str, float]], alpha_star: float, path: Path) -> None:
    from matplotlib.figure import Figure

    a = np.array([r["alpha"] for r in rows])
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    ax = axes[0]
    ax.semilogx(a, [r["exact_p_buy"] for r in rows], "o-", ms=3, label="exact inference")
    ax.semilogx(a, [r["variational_p_buy"] for r in rows], "s-", ms=3, label="variational (soft VI)")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.axvline(alpha_star, color="k", lw=1, ls="--", label=f"alpha* = {alpha_star:.2f}")
    ax.set_xlabel("temperature alpha (reward units)")
    ax.set_ylabel("p(buy | start)")
    ax.set_title("Lottery: who buys the ticket?")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.semilogx(a, [r["exact_q_buy"] - r["exact_q_dont_buy"] for r in rows], "o-", ms=3, label="exact: Q(buy) - Q(don't)")
    ax.semilogx(
        a, [r["variational_q_buy"] - r["variational_q_dont_buy"] for r in rows], "s-", ms=3, label="variational: Q(buy) - Q(don't)"
    )
    ax.set_yscale("symlog", linthresh=10.0)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axvline(alpha_star, color="k", lw=1, ls="--")
    ax.set_xlabel("temperature alpha (reward units)")
    ax.set_ylabel("soft advantage of buying (symlog)")
    ax.set_title("exact: alpha log E exp(r/alpha); variational: E[r] = -890")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=120)


class LotteryResult(TypedDict):
    """What :func:`run` measures (also written to ``lottery.json``)."""

    p_win: float
    win: float
    loss: float
    reference_alpha: float
    #: p(buy) at ``reference_alpha``
    exact_buy_prob: float
    variational_buy_prob: float
    exact_q_buy: float
    variational_q_buy: float
    #: the exact posterior's probability of winning, given that the ticket was bought
    exact_posterior_p_win: float
    alpha_star_solver: float
    alpha_star_closed_form: float
    alpha_star_rel_error: float
    max_abs_error_vs_closed_form_q: float
    largest_alpha_where_exact_buys: float | None
    variational_ever_buys: bool
    all_finite: bool
    n_alphas: int
    figures: list[str]
    files: list[str]


def run(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    p_win: float = P_WIN,
    win: float = WIN_PAYOFF,
    loss: float = LOSS_PAYOFF,
    n_alphas: int | None = None,
    reference_alpha: float = REFERENCE_ALPHA,
) -> LotteryResult:
    """
    Table of Q(buy), Q(don't buy) and p(buy), exact vs variational, for log-spaced alpha in
    ``[1, 1e5]``, plus the threshold ``alpha*`` (solver bisection vs the closed-form equation).

    :param out_dir: output folder (created).
    :param quick: fewer alphas (the solves are exact either way; ``seed`` is unused: nothing random).
    :param reference_alpha: the alpha at which ``exact_buy_prob``/``variational_buy_prob`` are reported.
    :return: the measured numbers (also written to ``lottery.json``).
    """
    del seed  # exact computation, nothing random
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = n_alphas if n_alphas is not None else (QUICK_N_ALPHAS if quick else N_ALPHAS)
    mdp = lottery_mdp(p_win, win, loss)
    alpha_star_cf = closed_form_threshold(p_win, win, loss)
    alpha_star = solver_threshold(p_win, win, loss)
    alphas = np.unique(np.concatenate([np.logspace(0, 5, n), [reference_alpha, alpha_star]]))
    rows = _table(mdp, alphas, p_win, win, loss)

    with open(out / "lottery.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _plot(rows, alpha_star, out / "lottery.png")

    ref = next(r for r in rows if r["alpha"] == reference_alpha)
    max_cf_err = max(abs(r["exact_q_buy"] - r["closed_form_exact_q_buy"]) for r in rows)
    exact_buys = [r["alpha"] for r in rows if r["exact_p_buy"] > 0.5]
    result: LotteryResult = {
        "p_win": p_win,
        "win": win,
        "loss": loss,
        "reference_alpha": reference_alpha,
        "exact_buy_prob": ref["exact_p_buy"],
        "variational_buy_prob": ref["variational_p_buy"],
        "exact_q_buy": ref["exact_q_buy"],
        "variational_q_buy": ref["variational_q_buy"],
        "exact_posterior_p_win": ref["exact_posterior_p_win"],
        "alpha_star_solver": alpha_star,
        "alpha_star_closed_form": alpha_star_cf,
        "alpha_star_rel_error": abs(alpha_star - alpha_star_cf) / alpha_star_cf,
        "max_abs_error_vs_closed_form_q": max_cf_err,
        "largest_alpha_where_exact_buys": max(exact_buys) if exact_buys else None,
        "variational_ever_buys": any(r["variational_p_buy"] > 0.5 for r in rows),
        "all_finite": bool(all(math.isfinite(v) for r in rows for k, v in r.items() if k != "exact_posterior_p_win")),
        "n_alphas": len(rows),
        "figures": ["lottery.png"],
        "files": ["lottery.csv", "lottery.json", "lottery.png"],
    }
    (out / "lottery.json").write_text(json.dumps(result, indent=2))
    return result


def judge(result: LotteryResult) -> Verdict:
    exact, var = float(result["exact_buy_prob"]), float(result["variational_buy_prob"])
    numbers = {"P(buy) exact inference": exact, "P(buy) variational": var}
    ok_exact, ok_var = exact > 0.5, var < 0.5
    if ok_exact and ok_var:
        return Verdict(REPRODUCED, "exact inference prefers buying the ticket, the variational policy does not", numbers)
    if ok_exact or ok_var:
        return Verdict(PARTLY, f"exact buys: {ok_exact}; variational refuses: {ok_var}", numbers)
    return Verdict(NOT_REPRODUCED, "the optimism of exact inference was not observed", numbers)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture lottery`` and of this module (keyword arguments of :func:`run`)."""
    parser.add_argument("--p-win", type=float, default=P_WIN)
    parser.add_argument("--win", type=float, default=WIN_PAYOFF)
    parser.add_argument("--loss", type=float, default=LOSS_PAYOFF)
    parser.add_argument(
        "--n-alphas", type=int, default=None,
        help=f"number of log-spaced alphas in [1, 1e5] (default {N_ALPHAS}, {QUICK_N_ALPHAS} with --quick)",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> LotteryResult:
    """``python -m sb3_softopt.experiments.lottery`` (= ``python -m sb3_softopt.lecture lottery``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(LotteryResult, module_main(sys.modules[__name__], argv))


if __name__ == "__main__":
    main()
