"""Benchmark EntropyPPO against SB3 PPO with rl-zoo3's tuned PPO hyperparameters.

Both algorithms get the same zoo hyperparameters, the same seeds and the same evaluation, and
run interleaved in one process (PPO then EntropyPPO for even seeds, the other way round for odd
seeds) so that load from other processes on the machine hits both alike.

Two modes:

* ``learn`` (default): train each (seed, algorithm) for ``--timesteps``, evaluate every
  ``--eval-freq`` steps (deterministic policy, ``--eval-episodes`` episodes), write
  ``runs.csv``, ``curves.csv``, ``summary.json`` and ``curves.png`` into ``--out``.
* ``speed``: alternate short ``learn`` calls of both algorithms (``--repeats`` pairs of
  ``--timesteps`` steps each, no evaluation) and report the wall time per step and the ratio
  EntropyPPO / PPO of every pair; writes ``speed.csv`` and ``speed.json``.

Examples::

    python benchmarks/entropy_ppo.py --env CartPole-v1 --seeds 0 1 2 3 4 --soft-ent-coef 0.01 --out runs/cartpole
    python benchmarks/entropy_ppo.py --mode speed --env CartPole-v1 --timesteps 20000 --repeats 5 --out runs/speed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import torch as th
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from tqdm import tqdm

import sb3_softopt  # noqa: F401  (registers the package's environments)
from sb3_softopt import EntropyPPO
from sb3_softopt.common.schedules import make_schedule

ZOO_KEYS_NOT_FOR_CONSTRUCTOR = {"n_envs", "n_timesteps", "policy", "normalize", "env_wrapper", "frame_stack"}


def zoo_hyperparams(env_id: str) -> dict[str, Any]:
    """rl-zoo3's tuned PPO hyperparameters for ``env_id`` (its own yaml file)."""
    import importlib.util

    # Located without importing rl_zoo3, whose import pulls in huggingface_sb3 and old ``gym``.
    spec = importlib.util.find_spec("rl_zoo3")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("rl_zoo3 is needed for its tuned hyperparameters (pip install rl_zoo3)")
    path = Path(spec.origin).parent / "hyperparams" / "ppo.yml"
    with open(path) as f:
        table = yaml.safe_load(f)
    if env_id not in table:
        raise KeyError(f"rl-zoo3's ppo.yml has no entry for {env_id!r}")
    return dict(table[env_id])


