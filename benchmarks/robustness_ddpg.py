"""Which DDPG settings learn the obstacle-free ``PointGoal-v0`` of the robustness experiment?

The robustness claim compares policies that all solve the task without obstacles, so the DDPG
baseline needs settings that learn it at the experiment's budget (10k env steps). This sweep
trains DDPG exactly as ``sb3_softopt.experiments.robustness`` does (same network, optimiser,
replay, warm-up, seeds and evaluation episodes), varying only its update schedule and exploration
noise and its variant (``--variants``: SB3's DDPG, the DDPG paper's actor learning rate, and the
experiment's ``RegularisedDDPG``), and reports the deterministic success rate without obstacles (the experiment's ``clean``
row). ``--algos SQL SAC`` adds the max-ent arms at each schedule, for comparison.

Usage::

    python benchmarks/robustness_ddpg.py --out results/robustness_ddpg --algos SQL SAC  # 100 runs, 22 min on 2 shared cores
    python benchmarks/robustness_ddpg.py --out /tmp/r --seeds 0 1 --train-steps 2000 --noises ou_0.3
    # the baseline under both kernel sets (training is chaotic: the vector kernels pick the seeds that fail)
    ATEN_CPU_CAPABILITY=default python benchmarks/robustness_ddpg.py --out results/ddpg_default --schedules sb3_1x1 --noises ou_0.3 --seeds $(seq 0 19)

Writes ``runs.csv`` (one row per run) and ``summary.json`` (per setting: mean success, seeds with
success >= 0.5, mean return) under ``--out``, and prints the summary table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sb3_softopt.experiments.robustness import config as C

#: update schedules: the shared one of the experiment, and SB3's default for DDPG
SCHEDULES = {
    "shared_4x2": dict(train_freq=C.COMMON_KWARGS["train_freq"], gradient_steps=C.COMMON_KWARGS["gradient_steps"]),
    "sb3_1x1": dict(train_freq=1, gradient_steps=1),
}
#: DDPG variants (``RegularisedDDPG`` arguments): SB3's DDPG, the paper's actor lr, the experiment's
VARIANTS = {
    "sb3": dict(actor_lr_ratio=1.0, preactivation_reg=0.0),
    "actor_lr_0.1": dict(actor_lr_ratio=0.1, preactivation_reg=0.0),
    "regularised": {k: C.DDPG_KWARGS[k] for k in ("actor_lr_ratio", "preactivation_reg")},
}
NOISES = {
    "gauss_0.1": dict(kind="gaussian", sigma=0.1),
    "ou_0.1": dict(kind="ornstein_uhlenbeck", sigma=0.1, theta=0.15, dt=1.0),
    "ou_0.3": dict(kind="ornstein_uhlenbeck", sigma=0.3, theta=0.15, dt=1.0),
}


def _job(algo: str, schedule: str, noise: str, variant: str, seed: int, train_steps: int, n_eval: int) -> dict:
    import torch

    import sb3_softopt  # noqa: F401  registers the envs
    from sb3_softopt.experiments.robustness.jobs import make_model
    from sb3_softopt.experiments.robustness.perturbation import evaluate_under_perturbation

    torch.set_num_threads(1)
    budget = dataclasses.replace(C.BUDGETS["default"], train_steps=train_steps, n_eval_episodes=n_eval)
    overrides = dict(SCHEDULES[schedule], **(VARIANTS[variant] if algo == "DDPG" else {}))
    model = make_model(algo, seed, budget, overrides=overrides, ddpg_noise=NOISES.get(noise))
    t0 = time.perf_counter()
    model.learn(train_steps)
    wall = time.perf_counter() - t0
    # the experiment's clean evaluation: deterministic, episodes seeded from 10_000 * (seed + 1)
    res = evaluate_under_perturbation(model, C.ENV_ID, n_eval, seed=10_000 * (seed + 1), deterministic=True)
    ddpg = algo == "DDPG"
    return dict(algo=algo, schedule=schedule, noise=noise if ddpg else "-", variant=variant if ddpg else "-", seed=seed, train_steps=train_steps, train_s=round(wall, 1), **res)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/robustness_ddpg"))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--train-steps", type=int, default=C.BUDGETS["default"].train_steps)
    parser.add_argument("--n-eval", type=int, default=C.BUDGETS["default"].n_eval_episodes)
    parser.add_argument("--schedules", nargs="+", default=list(SCHEDULES), choices=list(SCHEDULES))
    parser.add_argument("--noises", nargs="+", default=list(NOISES), choices=list(NOISES))
    parser.add_argument("--variants", nargs="+", default=["regularised"], choices=list(VARIANTS))
    parser.add_argument("--algos", nargs="*", default=[], choices=["SQL", "SAC"], help="max-ent arms to add at each schedule")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [("DDPG", sc, n, v, s) for sc in args.schedules for n in args.noises for v in args.variants for s in args.seeds]
    jobs += [(a, sc, "-", "-", s) for a in args.algos for sc in args.schedules for s in args.seeds]
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(_job, *j, args.train_steps, args.n_eval) for j in jobs]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="robustness DDPG sweep"):
            rows.append(fut.result())
    df = pd.DataFrame(rows).sort_values(["algo", "schedule", "noise", "seed"])
    df.to_csv(args.out / "runs.csv", index=False)
    summary = (
        df.groupby(["algo", "schedule", "noise", "variant"])
        .agg(success=("success", "mean"), seeds_solved=("success", lambda s: int((s >= 0.5).sum())), seeds=("seed", "count"),
             mean_return=("return", "mean"), train_s=("train_s", "mean"))
        .reset_index()
    )  # fmt: skip
    import stable_baselines3
    import torch

    meta = dict(env_id=C.ENV_ID, seeds=args.seeds, train_steps=args.train_steps, n_eval=args.n_eval, schedules=SCHEDULES, noises=NOISES,
                variants=VARIANTS, cpu_capability=torch.backends.cpu.get_cpu_capability(), torch=torch.__version__,
                stable_baselines3=stable_baselines3.__version__)  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(dict(meta, rows=summary.to_dict("records")), indent=1))
    print(f"{C.ENV_ID}, {args.train_steps} steps, seeds {args.seeds}, {args.n_eval} deterministic episodes each, "
          f"kernels {meta['cpu_capability']}")  # fmt: skip
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
