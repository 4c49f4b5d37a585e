"""Coverage of a pretrained policy as it explores: where it goes, and whether it finds a task's goal.

Both measures roll the policy out with SB3's ``evaluate_policy`` (one seeded episode per call)
*as it acts during finetuning*: SAC and SQL sample their own policy; DDPG acts with its
deterministic ``predict`` plus the exploration noise that ``learn()`` adds and ``predict()``
never does (Ornstein-Uhlenbeck, restarted at every episode, or Gaussian; see
``config.ACTION_NOISE``), drawn here from a seeded generator of its own.
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np

from sb3_softopt.experiments.finetune.config import COVERAGE_SEED_OFFSET, GOAL_REACH_SEED_OFFSET


class _OrnsteinUhlenbeck:
    """SB3's ``OrnsteinUhlenbeckActionNoise`` update (mean 0) drawing from ``rng``, not numpy's global state."""

    def __init__(self, shape: tuple[int, ...], sigma: float, theta: float, dt: float, rng):
        self.shape, self.sigma, self.theta, self.dt, self.rng = shape, sigma, theta, dt, rng
        self.reset()

    def reset(self) -> None:
        self.x = np.zeros(self.shape)

    def __call__(self) -> np.ndarray:
        self.x = self.x - self.theta * self.x * self.dt + self.sigma * math.sqrt(self.dt) * self.rng.normal(size=self.shape)
        return self.x


class _Gaussian:
    def __init__(self, shape: tuple[int, ...], sigma: float, rng):
        self.shape, self.sigma, self.rng = shape, sigma, rng

    def reset(self) -> None:
        pass

    def __call__(self) -> np.ndarray:
        return self.rng.normal(0, self.sigma, size=self.shape)


def _noise_process(spec: Mapping[str, Any], shape: tuple[int, ...], rng):
    if spec["kind"] == "gaussian":
        return _Gaussian(shape, spec["sigma"], rng)
    if spec["kind"] == "ornstein_uhlenbeck":
        return _OrnsteinUhlenbeck(shape, spec["sigma"], spec["theta"], spec["dt"], rng)
    raise ValueError(f"unknown action noise kind {spec['kind']!r}")


def _noisy_actions(env, process):
    """``env`` with ``clip(a + noise, -1, 1)`` applied to every action, the process restarted at each reset."""
    import gymnasium as gym

    class NoisyActions(gym.Wrapper):
        def reset(self, **kwargs):
            # SB3's learn() resets its noise when an episode ends: every episode starts at x = 0.
            process.reset()
            return self.env.reset(**kwargs)

        def step(self, action):
            return self.env.step(np.clip(action + process(), -1, 1))

    return NoisyActions(env)


def _rollouts(model, env_id: str, n_episodes: int, env_seed: int, rng_seed: int, stochastic: bool, noise) -> tuple[list, list]:
    """``n_episodes`` rollouts; returns their positions (``(T + 1, 2)`` arrays) and returns."""
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    from sb3_softopt.experiments.finetune.jobs import _make_env

    monitor = env = _make_env(env_id, env_seed)
    if stochastic and noise is not None:
        env = _noisy_actions(env, _noise_process(noise, env.action_space.shape, np.random.default_rng(rng_seed)))
    vec_env = DummyVecEnv([lambda: env])
    trajs: list = []
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
        vec_env.seed(env_seed + ep)
        # A noisy DDPG acts with its deterministic predict (the noise comes from the wrapper).
        evaluate_policy(model, vec_env, n_eval_episodes=1, deterministic=not stochastic or noise is not None, callback=record)
    # The Monitor's own sums: the returns evaluate_policy reports are rounded to 6 decimals.
    return trajs, [float(r) for r in monitor.get_episode_rewards()]


def pretrained_coverage(
    model, env_id: str, n_episodes: int, seed: int, stochastic: bool, cell: float = 5.0, noise: Mapping[str, Any] | None = None
) -> dict:
    """Coverage of a pretrained policy: entropy of its visited-position histogram and heading.

    Rolls out ``n_episodes`` episodes on ``env_id`` (seeded ``seed + COVERAGE_SEED_OFFSET + episode``);
    ``stochastic=True`` explores as during finetuning (see the module docstring).

    :param noise: the DDPG arm's entry of ``config.ACTION_NOISE`` (``None``: a policy that
        explores by sampling itself, SAC or SQL).
    :returns: ``position_entropy`` (nats, histogram on ``cell``-sized squares of all visited
        positions), ``heading_spread`` (circular variance ``1 - |mean unit vector|`` of the
        episodes' net displacement directions: 0 = always the same direction, ~1 = spread
        evenly; bin-free, unlike a heading histogram), ``mean_speed`` and the trajectories
        (list of ``(T, 2)`` lists).
    """
    from scipy.stats import entropy as scipy_entropy

    trajs, _ = _rollouts(model, env_id, n_episodes, seed + COVERAGE_SEED_OFFSET, seed, stochastic, noise)
    headings, speeds = [], []
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


def goal_criterion(env_id: str, threshold: float) -> tuple[str, Callable[[np.ndarray, float], bool]]:
    """What "reaching the goal" of finetune task ``env_id`` means for one exploratory episode.

    * An env with a goal bump (``unwrapped.goal`` and ``goal_sigma``, ``PointUMaze-v0``): some
      position within ``goal_sigma`` (2) of the goal, where the bump is > exp(-1/2) = 0.61;
    * ``PointHallway-v0`` (reward = distance travelled): the episode gets ``threshold`` further
      along +x than its start, the distance a return of ``threshold`` needs;
    * any other env: an episode return >= ``threshold``.

    :returns: the criterion in words and ``reached(positions, episode_return)``.
    """
    import gymnasium as gym

    from sb3_softopt.envs.point_mass import PointHallwayEnv

    env = gym.make(env_id).unwrapped
    goal, radius = getattr(env, "goal", None), getattr(env, "goal_sigma", None)
    if goal is not None and radius is not None:
        g, r = np.asarray(goal, dtype=float), float(radius)
        return f"within {r:g} of the goal {tuple(goal)}", lambda p, _ret: bool((np.linalg.norm(p - g, axis=1) < r).any())
    if isinstance(env, PointHallwayEnv):
        return f"x progress >= {threshold:g}", lambda p, _ret: bool(p[:, 0].max() - p[0, 0] >= threshold)
    return f"episode return >= {threshold:g}", lambda _p, ret: ret >= threshold


def goal_reach(model, env_id: str, threshold: float, n_episodes: int, seed: int, noise: Mapping[str, Any] | None = None) -> dict:
    """Fraction of a pretrained policy's exploratory episodes on finetune task ``env_id`` that reach its goal.

    The policy explores as during finetuning (see the module docstring), before any finetuning;
    episodes are seeded ``seed + GOAL_REACH_SEED_OFFSET + episode``. :func:`goal_criterion` says
    what reaching means.

    :returns: ``fraction``, ``criterion`` (in words) and ``threshold``.
    """
    criterion, reached = goal_criterion(env_id, threshold)
    base = seed + GOAL_REACH_SEED_OFFSET
    trajs, returns = _rollouts(model, env_id, n_episodes, base, base, True, noise)
    hits = [reached(p, r) for p, r in zip(trajs, returns, strict=True)]
    return {"fraction": float(np.mean(hits)), "criterion": criterion, "threshold": float(threshold)}
