"""Work done in the worker processes: pretraining, finetuning, evaluation, coverage, result checks."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from collections.abc import Mapping, Sequence

import numpy as np

from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_path, check_zip, exit_with_parent, load_curve, load_json
from sb3_softopt.experiments.infra.atomic import atomic_write_text as _atomic_write
from sb3_softopt.experiments.infra.noise import make_action_noise
from sb3_softopt.experiments.finetune.config import (
    ACTION_NOISE,
    COMMON_KWARGS,
    EVAL_SEED_OFFSET,
    NET_ARCH,
    SAC_FINETUNE_ENT_COEF,
    SAC_PRETRAIN_ENT_COEF,
    SQL_FINETUNE_ENT_COEF,
    SQL_PRETRAIN_ENT_COEF,
    Budget,
    arm_algo,
    is_pretrained,
)
from sb3_softopt.experiments.finetune.coverage import goal_reach, pretrained_coverage


# --------------------------------------------------------------------------------------------
# Workers (run in subprocesses)
# --------------------------------------------------------------------------------------------
def _worker_init(env_modules: Sequence[str], parent_pid: int | None) -> None:
    # A SIGKILLed parent cannot shut its pool down: without this, its workers would finish their
    # jobs (writing results behind the resumed run's back) and then wait forever. (None: a Dask
    # worker, whose lifetime its cluster manages.)
    if parent_pid is not None:
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


class _Evaluator:
    """Deterministic evaluation every ``eval_freq`` steps, called from an SB3 callback."""

    def __init__(self, env_id: str, seed: int, n_episodes: int):
        from stable_baselines3.common.vec_env import DummyVecEnv

        self.env = _make_env(env_id, seed + EVAL_SEED_OFFSET)
        self.vec_env = DummyVecEnv([lambda: self.env])
        self.seed = seed + EVAL_SEED_OFFSET
        self.n_episodes = n_episodes

    def __call__(self, model) -> float:
        from stable_baselines3.common.evaluation import evaluate_policy

        for ep in range(self.n_episodes):
            # evaluate_policy resets only when it starts: one episode per call, each with its seed.
            self.vec_env.seed(self.seed + ep)
            evaluate_policy(model, self.vec_env, n_eval_episodes=1)
        # The Monitor's own sums: the returns evaluate_policy reports are rounded to 6 decimals.
        return float(np.mean(self.env.get_episode_rewards()[-self.n_episodes :]))


def _callbacks(evaluator: _Evaluator, eval_freq: int, rows: list):
    from stable_baselines3.common.callbacks import BaseCallback

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_freq == 0:
                rows.append((self.num_timesteps, evaluator(self.model)))
            return True

    return Evaluate()


def _action_noise(algo: str, n_actions: int):
    """A fresh SB3 noise object for DDPG algorithm ``algo`` (see ``config.ACTION_NOISE``)."""
    return make_action_noise(ACTION_NOISE[algo], n_actions)


def _new_model(algo: str, env, seed: int, budget: Budget, finetune: bool):
    from stable_baselines3 import DDPG

    kwargs = dict(COMMON_KWARGS, learning_starts=budget.learning_starts, seed=seed, verbose=0, device="cpu")
    if algo == "sql":
        from sb3_softopt import SQL

        ent = SQL_FINETUNE_ENT_COEF if finetune else SQL_PRETRAIN_ENT_COEF
        return SQL("MlpPolicy", env, ent_coef=ent, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs)
    if algo in ACTION_NOISE:
        noise = _action_noise(algo, env.action_space.shape[0])
        return DDPG("MlpPolicy", env, action_noise=noise, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs)
    from sb3_softopt import SAC  # takes schedule strings for ``ent_coef``

    ent = SAC_FINETUNE_ENT_COEF if finetune else SAC_PRETRAIN_ENT_COEF
    return SAC("MlpPolicy", env, ent_coef=ent, policy_kwargs=dict(net_arch=NET_ARCH), **kwargs)


def _load_model(algo: str, path: Path, env, seed: int, budget: Budget):
    """Load a pretrained model as is, on the new env, with a fresh replay buffer."""
    from stable_baselines3 import DDPG

    custom = dict(learning_starts=budget.learning_starts)
    if algo == "sql":
        from sb3_softopt import SQL

        model = SQL.load(path, env=env, device="cpu", custom_objects=dict(custom, ent_coef=SQL_FINETUNE_ENT_COEF))
        model.set_random_seed(seed)
        return model
    if algo in ACTION_NOISE:
        # A fresh noise process: the saved one may hold the OU state of pretraining's last step.
        custom["action_noise"] = _action_noise(algo, env.action_space.shape[0])
        model = DDPG.load(path, env=env, device="cpu", custom_objects=custom)
        model.set_random_seed(seed)
        return model
    from sb3_softopt import SAC

    model = SAC.load(path, env=env, device="cpu", custom_objects=dict(custom, ent_coef=SAC_FINETUNE_ENT_COEF))
    model.set_random_seed(seed)
    return model


def _pretrain_job(algo: str, seed: int, env_id: str, tasks: Mapping[str, float], budget: Budget, out: str) -> dict:
    out_dir = Path(out) / "pretrain"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    env = _make_env(env_id, seed)
    model = _new_model(algo, env, seed, budget, finetune=False)
    rows: list = []
    evaluator = _Evaluator(env_id, seed, budget.n_eval_episodes)
    model.learn(budget.pretrain_steps, callback=_callbacks(evaluator, budget.eval_freq, rows))
    with atomic_path(out_dir / f"{algo}_seed{seed}.zip") as tmp:
        model.save(tmp)
    noise = ACTION_NOISE.get(algo)
    cov: dict = {
        mode: pretrained_coverage(model, env_id, budget.coverage_episodes, seed, stochastic=(mode == "explore"), noise=noise)
        for mode in ("explore", "deterministic")
    }
    cov["goal_reach"] = {task: goal_reach(model, task, thr, budget.coverage_episodes, seed, noise) for task, thr in tasks.items()}
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
    algo = arm_algo(arm)
    env = _make_env(task, seed)
    if is_pretrained(arm):
        model = _load_model(algo, Path(out) / "pretrain" / f"{algo}_seed{seed}.zip", env, seed, budget)
    else:
        model = _new_model(algo, env, seed, budget, finetune=True)
    evaluator = _Evaluator(task, seed, budget.n_eval_episodes)
    rows = [(0, evaluator(model))]
    model.learn(budget.finetune_steps, callback=_callbacks(evaluator, budget.eval_freq, rows), reset_num_timesteps=True)
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


def _check_pretrain(
    out: Path, algo: str, seed: int, env_id: str, bud: Budget, need_model: bool = True, tasks: Mapping[str, float] | None = None
) -> None:
    """Raise ``FileNotFoundError`` if this pretraining has not finished, ``InvalidResult`` if its
    files cannot be trusted (they were written atomically, but may come from elsewhere).

    :param need_model: also check the saved model (only a finetuning still to run needs it:
        result folders are often kept or shared without their ``.zip`` files).
    :param tasks: finetune tasks whose goal-reach coverage the json must hold, for the same
        threshold (``None``: not checked).
    """
    path = out / "pretrain" / f"{algo}_seed{seed}.json"
    info = load_json(path, ("eval", "coverage", "cpu_s"), dict(algo=algo, seed=seed, env=env_id, steps=bud.pretrain_steps))
    if not all(isinstance(info["coverage"].get(m), dict) for m in ("explore", "deterministic")):
        raise InvalidResult(f"{path} lacks the coverage of the pretrained policy")
    reach = info["coverage"].get("goal_reach")
    for task, thr in (tasks or {}).items():
        entry = reach.get(task) if isinstance(reach, dict) else None
        frac = entry.get("fraction") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1 or entry.get("threshold") != float(thr):
            raise InvalidResult(f"{path} lacks the goal-reach coverage of {task} (threshold {thr:g})")
    if need_model:
        check_zip(path.with_suffix(".zip"))


def _check_curve(path: Path, bud: Budget) -> None:
    """Raise ``FileNotFoundError`` / ``InvalidResult`` unless ``path`` is a whole finetuning curve."""
    steps = [0, *range(bud.eval_freq, bud.finetune_steps + 1, bud.eval_freq)]
    load_curve(path, ("step", "eval_return"), "step", steps, finite=("eval_return",))
