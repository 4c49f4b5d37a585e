"""A two-minute tour of sb3_softopt: ``python -m sb3_softopt.demo [--out DIR] [--steps N]``.

1. Exact control as inference on the lecture's lottery: the exact (optimistic) backward pass
   buys a ticket with negative expected value at moderate temperatures, the variational one
   (soft value iteration) does not.
2. Soft Q-learning: ``SoftDQN("MlpPolicy", "CartPole-v1")`` trained for a short budget with an
   automatic temperature, then evaluated greedily and with its Boltzmann policy.

Results go to ``DIR/demo.json`` (default ``demo_out/``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import torch as th
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

import sb3_softopt
from sb3_softopt import SoftDQN
from sb3_softopt.inference import TabularMDP, exact_inference, soft_value_iteration
from sb3_softopt.zoo.entry import zoo_entry


def lottery_table(alphas: tuple[float, ...] = (1.0, 100.0, 1000.0, 2500.0, 5000.0)) -> list[dict[str, float]]:
    """p(buy) at the start state under exact vs variational inference, for several temperatures."""
    mdp = TabularMDP.from_env(gym.make("LotteryMDP-v0"))
    rows = []
    for alpha in alphas:
        exact = exact_inference(mdp, alpha=alpha)
        var = soft_value_iteration(mdp, alpha=alpha)
        rows.append(
            {
                "alpha": alpha,
                "p_buy_exact": float(exact.policy_at(0)[0, 1]),
                "p_buy_variational": float(var.policy_at(0)[0, 1]),
            }
        )
    return rows


def train_soft_dqn(steps: int, seed: int) -> dict[str, Any]:
    """Train SoftDQN on CartPole with the shipped zoo hyperparameters (``zoo_configs/soft_dqn.yml``;
    the learning rate decays to 0 over ``steps``)."""
    entry = zoo_entry("CartPole-v1", "soft_dqn")
    model = SoftDQN(entry.policy, "CartPole-v1", seed=seed, **entry.kwargs)
    start = time.perf_counter()
    model.learn(total_timesteps=steps, progress_bar=True)
    elapsed = time.perf_counter() - start
    eval_env = Monitor(gym.make("CartPole-v1"))
    # SB3 types both of evaluate_policy's return forms; without return_episode_rewards it is (mean, std).
    greedy, greedy_std = cast(tuple[float, float], evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True))
    soft, soft_std = cast(tuple[float, float], evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=False))
    return {
        "steps": steps,
        "seed": seed,
        "wall_time_s": round(elapsed, 1),
        "final_ent_coef": model.current_ent_coef(),
        "greedy_return_mean": float(greedy),
        "greedy_return_std": float(greedy_std),
        "boltzmann_return_mean": float(soft),
        "boltzmann_return_std": float(soft_std),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")
    parser.add_argument("--steps", type=int, default=50_000, help="SoftDQN training steps on CartPole-v1 (the zoo entry's budget)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps <= 0:
        parser.error(f"--steps must be positive, got {args.steps}")
    th.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"sb3_softopt {sb3_softopt.__version__}\n")
    print("1) The lecture's lottery (p_win=0.01, +10000 / -1000, E[r] = -890): p(buy)")
    rows = lottery_table()
    print(f"   {'alpha':>8}  {'exact (optimistic)':>18}  {'variational':>11}")
    for row in rows:
        print(f"   {row['alpha']:>8g}  {row['p_buy_exact']:>18.4f}  {row['p_buy_variational']:>11.4f}")
    print("   Exact inference prefers buying (p > 0.5) for alpha below alpha* ~ 2957.7;\n"
          "   soft value iteration never does.\n")

    print(f"2) SoftDQN on CartPole-v1 for {args.steps} steps (automatic temperature)")
    result = train_soft_dqn(args.steps, args.seed)
    print(
        f"   greedy return {result['greedy_return_mean']:.1f} +- {result['greedy_return_std']:.1f}, "
        f"Boltzmann return {result['boltzmann_return_mean']:.1f} +- {result['boltzmann_return_std']:.1f} "
        f"({result['wall_time_s']} s)"
    )
    summary = {"lottery": rows, "soft_dqn_cartpole": result}
    (args.out / "demo.json").write_text(json.dumps(summary, indent=2))
    print(f"\nWrote {args.out / 'demo.json'}")
    return summary


if __name__ == "__main__":
    main()
