"""Max-entropy pretraining then finetuning vs DDPG (Haarnoja et al. 2017, section 5.3).

The lecture's last example: a policy pretrained with soft optimality keeps high entropy, covers
more states, and therefore finetunes faster than DDPG, whose pretraining commits to one arbitrary
direction. This module runs the comparison on the point-mass analogue
(``PointPretrain-v0`` -> ``PointHallway-v0``, ``PointUMaze-v0``) or on any env pair sharing
observation and action spaces::

    python -m sb3_softopt.experiments.finetune --out runs/finetune            # default budget
    python -m sb3_softopt.experiments.finetune --out /tmp/ft --quick          # smoke test (< 2 min)
    python -m sb3_softopt.experiments.finetune --out runs/mine --env-module my_pkg \\
        --pretrain-env MyPretrain-v0 --finetune-env MyTaskA-v0:50 --finetune-env MyTaskB-v0:0.9

Arms ``<algo>_<pretrained|scratch>``, same seeds, same hyperparameters apart from what is named
(default: the first six, 10 seeds):

* ``sql_pretrained``: :class:`sb3_softopt.SQL` (soft Q-learning, the paper's algorithm) on the
  pretrain env at temperature 1, then finetuned with the temperature annealed log-linearly
  (``loglin_0.1_0.001``, as in the paper); ``sql_scratch``: the same finetuning from a fresh network;
* ``sac_pretrained``, ``sac_scratch``: the same two for SAC (same temperatures);
* ``ddpg_pretrained``, ``ddpg_scratch``: DDPG with Ornstein-Uhlenbeck exploration noise (theta
  0.15, sigma 0.1, the paper's baseline), pretrained then finetuned, or from scratch;
* ``ddpg_gauss_pretrained``, ``ddpg_gauss_scratch`` (only with ``--arms``): DDPG with Gaussian
  noise (std 0.1), this module's first baseline.

Outputs in ``--out``: ``pretrain/<algo>_seed<k>.zip`` (+ ``.json`` with the coverage of the
pretrained policy, including the fraction of its exploratory episodes that reach each finetune
task's goal), ``curves/<task>/<arm>_seed<k>.csv`` (deterministic evaluation return every
``eval_freq`` steps, step 0 = before finetuning; its CPU seconds in ``.cpu`` beside it),
``curves.csv`` (all of them), ``finetune_curves.png`` (mean +- 95% CI per arm and task),
``coverage.png`` (pretrained trajectories), ``summary.md`` / ``summary.json`` (the result).
Resumable: a run whose CSV (or pretraining json) exists and is complete for this configuration is
not rerun. Every file is written atomically and checked when reused, so a run killed at any moment
(even SIGKILL) resumes to the same results as an uninterrupted one; a file that fails the check is
named on stderr and its run redone. Workers exit when the parent dies.

Statistics (:mod:`sb3_softopt.experiments.infra.stats`, scipy only): per arm and task, the steps to threshold
and the final return, IQM (interquartile mean, ``scipy.stats.trim_mean(x, 0.25)``, as rliable's
``aggregate_iqm``) with percentile-bootstrap 95% CIs over seeds (``scipy.stats.bootstrap``, 5000
resamples); per task, the steps ratio of each pretrained soft arm to each DDPG arm (IQM over IQM,
the two arms' seeds resampled independently); per arm, the aggregate over the tasks (IQM of all
runs, stratified bootstrap: each task's seeds resampled on their own, as rliable's).
``rliable.library`` is not used: rliable 1.2 needs ``arch<8``, which fails to import with pandas 3,
and with arch 8 it imports but its interval estimates fail (arch 8 no longer takes ``random_state``).
A run that never reaches the threshold counts as ``finetune_steps`` (censored; the table says how
many runs reached it).

Pre-registered U-maze replication (issue #32; protocol, statistic and rule fixed before the run,
:mod:`.preregistered`)::

    python -m sb3_softopt.lecture finetune --out docs/lecture/finetune --umaze-replication --workers 2

Modules: :mod:`.config` (arms, budgets, hyperparameters), :mod:`.preregistered` (the replication), :mod:`.jobs` (what the worker processes
run), :mod:`.coverage` (the pretrained policies' exploration), :mod:`.runner` (scheduling,
resumption), :mod:`.summary`, :mod:`.plots`, :mod:`.cli`, and :mod:`.claim` (the lecture claim,
the result type and the verdict rule).
"""

from sb3_softopt.experiments.finetune.claim import CLAIM, TARGET_RATIO, FinetuneResult, judge, ratio_met
from sb3_softopt.experiments.finetune.cli import add_arguments, main, print_summary
from sb3_softopt.experiments.finetune.config import (
    ACTION_NOISE,
    ARMS,
    BUDGETS,
    COMMON_KWARGS,
    DDPG_NOISE_STD,
    DDPG_OU_NOISE,
    DEFAULT_ARMS,
    DEFAULT_PRETRAIN_ENV,
    DEFAULT_SEEDS,
    DEFAULT_TASKS,
    NET_ARCH,
    SAC_FINETUNE_ENT_COEF,
    SAC_PRETRAIN_ENT_COEF,
    SQL_FINETUNE_ENT_COEF,
    SQL_PRETRAIN_ENT_COEF,
    Budget,
    arm_algo,
)
from sb3_softopt.experiments.finetune.coverage import goal_criterion, goal_reach, pretrained_coverage
from sb3_softopt.experiments.finetune.jobs import _check_curve, _check_pretrain, _curve_path
from sb3_softopt.experiments.finetune.preregistered import UMAZE_PROTOCOL, judge_umaze, replication_stats, run_replication
from sb3_softopt.experiments.finetune.runner import run
from sb3_softopt.experiments.infra.stats import bootstrap_ci, iqm, ratio_ci, stratified_bootstrap_ci
from sb3_softopt.experiments.finetune.summary import steps_to_threshold, summarize

__all__ = [
    "ACTION_NOISE",
    "ARMS",
    "BUDGETS",
    "CLAIM",
    "COMMON_KWARGS",
    "DDPG_NOISE_STD",
    "DDPG_OU_NOISE",
    "DEFAULT_ARMS",
    "DEFAULT_PRETRAIN_ENV",
    "DEFAULT_SEEDS",
    "DEFAULT_TASKS",
    "NET_ARCH",
    "SAC_FINETUNE_ENT_COEF",
    "SAC_PRETRAIN_ENT_COEF",
    "SQL_FINETUNE_ENT_COEF",
    "SQL_PRETRAIN_ENT_COEF",
    "TARGET_RATIO",
    "UMAZE_PROTOCOL",
    "Budget",
    "FinetuneResult",
    "_check_curve",
    "_check_pretrain",
    "_curve_path",
    "add_arguments",
    "arm_algo",
    "bootstrap_ci",
    "goal_criterion",
    "goal_reach",
    "iqm",
    "judge",
    "judge_umaze",
    "main",
    "pretrained_coverage",
    "print_summary",
    "ratio_ci",
    "ratio_met",
    "replication_stats",
    "run",
    "run_replication",
    "steps_to_threshold",
    "stratified_bootstrap_ci",
    "summarize",
]  # fmt: skip
