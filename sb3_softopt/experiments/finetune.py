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
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sb3_softopt.common.atomic import InvalidResult, atomic_path, check_zip, exit_with_parent, is_trusted, load_curve, load_json
from sb3_softopt.common.atomic import atomic_write_text as _atomic_write

__all__ = ["ARMS", "Budget", "BUDGETS", "DEFAULT_TASKS", "run", "main", "pretrained_coverage", "iqm", "bootstrap_ci"]

ARMS = ("sac_pretrained", "ddpg_pretrained", "ddpg_scratch", "sac_scratch", "sql_pretrained", "sql_scratch")
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
    # many ``train()`` calls; compute is the bottleneck on a 2-core machine.
    train_freq=4,
    gradient_steps=2,
)
NET_ARCH = [64, 64]
#: Pretraining temperature: measured on PointPretrain-v0 (5k steps, seed 0), alpha = 0.1 let the
#: Gaussian policy commit to one heading like DDPG (heading spread 0.00), 0.5 -> 0.27, 1.0 -> 0.44.
SAC_PRETRAIN_ENT_COEF = 1.0
#: Finetuning: annealed log-linearly 0.1 -> 0.001 (the paper's anneal), i.e. starting at a tenth
#: of the per-step reward scale (<= 1 in both finetune envs). Starting at the pretraining alpha = 1
#: (``loglin_1.0_0.01``) made every SAC-pretrained U-maze run collapse to standing still (the
#: entropy bonus is as large as the whole goal bump; 0/3 seeds reached the threshold); with 0.1,
#: 1/5 does and the hallway gets faster (see docs/finetune.md).
SAC_FINETUNE_ENT_COEF = "loglin_0.1_0.001"
DDPG_NOISE_STD = 0.1
#: SQL's temperatures: SAC's, so that the two max-ent arms differ only in the policy class.
SQL_PRETRAIN_ENT_COEF = SAC_PRETRAIN_ENT_COEF
SQL_FINETUNE_ENT_COEF = SAC_FINETUNE_ENT_COEF


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------
def iqm(x: Sequence[float]) -> float:
    """Interquartile mean (25% trimmed mean), rliable's ``aggregate_iqm`` for one task."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(x, dtype=float), proportiontocut=0.25))


def bootstrap_ci(x: Sequence[float], stat=iqm, n_boot: int = 5000, conf: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over seeds (resampled with replacement)."""
    from scipy import stats
    from scipy.stats import trim_mean

    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        return (math.nan, math.nan)
    if arr.size < 2 or np.ptp(arr) == 0:  # every resample is the sample itself
        value = float(stat(arr))
        return (value, value)
    if stat is iqm:
        statistic = lambda s, axis: trim_mean(s, 0.25, axis=axis)  # noqa: E731  (vectorised IQM)
    else:
        statistic = lambda s, axis: np.apply_along_axis(stat, axis, s)  # noqa: E731
    res = stats.bootstrap(
        (arr,), statistic, n_resamples=n_boot, confidence_level=conf, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of a t-based 95% CI along axis 0 (for the curves)."""
    import warnings

    from scipy import stats

    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return mean, np.zeros_like(mean)
    with warnings.catch_warnings():  # identical values in a column: scipy warns, the half-width is 0
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(values, 0.0, axis=0).confidence_interval(0.95)
    half = np.where(np.ptp(values, axis=0) == 0, 0.0, (ci.high - ci.low) / 2)
    return mean, half


# --------------------------------------------------------------------------------------------
# Workers (run in subprocesses)
# --------------------------------------------------------------------------------------------
def _worker_init(env_modules: Sequence[str], parent_pid: int) -> None:
    # A SIGKILLed parent cannot shut its pool down: without this, its workers would finish their
    # jobs (writing results behind the resumed run's back) and then wait forever.
    exit_with_parent(parent_pid)
    import torch

    torch.set_num_threads(1)
    import sb3_softopt  # noqa: F401  registers the point-mass envs

    for mod in env_modules:
        importlib.import_module(mod)


def _make_env(env_id: str, seed: int):
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(gym.make(env_id))
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def _sac_class():
    """Our SAC if it accepts schedule strings for ``ent_coef``, else SB3's (with a callback)."""
    try:
        from sb3_softopt import SAC as OurSAC  # type: ignore[attr-defined]

        return OurSAC, True
    except ImportError:
        from stable_baselines3 import SAC

        return SAC, False


class _Evaluator:
    """Deterministic evaluation every ``eval_freq`` steps, called from an SB3 callback."""

    def __init__(self, env_id: str, seed: int, n_episodes: int):
        self.env = _make_env(env_id, seed + 10_000)
        self.seed = seed + 10_000
        self.n_episodes = n_episodes

    def __call__(self, model) -> float:
        returns = []
        for ep in range(self.n_episodes):
            obs, _ = self.env.reset(seed=self.seed + ep)
            done, total = False, 0.0
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, r, term, trunc, _ = self.env.step(action)
                total += float(r)
                done = term or trunc
            returns.append(total)
        return float(np.mean(returns))


def _callbacks(evaluator: _Evaluator, eval_freq: int, rows: list, ent_schedule=None):
    from stable_baselines3.common.callbacks import BaseCallback

    class EvalAndTemperature(BaseCallback):
        def _on_training_start(self) -> None:
            self._set_temperature()

        def _set_temperature(self) -> None:
            if ent_schedule is not None:
                import torch as th

                value = float(ent_schedule(self.model._current_progress_remaining))
                self.model.ent_coef_tensor = th.tensor(value, device=self.model.device)

        def _on_step(self) -> bool:
            self._set_temperature()
            if self.num_timesteps % eval_freq == 0:
                rows.append((self.num_timesteps, evaluator(self.model)))
            return True

    return EvalAndTemperature()


def _new_model(algo: str, env, seed: int, budget: Budget, finetune: bool):
    from stable_baselines3 import DDPG
    from stable_baselines3.common.noise import NormalActionNoise

    kwargs = dict(COMMON_KWARGS, learning_starts=budget.learning_starts, seed=seed, verbose=0, device="cpu")
    if algo == "sql":
        from sb3_softopt import SQL

        ent = SQL_FINETUNE_ENT_COEF if finetune else SQL_PRETRAIN_ENT_COEF
        return SQL("MlpPolicy", env, ent_coef=ent, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs), None
    if algo == "ddpg":
        n = env.action_space.shape[0]
        noise = NormalActionNoise(np.zeros(n), DDPG_NOISE_STD * np.ones(n))
        return DDPG("MlpPolicy", env, action_noise=noise, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs), None
    cls, native = _sac_class()
    ent = SAC_FINETUNE_ENT_COEF if finetune else SAC_PRETRAIN_ENT_COEF
    if native or not isinstance(ent, str):
        return cls("MlpPolicy", env, ent_coef=ent, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs), None
    from sb3_softopt.common.schedules import make_schedule

    sched = make_schedule(ent, "ent_coef")
    return cls("MlpPolicy", env, ent_coef=sched.initial_value, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs), sched


def _load_model(algo: str, path: Path, env, seed: int, budget: Budget):
    """Load a pretrained model as is, on the new env, with a fresh replay buffer."""
    from stable_baselines3 import DDPG

    from sb3_softopt.common.schedules import make_schedule

    custom = dict(learning_starts=budget.learning_starts)
    if algo == "sql":
        from sb3_softopt import SQL

        model = SQL.load(path, env=env, device="cpu", custom_objects=dict(custom, ent_coef=SQL_FINETUNE_ENT_COEF))
        model.set_random_seed(seed)
        return model, None
    if algo == "ddpg":
        model = DDPG.load(path, env=env, device="cpu", custom_objects=custom)
        model.set_random_seed(seed)
        return model, None
    cls, native = _sac_class()
    if native:
        custom["ent_coef"] = SAC_FINETUNE_ENT_COEF
        model = cls.load(path, env=env, device="cpu", custom_objects=custom)
        model.set_random_seed(seed)
        return model, None
    model = cls.load(path, env=env, device="cpu", custom_objects=custom)
    model.set_random_seed(seed)
    return model, make_schedule(SAC_FINETUNE_ENT_COEF, "ent_coef")


def pretrained_coverage(model, env_id: str, n_episodes: int, seed: int, stochastic: bool, cell: float = 5.0) -> dict:
    """Coverage of a pretrained policy: entropy of its visited-position histogram and heading.

    Rolls out ``n_episodes`` episodes on ``env_id``; ``stochastic=True`` samples the policy as
    it explores (SAC: its own distribution; DDPG: ``predict`` + its Gaussian action noise).

    :returns: ``position_entropy`` (nats, histogram on ``cell``-sized squares of all visited
        positions), ``heading_spread`` (circular variance ``1 - |mean unit vector|`` of the
        episodes' net displacement directions: 0 = always the same direction, ~1 = spread
        evenly; bin-free, unlike a heading histogram), ``mean_speed`` and the trajectories
        (list of ``(T, 2)`` lists).
    """
    from scipy.stats import entropy as scipy_entropy

    env = _make_env(env_id, seed + 20_000)
    rng = np.random.default_rng(seed)
    noise_std = DDPG_NOISE_STD if getattr(model, "action_noise", None) is not None else 0.0
    trajs, headings, speeds = [], [], []
    for ep in range(n_episodes):
        obs, _ = env.reset(seed=seed + 20_000 + ep)
        pts = [obs[:2].copy()]
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=not stochastic or noise_std > 0)
            if stochastic and noise_std > 0:
                action = np.clip(action + rng.normal(0, noise_std, size=action.shape), -1, 1)
            obs, _, term, trunc, _ = env.step(action)
            pts.append(obs[:2].copy())
            done = term or trunc
        p = np.asarray(pts, dtype=float)
        trajs.append(p)
        d = p[-1] - p[0]
        headings.append(math.atan2(d[1], d[0]))
        speeds.append(float(np.linalg.norm(np.diff(p, axis=0), axis=1).mean()))
    allp = np.concatenate(trajs)
    _, counts = np.unique(np.floor(allp / cell).astype(np.int64), axis=0, return_counts=True)
    prob = counts / counts.sum()
    h = np.asarray(headings)
    resultant = float(np.hypot(np.cos(h).mean(), np.sin(h).mean()))
    return {
        "position_entropy": float(scipy_entropy(prob)),
        "heading_spread": 1.0 - resultant,
        "mean_speed": float(np.mean(speeds)),
        "trajectories": [t.round(3).tolist() for t in trajs],
    }


