"""Settings of the composition experiment: environments, algorithms, budgets, evaluation."""

from __future__ import annotations

import dataclasses
from typing import Any

from sb3_softopt.experiments.finetune import config as finetune_config

#: the constituent tasks and the combined one (same spaces; ``sb3_softopt.envs.point_compose``)
ENV_A, ENV_B, ENV_AB = "PointComposeA-v0", "PointComposeB-v0", "PointComposeAB-v0"
#: The arms evaluated on the combined task ``PointComposeAB-v0``:
#:
#: * ``SQL composed``: SQL trained on A and on B (``train_steps`` each), composed with
#:   :func:`sb3_softopt.composition.compose` (AND, weights 1/2) with zero environment steps; sampled;
#: * ``SQL scratch``: SQL trained on the combined task with the constituents' total (``2 * train_steps``); sampled;
#: * ``DDPG average``: the mean of the actions of DDPG trained on A and on B (``train_steps`` each),
#:   the naive composition of deterministic policies.
ARMS = ("SQL composed", "SQL scratch", "DDPG average")
PRIMARY, SCRATCH, BASELINE = ARMS
#: reported, not judged: the SQL arms evaluated with their deterministic particle
DETERMINISTIC_ARMS = ("SQL composed deterministic", "SQL scratch deterministic")

#: The finetune experiment's network, optimiser and replay (two gradient steps every 4 env steps).
COMMON_KWARGS: dict[str, Any] = dict(finetune_config.COMMON_KWARGS, learning_starts=256)
NET_ARCH = finetune_config.NET_ARCH
#: One fixed temperature for every SQL model: the composition needs equal temperatures.
ENT_COEF = 0.2
#: DDPG as in the robustness experiment: ``RegularisedDDPG`` with one gradient step per env step
#: and Ornstein-Uhlenbeck exploration (its settings under which DDPG learns a point-mass goal).
DDPG_KWARGS: dict[str, Any] = dict(train_freq=1, gradient_steps=1, actor_lr_ratio=0.1, preactivation_reg=1e-3)
DDPG_ACTION_NOISE: dict[str, Any] = dict(kind="ornstein_uhlenbeck", sigma=0.3, theta=0.15, dt=1.0)
#: gradient steps of the composed model's fresh SVGD sampler on the frozen composed critic
#: (the library default; on the pilot seed 1, 500 steps left the sampled policy at 0.45 success, 2000 at 0.9)
POLICY_STEPS = 2000
#: non-inferiority margin of the composed policy's success against the scratch policy
MARGIN = 0.15
#: task B's constituents are trained with ``seed + B_SEED_OFFSET`` (A's and the scratch model with ``seed``)
B_SEED_OFFSET = 1_000_000
#: a constituent policy solves its task when its success rate is at least this
SOLVED = 0.5
#: The evaluation episodes of seed ``s`` are seeded from ``EVAL_SEED_STRIDE * (s + 1)`` (as in the
#: robustness experiment): apart from the training seeds and from the other seeds' evaluations.
EVAL_SEED_STRIDE = 10_000


@dataclasses.dataclass(frozen=True)
class Budget:
    """Environment steps per constituent (scratch gets twice that), seeds, evaluation episodes per
    arm, and the first seed (a run's ``seed`` argument is added to it)."""

    train_steps: int
    n_seeds: int
    n_eval_episodes: int
    first_seed: int = 0
    policy_steps: int = POLICY_STEPS


#: The pre-registered run: seeds 2000-2009, never used before by this experiment's pilot (seeds 0-1).
PREREGISTERED_FIRST_SEED = 2000
PREREGISTERED_N_SEEDS = 10

BUDGETS = {
    "default": Budget(train_steps=6_000, n_seeds=PREREGISTERED_N_SEEDS, n_eval_episodes=20, first_seed=PREREGISTERED_FIRST_SEED),
    "quick": Budget(train_steps=300, n_seeds=2, n_eval_episodes=2, policy_steps=20),
}


def settings() -> dict[str, Any]:
    """Every setting above, saved with each run: a run made with other settings is not reused."""
    return dict(
        envs=[ENV_A, ENV_B, ENV_AB], common_kwargs=COMMON_KWARGS, net_arch=NET_ARCH, ent_coef=ENT_COEF, ddpg_kwargs=DDPG_KWARGS,
        ddpg_action_noise=DDPG_ACTION_NOISE,
    )  # fmt: skip
