"""Settings of the pretrain -> finetune comparison: arms, budgets, hyperparameters."""

from __future__ import annotations

import dataclasses
from typing import Any

#: Every arm is ``<algo>_<pretrained|scratch>``; the algorithm keys may contain "_" (``ddpg_gauss``).
ALGOS = ("sql", "sac", "ddpg", "ddpg_gauss")
ARMS = tuple(f"{algo}_{kind}" for algo in ALGOS for kind in ("pretrained", "scratch"))
#: The paper's comparison: the soft arms against DDPG with its OU noise. The Gaussian-noise DDPG
#: arms (this module's first baseline) stay selectable with ``--arms``.
DEFAULT_ARMS = ("sql_pretrained", "sql_scratch", "sac_pretrained", "sac_scratch", "ddpg_pretrained", "ddpg_scratch")
DEFAULT_SEEDS = 10
QUICK_SEEDS = 2


def arm_algo(arm: str) -> str:
    """``"ddpg_gauss_pretrained"`` -> ``"ddpg_gauss"``."""
    return arm.rsplit("_", 1)[0]


def is_pretrained(arm: str) -> bool:
    return arm.rsplit("_", 1)[1] == "pretrained"


#: Finetune tasks and their success thresholds (deterministic evaluation return).
#: Hallway: best return ~97, 70 = running along the corridor at >= ~0.75 speed.
#: U-maze: ~65 when the goal is reached in ~30 steps; 20 = reached it and stayed >~25 steps.
DEFAULT_TASKS: dict[str, float] = {"PointHallway-v0": 70.0, "PointUMaze-v0": 20.0}
DEFAULT_PRETRAIN_ENV = "PointPretrain-v0"


@dataclasses.dataclass(frozen=True)
class Budget:
    """Steps and evaluation cadence of one experiment."""

    pretrain_steps: int
    finetune_steps: int
    eval_freq: int
    n_eval_episodes: int = 2
    learning_starts: int = 256
    coverage_episodes: int = 20


BUDGETS: dict[str, Budget] = {
    "default": Budget(pretrain_steps=5_000, finetune_steps=8_000, eval_freq=500),
    "long": Budget(pretrain_steps=50_000, finetune_steps=30_000, eval_freq=1000),
    "quick": Budget(pretrain_steps=300, finetune_steps=300, eval_freq=150, n_eval_episodes=1, learning_starts=100, coverage_episodes=3),
}

#: Shared hyperparameters (small networks: compute is scarce). Same for every arm.
COMMON_KWARGS: dict[str, Any] = dict(
    learning_rate=1e-3,
    buffer_size=100_000,
    batch_size=128,
    gamma=0.99,
    tau=0.01,
    # Two gradient steps every 4 env steps: half SB3's update-to-data ratio, with half as
    # many ``train()`` calls, since gradient steps are most of an experiment's compute.
    train_freq=4,
    gradient_steps=2,
)
NET_ARCH = [64, 64]
#: Pretraining temperature: measured on PointPretrain-v0 (5k steps, seed 0), alpha = 0.1 let the
#: Gaussian policy commit to one heading like DDPG (heading spread 0.00), 0.5 -> 0.27, 1.0 -> 0.44.
SAC_PRETRAIN_ENT_COEF = 1.0
#: Finetuning: annealed log-linearly 0.1 -> 0.001 (the paper's anneal), i.e. starting at a tenth
#: of the per-step reward scale (<= 1 in both finetune envs), so that the entropy bonus stays below
#: the goal's reward: at the pretraining alpha = 1 the bonus is as large as the whole goal bump and
#: a SAC-pretrained U-maze policy does best by standing still (see docs/finetune.md).
SAC_FINETUNE_ENT_COEF = "loglin_0.1_0.001"
#: Std of the Gaussian action noise of the ``ddpg_gauss`` arms (this module's first baseline).
DDPG_NOISE_STD = 0.1
#: The paper's DDPG baseline explores with Ornstein-Uhlenbeck noise, theta 0.15, sigma 0.1 (rllab's
#: ``OUStrategy``: ``x += theta (mu - x) + sigma N(0, 1)`` per step). SB3's
#: ``OrnsteinUhlenbeckActionNoise`` adds ``theta (mu - x) dt + sigma sqrt(dt) N(0, 1)``: the same
#: process with ``dt = 1`` (SB3's default dt = 0.01 would make it ten times weaker and 100x slower).
DDPG_OU_NOISE: dict[str, float] = dict(sigma=0.1, theta=0.15, dt=1.0)
#: DDPG algorithm key -> its exploration noise (pretraining, finetuning and the coverage's "explore").
ACTION_NOISE: dict[str, dict[str, Any]] = {
    "ddpg": dict(kind="ornstein_uhlenbeck", **DDPG_OU_NOISE),
    "ddpg_gauss": dict(kind="gaussian", sigma=DDPG_NOISE_STD),
}
#: SQL's temperatures: SAC's, so that the two max-ent arms differ only in the policy class.
SQL_PRETRAIN_ENT_COEF = SAC_PRETRAIN_ENT_COEF
SQL_FINETUNE_ENT_COEF = SAC_FINETUNE_ENT_COEF
#: Episodes are seeded apart from the training (``seed``): the evaluations during finetuning with
#: ``seed + EVAL_SEED_OFFSET + episode``, the pretrained policy's coverage on the pretraining env
#: with ``seed + COVERAGE_SEED_OFFSET + episode`` and the goal-reach coverage with
#: ``seed + GOAL_REACH_SEED_OFFSET + episode``.
EVAL_SEED_OFFSET = 10_000
COVERAGE_SEED_OFFSET = 20_000
GOAL_REACH_SEED_OFFSET = 30_000
#: A run's final return: the mean of its last ``FINAL_EVALS`` evaluations (one evaluation is noisy).
FINAL_EVALS = 3
#: The pretrained soft arms whose finetuning speed is compared with each DDPG baseline (the
#: claim is judged on SQL, the paper's algorithm; SAC's ratios are reported for information).
RATIO_ARMS = ("sql_pretrained", "sac_pretrained")
RATIO_BASELINES = ("ddpg_scratch", "ddpg_pretrained")