def _pretrain_job(algo: str, seed: int, env_id: str, budget: Budget, out: str) -> dict:
    out_dir = Path(out) / "pretrain"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    env = _make_env(env_id, seed)
    model, sched = _new_model(algo, env, seed, budget, finetune=False)
    rows: list = []
    evaluator = _Evaluator(env_id, seed, budget.n_eval_episodes)
    model.learn(budget.pretrain_steps, callback=_callbacks(evaluator, budget.eval_freq, rows, sched))
    with atomic_path(out_dir / f"{algo}_seed{seed}.zip") as tmp:
        model.save(tmp)
    cov = {
        mode: pretrained_coverage(model, env_id, budget.coverage_episodes, seed, stochastic=(mode == "explore"))
        for mode in ("explore", "deterministic")
    }
    info = {
        "algo": algo,
        "class": f"{type(model).__module__}.{type(model).__name__}",
        "seed": seed,
        "env": env_id,
        "steps": budget.pretrain_steps,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "eval": rows,
        "coverage": cov,
    }
    # The json is written last: its presence marks a finished pretraining (resume).
    _atomic_write(out_dir / f"{algo}_seed{seed}.json", json.dumps(info))
    return {"kind": "pretrain", "algo": algo, "seed": seed, "wall_s": info["wall_s"], "cpu_s": info["cpu_s"]}


