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

Arms (same seeds, same hyperparameters apart from what is named):

* ``sac_pretrained``:  SAC (fixed temperature) on the pretrain env, then finetuned with the
  temperature annealed log-linearly (``loglin_0.1_0.001``, as in the paper);
* ``ddpg_pretrained``: DDPG on the pretrain env, then finetuned;
* ``ddpg_scratch``, ``sac_scratch``: the same finetuning runs from a fresh network
  (``sac_scratch`` uses the same annealed temperature);
* ``sql_pretrained``, ``sql_scratch``: the same two for :class:`sb3_softopt.SQL`, the deep
  energy-based policy the paper pretrains (same temperatures as SAC).

Outputs in ``--out``: ``pretrain/<algo>_seed<k>.zip`` (+ ``.json`` with the coverage of the
pretrained policy), ``curves/<task>/<arm>_seed<k>.csv`` (deterministic evaluation return every
``eval_freq`` steps, step 0 = before finetuning), ``curves.csv`` (all of them),
``finetune_curves.png`` (mean +- 95% CI per arm and task), ``coverage.png`` (pretrained
trajectories), ``summary.md`` / ``summary.json`` (steps to threshold and final return, IQM with
bootstrap 95% CIs). Resumable: a run whose CSV (or pretraining json) exists and is complete for this
configuration is not rerun. Every file is written atomically and checked when reused, so a run
killed at any moment (even SIGKILL) resumes to the same results as an uninterrupted one; a file
that fails the check is named on stderr and its run redone. Workers exit when the parent dies.

Statistics: IQM (interquartile mean, ``scipy.stats.trim_mean(x, 0.25)``, as rliable's
``aggregate_iqm``) with percentile bootstrap 95% CIs over seeds (``scipy.stats.bootstrap``, 5000
resamples of the seeds). ``rliable.library`` is not used: rliable 1.2 needs ``arch<8``, which fails
to import with pandas 3, and with arch 8 it imports but its interval estimates fail (arch 8 no
longer takes ``random_state``).
A run that never reaches the threshold counts as ``finetune_steps`` (censored; the table says how
many runs reached it).

Modules: :mod:`.config` (arms, budgets, hyperparameters), :mod:`.jobs` (what the worker processes
run), :mod:`.runner` (scheduling, resumption), :mod:`.summary`, :mod:`.plots`, :mod:`.cli`, and
:mod:`.claim` (the lecture claim, the result type and the verdict rule). Statistics come from
:mod:`sb3_softopt.common.stats`.
"""

from sb3_softopt.experiments.finetune.claim import CLAIM, FinetuneResult, judge
from sb3_softopt.experiments.finetune.cli import main
from sb3_softopt.experiments.finetune.config import (
    ARMS,
    BUDGETS,
    COMMON_KWARGS,
    DDPG_NOISE_STD,
    DEFAULT_PRETRAIN_ENV,
    DEFAULT_TASKS,
    NET_ARCH,
    SAC_FINETUNE_ENT_COEF,
    SAC_PRETRAIN_ENT_COEF,
    SQL_FINETUNE_ENT_COEF,
    SQL_PRETRAIN_ENT_COEF,
    Budget,
)
from sb3_softopt.experiments.finetune.jobs import _check_curve, _check_pretrain, _curve_path, pretrained_coverage
from sb3_softopt.experiments.finetune.runner import run
from sb3_softopt.common.stats import bootstrap_ci, iqm
from sb3_softopt.experiments.finetune.summary import steps_to_threshold, summarize

__all__ = [
    "CLAIM", "FinetuneResult", "judge", "ARMS", "BUDGETS", "COMMON_KWARGS", "DDPG_NOISE_STD", "DEFAULT_PRETRAIN_ENV", "DEFAULT_TASKS", "NET_ARCH",
    "SAC_FINETUNE_ENT_COEF", "SAC_PRETRAIN_ENT_COEF", "SQL_FINETUNE_ENT_COEF", "SQL_PRETRAIN_ENT_COEF", "Budget",
    "bootstrap_ci", "iqm", "main", "pretrained_coverage", "run", "steps_to_threshold", "summarize",
    "_check_curve", "_check_pretrain", "_curve_path",
]  # fmt: skip
