"""Maximum-entropy inverse RL on the slippery reaching gridworld: recover the reward from demonstrations.

``python -m sb3_softopt.experiments.irl_gridworld --out DIR [--quick]``

The expert is the soft-optimal policy (``alpha = 1``) of ``ReachingGridworld-v0`` (21 x 11, horizon
30) with ``p_slip = 0.2``: a move cost of 0.1 per step and a terminal penalty of 5 per cell of
distance to the goal. ``--n-demos`` trajectories are sampled from it in the model's dynamics
(:func:`~sb3_softopt.inference.sample_trajectories`), and :func:`~sb3_softopt.inference.maxent_irl`
learns a reward from them, without the true one, with a learned move cost (feature
``1{a != stay}``) and a learned terminal reward per cell (one-hot terminal features). A reward is
identified only up to what changes the policy: the terminal reward's constant offset is not, so the
maps are plotted relative to the goal cell. Cells where no demonstration ends keep being pushed down
while the model still ends there (Adam moves every coordinate by about ``lr`` per step); the
figure greys them out.

Outputs: ``irl_gridworld.csv`` (the learning curve), ``irl_gridworld_rewards.csv`` (true and
recovered terminal rewards, and the expert's and the recovered policy's expected visits per cell),
``irl_gridworld.json`` (summary: recovered move cost, the visitation-weighted KL between the
expert's and the recovered soft-optimal policies, the log-likelihood of the demonstrations under
each, each policy's true expected return) and ``irl_gridworld.png``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from sb3_softopt.experiments.infra.plotting import save_figure

FULL = dict(n_demos=500, max_iter=300)
QUICK = dict(n_demos=50, max_iter=40)
#: the gridworld's slip probability, the temperature of the expert and of the IRL model, and the
#: IRL's Adam learning rate
P_SLIP = 0.2
ALPHA = 1.0
LR = 0.2


def visitation_kl(expert: Any, learned: Any, d: np.ndarray) -> float:
    """``sum_t sum_s d_t(s) KL(pi^E_t(.|s) || pi_t(.|s)) / T`` for two finite-horizon solutions."""
    T = expert.horizon
    return float(sum(d[t] @ (expert.policy_at(t) * (expert.log_policy_at(t) - learned.log_policy_at(t))).sum(1) for t in range(T)) / T)


def run(
    out_dir: str | os.PathLike[str],
    quick: bool = False,
    seed: int = 0,
    n_demos: int | None = None,
    max_iter: int | None = None,
    p_slip: float = P_SLIP,
    alpha: float = ALPHA,
    lr: float = LR,
    progress: bool = True,
) -> dict[str, Any]:
    """Sample demonstrations, run MaxEnt IRL, write CSV / JSON / PNG into ``out_dir``; return the summary.

    :param out_dir: output folder (created)
    :param quick: a smoke run (50 demonstrations, 40 iterations) unless sizes are given
    :param seed: seed of the demonstration sampler
    :param n_demos: number of expert trajectories (default 500)
    :param max_iter: IRL iterations (default 300)
    :param p_slip: slip probability of the gridworld
    :param alpha: temperature of the expert and of the IRL model
    :param lr: Adam learning rate
    :param progress: show a tqdm bar
    """
    import gymnasium as gym
    import pandas as pd

    import sb3_softopt  # noqa: F401  (registers the environments)
    from sb3_softopt.envs.reaching import ReachingGridworld
    from sb3_softopt.inference import (
        TabularMDP,
        evaluate_policy,
        forward_messages,
        maxent_irl,
        sample_trajectories,
        soft_value_iteration,
    )

    sizes = QUICK if quick else FULL
    n_demos = int(n_demos or sizes["n_demos"])
    max_iter = int(max_iter or sizes["max_iter"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    env = gym.make("ReachingGridworld-v0", p_slip=p_slip)
    base = env.unwrapped
    assert isinstance(base, ReachingGridworld)
    mdp = TabularMDP.from_env(env)
    S, A, T = mdp.n_states, mdp.n_actions, mdp.horizon
    assert T is not None  # the registered gridworld's horizon (30)
    expert = soft_value_iteration(mdp, alpha)
    demos = sample_trajectories(mdp, expert, n_demos, seed=seed)
    features = np.broadcast_to((np.arange(A) > 0).astype(float)[None, :, None], (S, A, 1))
    res = maxent_irl(mdp, features, demos, alpha=alpha, terminal_features=np.eye(S), lr=lr, max_iter=max_iter, progress_bar=progress)

    d = forward_messages(mdp, expert)

    def true_return(sol: Any) -> float:
        return float(mdp.initial_state_dist @ evaluate_policy(mdp, sol)[0])

    expert_ll = float(sum(expert.log_policy_at(t)[tr.states[t], tr.actions[t]] for tr in demos for t in range(T)) / n_demos)
    move_cost = float(res.theta[0])  # type: ignore[index]
    visits = {"expert": d[:-1].sum(0), "recovered": forward_messages(mdp, res.solution)[:-1].sum(0)}
    terminal = res.terminal_reward - res.terminal_reward[base.goal]  # type: ignore[index]
    true_terminal = mdp.terminal_reward - mdp.terminal_reward[base.goal]
    reached = res.expert.terminal > 0  # cells where some demonstration can end
    summary: dict[str, Any] = dict(
        env="ReachingGridworld-v0", p_slip=p_slip, alpha=alpha, horizon=T, n_states=S, seed=seed,
        n_demos=n_demos, max_iter=max_iter, lr=lr, n_iter=res.n_iter, converged=res.converged,
        true_move_cost=-base.move_cost, recovered_move_cost=move_cost,
        visitation_kl_expert_vs_recovered=visitation_kl(expert, res.solution, d),
        demo_log_likelihood_expert=expert_ll, demo_log_likelihood_recovered=res.log_likelihood,
        true_return_expert=true_return(expert), true_return_recovered=true_return(res.solution),
        terminal_reward_correlation_on_reached_cells=float(np.corrcoef(terminal[reached], true_terminal[reached])[0, 1]),
    )
    pd.DataFrame(res.history).to_csv(out / "irl_gridworld.csv", index=False)
    xy = np.array([base.state_xy(s) for s in range(S)])
    pd.DataFrame(dict(x=xy[:, 0], y=xy[:, 1], true_terminal=true_terminal, recovered_terminal=terminal,
                      expert_visits=visits["expert"], recovered_visits=visits["recovered"])
                 ).to_csv(out / "irl_gridworld_rewards.csv", index=False)
    (out / "irl_gridworld.json").write_text(json.dumps(summary, indent=2))
    plot(out / "irl_gridworld.png", base, true_terminal, terminal, reached, visits, res.history, expert_ll, summary)
    summary["files"] = {k: str(out / f"irl_gridworld.{k}") for k in ("csv", "json", "png")}
    return summary


def plot(path: Path, base: Any, true_terminal: np.ndarray, terminal: np.ndarray, reached: np.ndarray, visits: dict[str, np.ndarray],
         history: dict[str, list[float]], expert_ll: float, summary: dict[str, Any]) -> None:
    """True vs recovered terminal reward, the expected visits of both policies, the learning curve."""
    import matplotlib
    from matplotlib.figure import Figure

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
    shape = (base.height, base.width)
    fig = Figure(figsize=(15, 6))
    axes = fig.subplots(2, 3)
    vmax = max(v.max() for v in visits.values())
    panels = [
        (axes[0, 0], true_terminal, "true terminal reward $-5\\,|s - g|_1$ (goal = 0)", (true_terminal.min(), 0)),
        (axes[0, 1], np.where(reached, terminal, np.nan), ("recovered terminal reward (goal = 0; grey: no demo ends there)"
                                                           f"\nmove cost: true {summary['true_move_cost']:.3f}, "
                               f"recovered {summary['recovered_move_cost']:.3f}"), (true_terminal.min(), 0)),
        (axes[1, 0], visits["expert"], "expected visits per cell: expert", (0, vmax)),
        (axes[1, 1], visits["recovered"], "expected visits: soft-optimal policy of the recovered reward", (0, vmax)),
    ]
    for ax, values, title, (lo, hi) in panels:
        im = ax.imshow(values.reshape(shape), cmap=cmap, vmin=lo, vmax=hi)
        for s, mark in ((base.start, "S"), (base.goal, "G")):
            ax.text(s % base.width, s // base.width, mark, ha="center", va="center", color="w", fontweight="bold")
        ax.set(title=title, xticks=[], yticks=[])
        fig.colorbar(im, ax=ax, shrink=0.8)
    ax = axes[0, 2]
    ax.plot(history["iteration"], history["log_likelihood"], label="recovered reward")
    ax.axhline(expert_ll, color="k", ls="--", label="true reward (expert)")
    ax.set(xlabel="IRL iteration", ylabel="log-likelihood per demonstration", title="learning curve")
    ax.legend(loc="lower right")
    ax = axes[1, 2]
    ax.semilogy(history["iteration"], history["linf_delta"], color="C1")
    ax.set(xlabel="IRL iteration", ylabel="max |rho_E - rho_model|",
           title=f"{summary['n_demos']} demos, p_slip = {summary['p_slip']}: visitation KL "
                 f"{summary['visitation_kl_expert_vs_recovered']:.2g}")
    save_figure(fig, path, dpi=100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    sizes = "(default {}, {} with --quick)".format
    parser.add_argument("--n-demos", type=int, default=None, help="expert trajectories " + sizes(FULL["n_demos"], QUICK["n_demos"]))
    parser.add_argument("--max-iter", type=int, default=None, help="IRL iterations " + sizes(FULL["max_iter"], QUICK["max_iter"]))
    parser.add_argument("--p-slip", type=float, default=P_SLIP)
    parser.add_argument("--alpha", type=float, default=ALPHA)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args(argv)
    s = run(args.out, quick=args.quick, seed=args.seed, n_demos=args.n_demos, max_iter=args.max_iter,
            p_slip=args.p_slip, alpha=args.alpha, lr=args.lr)
    print(f"{s['n_demos']} demos, {s['n_iter']} iterations: move cost true {s['true_move_cost']:.3f} recovered "
          f"{s['recovered_move_cost']:.3f}; visitation KL {s['visitation_kl_expert_vs_recovered']:.3g}; "
          f"demo log-likelihood expert {s['demo_log_likelihood_expert']:.3f} recovered {s['demo_log_likelihood_recovered']:.3f}; "
          f"true return expert {s['true_return_expert']:.3f} recovered {s['true_return_recovered']:.3f}; "
          f"terminal-reward correlation {s['terminal_reward_correlation_on_reached_cells']:.3f}")
    print("wrote", ", ".join(s["files"].values()))


if __name__ == "__main__":
    main()