def _finetune_job(arm: str, task: str, seed: int, budget: Budget, out: str) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    algo = arm.split("_")[0]
    env = _make_env(task, seed)
    if arm.endswith("pretrained"):
        model, sched = _load_model(algo, Path(out) / "pretrain" / f"{algo}_seed{seed}.zip", env, seed, budget)
    else:
        model, sched = _new_model(algo, env, seed, budget, finetune=True)
    evaluator = _Evaluator(task, seed, budget.n_eval_episodes)
    rows = [(0, evaluator(model))]
    model.learn(budget.finetune_steps, callback=_callbacks(evaluator, budget.eval_freq, rows, sched), reset_num_timesteps=True)
    path = _curve_path(out, task, arm, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "step,eval_return\n" + "".join(f"{s},{r:.6g}\n" for s, r in rows)
    cpu = time.process_time() - c0
    # CPU seconds go next to the curve: they estimate the run time on an idle machine.
    _atomic_write(path.with_suffix(".cpu"), f"{cpu:.3f}\n")
    _atomic_write(path, text)
    return {"kind": "finetune", "arm": arm, "task": task, "seed": seed, "wall_s": time.perf_counter() - t0, "cpu_s": cpu}


def _curve_path(out: str | Path, task: str, arm: str, seed: int) -> Path:
    return Path(out) / "curves" / task / f"{arm}_seed{seed}.csv"


def _check_pretrain(out: Path, algo: str, seed: int, env_id: str, bud: Budget, need_model: bool = True) -> None:
    """Raise ``FileNotFoundError`` if this pretraining has not finished, ``InvalidResult`` if its
    files cannot be trusted (they were written atomically, but may come from elsewhere).

    :param need_model: also check the saved model (only a finetuning still to run needs it:
        result folders are often kept or shared without their ``.zip`` files).
    """
    path = out / "pretrain" / f"{algo}_seed{seed}.json"
    info = load_json(path, ("eval", "coverage", "cpu_s"), dict(algo=algo, seed=seed, env=env_id, steps=bud.pretrain_steps))
    if not all(isinstance(info["coverage"].get(m), dict) for m in ("explore", "deterministic")):
        raise InvalidResult(f"{path} lacks the coverage of the pretrained policy")
    if need_model:
        check_zip(path.with_suffix(".zip"))


def _check_curve(path: Path, bud: Budget) -> None:
    """Raise ``FileNotFoundError`` / ``InvalidResult`` unless ``path`` is a whole finetuning curve."""
    steps = [0, *range(bud.eval_freq, bud.finetune_steps + 1, bud.eval_freq)]
    load_curve(path, ("step", "eval_return"), "step", steps, finite=("eval_return",))


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


def run(
    out_dir: str | Path,
    quick: bool = False,
    seeds: Optional[Sequence[int] | int] = None,
    budget: str | Budget = "default",
    pretrain_env: str = DEFAULT_PRETRAIN_ENV,
    tasks: Optional[dict[str, float]] = None,
    arms: Sequence[str] = ARMS,
    workers: Optional[int] = None,
    env_modules: Sequence[str] = (),
    progress: bool = True,
) -> dict:
    """Run (or resume) the pretrain/finetune comparison and write its outputs into ``out_dir``.

    :param out_dir: output folder (created; finished runs in it are checked and reused, not rerun).
    :param quick: smoke-test budget (``BUDGETS["quick"]``, 2 seeds by default).
    :param seeds: list of seeds, or a count ``n`` for seeds ``0..n-1`` (default 5; 2 if quick).
    :param budget: a key of :data:`BUDGETS` or a :class:`Budget` (ignored if ``quick``).
    :param pretrain_env: env id of the pretraining task.
    :param tasks: ``{finetune env id: success threshold on the evaluation return}``.
    :param arms: subset of :data:`ARMS`.
    :param workers: parallel processes (default ``min(2, cpu_count)``).
    :param env_modules: modules to import (in every worker) to register custom env ids.
    :param progress: show a tqdm progress bar.
    :returns: the summary dict also written to ``summary.json``: per task and arm the
        ``steps_to_threshold`` and ``final_return`` (per seed, IQM, 95% CI, n reached), the
        pretrained coverage per algorithm, the budget, and the wall time.
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
        seeds = 2 if quick else 5
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        seeds = list(range(int(seeds)))
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
        "ddpg_noise_std": DDPG_NOISE_STD,
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

    algos_needed = sorted({a.split("_")[0] for a in arms if a.endswith("pretrained")})
    # Validated, not just present: a file planted or garbled since is named and its run redone.
    ft_all = [(arm, task, s) for task in tasks for arm in arms for s in seeds]
    ft_todo = [j for j in ft_all if not is_trusted(_check_curve, _curve_path(out, j[1], j[0], j[2]), bud, who="finetune")]
    to_load = {(arm.split("_")[0], s) for arm, _, s in ft_todo if arm.endswith("pretrained")}
    pre_todo = [
        (a, s)
        for a in algos_needed
        for s in seeds
        if not is_trusted(_check_pretrain, out, a, s, pretrain_env, bud, (a, s) in to_load, who="finetune")
    ]
    n_jobs = len(pre_todo) + len(ft_todo)
    ran = {"pretrain": len(pre_todo), "finetune": len(ft_todo)}

    if n_jobs:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_jobs, desc="finetune experiment", unit="run", disable=not progress)
        # fork: workers start in milliseconds and need no ``__main__`` guard in user scripts; the
        # parent has run no torch operation, so no thread pool is inherited half-initialised.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(tuple(env_modules), os.getpid())) as pool:
            # Seed-major scheduling with at most `workers` runs in flight: every arm of seed 0
            # finishes before seed 1 starts, so an interrupted run leaves complete seeds behind
            # (and resuming with fewer seeds gives a usable summary).
            pre_pending = set(pre_todo)
            jobs = [("pre", a, s) for a, s in pre_todo] + [("ft", arm, task, s) for arm, task, s in ft_todo]
            jobs.sort(key=lambda j: (j[-1], j[0] == "ft"))

            def ready(job) -> bool:
                return job[0] == "pre" or not job[1].endswith("pretrained") or (job[1].split("_")[0], job[3]) not in pre_pending

            def submit(job):
                if job[0] == "pre":
                    return pool.submit(_pretrain_job, job[1], job[2], pretrain_env, bud, str(out))
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
    return summary


# --------------------------------------------------------------------------------------------
# Summary: table, figures
# --------------------------------------------------------------------------------------------
def _load_curves(out: Path, tasks, arms, seeds):
    import pandas as pd

    frames = []
    for task in tasks:
        for arm in arms:
            for s in seeds:
                df = pd.read_csv(_curve_path(out, task, arm, s))
                df.insert(0, "seed", s)
                df.insert(0, "arm", arm)
                df.insert(0, "task", task)
                frames.append(df)
    return pd.concat(frames, ignore_index=True)


def steps_to_threshold(steps: Sequence[int], returns: Sequence[float], threshold: float) -> Optional[int]:
    """First evaluation step whose return is >= ``threshold`` (``None`` if never)."""
    for s, r in zip(steps, returns):
        if r >= threshold:
            return int(s)
    return None


def summarize(out: Path, tasks: dict[str, float], arms, seeds, bud: Budget, algos) -> dict:
    """Write ``curves.csv``, ``summary.md``, ``finetune_curves.png`` and ``coverage.png``."""
    df = _load_curves(out, tasks, arms, seeds)
    with atomic_path(out / "curves.csv") as tmp:
        df.to_csv(tmp, index=False)
    result: dict[str, Any] = {"tasks": {}, "coverage": {}, "budget": dataclasses.asdict(bud), "seeds": list(seeds)}
    for task, thr in tasks.items():
        result["tasks"][task] = {"threshold": thr, "arms": {}}
        for arm in arms:
            sts, finals = [], []
            for s in seeds:
                d = df[(df.task == task) & (df.arm == arm) & (df.seed == s)].sort_values("step")
                sts.append(steps_to_threshold(d.step.tolist(), d.eval_return.tolist(), thr))
                # Final return: mean of the last 3 evaluations (one evaluation is noisy).
                finals.append(float(d.eval_return.tail(3).mean()))
            censored = [bud.finetune_steps if v is None else v for v in sts]
            result["tasks"][task]["arms"][arm] = {
                "steps_to_threshold": sts,
                "n_reached": sum(v is not None for v in sts),
                "steps_iqm": iqm(censored),
                "steps_ci": bootstrap_ci(censored),
                "final_return": finals,
                "final_iqm": iqm(finals),
                "final_ci": bootstrap_ci(finals),
            }
    for algo in algos:
        covs = [json.loads((out / "pretrain" / f"{algo}_seed{s}.json").read_text()) for s in seeds]
        result["coverage"][algo] = {
            mode: {
                k: [c["coverage"][mode][k] for c in covs] for k in ("position_entropy", "heading_spread", "mean_speed")
            }
            for mode in ("explore", "deterministic")
        }
        result["coverage"][algo]["pretrain_final_eval"] = [c["eval"][-1][1] if c["eval"] else math.nan for c in covs]
    cpu = 0.0
    for f in list((out / "pretrain").glob("*.json")) if (out / "pretrain").exists() else []:
        cpu += float(json.loads(f.read_text()).get("cpu_s", 0.0))
    for task in tasks:
        for arm in arms:
            for s in seeds:
                try:  # informative only: a missing or unreadable one counts 0
                    cpu += float(_curve_path(out, task, arm, s).with_suffix(".cpu").read_text())
                except (OSError, ValueError):
                    pass
    # Sum of the runs' process CPU time: what the experiment costs on an idle machine, whatever
    # the load was while it ran (divide by the number of cores used in parallel).
    result["cpu_s"] = cpu
    _write_table(out, result, tasks, arms, seeds, bud)
    _plot_curves(out, df, tasks, arms)
    if algos:
        _plot_coverage(out, algos, seeds)
    return result


def _fmt_ci(v: float, ci: Sequence[float], digits: int = 0) -> str:
    return f"{v:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _write_table(out: Path, result: dict, tasks, arms, seeds, bud: Budget) -> None:
    lines = [
        f"Seeds: {list(seeds)}; pretrain {bud.pretrain_steps} steps, finetune {bud.finetune_steps} steps, "
        f"deterministic evaluation ({bud.n_eval_episodes} episodes) every {bud.eval_freq} steps.",
        "Steps to threshold: IQM [bootstrap 95% CI] over seeds; a run that never reached it counts as the budget.",
        f"CPU time of all runs: {result['cpu_s']:.0f} s (about {result['cpu_s'] / 2:.0f} s of wall time on 2 idle cores).",
        "",
        "| task (threshold) | arm | steps to threshold (IQM [95% CI]) | reached | final return (IQM [95% CI]) |",
        "|---|---|---|---|---|",
    ]
    for task, thr in tasks.items():
        for arm in arms:
            r = result["tasks"][task]["arms"][arm]
            lines.append(
                f"| {task} ({thr:g}) | {arm} | {_fmt_ci(r['steps_iqm'], r['steps_ci'])} | "
                f"{r['n_reached']}/{len(seeds)} | {_fmt_ci(r['final_iqm'], r['final_ci'], 1)} |"
            )
    if result["coverage"]:
        lines += [
            "",
            "Pretrained policy coverage (mean over seeds; 'explore' = as it acts during finetuning: SAC samples, "
            "DDPG adds its Gaussian noise):",
            "",
            "| algo | position entropy explore / deterministic (nats) | heading spread explore / deterministic (0 = one direction, 1 = all) | pretrain eval return |",
            "|---|---|---|---|",
        ]
        for algo, c in result["coverage"].items():
            lines.append(
                f"| {algo} | {np.mean(c['explore']['position_entropy']):.2f} / {np.mean(c['deterministic']['position_entropy']):.2f} | "
                f"{np.mean(c['explore']['heading_spread']):.2f} / {np.mean(c['deterministic']['heading_spread']):.2f} | "
                f"{np.nanmean(c['pretrain_final_eval']):.1f} |"
            )
    _atomic_write(out / "summary.md", "\n".join(lines) + "\n")


_COLORS = {
    "sac_pretrained": "tab:blue",
    "ddpg_pretrained": "tab:red",
    "ddpg_scratch": "tab:orange",
    "sac_scratch": "tab:cyan",
    "sql_pretrained": "tab:green",
    "sql_scratch": "tab:olive",
}


def _plot_curves(out: Path, df, tasks: dict[str, float], arms) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * len(tasks), 4))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, (task, thr) in zip(axes[0], tasks.items()):
        for arm in arms:
            d = df[(df.task == task) & (df.arm == arm)]
            piv = d.pivot_table(index="seed", columns="step", values="eval_return")
            steps = piv.columns.to_numpy()
            mean, half = _mean_ci(piv.to_numpy())
            ax.plot(steps, mean, label=arm, color=_COLORS.get(arm))
            ax.fill_between(steps, mean - half, mean + half, alpha=0.2, color=_COLORS.get(arm))
        ax.axhline(thr, color="k", ls="--", lw=0.8, label="threshold")
        ax.set_title(task)
        ax.set_xlabel("finetuning env steps")
        ax.set_ylabel("evaluation return")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Finetuning after max-entropy (SAC) vs DDPG pretraining: mean ± 95% CI over seeds")
    fig.tight_layout()
    with atomic_path(out / "finetune_curves.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def _plot_coverage(out: Path, algos, seeds) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    # Shared axes: the point is to compare how much of the plane each pretrained policy covers.
    fig = Figure(figsize=(4.5 * len(algos), 4.8))
    axes = fig.subplots(1, len(algos), squeeze=False, sharex=True, sharey=True)
    for ax, algo in zip(axes[0], algos):
        for s in seeds:
            info = json.loads((out / "pretrain" / f"{algo}_seed{s}.json").read_text())
            for t in info["coverage"]["explore"]["trajectories"]:
                t = np.asarray(t)
                ax.plot(t[:, 0], t[:, 1], lw=0.6, alpha=0.6, color=matplotlib.colormaps["tab10"](s % 10))
        ax.set_title(f"{algo} pretrained: exploratory rollouts\n(colour = seed)", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    fig.tight_layout()
    with atomic_path(out / "coverage.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _parse_task(text: str) -> tuple[str, float]:
    env_id, sep, thr = text.rpartition(":")
    if not sep or not env_id:
        raise argparse.ArgumentTypeError(f"--finetune-env must be ENV_ID:THRESHOLD, got {text!r}")
    try:
        return env_id, float(thr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--finetune-env threshold must be a number, got {thr!r} in {text!r}") from None


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m sb3_softopt.experiments.finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5, quick: 2)")
    parser.add_argument("--budget", default="default", choices=sorted(BUDGETS), help="step budget preset")
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test budget")
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default min(2, cores))")
    parser.add_argument("--pretrain-env", default=DEFAULT_PRETRAIN_ENV)
    parser.add_argument("--finetune-env", action="append", type=_parse_task, default=None, metavar="ENV_ID:THRESHOLD")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--env-module", action="append", default=[], help="module to import to register env ids")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    tasks = dict(args.finetune_env) if args.finetune_env else None
    summary = run(
        args.out,
        quick=args.quick,
        seeds=args.seeds,
        budget=args.budget,
        pretrain_env=args.pretrain_env,
        tasks=tasks,
        arms=args.arms,
        workers=args.workers,
        env_modules=args.env_module,
        progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text())
    print(f"wall time {summary['wall_s']:.0f} s; outputs in {args.out}")
    return summary


if __name__ == "__main__":
    main()
