r"""
The lecture's forward/backward "cones" (section 2.4) and the optimism of exact inference under slip.

On ``ReachingGridworld-v0`` (21 x 11, start left-middle, goal right-middle, horizon 30, move cost
0.1, terminal distance penalty 5 per cell, ``alpha = 1``):

1. **Cones** (``p_slip = 0``): the forward messages ``alpha_t(s) = p(s_t | O_{0:t-1})`` spread out
   from the start, the backward messages ``beta_t(s) = p(O_{t:T} | s_t) = exp(V_t(s)/alpha)``
   narrow toward the goal, and the state marginals ``p(s_t | O) \propto alpha_t beta_t`` are
   narrow at both ends and widest in the middle: the marginal entropy peaks mid-episode.
2. **Optimism** (``p_slip = 0.2``): exact inference computes ``alpha log E exp(V'/alpha)`` and
   so believes slips will go its way; its values are far above the variational (soft value
   iteration) ones, its policy differs, and executed in the real dynamics it earns a lower
   soft return than the variational policy, which is optimal for that objective.

Run: ``python -m sb3_softopt.lecture reaching --out DIR`` (writes ``reaching_cones.png``,
``reaching_entropy.png/.csv``, ``reaching_slip.png/.csv``, ``reaching.json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
from scipy.special import logsumexp

from sb3_softopt.envs.reaching import ReachingGridworld
from sb3_softopt.inference import (
    TabularMDP,
    evaluate_policy,
    forward_backward,
    forward_messages,
    marginal_entropy,
    soft_value_iteration,
)
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, UNDETERMINED, Claim, Verdict
from sb3_softopt.experiments.infra.plotting import save_figure
from sb3_softopt.common.validation import check_real

__all__ = ["CLAIM", "ReachingResult", "add_arguments", "judge", "main", "run"]

CLAIM = Claim(
    name="reaching",
    title="Forward/backward cones (reaching)",
    section="2.4",
    statement="The state marginal p(s_t | O_1:T) is the product of forward and backward messages: narrow at the "
    "start and at the goal, widest in the middle of the trajectory.",
    criteria="reproduced if the marginal's entropy peaks in the middle 60% of the steps and exceeds both ends "
    "by > 0.5 nats; partly if it peaks there by a smaller margin.",
)


#: The experiment's settings (``run``'s defaults): the temperature, the slip probability of the
#: exact-vs-variational part, the grid and the horizon; heat-map snapshots (full and ``quick``).
ALPHA = 1.0
P_SLIP = 0.2
WIDTH = 21
HEIGHT = 11
HORIZON = 30
N_SNAPSHOTS = 7
QUICK_N_SNAPSHOTS = 4


def _env(p_slip: float, width: int, height: int, horizon: int) -> ReachingGridworld:
    return ReachingGridworld(width=width, height=height, horizon=horizon, p_slip=p_slip)


def _snapshot_times(T: int, quick: bool) -> list[int]:
    k = QUICK_N_SNAPSHOTS if quick else N_SNAPSHOTS
    return sorted({round(x) for x in np.linspace(0, T, k).tolist()})


def _plot_cones(fb: Any, env: ReachingGridworld, times: list[int], path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.colors import PowerNorm

    H, W = env.height, env.width
    rows = [
        ("forward  p(s_t | O_<t)", fb.forward),
        ("backward  beta_t (normalised)", fb.backward),
        ("marginal  p(s_t | O) ~ alpha*beta", fb.marginals),
    ]
    fig = Figure(figsize=(2.3 * len(times), 4.8))
    axes = fig.subplots(3, len(times), squeeze=False)
    sx, sy = env.start_xy
    gx, gy = env.goal_xy
    for i, (name, arr) in enumerate(rows):
        for j, t in enumerate(times):
            ax = axes[i, j]
            img = arr[t].reshape(H, W)
            ax.imshow(img, cmap="magma", norm=PowerNorm(0.5, vmin=0.0, vmax=max(img.max(), 1e-12)), interpolation="nearest")
            ax.plot([sx], [sy], "c^", ms=4)
            ax.plot([gx], [gy], "g*", ms=6)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"t = {t}", fontsize=9)
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.suptitle("Reaching: forward cone x backward cone = state marginal (sqrt colour scale)", fontsize=10)
    save_figure(fig, path, dpi=110)


def _plot_entropy(curves: dict[str, np.ndarray], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for name, h in curves.items():
        ax.plot(np.arange(len(h)), h, marker="o", ms=2.5, label=name)
    ax.set_xlabel("time step t")
    ax.set_ylabel("entropy of p(s_t | O)  [nats]")
    ax.set_title("State-marginal entropy: low at both ends, peak mid-episode")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=120)


def _plot_slip(env: ReachingGridworld, v_ex: np.ndarray, v_var: np.ndarray, tv: np.ndarray, p_slip: float, path: Path) -> None:
    from matplotlib.figure import Figure

    H, W = env.height, env.width
    panels = [
        ("V_0 exact (optimistic)", v_ex, "viridis"),
        ("V_0 variational", v_var, "viridis"),
        ("V_0 exact - variational", v_ex - v_var, "Reds"),
        ("TV(pi_exact, pi_var) at t=0", tv, "Blues"),
    ]
    fig = Figure(figsize=(15, 2.8))
    axes = fig.subplots(1, 4)
    for ax, (name, arr, cmap) in zip(axes, panels, strict=True):
        im = ax.imshow(arr.reshape(H, W), cmap=cmap, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.025)
    fig.suptitle(f"p_slip = {p_slip}: exact inference is optimistic about slips", fontsize=10)
    save_figure(fig, path, dpi=110)


class ReachingResult(TypedDict):
    """What :func:`run` measures (also written to ``reaching.json``); entropies in nats, per step t = 0..T."""

    alpha: float
    grid: list[int]
    horizon: int
    #: exact posterior's state-marginal entropy without slip (the cones)
    marginal_entropy: list[float]
    marginal_entropy_variational: list[float]
    peak_step: int
    peak_entropy: float
    entropy_start: float
    entropy_end: float
    exact_equals_variational_without_slip: float
    forward_backward_evidence_spread: float
    p_slip: float
    start_value_exact: float
    start_value_variational: float
    max_abs_v_diff_t0: float
    mean_policy_tv_under_q: float
    true_soft_return_exact_policy: float
    true_soft_return_variational_policy: float
    true_return_exact_policy: float
    true_return_variational_policy: float
    p_goal_at_T_exact_policy: float
    p_goal_at_T_variational_policy: float
    p_goal_at_T_exact_posterior_belief: float
    marginal_entropy_slip_exact: list[float]
    marginal_entropy_slip_variational: list[float]
    snapshot_times: list[int]
    figures: list[str]
    files: list[str]


def run(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    alpha: float = ALPHA,
    p_slip: float = P_SLIP,
    width: int = WIDTH,
    height: int = HEIGHT,
    horizon: int = HORIZON,
) -> ReachingResult:
    """
    Cones (``p_slip = 0``) and exact-vs-variational under slip (``p_slip``), all exact computations.

    :param out_dir: output folder (created).
    :param quick: fewer heatmap snapshots (the numbers are identical; ``seed`` is unused).
    :return: the measured numbers (also written to ``reaching.json``); ``marginal_entropy`` is the
        exact posterior's state-marginal entropy for ``t = 0..T`` without slip.
    """
    del seed  # exact computation, nothing random
    p_slip = check_real(p_slip, "p_slip", low=0.0, high=1.0, low_open=True, note="the exact-vs-variational comparison needs slip")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    # --- 1. cones, deterministic dynamics -------------------------------------------------------
    env0 = _env(0.0, width, height, horizon)
    mdp0 = TabularMDP.from_env(env0)
    fb0 = forward_backward(mdp0, alpha, horizon=horizon)
    T = horizon
    h_exact0 = marginal_entropy(fb0.marginals)
    var0 = soft_value_iteration(mdp0, alpha, gamma=1.0, horizon=horizon)
    h_var0 = marginal_entropy(forward_messages(mdp0, var0))
    times = _snapshot_times(T, quick)
    _plot_cones(fb0, env0, times, out / "reaching_cones.png")

    # --- 2. slip: exact vs variational ----------------------------------------------------------
    env1 = _env(p_slip, width, height, horizon)
    mdp1 = TabularMDP.from_env(env1)
    fb1 = forward_backward(mdp1, alpha, horizon=horizon)
    ex1 = fb1.solution
    var1 = soft_value_iteration(mdp1, alpha, gamma=1.0, horizon=horizon)
    h_exact1 = marginal_entropy(fb1.marginals)
    d_var1 = forward_messages(mdp1, var1)  # q(s_t): the variational posterior's marginals
    d_ex_real = forward_messages(mdp1, ex1)  # the optimistic policy executed in the real dynamics
    h_var1 = marginal_entropy(d_var1)

    s0 = env1.start
    goal = env1.goal
    # True (real-dynamics) soft return E[sum r + alpha H(pi)] and plain return of each policy.
    soft_ret_ex = evaluate_policy(mdp1, ex1, alpha=alpha)[0, s0]
    soft_ret_var = evaluate_policy(mdp1, var1, alpha=alpha)[0, s0]
    ret_ex = evaluate_policy(mdp1, ex1, alpha=0.0)[0, s0]
    ret_var = evaluate_policy(mdp1, var1, alpha=0.0)[0, s0]

    slip_rows = []
    for t in range(T):
        dv = ex1.v[t] - var1.v[t]
        tv = 0.5 * np.abs(ex1.policy_at(t) - var1.policy_at(t)).sum(axis=1)
        slip_rows.append(
            {
                "t": t,
                "max_abs_v_diff": float(np.max(np.abs(dv))),
                "v_diff_at_start": float(dv[s0]),
                "mean_policy_tv_under_q": float(d_var1[t] @ tv),
                "max_policy_tv": float(tv.max()),
            }
        )
    tv0 = 0.5 * np.abs(ex1.policy_at(0) - var1.policy_at(0)).sum(axis=1)
    _plot_slip(env1, ex1.v[0], var1.v[0], tv0, p_slip, out / "reaching_slip.png")

    curves = {
        "exact posterior, p_slip=0": h_exact0,
        "variational q, p_slip=0": h_var0,
        f"exact posterior, p_slip={p_slip}": h_exact1,
        f"variational q, p_slip={p_slip}": h_var1,
    }
    _plot_entropy(curves, out / "reaching_entropy.png")
    with open(out / "reaching_entropy.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["t", *curves.keys()])
        for t in range(T + 1):
            writer.writerow([t, *(float(h[t]) for h in curves.values())])
    with open(out / "reaching_slip.csv", "w", newline="") as fh:
        dict_writer = csv.DictWriter(fh, fieldnames=list(slip_rows[0]))
        dict_writer.writeheader()
        dict_writer.writerows(slip_rows)

    peak = int(np.argmax(h_exact0))
    result: ReachingResult = {
        "alpha": alpha,
        "grid": [width, height],
        "horizon": T,
        "marginal_entropy": [float(x) for x in h_exact0],
        "marginal_entropy_variational": [float(x) for x in h_var0],
        "peak_step": peak,
        "peak_entropy": float(h_exact0[peak]),
        "entropy_start": float(h_exact0[0]),
        "entropy_end": float(h_exact0[-1]),
        "exact_equals_variational_without_slip": float(np.max(np.abs(fb0.solution.v - var0.v))),
        # log sum_s alpha_t(s) beta_t(s) = log p(O) at every t: its spread over t checks the messages.
        "forward_backward_evidence_spread": float(np.ptp(logsumexp(fb0.log_forward + fb0.log_backward, axis=1))),
        "p_slip": p_slip,
        "start_value_exact": float(ex1.v[0, s0]),
        "start_value_variational": float(var1.v[0, s0]),
        "max_abs_v_diff_t0": slip_rows[0]["max_abs_v_diff"],
        "mean_policy_tv_under_q": float(np.mean([r["mean_policy_tv_under_q"] for r in slip_rows])),
        "true_soft_return_exact_policy": float(soft_ret_ex),
        "true_soft_return_variational_policy": float(soft_ret_var),
        "true_return_exact_policy": float(ret_ex),
        "true_return_variational_policy": float(ret_var),
        "p_goal_at_T_exact_policy": float(d_ex_real[T, goal]),
        "p_goal_at_T_variational_policy": float(d_var1[T, goal]),
        "p_goal_at_T_exact_posterior_belief": float(fb1.marginals[T, goal]),
        "marginal_entropy_slip_exact": [float(x) for x in h_exact1],
        "marginal_entropy_slip_variational": [float(x) for x in h_var1],
        "snapshot_times": times,
        "figures": ["reaching_cones.png", "reaching_entropy.png", "reaching_slip.png"],
        "files": ["reaching_entropy.csv", "reaching_slip.csv", "reaching.json"],
    }
    (out / "reaching.json").write_text(json.dumps(result, indent=2))
    return result


def judge(result: ReachingResult) -> Verdict:
    ent = [float(x) for x in result["marginal_entropy"]]
    T = len(ent)
    if T < 3:
        return Verdict(UNDETERMINED, f"need >= 3 time steps of marginal entropy, got {T}")
    t_peak = int(np.argmax(ent))
    lo, hi = math.floor(0.2 * (T - 1)), math.ceil(0.8 * (T - 1))
    interior = lo <= t_peak <= hi
    margin = ent[t_peak] - max(ent[0], ent[-1])
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture reaching`` and of this module (keyword arguments of :func:`run`)."""
    parser.add_argument("--alpha", type=float, default=ALPHA)
    parser.add_argument("--p-slip", type=float, default=P_SLIP, help="slip probability of the exact-vs-variational part")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    parser.add_argument("--horizon", type=int, default=HORIZON)


def main(argv: list[str] | None = None) -> ReachingResult:
    """``python -m sb3_softopt.experiments.reaching`` (= ``python -m sb3_softopt.lecture reaching``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(ReachingResult, module_main(sys.modules[__name__], argv))


if __name__ == "__main__":
    main()