def constructor_kwargs(hp: dict[str, Any]) -> dict[str, Any]:
    """Zoo entry -> PPO keyword arguments, with ``lin_X`` strings turned into schedules as the zoo does."""
    kwargs = {k: v for k, v in hp.items() if k not in ZOO_KEYS_NOT_FOR_CONSTRUCTOR}
    for key in ("learning_rate", "clip_range"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = make_schedule(kwargs[key], name=key)
    if isinstance(kwargs.get("policy_kwargs"), str):
        kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"], {"nn": th.nn, "dict": dict})  # zoo convention
    return kwargs


class TimedEval(BaseCallback):
    """Evaluates every ``eval_freq`` steps and keeps its own wall time out of the training time."""

    def __init__(self, eval_env: Any, eval_freq: int, n_episodes: int):
        super().__init__()
        self.eval_env, self.eval_freq, self.n_episodes = eval_env, eval_freq, n_episodes
        self.eval_seconds = 0.0
        self.curve: list[tuple[int, float, float]] = []
        self._next = eval_freq

    def evaluate(self) -> None:
        t0 = time.perf_counter()
        returns, _ = evaluate_policy(self.model, self.eval_env, n_eval_episodes=self.n_episodes, deterministic=True, return_episode_rewards=True)
        self.curve.append((self.num_timesteps, float(np.mean(returns)), float(np.std(returns))))
        self.eval_seconds += time.perf_counter() - t0

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.num_timesteps >= self._next:
            self._next += self.eval_freq
            self.evaluate()
        return True


def make_model(algo: str, env_id: str, seed: int, soft_ent_coef: Any, hp: dict[str, Any]) -> Any:
    env = make_vec_env(env_id, n_envs=int(hp.get("n_envs", 1)), seed=seed)
    kwargs = constructor_kwargs(hp)
    if algo == "EntropyPPO":
        return EntropyPPO(hp.get("policy", "MlpPolicy"), env, seed=seed, soft_ent_coef=soft_ent_coef, device="cpu", **kwargs)
    return PPO(hp.get("policy", "MlpPolicy"), env, seed=seed, device="cpu", **kwargs)


def run_learn(args: argparse.Namespace, hp: dict[str, Any], out: Path) -> None:
    import matplotlib.pyplot as plt

    timesteps = int(args.timesteps or hp["n_timesteps"])
    jobs = []
    for i, seed in enumerate(args.seeds):
        order = ["PPO", "EntropyPPO"] if i % 2 == 0 else ["EntropyPPO", "PPO"]
        jobs += [(seed, algo) for algo in order if algo in args.algos]
    runs, curves = [], []
    for seed, algo in tqdm(jobs, desc=f"{args.env} runs", file=sys.stdout):
        model = make_model(algo, args.env, seed, args.soft_ent_coef, hp)
        eval_env = make_vec_env(args.env, n_envs=1, seed=seed + 10_000)
        cb = TimedEval(eval_env, args.eval_freq, args.eval_episodes)
        t0 = time.perf_counter()
        model.learn(timesteps, callback=cb)
        wall = time.perf_counter() - t0 - cb.eval_seconds
        if not cb.curve or cb.curve[-1][0] < model.num_timesteps:
            cb.evaluate()
        final = cb.curve[-1][1]
        runs.append(dict(env=args.env, algo=algo, seed=seed, timesteps=model.num_timesteps, final_return=final,
                         train_wall_s=wall, us_per_step=1e6 * wall / model.num_timesteps))
        curves += [dict(env=args.env, algo=algo, seed=seed, timesteps=t, mean_return=m, std_return=s) for t, m, s in cb.curve]
        tqdm.write(f"{algo:10s} seed={seed} steps={model.num_timesteps} final={final:.1f} wall={wall:.1f}s")
        _write_csv(out / "runs.csv", runs)
        _write_csv(out / "curves.csv", curves)

    summary: dict[str, Any] = dict(env=args.env, timesteps=timesteps, seeds=list(args.seeds), soft_ent_coef=str(args.soft_ent_coef),
                                   zoo_hyperparams={k: str(v) for k, v in hp.items()}, algos={})
    for algo in args.algos:
        rows = [r for r in runs if r["algo"] == algo]
        finals = [r["final_return"] for r in rows]
        summary["algos"][algo] = dict(final_returns=finals, median=float(np.median(finals)), mean=float(np.mean(finals)),
                                      n_at_least_threshold=None if args.threshold is None else int(sum(f >= args.threshold for f in finals)),
                                      us_per_step=[r["us_per_step"] for r in rows])
    if {"PPO", "EntropyPPO"} <= set(args.algos):
        ratios = [e["us_per_step"] / p["us_per_step"] for p in runs if p["algo"] == "PPO" for e in runs if e["algo"] == "EntropyPPO" and e["seed"] == p["seed"]]
        summary["time_ratio_entropy_ppo_over_ppo"] = dict(per_seed=ratios, median=float(np.median(ratios)))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))

    fig, ax = plt.subplots(figsize=(6, 4))
    for algo, color in (("PPO", "tab:blue"), ("EntropyPPO", "tab:red")):
        for seed in args.seeds:
            pts = [(c["timesteps"], c["mean_return"]) for c in curves if c["algo"] == algo and c["seed"] == seed]
            if pts:
                ax.plot(*zip(*pts), color=color, alpha=0.6, label=algo if seed == args.seeds[0] else None)
    if args.threshold is not None:
        ax.axhline(args.threshold, color="k", ls="--", lw=0.8)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("deterministic evaluation return")
    ax.set_title(f"{args.env}: PPO vs EntropyPPO (soft_ent_coef={args.soft_ent_coef})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)


def run_speed(args: argparse.Namespace, hp: dict[str, Any], out: Path) -> None:
    timesteps = int(args.timesteps or 20_000)
    seed = args.seeds[0]
    models = {algo: make_model(algo, args.env, seed, args.soft_ent_coef, hp) for algo in ("PPO", "EntropyPPO")}
    for model in models.values():  # warm-up: first call pays imports and allocations
        model.learn(int(hp.get("n_envs", 1)) * model.n_steps)
    # The only extra work of EntropyPPO is its once-per-rollout hook: timing it directly gives an
    # overhead figure that, unlike the wall-time ratio, hardly depends on the machine's load.
    hook_seconds = [0.0]
    ours = models["EntropyPPO"]
    apply_soft_rewards = ours._apply_soft_rewards

    def timed_hook(buffer: Any) -> None:
        t0 = time.perf_counter()
        apply_soft_rewards(buffer)
        hook_seconds[0] += time.perf_counter() - t0

    ours._apply_soft_rewards = timed_hook  # type: ignore[method-assign]
    rows = []
    for rep in tqdm(range(args.repeats), desc="speed pairs", file=sys.stdout):
        order = ("PPO", "EntropyPPO") if rep % 2 == 0 else ("EntropyPPO", "PPO")
        wall, cpu = {}, {}
        for algo in order:
            t0, c0 = time.perf_counter(), time.process_time()
            models[algo].learn(timesteps, reset_num_timesteps=False)
            wall[algo], cpu[algo] = time.perf_counter() - t0, time.process_time() - c0
        rows.append(dict(rep=rep, ppo_us_per_step=1e6 * wall["PPO"] / timesteps,
                         entropy_ppo_us_per_step=1e6 * wall["EntropyPPO"] / timesteps, ratio=wall["EntropyPPO"] / wall["PPO"],
                         ppo_cpu_us_per_step=1e6 * cpu["PPO"] / timesteps, entropy_ppo_cpu_us_per_step=1e6 * cpu["EntropyPPO"] / timesteps,
                         cpu_ratio=cpu["EntropyPPO"] / cpu["PPO"]))
        tqdm.write(f"pair {rep}: wall PPO {rows[-1]['ppo_us_per_step']:.1f} / EntropyPPO {rows[-1]['entropy_ppo_us_per_step']:.1f} us/step "
                   f"(ratio {rows[-1]['ratio']:.3f}); process CPU ratio {rows[-1]['cpu_ratio']:.3f}")
    _write_csv(out / "speed.csv", rows)
    entropy_ppo_wall = sum(r["entropy_ppo_us_per_step"] for r in rows) * timesteps / 1e6
    ratios = [r["ratio"] for r in rows]
    cpu_ratios = [r["cpu_ratio"] for r in rows]
    # Single-threaded torch: process CPU time is much less disturbed by other processes than wall time.
    summary = dict(env=args.env, timesteps_per_call=timesteps, repeats=args.repeats, soft_ent_coef=str(args.soft_ent_coef),
                   ratios=ratios, median_ratio=float(np.median(ratios)),
                   total_ratio=float(sum(r["entropy_ppo_us_per_step"] for r in rows) / sum(r["ppo_us_per_step"] for r in rows)),
                   cpu_ratios=cpu_ratios, median_cpu_ratio=float(np.median(cpu_ratios)),
                   total_cpu_ratio=float(sum(r["entropy_ppo_cpu_us_per_step"] for r in rows) / sum(r["ppo_cpu_us_per_step"] for r in rows)),
                   soft_reward_hook_seconds=hook_seconds[0], soft_reward_hook_fraction_of_entropy_ppo_wall=hook_seconds[0] / entropy_ppo_wall)
    (out / "speed.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    if not rows:
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _soft_ent_coef(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # "auto", "auto_0.1", schedule strings: EntropyPPO validates them


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--mode", choices=("learn", "speed"), default="learn")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, default=None, help="default: the zoo's n_timesteps (learn) / 20000 (speed)")
    parser.add_argument("--soft-ent-coef", type=_soft_ent_coef, default=0.01)
    parser.add_argument("--algos", nargs="+", default=["PPO", "EntropyPPO"], choices=["PPO", "EntropyPPO"])
    parser.add_argument("--eval-freq", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=None, help="success threshold to count (e.g. 475 for CartPole)")
    parser.add_argument("--repeats", type=int, default=5, help="speed mode: number of interleaved pairs")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    hp = zoo_hyperparams(args.env)
    (run_speed if args.mode == "speed" else run_learn)(args, hp, args.out)


if __name__ == "__main__":
    main()
