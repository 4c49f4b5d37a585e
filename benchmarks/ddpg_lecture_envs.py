"""Verify the shipped DDPG hyperparameters (zoo_configs/ddpg.yml) on the lecture's continuous envs.

Trains SB3's DDPG with exactly the yaml entry (as rl-zoo3 would) for several seeds and evaluates the
deterministic policy:

- ``TwoPeakBandit-v0``: the final action ``x = 5 a`` and its reward versus the best reward
  ``max_x r(x)`` (about -1.612); success = reward within 0.05 of the maximum, i.e. on a peak.
- ``MultiGoal-v0``: fraction of evaluation episodes that reach a goal, the goals reached, returns.

Usage::

    python benchmarks/ddpg_lecture_envs.py --out results/ddpg_envs --seeds 0 1 2
    python benchmarks/ddpg_lecture_envs.py --env TwoPeakBandit-v0 --seeds 0 --n-timesteps 2000

Writes ``results.json`` and ``results.csv`` under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3 import DDPG
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from tqdm import tqdm

import sb3_softopt  # noqa: F401  (registers the environments)

ROOT = Path(__file__).resolve().parents[1]
ENVS = ["TwoPeakBandit-v0", "MultiGoal-v0"]


def load_hyperparams(env_id: str, path: Path) -> dict[str, Any]:
    """Read one rl-zoo3 yaml entry and convert it the way rl_zoo3's ExperimentManager does."""
    with open(path) as f:
        hp = dict(yaml.safe_load(f)[env_id])
    return hp


def make_model(env: gym.Env, hp: dict[str, Any], seed: int) -> tuple[DDPG, int]:
    hp = dict(hp)
    n_timesteps = int(hp.pop("n_timesteps"))
    policy = hp.pop("policy")
    noise_type = hp.pop("noise_type", None)
    noise_std = float(hp.pop("noise_std", 0.1))
    if isinstance(hp.get("policy_kwargs"), str):
        hp["policy_kwargs"] = eval(hp["policy_kwargs"])  # noqa: S307 - rl-zoo3 does the same
    n_act = env.action_space.shape[0]
    if noise_type == "normal":
        hp["action_noise"] = NormalActionNoise(np.zeros(n_act), noise_std * np.ones(n_act))
    elif noise_type == "ornstein-uhlenbeck":
        hp["action_noise"] = OrnsteinUhlenbeckActionNoise(np.zeros(n_act), noise_std * np.ones(n_act))
    return DDPG(policy, env, seed=seed, verbose=0, **hp), n_timesteps


def evaluate(env_id: str, model: DDPG, n_episodes: int, seed: int) -> dict[str, Any]:
    env = gym.make(env_id)
    if env_id == "TwoPeakBandit-v0":
        obs, _ = env.reset(seed=seed)
        action, _ = model.predict(obs, deterministic=True)
        _, reward, *_ = env.step(action)
        best = env.unwrapped.max_reward
        x = float(env.unwrapped.action_scale * action[0])
        return {"x": x, "reward": float(reward), "max_reward": best, "gap": best - float(reward),
                "success": float(best - reward < 0.05)}
    returns, goals = [], []
    for ep in range(n_episodes):
        obs, _ = env.reset(seed=seed + ep)
        done, ret, info = False, 0.0, {}
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, r, term, trunc, info = env.step(action)
            ret += r
            done = term or trunc
        returns.append(ret)
        goals.append(info["goal_index"])
    goals = np.array(goals)
    return {"mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
            "success": float(np.mean(goals >= 0)),
            "goals_reached": sorted({int(g) for g in goals if g >= 0})}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/ddpg_lecture_envs"))
    parser.add_argument("--env", nargs="+", default=ENVS, choices=ENVS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-timesteps", type=int, default=None, help="override the yaml budget")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--config", type=Path, default=ROOT / "zoo_configs" / "ddpg.yml")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    rows = []
    for env_id in args.env:
        hp = load_hyperparams(env_id, args.config)
        if args.n_timesteps is not None:
            hp["n_timesteps"] = args.n_timesteps
        for seed in tqdm(args.seeds, desc=env_id):
            env = gym.make(env_id)
            model, n_timesteps = make_model(env, hp, seed)
            t0 = time.perf_counter()
            model.learn(n_timesteps)
            wall = time.perf_counter() - t0
            res = evaluate(env_id, model, args.eval_episodes, seed=10_000 + seed)
            row = {"env": env_id, "seed": seed, "n_timesteps": n_timesteps, "train_seconds": round(wall, 1), **res}
            rows.append(row)
            tqdm.write(json.dumps(row))
    (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    keys = sorted({k for r in rows for k in r})
    with open(args.out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()})
    for env_id in args.env:
        succ = [r["success"] for r in rows if r["env"] == env_id]
        print(f"{env_id}: success {np.mean(succ):.2f} over seeds {args.seeds}")


if __name__ == "__main__":
    main()
