"""SQL, this package's SAC, SB3's TD3 and DDPG on MuJoCo (the comparison of Haarnoja et al. 2017, Fig. 3).

On the same seeds: SQL and SAC with this package's ``zoo_configs/`` (SQL: the official
``mujoco_all_sql.py`` settings; SAC: rl-zoo3's), TD3 and DDPG with rl-zoo3's hyperparameters for
the ``-v4`` tasks (its HalfCheetah entry for InvertedDoublePendulum, which it lacks), DDPG with the
paper's Ornstein-Uhlenbeck noise (theta 0.15, sigma 0.1, rllab's dt = 1) in place of rl-zoo3's
Gaussian noise. Every ``--eval-every`` steps each run is evaluated stochastically and
deterministically (``EVAL_EPISODES`` each, on freshly seeded envs and generators, so evaluating
changes nothing in training), and at the end with ``FINAL_EPISODES``. CPU seconds of training
(evaluations excluded) are recorded at each evaluation.

Resumable across sessions: every ``--checkpoint-every`` steps a run saves its model, replay
buffer, generators, env state and history under ``<out>/checkpoints/`` (git-ignored), and a
killed benchmark continues from there (:mod:`sb3_softopt.experiments.infra.run_state`); a finished run writes
``runs/<env>/<algo>_seed<k>.json`` and is skipped when rerun with the same settings.
``--time-limit S`` stops each run at its first checkpoint after S seconds (work in slices).
``--steps N`` is a pilot budget (recorded in the settings: a pilot never counts as a full run);
it also caps ``learning_starts`` at N / 10. The replay buffer is capped at the budget, which changes
nothing (it never fills) but keeps checkpoints small.

The file is ``mujoco_bench.py``, not ``mujoco.py``: Python puts a script's folder first on
``sys.path``, where a ``mujoco.py`` would shadow the MuJoCo package itself.

Usage::

    python benchmarks/mujoco_bench.py --seeds 0 1 2                                      # the full run
    python benchmarks/mujoco_bench.py --envs InvertedDoublePendulum-v5 --seeds 0 --steps 15000 --workers 1
    python benchmarks/mujoco_bench.py --backend dask --dask-address tcp://scheduler:8786  # on a Dask cluster
    python benchmarks/mujoco_bench.py --summary-only

Writes ``summary.json``, ``summary.csv``, ``summary.md`` (final IQM with 95% bootstrap CIs per
algorithm and evaluation mode; where SQL is ahead of, level with or behind DDPG and SAC) and
``curves_<env>.png`` (return against environment steps and against CPU seconds) under ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import yaml
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(importlib.util.find_spec("rl_zoo3").submodule_search_locations[0]) / "hyperparams"  # type: ignore[index]
#: env id -> budget (environment steps)
TASKS = {"InvertedDoublePendulum-v5": 100_000, "Hopper-v5": 100_000, "HalfCheetah-v5": 100_000, "Swimmer-v5": 100_000}
DEFAULT_ENVS = ["InvertedDoublePendulum-v5", "Hopper-v5", "HalfCheetah-v5"]
ALGOS = ("sql", "sac", "td3", "ddpg")
#: rl-zoo3's entry used for each task (no -v5 entries; no MuJoCo InvertedDoublePendulum entry)
ZOO_KEYS = {
    "InvertedDoublePendulum-v5": "HalfCheetah-v4",
    "Hopper-v5": "Hopper-v4",
    "HalfCheetah-v5": "HalfCheetah-v4",
    "Swimmer-v5": "Swimmer-v4",
}
#: the DDPG baseline's exploration in the SQL paper (rllab's OUStrategy: SB3's OU process with dt = 1)
DDPG_NOISE = dict(kind="ornstein_uhlenbeck", sigma=0.1, theta=0.15, dt=1.0)
EVAL_EVERY, CHECKPOINT_EVERY, EVAL_EPISODES, FINAL_EPISODES = 5_000, 10_000, 5, 10
#: published returns at *our* budget: (env, budget) -> [(source, algo, value)]. None is quoted yet:
#: rl-zoo3's benchmark and CleanRL's reports are at 1M steps (docs/mujoco.md), another budget.
ANCHORS: dict[tuple[str, int], list[tuple[str, str, float]]] = {}


def _classes() -> dict[str, Any]:
    from stable_baselines3 import DDPG, TD3

    from sb3_softopt import SAC, SQL

    return {"sql": SQL, "sac": SAC, "td3": TD3, "ddpg": DDPG}


def _entry(algo: str, env_id: str):
    """The zoo entry (``zoo_entry``) of ``algo`` on ``env_id``: ours for SQL/SAC, rl-zoo3's for TD3/DDPG."""
    from sb3_softopt.zoo import zoo_entry

    if algo in ("sql", "sac"):
        return zoo_entry(env_id, algo=algo, path=ROOT / "zoo_configs" / f"{algo}.yml")
    table = yaml.safe_load((ZOO / f"{algo}.yml").read_text())
    with tempfile.TemporaryDirectory() as tmp:  # rl-zoo3's -v4 entry under the -v5 id
        path = Path(tmp) / f"{algo}.yml"
        path.write_text(yaml.safe_dump({env_id: table[ZOO_KEYS[env_id]]}))
        return zoo_entry(env_id, algo=algo, path=path)


