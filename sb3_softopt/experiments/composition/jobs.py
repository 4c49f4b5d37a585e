"""One seed of the composition experiment: train the constituents (SQL and DDPG on A and on B) and
SQL from scratch on the combined task, compose, evaluate every arm on the combined task."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sb3_softopt.experiments.infra.atomic import atomic_write_json, load_json
from sb3_softopt.experiments.infra.noise import make_action_noise
from sb3_softopt.experiments.composition import config as C

__all__ = ["average_policy", "check_job", "evaluate", "make_model", "run_job"]

#: episodes per arm whose positions are saved (the figure draws them)
N_PATHS = 5
Act = Callable[[np.ndarray], np.ndarray]


def make_model(algo: str, env_id: str, seed: int, budget: C.Budget) -> Any:
    """SQL or DDPG (``RegularisedDDPG``) on ``env_id`` with the shared settings."""
    import gymnasium as gym

    from sb3_softopt import SQL
    from sb3_softopt.experiments.robustness.ddpg import RegularisedDDPG

    env = gym.make(env_id)
    kwargs = dict(C.COMMON_KWARGS, learning_starts=min(C.COMMON_KWARGS["learning_starts"], budget.train_steps // 2))
    kwargs.update(seed=seed, device="cpu", verbose=0, policy_kwargs=dict(net_arch=C.NET_ARCH))
    if algo == "SQL":
        return SQL("MlpPolicy", env, ent_coef=C.ENT_COEF, **kwargs)
    if algo == "DDPG":
        assert isinstance(env.action_space, gym.spaces.Box)
        noise = make_action_noise(C.DDPG_ACTION_NOISE, env.action_space.shape[0])
        return RegularisedDDPG("MlpPolicy", env, action_noise=noise, **dict(kwargs, **C.DDPG_KWARGS))
    raise ValueError(f"algo must be 'SQL' or 'DDPG', got algo={algo!r}")


def average_policy(models: list[Any]) -> Act:
    """The naive composition of deterministic policies: the mean of their (greedy) actions."""

    def act(obs: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(obs, deterministic=True)[0] for m in models], axis=0)

    return act


def _act(model: Any, deterministic: bool) -> Act:
    return lambda obs: model.predict(obs, deterministic=deterministic)[0]


def evaluate(act: Act, env_id: str, n_episodes: int, seed: int) -> dict[str, Any]:
    """Success rate (``info["is_success"]`` at the last step), where the episodes end (the goal
    within reach at the last step: ``N``, ``E``, ``S`` or ``""``), mean return, and the positions of
    the first :data:`N_PATHS` episodes."""
    import gymnasium as gym

    env = gym.make(env_id)
    success, returns, ends, paths = [], [], [], []
    for ep in range(n_episodes):
        obs, _ = env.reset(seed=seed + ep)
        path, total, done = [obs[:2].tolist()], 0.0, False
        info: dict[str, Any] = {}
        while not done:
            obs, r, term, trunc, info = env.step(np.asarray(act(obs), dtype=np.float32))
            total += float(r)
            path.append(obs[:2].tolist())
            done = term or trunc
        success.append(float(info["is_success"]))
        ends.append(str(info["goal"]))
        returns.append(total)
        if ep < N_PATHS:
            paths.append(np.round(path, 2).tolist())
    return dict(
        success=float(np.mean(success)), mean_return=float(np.mean(returns)),
        ends={g: ends.count(g) / n_episodes for g in ("N", "E", "S", "")}, paths=paths,
    )  # fmt: skip


def _result_path(out: str | Path, seed: int) -> Path:
    return Path(out) / "runs" / f"seed{seed}.json"


def check_job(out: str | Path, seed: int, budget: C.Budget) -> dict:
    """The saved evaluations of a finished seed (``FileNotFoundError`` / ``InvalidResult`` otherwise)."""
    expect = dict(seed=seed, budget=dataclasses.asdict(budget), settings=C.settings())
    return load_json(_result_path(out, seed), ("evals", "cpu_s"), expect)


def run_job(seed: int, budget: C.Budget, out: str | Path) -> dict:
    """Train, compose and evaluate every arm of one seed; save and return the evaluations."""
    from sb3_softopt.composition import compose

    t0, c0 = time.perf_counter(), time.process_time()
    eval_seed = C.EVAL_SEED_STRIDE * (seed + 1)
    n = budget.n_eval_episodes
    models: dict[str, Any] = {}
    timing: dict[str, float] = {}
    for algo in ("SQL", "DDPG"):
        # The skills are learned independently: B's models get their own seed (with one seed both
        # constituents start from the same network and exploration noise).
        for task, env_id, task_seed in (("A", C.ENV_A, seed), ("B", C.ENV_B, seed + C.B_SEED_OFFSET)):
            c = time.process_time()
            models[f"{algo} {task}"] = make_model(algo, env_id, task_seed, budget).learn(budget.train_steps)
            timing[f"{algo} {task}"] = time.process_time() - c
    c = time.process_time()
    composed = compose([models["SQL A"], models["SQL B"]], mode="and", policy_steps=budget.policy_steps, seed=seed)
    timing["compose"] = time.process_time() - c
    c = time.process_time()
    scratch = make_model("SQL", C.ENV_AB, seed, budget).learn(2 * budget.train_steps)
    timing["SQL scratch"] = time.process_time() - c
    arms: dict[str, tuple[Act, str]] = {
        "SQL composed": (_act(composed, False), C.ENV_AB),
        "SQL scratch": (_act(scratch, False), C.ENV_AB),
        "DDPG average": (average_policy([models["DDPG A"], models["DDPG B"]]), C.ENV_AB),
        "SQL composed deterministic": (_act(composed, True), C.ENV_AB),
        "SQL scratch deterministic": (_act(scratch, True), C.ENV_AB),
        # the constituents on their own tasks (are they solved? which goals do they reach?)
        "SQL A": (_act(models["SQL A"], False), C.ENV_A),
        "SQL B": (_act(models["SQL B"], False), C.ENV_B),
        "DDPG A": (_act(models["DDPG A"], True), C.ENV_A),
        "DDPG B": (_act(models["DDPG B"], True), C.ENV_B),
    }
    evals = {arm: evaluate(act, env_id, n, eval_seed) for arm, (act, env_id) in arms.items()}
    result = dict(
        seed=seed, budget=dataclasses.asdict(budget), settings=C.settings(), evals=evals, train_cpu_s=timing,
        composed_env_steps=int(composed.num_timesteps),
    )  # fmt: skip
    # CPU seconds (one torch thread): the seed's cost on an idle machine, kept beside its wall time.
    result.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
    atomic_write_json(_result_path(out, seed), result)
    return result
