"""Multi-goal point mass: does the trained policy reach every goal? (Haarnoja et al. 2017, Figure 2)

``python -m sb3_softopt.experiments.multigoal --out DIR [--seeds 0 1 2 3 4] [--steps N] [--quick]``

On ``MultiGoal-v0`` four goals are equally good. Per seed we train

* ``sql``: :class:`sb3_softopt.SQL` with its ``zoo_configs/sql.yml`` entry (the official code's
  MultiGoal settings: 2x128 networks, batch 64, 32 kernel particles, hard target copy every 1000
  steps, ``reward_scale = 0.1``, i.e. ``ent_coef = 10``);
* ``ddpg``: SB3's DDPG with ``zoo_configs/ddpg.yml``'s entry and the same budget,

then roll out ``n_rollouts`` episodes from the start and record which goal each reaches. SQL is
rolled out stochastically (its policy is the energy-based model itself); DDPG with its
deterministic policy (what it learned) and, for information, with its Gaussian exploration noise.
Outputs: ``multigoal.csv`` (one row per arm and seed), ``multigoal.json`` (summary),
``multigoal.png`` (the rollouts of the first seed, as the paper's figure).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sb3_softopt.envs.multigoal import GOALS
from sb3_softopt.experiments.infra.plotting import save_figure

ARMS = ("sql", "ddpg")
FULL_SEEDS = (0, 1, 2, 3, 4)
QUICK_STEPS = 600
N_ROLLOUTS = 100
#: rollout ``i`` resets with ``ROLLOUT_SEED + i``: apart from the training seeds
ROLLOUT_SEED = 10_000


def rollouts(model: Any, n: int = N_ROLLOUTS, deterministic: bool = False, seed: int = ROLLOUT_SEED, noise_std: float = 0.0):
    """Roll ``model`` out ``n`` times from MultiGoal-v0's start.

    :param model: anything with SB3's ``predict``
    :param deterministic: passed to ``predict``
    :param seed: episode ``i`` resets with ``seed + i``
    :param noise_std: optional Gaussian noise added to the action (clipped to the box)
    :return: ``(paths, goals)``: the list of (T+1, 2) position arrays, and the goal index reached
        per rollout (-1: none within the 30 steps)
    """
    import gymnasium as gym

    import sb3_softopt  # noqa: F401  (registers the environments)

    env = gym.make("MultiGoal-v0")
    rng = np.random.default_rng(seed)
    paths, goals = [], np.full(n, -1, dtype=int)
    for i in range(n):
        obs, _ = env.reset(seed=seed + i)
        path = [obs.copy()]
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=deterministic)
            if noise_std > 0:
                action = np.clip(action + noise_std * rng.standard_normal(action.shape), -1.0, 1.0).astype(np.float32)
            obs, _, terminated, truncated, info = env.step(action)
            path.append(obs.copy())
            if terminated:
                goals[i] = info["goal_index"]
            done = terminated or truncated
        paths.append(np.asarray(path))
    env.close()
    return paths, goals


def goal_counts(goals: np.ndarray) -> dict[str, Any]:
    """Fraction of rollouts that reach a goal, and the count per goal."""
    counts = np.bincount(goals[goals >= 0], minlength=len(GOALS))
    return dict(reach_fraction=float(np.mean(goals >= 0)), goal_counts=counts.tolist(), n_goals_reached=int((counts > 0).sum()))


def _train(arm: str, seed: int, steps: int | None):
    import copy

    from stable_baselines3 import DDPG

    from sb3_softopt import SQL
    from sb3_softopt.zoo.entry import zoo_entry

    entry = zoo_entry("MultiGoal-v0", arm)
    kwargs = copy.deepcopy(entry.kwargs)  # the entry's action noise object is not shared between runs
    budget = steps or entry.n_timesteps
    if arm == "sql":
        return SQL(entry.policy, "MultiGoal-v0", seed=seed, **kwargs).learn(budget), budget, 0.0
    # kwargs holds the entry's action noise (noise_type / noise_std), built as rl-zoo3 builds it.
    model = DDPG(entry.policy, "MultiGoal-v0", seed=seed, **kwargs)
    return model.learn(budget), budget, float(entry.hyperparams["noise_std"])


def _job(arm: str, seed: int, steps: int | None, n_rollouts: int) -> tuple[list[dict], list[np.ndarray]]:
    import torch as th

    th.set_num_threads(1)
    model, budget, noise_std = _train(arm, seed, steps)
    paths, goals = rollouts(model, n_rollouts, deterministic=arm == "ddpg")
    policy = "stochastic" if arm == "sql" else "deterministic"
    rows = [dict(algo=arm, seed=seed, steps=budget, policy=policy, **goal_counts(goals))]
    if arm == "ddpg":
        _, noisy = rollouts(model, n_rollouts, deterministic=True, noise_std=noise_std)
        rows.append(dict(algo=arm, seed=seed, steps=budget, policy=f"deterministic + N(0, {noise_std}^2)", **goal_counts(noisy)))
    return rows, paths


def run(
    out_dir: str | os.PathLike[str],
    quick: bool = False,
    seeds: list[int] | None = None,
    steps: int | None = None,
    n_rollouts: int = N_ROLLOUTS,
    arms: tuple[str, ...] = ARMS,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Train each arm on each seed, roll out, write CSV/JSON/PNG into ``out_dir``; return the summary.

    :param seeds: default ``FULL_SEEDS`` (the first one with ``quick``)
    :param steps: budget per run; default each arm's zoo entry (``QUICK_STEPS`` with ``quick``)
    :param workers: runs in parallel processes
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd
    from tqdm import tqdm

    seed_list = list(seeds if seeds is not None else (FULL_SEEDS[:1] if quick else FULL_SEEDS))
    steps = QUICK_STEPS if (quick and steps is None) else steps
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(a, s, steps, n_rollouts) for a in arms for s in seed_list]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(tqdm(pool.map(_job, *zip(*jobs, strict=True)), total=len(jobs), desc="multigoal", disable=not progress))
    else:
        results = [_job(*job) for job in tqdm(jobs, desc="multigoal", disable=not progress)]
    rows = [row for job_rows, _ in results for row in job_rows]
    first_paths = {job[0]: paths for job, (_, paths) in zip(jobs, results, strict=True) if job[1] == seed_list[0]}
    table = pd.DataFrame(rows)
    table.to_csv(out / "multigoal.csv", index=False)
    summary: dict[str, Any] = dict(seeds=seed_list, n_rollouts=n_rollouts, arms={})
    for (arm, policy), sub in table.groupby(["algo", "policy"], sort=False):
        summary["arms"][f"{arm} ({policy})"] = dict(
            seeds_reaching_90pc_and_every_goal_10pc=int(
                sum(r.reach_fraction >= 0.9 and min(r.goal_counts) >= 0.1 * n_rollouts for r in sub.itertuples())
            ),
            mean_reach_fraction=float(sub.reach_fraction.mean()),
            goals_reached_per_seed=sub.n_goals_reached.tolist(),
            largest_goal_share_per_seed=[max(c) / n_rollouts for c in sub.goal_counts],
            goal_counts_per_seed=sub.goal_counts.tolist(),
        )
    (out / "multigoal.json").write_text(json.dumps(summary, indent=2))
    plot(out / "multigoal.png", first_paths)
    summary["files"] = {k: str(out / f"multigoal.{k}") for k in ("csv", "json", "png")}
    return summary


def plot(path: Path, paths_by_arm: dict[str, list[np.ndarray]]) -> None:
    """The rollouts of each arm over the goals, as the paper's Figure 2."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    fig = Figure(figsize=(4 * len(paths_by_arm), 4))
    for ax, (arm, paths) in zip(np.atleast_1d(fig.subplots(1, len(paths_by_arm))), paths_by_arm.items(), strict=True):
        for p in paths:
            ax.plot(p[:, 0], p[:, 1], color="C0" if arm == "sql" else "C1", lw=0.6, alpha=0.5)
        for g in GOALS:
            ax.add_patch(Circle(g, 1.0, color="g", alpha=0.3))
        ax.set(xlim=(-7, 7), ylim=(-7, 7), aspect="equal", title=f"{arm}: {len(paths)} rollouts")
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--n-rollouts", type=int, default=N_ROLLOUTS)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--workers", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    summary = run(args.out, quick=args.quick, seeds=args.seeds, steps=args.steps, n_rollouts=args.n_rollouts,
                  arms=tuple(args.arms), workers=args.workers)
    for name, s in summary["arms"].items():
        print(f"{name}: {s['seeds_reaching_90pc_and_every_goal_10pc']}/{len(summary['seeds'])} seeds reach >= 90% and "
              f"every goal >= 10%; goals per seed {s['goals_reached_per_seed']}; counts {s['goal_counts_per_seed']}")
    print("wrote", ", ".join(summary["files"].values()))


if __name__ == "__main__":
    main()