def _hyperparams(algo: str, env_id: str, steps: int | None) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(recorded settings of the entry, constructor kwargs, budget) of one algorithm on one task."""
    from sb3_softopt.experiments.infra.noise import make_action_noise

    entry = _entry(algo, env_id)
    budget = steps or TASKS[env_id]
    raw = {k: v for k, v in entry.hyperparams.items() if k not in ("n_timesteps", "policy")}
    kwargs = dict(entry.kwargs)
    if algo == "ddpg":
        raw = {k: v for k, v in raw.items() if k not in ("noise_type", "noise_std")} | {"action_noise": DDPG_NOISE}
        kwargs["action_noise"] = make_action_noise(DDPG_NOISE, entry.make_env().action_space.shape[0])
    kwargs["buffer_size"] = raw["buffer_size"] = min(int(kwargs.get("buffer_size", 1_000_000)), budget)
    if steps is not None:  # a pilot keeps the warm-up's share of a 100k run
        kwargs["learning_starts"] = raw["learning_starts"] = min(int(kwargs.get("learning_starts", 100)), budget // 10)
    return raw, kwargs, budget


def _settings(algo: str, env_id: str, steps: int | None, eval_every: int, eval_episodes: int, final_episodes: int) -> dict[str, Any]:
    raw, _, budget = _hyperparams(algo, env_id, steps)
    settings = dict(hyperparams={k: str(v) for k, v in sorted(raw.items())}, budget=budget, eval_every=eval_every,
                    eval_episodes=eval_episodes, final_episodes=final_episodes)  # fmt: skip
    return json.loads(json.dumps(settings))


def _result_path(out: Path, env_id: str, algo: str, seed: int) -> Path:
    return out / "runs" / env_id / f"{algo}_seed{seed}.json"


def _checkpoint_dir(out: Path, env_id: str, algo: str, seed: int) -> Path:
    return out / "checkpoints" / env_id / f"{algo}_seed{seed}"


def evaluate(model: Any, env_id: str, seed: int, n_episodes: int) -> dict[str, float]:
    """Mean and std of the return, stochastic and deterministic, on envs seeded with ``seed``; the
    global generators are restored afterwards, so that training continues as without evaluation."""
    import torch as th
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    result: dict[str, float] = {}
    np_state = np.random.get_state()
    with th.random.fork_rng(devices=[]):
        for mode, deterministic in (("sto", False), ("det", True)):
            th.manual_seed(seed)
            env = make_vec_env(env_id, n_envs=1, seed=seed)
            mean, std = evaluate_policy(model, env, n_eval_episodes=n_episodes, deterministic=deterministic)
            env.close()
            result[mode], result[f"{mode}_std"] = float(mean), float(std)
    np.random.set_state(np_state)
    return result


def run_one(algo: str, env_id: str, seed: int, out: str, steps: int | None = None, eval_every: int = EVAL_EVERY,
            checkpoint_every: int = CHECKPOINT_EVERY, eval_episodes: int = EVAL_EPISODES, final_episodes: int = FINAL_EPISODES,
            deadline: float | None = None) -> dict[str, Any] | None:  # fmt: skip
    """Train (or continue) one run; write and return its result, or ``None`` when stopped at a
    checkpoint because ``deadline`` (``time.time()``) had passed."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    import sb3_softopt
    from sb3_softopt.experiments.infra.atomic import atomic_write_json
    from sb3_softopt.experiments.infra.run_state import clear_training_state, load_training_state, save_training_state

    torch.set_num_threads(1)
    settings = _settings(algo, env_id, steps, eval_every, eval_episodes, final_episodes)
    ckpt = _checkpoint_dir(Path(out), env_id, algo, seed)
    loaded = load_training_state(_classes()[algo], ckpt) if (ckpt / "latest").is_file() else None
    if loaded is not None and loaded[1].get("settings") == settings:
        model, state = loaded
    else:  # nothing saved, or saved with other settings: start afresh
        clear_training_state(ckpt)
        _, kwargs, _ = _hyperparams(algo, env_id, steps)
        env = make_vec_env(env_id, n_envs=1, seed=seed)
        model = _classes()[algo]("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
        state = dict(settings=settings, curve=[], cpu_s=0.0, wall_s=0.0, sessions=0)
    state["sessions"] += 1
    budget = settings["budget"]

    class Evaluations(BaseCallback):
        """Evaluates every ``eval_every`` steps; keeps the CPU and wall time of training apart."""

        def __init__(self) -> None:
            super().__init__()
            self.cpu0, self.wall0, self.eval_cpu, self.eval_wall = time.process_time(), time.perf_counter(), 0.0, 0.0

        def spent(self) -> tuple[float, float]:
            cpu = time.process_time() - self.cpu0 - self.eval_cpu
            return state["cpu_s"] + cpu, state["wall_s"] + time.perf_counter() - self.wall0 - self.eval_wall

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every == 0 and self.num_timesteps < budget:
                cpu, wall = self.spent()
                c, w = time.process_time(), time.perf_counter()
                scores = evaluate(self.model, env_id, seed + 10_000 + self.num_timesteps, eval_episodes)
                self.eval_cpu, self.eval_wall = self.eval_cpu + time.process_time() - c, self.eval_wall + time.perf_counter() - w
                state["curve"].append(dict(step=self.num_timesteps, cpu_s=cpu, wall_s=wall, **scores))
            return True

    while model.num_timesteps < budget:
        chunk = min(checkpoint_every - model.num_timesteps % checkpoint_every, budget - model.num_timesteps)
        rec = Evaluations()
        model.learn(chunk, callback=rec, reset_num_timesteps=False)
        state["cpu_s"], state["wall_s"] = rec.spent()
        if model.num_timesteps < budget:
            save_training_state(model, ckpt, state)
            if deadline is not None and time.time() > deadline:
                return None
    final = evaluate(model, env_id, seed + 20_000, final_episodes)
    state["curve"].append(dict(step=budget, cpu_s=state["cpu_s"], wall_s=state["wall_s"], **final))
    result = dict(algo=algo, env_id=env_id, seed=seed, settings=settings, steps=budget, final=final, curve=state["curve"],
                  cpu_s=state["cpu_s"], train_wall_s=state["wall_s"], sessions=state["sessions"], torch=torch.__version__,
                  sb3=stable_baselines3.__version__, sb3_softopt=sb3_softopt.__version__)  # fmt: skip
    atomic_write_json(_result_path(Path(out), env_id, algo, seed), result, indent=1)
    clear_training_state(ckpt)
    return result


def _done(out: Path, algo: str, env_id: str, seed: int, settings: dict[str, Any]) -> bool:
    path = _result_path(out, env_id, algo, seed)
    try:
        return path.is_file() and json.loads(path.read_text())["settings"] == settings
    except (ValueError, KeyError):
        return False


def main(argv: list[str] | None = None) -> None:
    from sb3_softopt.experiments.infra.executors import BACKENDS, make_executor

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mujoco")
    parser.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, choices=list(TASKS))
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="pilot budget in place of 100k (recorded in the settings)")
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    parser.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY)
    parser.add_argument("--eval-episodes", type=int, default=EVAL_EPISODES)
    parser.add_argument("--final-episodes", type=int, default=FINAL_EPISODES)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds; each run stops at its next checkpoint after it")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="local process pool (default) or Dask distributed")
    parser.add_argument("--dask-address", default=None, help="Dask scheduler address (default: a local cluster of --workers processes)")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)
    for name in ("steps", "eval_every", "checkpoint_every", "eval_episodes", "final_episodes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summary_only:
        deadline = None if args.time_limit is None else time.time() + args.time_limit
        opts = (args.eval_every, args.eval_episodes, args.final_episodes)
        jobs = [(a, e, s) for e in args.envs for s in args.seeds for a in args.algos
                if not _done(args.out, a, e, s, _settings(a, e, args.steps, *opts))]  # fmt: skip
        with make_executor(args.backend, args.workers, args.dask_address) as pool:
            futures = {pool.submit(run_one, a, e, s, str(args.out), args.steps, args.eval_every, args.checkpoint_every,
                                   args.eval_episodes, args.final_episodes, deadline): (a, e, s) for a, e, s in jobs}  # fmt: skip
            for fut in tqdm(as_completed(futures), total=len(futures), desc="MuJoCo benchmark", unit="run"):
                a, e, s = futures[fut]
                r = fut.result()
                if r is None:
                    tqdm.write(f"{e} {a} seed {s}: stopped at a checkpoint (--time-limit); rerun to continue")
                else:
                    tqdm.write(f"{e} {a} seed {s}: det {r['final']['det']:.1f}, sto {r['final']['sto']:.1f} ({r['cpu_s']:.0f} CPU s)")
    from mujoco_summary import summarise  # type: ignore[import-not-found]  # benchmarks/ is the script's folder

    summarise(args.out, ANCHORS)


if __name__ == "__main__":
    main()
