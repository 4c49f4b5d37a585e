"""SoftDQN against SB3's DQN: learning curves and wall time per environment step.

Both algorithms run in the same script with the same seeds. DQN uses rl-zoo3's tuned
hyperparameters (``rl_zoo3/hyperparams/dqn.yml``); SoftDQN uses ``zoo_configs/soft_dqn.yml``.
For an env without a SoftDQN entry, SoftDQN starts from rl-zoo3's DQN entry with the Boltzmann
policy (``ent_coef="auto"``) instead of epsilon-greedy. Evaluation is deterministic (argmax) over ``--eval-episodes`` episodes every ``--eval-every`` steps.

Examples::

    # learning curves (results/curves.csv, results/summary.json, results/curves.png)
    python benchmarks/soft_dqn.py curves --env CartPole-v1 --seeds 0 1 2 3 4 --out results/cartpole
    # speed ratio, same network / batch size / gradient steps, interleaved in one process
    python benchmarks/soft_dqn.py speed --env CartPole-v1 --steps 1024 --repeats 8 --ent-coef 0.01 --out results/speed
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from tqdm import tqdm

import sb3_softopt  # noqa: F401  (registers the package's environments)
from sb3_softopt import SoftDQN
from sb3_softopt.common.schedules import make_schedule
from sb3_softopt.zoo import ZooBridgeError, zoo_entry

ROOT = Path(__file__).resolve().parents[1]
SOFT_DQN_YAML = ROOT / "zoo_configs" / "soft_dqn.yml"
# rl_zoo3 is located, not imported: importing it pulls huggingface_sb3 and needs more packages.
DQN_YAML = Path(importlib.util.find_spec("rl_zoo3").submodule_search_locations[0]) / "hyperparams" / "dqn.yml"


def load_hyperparams(path: Path, env_id: str) -> dict[str, Any]:
    """Constructor kwargs of one env entry of an rl-zoo3 yaml, plus ``_n_timesteps`` and ``_env_kwargs``."""
    entry = zoo_entry(env_id, path=path)
    return {**entry.kwargs, "_n_timesteps": entry.n_timesteps, "_env_kwargs": entry.env_kwargs}


#: SoftDQN's arguments whose defaults differ from DQN's (tau 0.005 and the double-Q target since
#: 0.3), set to DQN's where SoftDQN runs on a DQN entry: the same target update as the DQN it is compared with
DQN_LIKE: dict[str, Any] = dict(tau=1.0, double_q=False)


def softdqn_hyperparams(env_id: str) -> dict[str, Any]:
    """SoftDQN's entry in ``zoo_configs/soft_dqn.yml``; for an env without one, rl-zoo3's DQN entry
    with epsilon-greedy replaced by the Boltzmann policy (``ent_coef="auto"``), to start tuning from."""
    try:
        return load_hyperparams(SOFT_DQN_YAML, env_id)
    except ZooBridgeError:  # no shipped entry for env_id
        pass
    kwargs = load_hyperparams(DQN_YAML, env_id)
    for key in ("exploration_fraction", "exploration_final_eps", "exploration_initial_eps"):
        kwargs.pop(key, None)
    kwargs["ent_coef"] = "auto"
    return {**DQN_LIKE, **kwargs}


def make_model(algo: str, env_id: str, seed: int, overrides: dict[str, Any] | None = None):
    kwargs = softdqn_hyperparams(env_id) if algo == "softdqn" else load_hyperparams(DQN_YAML, env_id)
    kwargs.pop("_n_timesteps")
    env_kwargs = kwargs.pop("_env_kwargs")
    kwargs.update(overrides or {})
    if isinstance(kwargs.get("learning_rate"), str):
        kwargs["learning_rate"] = make_schedule(kwargs["learning_rate"], name="learning_rate")
    env = make_vec_env(env_id, n_envs=1, seed=seed, env_kwargs=env_kwargs)
    cls = SoftDQN if algo == "softdqn" else DQN
    return cls("MlpPolicy", env, seed=seed, verbose=0, **kwargs), env_kwargs


def evaluate(model, env_id: str, env_kwargs: dict, n_episodes: int, seed: int) -> tuple[float, float]:
    eval_env = make_vec_env(env_id, n_envs=1, seed=seed + 10_000, env_kwargs=env_kwargs)
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=n_episodes, deterministic=True)
    eval_env.close()
    return float(mean), float(std)


class EvalRecorder(BaseCallback):
    """Deterministic evaluation every ``--eval-every`` steps inside a single ``learn()`` call.

    ``wall_s`` is the training time so far: the time spent evaluating is subtracted.
    """

    def __init__(self, args: argparse.Namespace, algo: str, seed: int, env_kwargs: dict, writer: csv.DictWriter, file, rows: list) -> None:
        super().__init__()
        self.args, self.algo, self.seed, self.env_kwargs, self.rows = args, algo, seed, env_kwargs, rows
        self.writer, self.file = writer, file
        self.bar = tqdm(total=args.steps, desc=f"{algo} seed {seed}", leave=False)
        self.eval_time = 0.0

    def _on_training_start(self) -> None:
        self.t0 = time.perf_counter()

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        if self.num_timesteps % self.args.eval_every == 0:
            e0 = time.perf_counter()
            mean, std = evaluate(self.model, self.args.env, self.env_kwargs, self.args.eval_episodes, self.seed)
            self.eval_time += time.perf_counter() - e0
            row = dict(algo=self.algo, env=self.args.env, seed=self.seed, step=self.num_timesteps, mean_return=mean,
                       std_return=std, wall_s=time.perf_counter() - self.t0 - self.eval_time)
            self.rows.append(row)
            self.writer.writerow(row)
            self.file.flush()
            self.bar.set_postfix(ret=f"{mean:.1f}")
        return True


CURVE_COLUMNS = ["algo", "env", "seed", "step", "mean_return", "std_return", "wall_s"]


def run_curves(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = json.loads(args.softdqn_kwargs) if args.softdqn_kwargs else {}
    steps = args.steps = args.steps or softdqn_hyperparams(args.env)["_n_timesteps"]
    csv_path = out / "curves.csv"
    new_file = not csv_path.exists()
    rows = []
    with open(csv_path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CURVE_COLUMNS)
        if new_file:
            writer.writeheader()
        jobs = [(algo, seed) for seed in args.seeds for algo in args.algos]
        for algo, seed in tqdm(jobs, desc=f"{args.env} runs"):
            th.manual_seed(seed)
            model, env_kwargs = make_model(algo, args.env, seed, overrides if algo == "softdqn" else None)
            recorder = EvalRecorder(args, algo, seed, env_kwargs, writer, file, rows)
            # One learn() call, as a zoo user trains: learning-rate and temperature schedules are
            # functions of the progress through *this* call, so learning in chunks would restart them.
            model.learn(steps, callback=recorder, progress_bar=False)
            recorder.bar.close()
            last = rows[-1]
            tqdm.write(f"{args.env} {algo} seed={seed} steps={last['step']} final deterministic return="
                       f"{last['mean_return']:.1f}±{last['std_return']:.1f}")
    summarise(csv_path, out)


def summarise(csv_path: Path, out: Path) -> dict:
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(csv_path)
    summary: dict[str, Any] = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for (env_id, algo), g in df.groupby(["env", "algo"]):
        final_step = g.step.max()
        finals = g[g.step == final_step].sort_values("seed")
        summary[f"{env_id}/{algo}"] = dict(
            step=int(final_step),
            seeds=finals.seed.tolist(),
            returns=[round(x, 2) for x in finals.mean_return],
            median=float(np.median(finals.mean_return)),
            mean=float(np.mean(finals.mean_return)),
            wall_s_per_step=float((finals.wall_s / final_step).mean()),
        )
        curve = g.groupby("step").mean_return
        ax.plot(curve.median().index, curve.median().values, label=f"{algo} median ({len(finals)} seeds)")
        ax.fill_between(curve.min().index, curve.min().values, curve.max().values, alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("deterministic return (20 episodes)")
    ax.set_title(", ".join(sorted(df.env.unique())))
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    for key, val in summary.items():
        print(f"{key}: step {val['step']} median {val['median']:.1f} returns {val['returns']}")
    return summary


def run_speed(args: argparse.Namespace) -> None:
    """Time per env step, SoftDQN vs DQN with identical network/batch/gradient steps, interleaved.

    Both models are trained alternately in chunks of ``--steps`` environment steps (order swapped
    every repeat). The primary measure is the process CPU time (``time.process_time``; torch runs
    on one thread), which other programs sharing the machine disturb far less than wall time;
    wall time is reported too.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shared = load_hyperparams(DQN_YAML, args.env)
    shared.pop("_n_timesteps")
    env_kwargs = shared.pop("_env_kwargs")
    for key in ("exploration_fraction", "exploration_final_eps", "exploration_initial_eps"):
        shared.pop(key, None)
    soft_only = dict(DQN_LIKE, ent_coef=args.ent_coef)
    cpu: dict[str, list[float]] = {"dqn": [], "softdqn": []}
    wall: dict[str, list[float]] = {"dqn": [], "softdqn": []}
    models = {}
    for algo in ("dqn", "softdqn"):
        env = make_vec_env(args.env, n_envs=1, seed=0, env_kwargs=env_kwargs)
        cls = SoftDQN if algo == "softdqn" else DQN
        models[algo] = cls("MlpPolicy", env, seed=0, **shared, **(soft_only if algo == "softdqn" else {}))
        # warm-up: fill learning_starts and trigger the first updates outside the timed region
        models[algo].learn(max(2000, shared.get("learning_starts", 0) + 500))
    for rep in tqdm(range(args.repeats), desc="speed (interleaved)"):
        order = ("dqn", "softdqn") if rep % 2 == 0 else ("softdqn", "dqn")
        for algo in order:
            c0, w0 = time.process_time(), time.perf_counter()
            models[algo].learn(args.steps, reset_num_timesteps=False)
            cpu[algo].append((time.process_time() - c0) / args.steps)
            wall[algo].append((time.perf_counter() - w0) / args.steps)
    cpu_ratios = [s / d for s, d in zip(cpu["softdqn"], cpu["dqn"])]
    wall_ratios = [s / d for s, d in zip(wall["softdqn"], wall["dqn"])]
    result = dict(
        env=args.env,
        steps_per_chunk=args.steps,
        repeats=args.repeats,
        hyperparams={k: str(v) for k, v in shared.items()},
        softdqn_ent_coef=str(args.ent_coef),
        cpu_us_per_step_dqn=[t * 1e6 for t in cpu["dqn"]],
        cpu_us_per_step_softdqn=[t * 1e6 for t in cpu["softdqn"]],
        cpu_ratio_per_repeat=cpu_ratios,
        cpu_ratio_median=float(np.median(cpu_ratios)),
        cpu_ratio_total=float(sum(cpu["softdqn"]) / sum(cpu["dqn"])),
        wall_ratio_median=float(np.median(wall_ratios)),
        wall_ratio_total=float(sum(wall["softdqn"]) / sum(wall["dqn"])),
    )
    with open(out / f"speed_{args.env}_{args.ent_coef}.json", "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


def run_entropy_ratio(args: argparse.Namespace) -> None:
    """Automatic temperature with target_entropy = ratio * log|A|: which ratio learns best?"""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    jobs = [(ratio, seed) for seed in args.seeds for ratio in args.ratios]
    for ratio, seed in tqdm(jobs, desc=f"{args.env} target-entropy ratios"):
        th.manual_seed(seed)
        n_actions = gym.make(args.env, **softdqn_hyperparams(args.env)["_env_kwargs"]).action_space.n
        overrides = dict(ent_coef="auto", target_entropy=float(ratio * np.log(n_actions)))
        model, env_kwargs = make_model("softdqn", args.env, seed, overrides)
        model.learn(args.steps)
        det, _ = evaluate(model, args.env, env_kwargs, args.eval_episodes, seed)
        eval_env = make_vec_env(args.env, n_envs=1, seed=seed + 20_000, env_kwargs=env_kwargs)
        sto, _ = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes, deterministic=False)
        row = dict(env=args.env, ratio=ratio, seed=seed, steps=args.steps, det_return=det, stoch_return=float(sto),
                   final_ent_coef=model.current_ent_coef(),
                   final_entropy=float(model.logger.name_to_value.get("train/entropy", float("nan"))))
        rows.append(row)
        tqdm.write(json.dumps(row))
    with open(out / f"entropy_ratio_{args.env}.json", "w") as f:
        json.dump(rows, f, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    curves = sub.add_parser("curves", help="learning curves of SoftDQN and DQN")
    curves.add_argument("--env", default="CartPole-v1")
    curves.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    curves.add_argument("--algos", nargs="+", default=["softdqn", "dqn"], choices=["softdqn", "dqn"])
    curves.add_argument("--steps", type=int, default=0, help="0: n_timesteps of the SoftDQN yaml entry")
    curves.add_argument("--eval-every", type=int, default=10_000)
    curves.add_argument("--eval-episodes", type=int, default=20)
    curves.add_argument("--softdqn-kwargs", default="", help="JSON overrides of the SoftDQN yaml (tuning)")
    curves.add_argument("--out", default="benchmarks/results/soft_dqn")
    speed = sub.add_parser("speed", help="wall time per env step, interleaved")
    speed.add_argument("--env", default="CartPole-v1")
    speed.add_argument("--steps", type=int, default=1024, help="env steps per timed chunk")
    speed.add_argument("--repeats", type=int, default=8)
    speed.add_argument("--ent-coef", default="auto", help="SoftDQN temperature for the timing run")
    speed.add_argument("--out", default="benchmarks/results/soft_dqn")
    ratio = sub.add_parser("entropy-ratio", help="sweep target_entropy = ratio * log|A| with ent_coef='auto'")
    ratio.add_argument("--env", default="ReachingGridworld-v0")
    ratio.add_argument("--ratios", type=float, nargs="+", default=[0.98, 0.89, 0.6, 0.3])
    ratio.add_argument("--seeds", type=int, nargs="+", default=[0])
    ratio.add_argument("--steps", type=int, default=10_000)
    ratio.add_argument("--eval-episodes", type=int, default=20)
    ratio.add_argument("--out", default="benchmarks/results/soft_dqn")
    summ = sub.add_parser("summary", help="re-summarise an existing curves.csv")
    summ.add_argument("--out", required=True)
    args = parser.parse_args()
    th.set_num_threads(1)
    if args.command == "curves":
        run_curves(args)
    elif args.command == "speed":
        run_speed(args)
    elif args.command == "entropy-ratio":
        run_entropy_ratio(args)
    else:
        summarise(Path(args.out) / "curves.csv", Path(args.out))


if __name__ == "__main__":
    main()
