"""Work done in the worker processes: pretraining, finetuning, evaluation, coverage, result checks."""

from __future__ import annotations

import importlib
import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from sb3_softopt.common.atomic import InvalidResult, atomic_path, check_zip, exit_with_parent, load_curve, load_json
from sb3_softopt.common.atomic import atomic_write_text as _atomic_write
from sb3_softopt.experiments.finetune.config import Budget, COMMON_KWARGS, DDPG_NOISE_STD, NET_ARCH, SAC_FINETUNE_ENT_COEF, SAC_PRETRAIN_ENT_COEF, SQL_FINETUNE_ENT_COEF, SQL_PRETRAIN_ENT_COEF


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
        from stable_baselines3.common.vec_env import DummyVecEnv

        self.env = _make_env(env_id, seed + 10_000)
        self.vec_env = DummyVecEnv([lambda: self.env])
        self.seed = seed + 10_000
        self.n_episodes = n_episodes

    def __call__(self, model) -> float:
        from stable_baselines3.common.evaluation import evaluate_policy

        for ep in range(self.n_episodes):
            # evaluate_policy resets only when it starts: one episode per call, each with its seed.
            self.vec_env.seed(self.seed + ep)
            evaluate_policy(model, self.vec_env, n_eval_episodes=1)
        # The Monitor's own sums: the returns evaluate_policy reports are rounded to 6 decimals.
        return float(np.mean(self.env.get_episode_rewards()[-self.n_episodes :]))


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
    import gymnasium as gym
    from scipy.stats import entropy as scipy_entropy
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = _make_env(env_id, seed + 20_000)
    rng = np.random.default_rng(seed)
    noise_std = DDPG_NOISE_STD if getattr(model, "action_noise", None) is not None else 0.0
    if stochastic and noise_std > 0:
        # DDPG explores with noise that learn() adds and predict() never does.
        env = gym.wrappers.TransformAction(
            env, lambda a: np.clip(a + rng.normal(0, noise_std, size=a.shape), -1, 1), env.action_space
        )
    vec_env = DummyVecEnv([lambda: env])
    trajs, headings, speeds = [], [], []
    pts: list = []

    def record(locals_, _globals) -> None:
        pts.append(locals_["observations"][0, :2].copy())
        if locals_["done"]:
            # The VecEnv has already reset: the episode's last observation survives only in info.
            pts.append(locals_["info"]["terminal_observation"][:2].copy())
            trajs.append(np.asarray(pts, dtype=float))
            pts.clear()

    for ep in range(n_episodes):
        # evaluate_policy resets only when it starts: one episode per call, each with its seed.
        vec_env.seed(seed + 20_000 + ep)
        evaluate_policy(model, vec_env, n_eval_episodes=1, deterministic=not stochastic or noise_std > 0, callback=record)
    for p in trajs:
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
