"""Scheduling the pretrain and finetune jobs over seeds (parallel, resumable)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from collections.abc import Sequence
from typing import cast

import numpy as np

from sb3_softopt.experiments.infra.atomic import InvalidResult, is_trusted, load_json
from sb3_softopt.experiments.infra.atomic import atomic_write_text as _atomic_write
from sb3_softopt.experiments.infra.executors import BACKENDS, make_executor
from sb3_softopt.experiments.finetune.claim import FinetuneResult
from sb3_softopt.experiments.finetune.config import (
    ACTION_NOISE,
    ARMS,
    BUDGETS,
    COMMON_KWARGS,
    DEFAULT_ARMS,
    DEFAULT_PRETRAIN_ENV,
    DEFAULT_SEEDS,
    DEFAULT_TASKS,
    GOAL_REACH_SEED_OFFSET,
    NET_ARCH,
    QUICK_SEEDS,
    SAC_FINETUNE_ENT_COEF,
    SAC_PRETRAIN_ENT_COEF,
    SQL_FINETUNE_ENT_COEF,
    SQL_PRETRAIN_ENT_COEF,
    Budget,
    arm_algo,
    is_pretrained,
)
from sb3_softopt.experiments.finetune.jobs import _check_curve, _check_pretrain, _curve_path, _finetune_job, _pretrain_job, _worker_init
from sb3_softopt.experiments.finetune.summary import summarize


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
def _check_env_pair(pretrain_env: str, tasks: dict[str, float]) -> None:
    import gymnasium as gym

    ref = gym.make(pretrain_env)
    for task in tasks:
        e = gym.make(task)
        if e.observation_space != ref.observation_space or e.action_space != ref.action_space:
            raise ValueError(
                f"finetune env {task!r} must share the observation and action spaces of {pretrain_env!r} "
                f"(got {e.observation_space}/{e.action_space} vs {ref.observation_space}/{ref.action_space})"
            )
        e.close()
    if not isinstance(ref.action_space, gym.spaces.Box):
        raise ValueError(f"pretrain env {pretrain_env!r} needs a Box action space (SAC/DDPG), got {ref.action_space}")
    ref.close()


def run(  # noqa: C901  one branch per phase of the resumable schedule
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    seeds: Sequence[int] | int | None = None,
    budget: str | Budget = "default",
    pretrain_env: str = DEFAULT_PRETRAIN_ENV,
    tasks: dict[str, float] | None = None,
    arms: Sequence[str] = DEFAULT_ARMS,
    workers: int | None = None,
    env_modules: Sequence[str] = (),
    progress: bool = True,
    backend: str = "local",
    dask_address: str | None = None,
    umaze_replication: bool = False,
) -> FinetuneResult:
    """Run (or resume) the pretrain/finetune comparison and write its outputs into ``out_dir``.

    :param out_dir: output folder (created; finished runs in it are checked and reused, not rerun).
    :param quick: smoke-test budget (``BUDGETS["quick"]``, 2 seeds by default).
    :param seed: the first seed when ``seeds`` is a count.
    :param seeds: list of seeds (used as given), or a count ``n`` for seeds ``seed .. seed + n - 1``
        (default 10; 2 if quick).
    :param budget: a key of :data:`BUDGETS` or a :class:`Budget` (ignored if ``quick``).
    :param pretrain_env: env id of the pretraining task.
    :param tasks: ``{finetune env id: success threshold on the evaluation return}``.
    :param arms: subset of :data:`ARMS` (default :data:`DEFAULT_ARMS`).
    :param workers: parallel processes (default ``min(2, cpu_count)``).
    :param env_modules: modules to import (in every worker) to register custom env ids.
    :param progress: show a tqdm progress bar.
    :param backend: ``"local"`` (a process pool, the default) or ``"dask"``: the same jobs on Dask
        distributed (:func:`sb3_softopt.experiments.infra.executors.make_executor`; same results).
    :param dask_address: Dask scheduler address (default: a local cluster of ``workers`` processes).
    :param umaze_replication: then also run (or resume) the pre-registered U-maze replication
        (:mod:`~sb3_softopt.experiments.finetune.preregistered`) into ``out_dir/umaze_preregistered``
        with the same ``workers`` and ``backend`` (its smoke-test version if ``quick``), and add it
        to the result as ``umaze_replication``.
    :returns: the summary dict also written to ``summary.json``: per task and arm the
        ``steps_to_threshold`` and ``final_return`` (per seed, IQM, 95% CI, n reached) and the
        steps ratios of the pretrained soft arms to the DDPG arms, their aggregate over the tasks,
        the pretrained coverage per algorithm, the budget, and the wall time.
    """
    t_start = time.perf_counter()
    for mod in env_modules:
        importlib.import_module(mod)
    import sb3_softopt  # noqa: F401

    if quick:
        bud = BUDGETS["quick"]
    elif isinstance(budget, Budget):
        bud = budget
    elif budget in BUDGETS:
        bud = BUDGETS[budget]
    else:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)} or a Budget, got {budget!r}")
    if seeds is None:
        seeds = QUICK_SEEDS if quick else DEFAULT_SEEDS
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        seeds = list(range(int(seed), int(seed) + int(seeds)))
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct ints, got {seeds!r}")
    tasks = dict(DEFAULT_TASKS if tasks is None else tasks)
    if not tasks:
        raise ValueError("tasks must name at least one finetune env")
    bad = [a for a in arms if a not in ARMS]
    if bad or not arms:
        raise ValueError(f"arms must be a non-empty subset of {ARMS}, got {list(arms)!r}")
    if workers is None:
        workers = max(1, min(2, os.cpu_count() or 1))
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _check_env_pair(pretrain_env, tasks)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "pretrain_env": pretrain_env,
        "tasks": tasks,
        "budget": dataclasses.asdict(bud),
        "common_kwargs": COMMON_KWARGS,
        "net_arch": NET_ARCH,
        "sac_pretrain_ent_coef": SAC_PRETRAIN_ENT_COEF,
        "sac_finetune_ent_coef": SAC_FINETUNE_ENT_COEF,
        "ddpg_action_noise": ACTION_NOISE,
        "goal_reach_seed_offset": GOAL_REACH_SEED_OFFSET,
        "sql_pretrain_ent_coef": SQL_PRETRAIN_ENT_COEF,
        "sql_finetune_ent_coef": SQL_FINETUNE_ENT_COEF,
    }
    cfg_path = out / "config.json"
    if cfg_path.exists():
        try:
            old = load_json(cfg_path)
        except InvalidResult as exc:
            raise ValueError(f"{exc}: the configuration of the runs in {out} is unknown; use another --out") from None
        if old != json.loads(json.dumps(config)):
            raise ValueError(f"{out} holds runs made with another configuration ({cfg_path}); use another --out")
    else:
        _atomic_write(cfg_path, json.dumps(config, indent=1))

    algos_needed = sorted({arm_algo(a) for a in arms if is_pretrained(a)})
    # Validated, not just present: a file planted or garbled since is named and its run redone.
    ft_all = [(arm, task, s) for task in tasks for arm in arms for s in seeds]
    ft_todo = [j for j in ft_all if not is_trusted(_check_curve, _curve_path(out, j[1], j[0], j[2]), bud, who="finetune")]
    to_load = {(arm_algo(arm), s) for arm, _, s in ft_todo if is_pretrained(arm)}
    pre_todo = [
        (a, s)
        for a in algos_needed
        for s in seeds
        if not is_trusted(_check_pretrain, out, a, s, pretrain_env, bud, (a, s) in to_load, tasks, who="finetune")
    ]
    n_jobs = len(pre_todo) + len(ft_todo)
    ran = {"pretrain": len(pre_todo), "finetune": len(ft_todo)}

    if n_jobs:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_jobs, desc="finetune experiment", unit="run", disable=not progress)
        # fork: workers start in milliseconds and need no ``__main__`` guard in user scripts; the
        # parent has run no torch operation, so no thread pool is inherited half-initialised.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        # a Dask worker's parent is its nanny, not this process: it must not watch our pid
        init_args = (tuple(env_modules), os.getpid() if backend == "local" else None)
        executor = make_executor(backend, workers, dask_address, mp_context=ctx, initializer=_worker_init, initargs=init_args)
        with executor as pool:
            # Seed-major scheduling with at most `workers` runs in flight: every arm of seed 0
            # finishes before seed 1 starts, so an interrupted run leaves complete seeds behind
            # (and resuming with fewer seeds gives a usable summary).
            pre_pending = set(pre_todo)
            jobs = [("pre", a, s) for a, s in pre_todo] + [("ft", arm, task, s) for arm, task, s in ft_todo]
            jobs.sort(key=lambda j: (j[-1], j[0] == "ft"))

            def ready(job) -> bool:
                return job[0] == "pre" or not is_pretrained(job[1]) or (arm_algo(job[1]), job[3]) not in pre_pending

            def submit(job):
                if job[0] == "pre":
                    return pool.submit(_pretrain_job, job[1], job[2], pretrain_env, tasks, bud, str(out))
                return pool.submit(_finetune_job, job[1], job[2], job[3], bud, str(out))

            pending: dict = {}
            while jobs or pending:
                while jobs and len(pending) < workers:
                    nxt = next((j for j in jobs if ready(j)), None)
                    if nxt is None:
                        break
                    jobs.remove(nxt)
                    pending[submit(nxt)] = nxt
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    tag = pending.pop(fut)
                    res = fut.result()  # re-raises a worker's error
                    bar.set_postfix_str(" ".join(str(t) for t in tag[1:]) + f" {res['wall_s']:.0f}s")
                    bar.update(1)
                    if tag[0] == "pre":
                        pre_pending.discard((tag[1], tag[2]))
        bar.close()

    summary = summarize(out, tasks, arms, seeds, bud, algos_needed)
    summary["ran"] = ran
    summary["wall_s"] = time.perf_counter() - t_start
    _atomic_write(out / "summary.json", json.dumps(summary, indent=1))
    if umaze_replication:
        from sb3_softopt.experiments.finetune.preregistered import REPLICATION_DIR, run_replication

        summary["umaze_replication"] = run_replication(
            out / REPLICATION_DIR, quick=quick, workers=workers, backend=backend, dask_address=dask_address, progress=progress
        )
    # summarize() builds every key of the result but the two set here (its dict is not a TypedDict).
    return cast(FinetuneResult, summary)
