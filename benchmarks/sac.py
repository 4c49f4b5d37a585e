"""Benchmark of ``sb3_softopt.SAC`` against ``stable_baselines3.SAC``.

Three parts (``python benchmarks/sac.py {overhead,train,pendulum,all} --out DIR``):

* ``overhead``: wall time per environment step of our SAC and SB3's SAC, same seeds,
  same hyperparameters, repetitions interleaved (alternating order) so that the load
  of a shared machine hits both alike. Prints the ratio ours / SB3 and checks that
  the two learned the same parameters.
* ``train``: the same interleaving for ``train()`` alone on a filled replay buffer (seeded
  identically for both), which isolates the extension's own work from environment stepping.
* ``pendulum``: Pendulum-v1 with rl-zoo3's SAC hyperparameters (learning_rate 1e-3,
  the rest SB3 defaults), ``--steps`` (20k) steps per seed; deterministic evaluation
  on 10 episodes every quarter of training. rl-zoo's reference: -157 (one run, 20k).
  ``--baseline-seeds k`` also trains SB3's SAC on the first k seeds: its returns must
  match ours exactly.

Results: ``DIR/sac_overhead.{json,csv}``, ``DIR/sac_train_overhead.json``, ``DIR/sac_pendulum.{json,csv,png}``.

``pendulum`` resumes: each run's curve ``DIR/sac_pendulum_<algo>_seed<k>.csv`` is rewritten
(atomically) after every evaluation, and a run whose curve is whole (every checkpoint up to
``--steps``, finite returns) is not trained again; a partial or unreadable curve is named on stderr
and its run redone from scratch. Workers exit when the parent is killed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch as th

from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_path, exit_with_parent, is_trusted, load_curve

PENDULUM_HPARAMS = dict(learning_rate=1e-3)  # rl-zoo3 2.9 hyperparams/sac.yml, Pendulum-v1


def _classes():
    from stable_baselines3 import SAC as SB3SAC

    from sb3_softopt import SAC as OurSAC

    return {"sb3_softopt": OurSAC, "sb3": SB3SAC}


def _evaluate(model, n_episodes: int = 10, seed: int = 10_000) -> float:
    import gymnasium as gym

    env = gym.make("Pendulum-v1")
    returns = []
    for ep in range(n_episodes):
        obs, _ = env.reset(seed=seed + ep)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def overhead(out: Path, reps: int, steps: int) -> dict:
    """Interleaved timing of ours vs SB3 on Pendulum-v1 with default hyperparameters."""
    from tqdm import tqdm

    classes = _classes()
    rows = []
    for rep in tqdm(range(reps), desc="overhead reps"):
        order = ["sb3_softopt", "sb3"] if rep % 2 == 0 else ["sb3", "sb3_softopt"]
        params = {}
        for name in order:
            model = classes[name]("MlpPolicy", "Pendulum-v1", seed=rep, learning_starts=100, verbose=0)
            start, cpu_start = time.perf_counter(), time.process_time()
            model.learn(steps)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            params[name] = [p.detach().clone() for p in model.policy.parameters()]
            rows.append(
                dict(rep=rep, algo=name, steps=steps, seconds=elapsed, cpu_seconds=cpu, ms_per_step=1000 * elapsed / steps)
            )
        identical = all(th.allclose(a, b, atol=1e-6) for a, b in zip(params["sb3_softopt"], params["sb3"]))
        for row in rows[-2:]:
            row["identical_params"] = bool(identical)
    ratios = []
    for rep in range(reps):
        t = {r["algo"]: r["seconds"] for r in rows if r["rep"] == rep}
        ratios.append(t["sb3_softopt"] / t["sb3"])
    total = {name: sum(r["seconds"] for r in rows if r["algo"] == name) for name in classes}
    # Process CPU time is less disturbed than wall time by other jobs on a shared machine.
    cpu_total = {name: sum(r["cpu_seconds"] for r in rows if r["algo"] == name) for name in classes}
    summary = dict(
        env="Pendulum-v1",
        reps=reps,
        steps_per_rep=steps,
        seeds=list(range(reps)),
        ratio_median=statistics.median(ratios),
        ratio_of_totals=total["sb3_softopt"] / total["sb3"],
        ratios=ratios,
        cpu_ratio_of_totals=cpu_total["sb3_softopt"] / cpu_total["sb3"],
        ms_per_step={name: 1000 * total[name] / (reps * steps) for name in classes},
        all_identical=all(r["identical_params"] for r in rows),
        rows=rows,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "sac_overhead.json").write_text(json.dumps(summary, indent=2))
    _write_csv(out / "sac_overhead.csv", rows)
    print(
        f"overhead (Pendulum-v1, {reps} interleaved reps x {steps} steps, seeds 0..{reps - 1}): "
        f"ours/SB3 wall-time median ratio {summary['ratio_median']:.3f}, ratio of totals {summary['ratio_of_totals']:.3f}, "
        f"CPU-time ratio {summary['cpu_ratio_of_totals']:.3f}; "
        f"ms/step {summary['ms_per_step']}; identical params: {summary['all_identical']}"
    )
    return summary


def train_overhead(out: Path, reps: int, grad_steps: int) -> dict:
    """Interleaved timing of ``train()`` alone (same replay data), where the extension's work is."""
    classes = _classes()
    models = {}
    for name, cls in classes.items():
        # learning_starts above the collected steps: the buffer is filled without training.
        models[name] = cls("MlpPolicy", "Pendulum-v1", seed=0, learning_starts=10_000).learn(1000)
    wall = {name: [] for name in classes}
    cpu = {name: [] for name in classes}
    for rep in range(reps):
        for name in (["sb3_softopt", "sb3"] if rep % 2 == 0 else ["sb3", "sb3_softopt"]):
            np.random.seed(rep)
            th.manual_seed(rep)
            start, cpu_start = time.perf_counter(), time.process_time()
            models[name].train(gradient_steps=grad_steps, batch_size=256)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
    summary = dict(
        reps=reps,
        grad_steps_per_rep=grad_steps,
        wall_ratio_of_totals=sum(wall["sb3_softopt"]) / sum(wall["sb3"]),
        wall_ratio_median=statistics.median(a / b for a, b in zip(wall["sb3_softopt"], wall["sb3"])),
        cpu_ratio_of_totals=sum(cpu["sb3_softopt"]) / sum(cpu["sb3"]),
        cpu_ms_per_grad_step={n: 1000 * sum(cpu[n]) / (reps * grad_steps) for n in classes},
        wall=wall,
        cpu=cpu,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "sac_train_overhead.json").write_text(json.dumps(summary, indent=2))
    print(
        f"train() overhead ({reps} interleaved reps x {grad_steps} gradient steps, batch 256): ours/SB3 wall "
        f"{summary['wall_ratio_of_totals']:.3f} (median {summary['wall_ratio_median']:.3f}), CPU "
        f"{summary['cpu_ratio_of_totals']:.3f}; CPU ms/step {summary['cpu_ms_per_grad_step']}"
    )
    return summary


