"""One run of the robustness experiment (a worker process): train one algorithm on one seed, then
evaluate it under obstacles on its own learned path and under pushes and action noise."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from sb3_softopt.experiments.infra.atomic import atomic_write_json, exit_with_parent, load_json
from sb3_softopt.experiments.infra.noise import make_action_noise
from sb3_softopt.experiments.robustness import config as C
from sb3_softopt.experiments.robustness.perturbation import evaluate_under_perturbation

__all__ = ["learned_path", "make_model", "place_obstacle", "run_job"]


def worker_init(parent_pid: int | None) -> None:
    # A SIGKILLed parent cannot shut its pool down: its workers must not outlive it. (None: a
    # Dask worker, whose lifetime its cluster manages.)
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    import torch

    torch.set_num_threads(1)
    import sb3_softopt  # noqa: F401  registers the envs


def make_model(algo: str, seed: int, budget: C.Budget, overrides: dict | None = None, ddpg_noise: dict | None = None):
    """SQL, SAC or DDPG (``RegularisedDDPG``) on the obstacle-free ``PointGoal-v0`` with the shared settings.

    :param overrides: constructor kwargs over the shared ones (default: ``C.DDPG_KWARGS`` for DDPG,
        none for SQL and SAC); for sweeps such as ``benchmarks/robustness_ddpg.py``.
    :param ddpg_noise: DDPG's exploration noise spec (default ``C.DDPG_ACTION_NOISE``).
    """
    import gymnasium as gym

    from sb3_softopt import SAC, SQL
    from sb3_softopt.experiments.robustness.ddpg import RegularisedDDPG

    env = gym.make(C.ENV_ID)
    kwargs = dict(C.COMMON_KWARGS, learning_starts=min(C.COMMON_KWARGS["learning_starts"], budget.train_steps // 2))
    kwargs.update(seed=seed, device="cpu", verbose=0, policy_kwargs=dict(net_arch=C.NET_ARCH))
    kwargs.update((C.DDPG_KWARGS if algo == "DDPG" else {}) if overrides is None else overrides)
    if algo == "SQL":
        return SQL("MlpPolicy", env, ent_coef=C.ENT_COEF, **kwargs)
    if algo == "SAC":
        return SAC("MlpPolicy", env, ent_coef=C.ENT_COEF, **kwargs)
    if algo == "DDPG":
        assert isinstance(env.action_space, gym.spaces.Box)  # PointGoal-v0: Box(2,)
        noise = make_action_noise(C.DDPG_ACTION_NOISE if ddpg_noise is None else ddpg_noise, env.action_space.shape[0])
        return RegularisedDDPG("MlpPolicy", env, action_noise=noise, **kwargs)
    raise ValueError(f"algo must be one of {C.ALGOS}, got algo={algo!r}")


def learned_path(model: Any, seed: int) -> np.ndarray:
    """Positions ``(T + 1, 2)`` of one deterministic episode on the obstacle-free env, up to the
    step that first reaches the goal (the episode goes on at the goal: that part is no path)."""
    import gymnasium as gym

    env = gym.make(C.ENV_ID, start_noise=0.0)
    obs, _ = env.reset(seed=seed)
    path = [obs[:2].astype(float)]
    done = False
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        obs, _, term, trunc, info = env.step(action)
        path.append(obs[:2].astype(float))
        done = term or trunc or info["is_success"]
    return np.asarray(path)


def place_obstacle(path: np.ndarray, fraction: float, half_width: float) -> tuple[list[float], bool]:
    """An obstacle centred on the path at ``fraction`` of its length (arc length).

    :returns: the rectangle and whether it is on the learned path; a placement the env refuses
        (over the start or the goal, e.g. for a policy that never left the start) falls back to the
        straight line from the start to the goal.
    """
    from sb3_softopt.envs.point_goal import PointGoalEnv

    def rect(c: np.ndarray) -> list[float]:
        d = C.OBSTACLE_DEPTH / 2
        return [float(c[0] - d), float(c[1] - half_width), float(c[0] + d), float(c[1] + half_width)]

    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    if seg.sum() > 0:
        s = np.concatenate([[0.0], np.cumsum(seg)])
        target = fraction * s[-1]
        centre = np.array([np.interp(target, s, path[:, 0]), np.interp(target, s, path[:, 1])])
        try:
            PointGoalEnv(obstacles=[rect(centre)])
            return rect(centre), True
        except ValueError:
            pass
    goal = np.asarray(PointGoalEnv().goal)
    return rect(fraction * goal), False


def _result_path(out: str | Path, algo: str, seed: int) -> Path:
    return Path(out) / "runs" / f"{algo}_seed{seed}.json"


def check_job(out: str | Path, algo: str, seed: int, budget: C.Budget) -> dict:
    """The saved rows of a finished run (``FileNotFoundError`` / ``InvalidResult`` otherwise)."""
    expect = dict(algo=algo, seed=seed, budget=dataclasses.asdict(budget), settings=C.settings())
    return load_json(_result_path(out, algo, seed), ("rows", "path", "cpu_s"), expect)


def run_job(algo: str, seed: int, budget: C.Budget, out: str) -> dict:
    """Train, evaluate every setting in every mode of ``algo``; save and return the rows."""
    t0, c0 = time.perf_counter(), time.process_time()
    model = make_model(algo, seed, budget)
    model.learn(budget.train_steps)
    path = learned_path(model, seed)
    eval_seed = C.EVAL_SEED_STRIDE * (seed + 1)
    settings: list[tuple[dict, dict]] = [(dict(family="clean"), {})]
    for fraction in C.PATH_FRACTIONS:
        for half in C.HALF_WIDTHS:
            rect, on_path = place_obstacle(path, fraction, half)
            tag = dict(family="obstacle", fraction=fraction, half_width=half, on_path=on_path, obstacle=rect)
            settings.append((tag, dict(env_kwargs={"obstacles": [rect]})))
    for s in C.PUSH_STRENGTHS[1:]:
        # Velocity pushes (coordinates 2, 3): a position push could carry the agent through a wall.
        settings.append((dict(family="push", strength=s), dict(push_prob=C.PUSH_PROB, push_scale=s, push_indices=(2, 3))))
    for s in C.ACTION_NOISE_STRENGTHS[1:]:
        settings.append((dict(family="action_noise", strength=s), dict(action_noise=s)))
    rows = []
    for mode in C.MODES[algo]:
        for tag, kwargs in settings:
            res = evaluate_under_perturbation(
                model, C.ENV_ID, budget.n_eval_episodes, seed=eval_seed, deterministic=mode == "deterministic", **kwargs
            )
            rows.append(dict(algo=algo, seed=seed, mode=mode, **tag, **res))
    result = dict(algo=algo, seed=seed, budget=dataclasses.asdict(budget), settings=C.settings(), rows=rows, path=path.round(3).tolist())
    # CPU seconds (one torch thread per worker): the run's cost on an idle machine, kept beside its
    # wall time so that a resumed experiment still reports what its runs cost.
    result.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
    atomic_write_json(_result_path(out, algo, seed), result)
    return result
