"""Step rate of the lecture's environments against Gymnasium's classic-control baselines.

Every env is built with ``gym.make`` (so its wrappers are timed too) and stepped with the same
pre-drawn uniform actions; the rates are process CPU time, so other jobs on the machine disturb
them little. Each env is timed ``--repeats`` times, interleaved with the baseline, and the script
prints the median rate and the median ratio to the baseline of the same space kind
(``Pendulum-v1`` for continuous actions, ``CartPole-v1`` for discrete ones).

    python benchmarks/envs_speed.py --steps 20000 --repeats 5 --out benchmarks/results/envs_speed
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import pandas as pd
from tqdm import tqdm

import sb3_softopt  # noqa: F401  registers the ids

ENVS = ("PointPretrain-v0", "PointHallway-v0", "PointUMaze-v0", "MultiGoal-v0", "TwoPeakBandit-v0", "ReachingGridworld-v0")
BASELINES = {"continuous": "Pendulum-v1", "discrete": "CartPole-v1"}


def steps_per_cpu_second(env_id: str, n_steps: int, seed: int) -> float:
    """Step ``env_id`` ``n_steps`` times with uniform random actions; steps per CPU second."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(n_steps)]
    env.reset(seed=seed)
    start = time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.process_time() - start
    env.close()
    return n_steps / max(elapsed, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/envs_speed")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for env_id in tqdm(args.envs, desc="envs"):
        kind = "continuous" if isinstance(gym.make(env_id).action_space, gym.spaces.Box) else "discrete"
        baseline = BASELINES[kind]
        for rep in range(args.repeats):
            ours = steps_per_cpu_second(env_id, args.steps, args.seed + rep)
            base = steps_per_cpu_second(baseline, args.steps, args.seed + rep)
            rows.append(dict(env=env_id, baseline=baseline, repeat=rep, steps=args.steps, seed=args.seed + rep,
                             steps_per_s=ours, baseline_steps_per_s=base, ratio=ours / base))
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "envs_speed.csv", index=False)
    summary = (
        frame.groupby(["env", "baseline"], sort=False)[["steps_per_s", "baseline_steps_per_s", "ratio"]].median().reset_index()
    )
    (out / "envs_speed.json").write_text(json.dumps(summary.to_dict(orient="records"), indent=1))
    print(f"{args.steps} steps x {args.repeats} interleaved repeats, CPU time, seeds {args.seed}..{args.seed + args.repeats - 1}")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