_RUN_COLUMNS = ("algo", "seed", "timesteps", "eval_return", "seconds")


def _checkpoints(steps: int) -> list[int]:
    return [steps // 4 * k for k in (1, 2, 3)] + [steps]


def _finished_run(path: Path, name: str, seed: int, steps: int) -> list[dict]:
    """The rows of a whole saved run (``FileNotFoundError`` / ``InvalidResult`` otherwise)."""
    rows = load_curve(path, _RUN_COLUMNS, "timesteps", _checkpoints(steps), finite=("eval_return", "seconds"))
    if len(rows) != 4 or any(r["algo"] != name or r["seed"] != str(seed) for r in rows):
        raise InvalidResult(f"{path} is not a run of {name} seed {seed} with 4 checkpoints up to {steps} steps")
    # float() of the written repr is exact: a reused run reports the very numbers it measured.
    return [
        dict(algo=name, seed=seed, timesteps=int(r["timesteps"]), eval_return=float(r["eval_return"]), seconds=float(r["seconds"]))
        for r in rows
    ]


def _pendulum_run(job: tuple[str, int, int, Path]) -> list[dict]:
    name, seed, steps, out = job
    th.set_num_threads(1)
    done_csv = out / f"sac_pendulum_{name}_seed{seed}.csv"
    if is_trusted(_finished_run, done_csv, name, seed, steps, who="sac pendulum"):
        return _finished_run(done_csv, name, seed, steps)  # resume: not trained again
    model = _classes()[name]("MlpPolicy", "Pendulum-v1", seed=seed, verbose=0, **PENDULUM_HPARAMS)
    start = time.perf_counter()
    rows, done = [], 0
    for target in _checkpoints(steps):
        model.learn(target - done, reset_num_timesteps=False)
        done = target
        rows.append(
            dict(algo=name, seed=seed, timesteps=target, eval_return=_evaluate(model), seconds=time.perf_counter() - start)
        )
        # Per-run partial curve, so that an interrupted benchmark still leaves its checkpoints.
        _write_csv(out / f"sac_pendulum_{name}_seed{seed}.csv", rows)
    return rows


def pendulum(out: Path, seeds: list[int], steps: int, baseline_seeds: int, workers: int = 1) -> dict:
    """Learning check: Pendulum-v1 return after ``steps`` steps, one run per seed."""
    from tqdm import tqdm

    classes = _classes()
    out.mkdir(parents=True, exist_ok=True)
    jobs = [("sb3_softopt", s, steps, out) for s in seeds] + [("sb3", s, steps, out) for s in seeds[:baseline_seeds]]
    rows: list[dict] = []
    # One process per run: on a shared machine two workers get twice the CPU share of one. A
    # SIGKILLed parent cannot stop its pool: its workers would go on training and writing.
    with multiprocessing.get_context("spawn").Pool(max(1, workers), exit_with_parent, (os.getpid(),)) as pool:
        for run_rows in tqdm(pool.imap_unordered(_pendulum_run, jobs), total=len(jobs), desc="pendulum runs"):
            rows.extend(run_rows)
            rows.sort(key=lambda r: (r["algo"], r["seed"], r["timesteps"]))
            _write_csv(out / "sac_pendulum.csv", rows)  # partial results survive an interruption
    finals = {name: [r["eval_return"] for r in rows if r["algo"] == name and r["timesteps"] == steps] for name in classes}
    summary = dict(
        env="Pendulum-v1",
        steps=steps,
        seeds=seeds,
        hyperparameters=PENDULUM_HPARAMS,
        eval="mean of 10 deterministic episodes, eval seeds 10000..10009",
        final_returns=finals,
        median_final_return=statistics.median(finals["sb3_softopt"]),
        reference="rl-zoo3 SAC Pendulum-v1: -157 (single run, 20k steps)",
        rows=rows,
    )
    if finals["sb3"]:
        summary["baseline_matches"] = finals["sb3"] == finals["sb3_softopt"][: len(finals["sb3"])]
    with atomic_path(out / "sac_pendulum.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    _plot_pendulum(out / "sac_pendulum.png", rows)
    print(
        f"pendulum ({len(seeds)} seeds {seeds}, {steps} steps): median final return "
        f"{summary['median_final_return']:.1f}; per seed {finals['sb3_softopt']}; SB3 baseline {finals['sb3']}"
    )
    return summary


def _write_csv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    with atomic_path(path) as tmp:  # a resumed benchmark trusts whole files only
        pd.DataFrame(rows).to_csv(tmp, index=False)


def _plot_pendulum(path: Path, rows: list[dict]) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name, style in (("sb3_softopt", "-"), ("sb3", "--")):
        for seed in sorted({r["seed"] for r in rows if r["algo"] == name}):
            pts = [(r["timesteps"], r["eval_return"]) for r in rows if r["algo"] == name and r["seed"] == seed]
            ax.plot(*zip(*pts), style, marker="o", label=f"{name} seed {seed}")
    ax.axhline(-157, color="k", lw=0.8, ls=":", label="rl-zoo SAC (-157)")
    ax.axhline(-200, color="r", lw=0.8, ls=":", label="threshold -200")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("eval return (10 episodes)")
    ax.set_title("SAC on Pendulum-v1")
    ax.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["overhead", "train", "pendulum", "all"])
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/sac"))
    parser.add_argument("--reps", type=int, default=6, help="overhead: interleaved repetitions")
    parser.add_argument("--overhead-steps", type=int, default=2000)
    parser.add_argument("--train-steps", type=int, default=25, help="train: gradient steps per rep")
    parser.add_argument("--seeds", type=int, default=5, help="pendulum: seeds 0..n-1")
    parser.add_argument("--steps", type=int, default=20_000, help="pendulum: steps per run")
    parser.add_argument("--workers", type=int, default=1, help="pendulum: runs in parallel processes")
    parser.add_argument("--baseline-seeds", type=int, default=0, help="pendulum: SB3 runs on the first k seeds")
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.part in ("overhead", "all"):
        overhead(args.out, args.reps, args.overhead_steps)
    if args.part in ("train", "all"):
        train_overhead(args.out, args.reps, args.train_steps)
    if args.part in ("pendulum", "all"):
        pendulum(args.out, list(range(args.seeds)), args.steps, args.baseline_seeds, args.workers)


if __name__ == "__main__":
    main()
