"""How far do the pretrained policies explore in PointUMaze-v0, before any finetuning?

The lecture's mechanism for "max-ent pretraining finetunes faster" is coverage: the pretrained
soft policy keeps many behaviours, so its exploration finds the new task's reward. This script
measures that directly on the U-maze, for the pretrained models of a finetune experiment folder
(``python -m sb3_softopt.experiments.finetune --out DIR``): it rolls out each pretrained policy
*as it explores during finetuning* (SAC samples its own policy; DDPG adds its Gaussian action
noise, std 0.1) and, as baselines, a uniformly random policy.

Per policy and seed: the fraction of episodes that come within 2 units of the goal (where the
reward bump is > 0.6), and the progress along the U (0 at the start, 8 at the bottom-right corner,
16 at the top-right corner, 24 at the goal; the maximum over the episode), median and max.

    python benchmarks/finetune_umaze_exploration.py --exp-dir runs/finetune --episodes 40 --out results/umaze_exploration

Writes ``exploration.csv`` and ``exploration.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import DDPG
from tqdm import tqdm

import sb3_softopt  # noqa: F401  (registers the environments)
from sb3_softopt import SAC
from sb3_softopt.envs.point_mass import PointUMazeEnv
from sb3_softopt.experiments.finetune import DDPG_NOISE_STD

GOAL = np.asarray(PointUMazeEnv.GOAL)
GOAL_RADIUS = 2.0


def progress_along_u(x: float, y: float) -> float:
    """Distance travelled along the U's centre line (bottom corridor y < 2, right column x >= 6)."""
    if y < 2.0:
        return max(0.0, x)
    if y < 6.0:
        return 8.0 + y if x >= 6.0 else max(0.0, x)
    return 16.0 + (8.0 - x)


def rollouts(policy, n_episodes: int, seed: int) -> dict:
    env = gym.make("PointUMaze-v0")
    rng = np.random.default_rng(seed)
    hits, best = 0, []
    for ep in range(n_episodes):
        obs, _ = env.reset(seed=seed * 1000 + ep)
        reached, far, done = False, 0.0, False
        while not done:
            obs, _, term, trunc, _ = env.step(policy(obs, rng))
            far = max(far, progress_along_u(float(obs[0]), float(obs[1])))
            reached |= bool(np.linalg.norm(obs[:2] - GOAL) < GOAL_RADIUS)
            done = term or trunc
        hits += reached
        best.append(far)
    return dict(goal_hit_rate=hits / n_episodes, progress_median=float(np.median(best)), progress_max=float(np.max(best)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp-dir", required=True, help="finetune experiment folder (with pretrain/*.zip)")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    th.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pre = Path(args.exp_dir) / "pretrain"
    seeds = sorted(int(p.stem.split("seed")[1]) for p in pre.glob("sac_seed*.zip"))
    if not seeds:
        raise FileNotFoundError(f"no pretrained SAC models in {pre}")
    rows = []
    for seed in tqdm(seeds, desc="seeds"):
        policies = {"uniform random": lambda o, r: r.uniform(-1.0, 1.0, size=2)}
        sac = SAC.load(pre / f"sac_seed{seed}.zip", device="cpu")
        policies["sac_pretrained (samples)"] = lambda o, r, m=sac: m.predict(o, deterministic=False)[0]
        # Gaussian-noise DDPG: ``ddpg_gauss_seed*`` since the default DDPG arms explore with OU
        # noise (whose explore-mode reach the experiment itself reports, coverage["ddpg"]["goal_reach"]);
        # folders made before that hold the Gaussian one as ``ddpg_seed*`` and no config key for it.
        gauss = pre / f"ddpg_gauss_seed{seed}.zip"
        if not gauss.exists() and "ddpg_action_noise" not in json.loads((pre.parent / "config.json").read_text()):
            gauss = pre / f"ddpg_seed{seed}.zip"
        if gauss.exists():
            ddpg = DDPG.load(gauss, device="cpu")
            policies["ddpg_pretrained (+ Gaussian noise)"] = lambda o, r, m=ddpg: np.clip(
                m.predict(o, deterministic=True)[0] + r.normal(0.0, DDPG_NOISE_STD, size=2), -1.0, 1.0
            )
        for name, policy in policies.items():
            rows.append(dict(policy=name, seed=seed, episodes=args.episodes, **rollouts(policy, args.episodes, seed)))
    with open(out / "exploration.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {}
    for name in dict.fromkeys(r["policy"] for r in rows):
        mine = [r for r in rows if r["policy"] == name]
        summary[name] = dict(
            goal_hit_rate_per_seed=[r["goal_hit_rate"] for r in mine],
            progress_median_per_seed=[round(r["progress_median"], 2) for r in mine],
            seeds=[r["seed"] for r in mine],
        )
    (out / "exploration.json").write_text(json.dumps(summary, indent=2))
    for name, val in summary.items():
        print(f"{name:28s} goal hit rate per seed {val['goal_hit_rate_per_seed']}  median progress {val['progress_median_per_seed']}")


if __name__ == "__main__":
    main()
