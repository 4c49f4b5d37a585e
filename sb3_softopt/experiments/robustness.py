"""Lecture 4.6: max-entropy policies are more robust to perturbations.

The lecture argues that soft-optimal policies "cover more states, so they can recover from
disturbances". This experiment trains SAC (maximum entropy) and DDPG (deterministic) with the
same budget, network and replay settings on a point-mass goal-reaching task (``MultiGoal-v0`` by
default), then evaluates every trained policy (deterministically, i.e. SAC's mean action) under
perturbations of growing strength:

* **push**: at every step, with probability ``push_prob``, the environment's internal state is
  displaced by a vector of norm ``strength`` in a uniformly random direction *before* the agent's
  action is applied (the agent chose its action for the unpushed state);
* **action noise**: Gaussian noise of standard deviation ``strength`` (in units of half the action
  range) is added to every action, which is then clipped to the action box.

For each algorithm and strength it reports the success rate (episode terminated at a goal, or
``info["is_success"]`` when the env provides it) and the mean undiscounted return, as mean over
seeds with a 95% Student-t confidence interval across seeds (clipped to [0, 1] for rates). The summary compares the success
rate averaged over the perturbed strengths (strength > 0): ``diff = SAC - DDPG`` with a Welch
95% interval.

Run it alone::

    python -m sb3_softopt.experiments.robustness --out runs/robustness [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import gymnasium as gym
import numpy as np

from sb3_softopt.common.plotting import plot_band, save_figure
from sb3_softopt.common.stats import mean_ci, welch_diff_ci
from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict

__all__ = ["CLAIM", "PerturbationWrapper", "RobustnessResult", "evaluate_under_perturbation", "judge", "main", "run"]

CLAIM = Claim(
    name="robustness",
    title="Robustness to perturbations",
    section="4.6",
    statement="Max-entropy policies cover more states, so they recover better from disturbances than "
    "deterministic policies.",
    criteria="reproduced if both SAC and DDPG solve the unperturbed task (success >= 0.5) and SAC's success "
    "rate averaged over the perturbed settings exceeds DDPG's with a Welch 95% interval above 0; "
    "partly if SAC is ahead but the interval includes 0 (or a baseline did not learn the task and "
    "SAC is still ahead); not reproduced otherwise.",
)

#: Names under which an environment's ``unwrapped`` object may hold its state vector.
STATE_ATTRS = ("state", "_state", "pos", "_pos", "position", "_position")


class PerturbationWrapper(gym.Wrapper):
    """Disturb a continuous-control environment with random pushes and action noise.

    Pushes act on the *true* internal state of the environment, not on the observation: the
    wrapper finds the unwrapped env's state vector (``state_attr``, or the first of
    :data:`STATE_ATTRS` that is a float numpy array) and, with probability ``push_prob`` at each
    step, adds ``push_scale * u`` to ``state[push_indices]`` where ``u`` is a uniformly random
    unit vector. The push happens just before the action is executed, so the agent's action was
    chosen for the unpushed state and the returned observation already reflects the push. When
    the state has the observation's shape the pushed state is clipped to the observation bounds.

    Action noise adds ``action_noise * (high - low) / 2 * N(0, I)`` to the action, then clips it to
    the action box.

    The wrapper's random numbers come from its own generator, seeded by ``reset(seed=...)``, so a
    perturbed evaluation is reproducible and does not consume the environment's randomness.

    :param env: environment with a ``Box`` action space.
    :param push_prob: probability of a push at each step, in [0, 1].
    :param push_scale: norm of each push, >= 0, in state units.
    :param action_noise: standard deviation of the action noise, >= 0, in half action ranges.
    :param state_attr: name of the state attribute on ``env.unwrapped`` (auto-detected if None).
    :param push_indices: state coordinates that pushes act on (default: all), e.g. the velocity
        coordinates of a point mass with walls so that pushes never teleport through a wall.
    """

    def __init__(
        self,
        env: gym.Env,
        push_prob: float = 0.0,
        push_scale: float = 0.0,
        action_noise: float = 0.0,
        state_attr: str | None = None,
        push_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, gym.spaces.Box):
            raise TypeError(
                f"PerturbationWrapper needs a Box action space, got action_space={env.action_space!r}"
            )
        for name, value in (("push_prob", push_prob), ("push_scale", push_scale), ("action_noise", action_noise)):
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(float(value)):
                raise ValueError(f"{name} must be a finite number, got {name}={value!r}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {name}={value!r}")
        if push_prob > 1:
            raise ValueError(f"push_prob must be in [0, 1], got push_prob={push_prob!r}")
        self.push_prob = float(push_prob)
        self.push_scale = float(push_scale)
        self.action_noise = float(action_noise)
        self.state_attr = state_attr
        self.push_indices = None if push_indices is None else np.asarray(push_indices, dtype=np.int64)
        self.n_pushes = 0
        self._rng = np.random.default_rng()

    def _state_name(self) -> str:
        base = self.env.unwrapped
        names = (self.state_attr,) if self.state_attr is not None else STATE_ATTRS
        for name in names:
            value = getattr(base, name, None)
            if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                return name
        if self.state_attr is not None:
            raise ValueError(
                f"state_attr={self.state_attr!r} is not a float numpy array on {type(base).__name__}"
            )
        raise ValueError(
            f"cannot find the state vector of {type(base).__name__}: none of {STATE_ATTRS} is a float "
            "numpy array; pass state_attr=<attribute name>"
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            # Offset the stream so the wrapper's noise is independent of the env's own draws.
            self._rng = np.random.default_rng([seed, 0x5EED])
        self.n_pushes = 0
        result = self.env.reset(seed=seed, options=options)
        if self.push_prob > 0 and self.push_scale > 0:
            # Fail at reset, not at a random first push, when the env has no usable state.
            self._state_name()
        return result

    def _push(self) -> None:
        name = self._state_name()
        base = self.env.unwrapped
        state = np.array(getattr(base, name), dtype=np.float64)
        idx = np.arange(state.size) if self.push_indices is None else self.push_indices
        if idx.size == 0 or idx.max() >= state.size or idx.min() < -state.size:
            raise ValueError(f"push_indices={self.push_indices!r} out of range for a state of size {state.size}")
        direction = self._rng.normal(size=idx.size)
        direction /= max(np.linalg.norm(direction), 1e-12)
        flat = state.reshape(-1)
        flat[idx] += self.push_scale * direction
        obs_space = self.env.observation_space
        if isinstance(obs_space, gym.spaces.Box) and obs_space.shape == state.shape:
            state = np.clip(state, obs_space.low, obs_space.high)
        old = getattr(base, name)
        setattr(base, name, state.astype(old.dtype, copy=False))
        self.n_pushes += 1

    def step(self, action):
        space = self.env.action_space
        action = np.asarray(action, dtype=np.float64)
        if self.action_noise > 0:
            half_range = (space.high - space.low) / 2.0
            action = action + self.action_noise * half_range * self._rng.normal(size=action.shape)
        action = np.clip(action, space.low, space.high).astype(space.dtype)
        if self.push_prob > 0 and self.push_scale > 0 and self._rng.random() < self.push_prob:
            self._push()
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["perturbation/n_pushes"] = self.n_pushes
        return obs, reward, terminated, truncated, info


def _is_success(info: dict[str, Any], terminated: bool) -> bool:
    if "is_success" in info:
        return bool(info["is_success"])
    return bool(terminated)


def evaluate_under_perturbation(
    model: Any,
    env_id: str,
    n_episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    deterministic: bool = True,
    **wrapper_kwargs: Any,
) -> dict[str, float]:
    """Roll out ``model`` for ``n_episodes`` in a :class:`PerturbationWrapper`-ed ``env_id``.

    Success is ``info["is_success"]`` at the last step when the env reports it, else whether the
    episode *terminated* (reached a goal) rather than being truncated by the time limit.

    :return: ``{"success": rate, "return": mean episode return, "length": mean length}``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got n_episodes={n_episodes!r}")
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = Monitor(PerturbationWrapper(gym.make(env_id, **(env_kwargs or {})), **wrapper_kwargs))
    vec_env = DummyVecEnv([lambda: env])
    successes = []

    def record_success(locals_, _globals) -> None:
        if locals_["done"]:
            info = locals_["info"]
            successes.append(_is_success(info, not info["TimeLimit.truncated"]))

    for ep in range(n_episodes):
        # evaluate_policy resets only when it starts: one episode per call, each with its seed.
        vec_env.seed(seed + ep)
        evaluate_policy(model, vec_env, n_eval_episodes=1, deterministic=deterministic, callback=record_success)
    vec_env.close()
    return {
        "success": float(np.mean(successes)),
        # The Monitor's own sums: the returns evaluate_policy reports are rounded to 6 decimals.
        "return": float(np.mean(env.get_episode_rewards())),
        "length": float(np.mean(env.get_episode_lengths())),
    }


# Defaults per environment: push strengths (state units), which coordinates pushes act on,
# and the push probability. MultiGoal's state is the 2-D position (goals 5 units away, the
# agent moves at most sqrt(2) per step), so a push of 3 undoes two steps of progress.
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "MultiGoal-v0": {"push_strengths": [0.0, 0.5, 1.0, 2.0, 3.0], "push_indices": None, "push_prob": 0.1},
}
ACTION_NOISE_STRENGTHS = [0.0, 0.25, 0.5, 1.0, 2.0]


def _make_model(algo: str, env_id: str, seed: int, env_kwargs: dict[str, Any], learning_starts: int = 500):
    from stable_baselines3 import DDPG, SAC
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make(env_id, **env_kwargs)
    # Identical network, optimiser, replay and update schedule for both algorithms: only the
    # objective (max-entropy vs deterministic) and the exploration mechanism differ.
    common = dict(
        learning_rate=1e-3,
        buffer_size=100_000,
        learning_starts=learning_starts,
        batch_size=128,
        gamma=0.95,
        tau=0.01,
        train_freq=1,
        gradient_steps=1,
        policy_kwargs=dict(net_arch=[64, 64]),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    if algo == "SAC":
        return SAC("MlpPolicy", env, ent_coef="auto", **common)
    if algo == "DDPG":
        n = env.action_space.shape[0]
        noise = NormalActionNoise(np.zeros(n), 0.1 * np.ones(n))
        return DDPG("MlpPolicy", env, action_noise=noise, **common)
    raise ValueError(f"algo must be 'SAC' or 'DDPG', got algo={algo!r}")


class RobustnessResult(TypedDict):
    """What :func:`run` measures (also written to ``robustness.json``); success rates in [0, 1]."""

    claim: str
    env_id: str
    quick: bool
    n_seeds: int
    total_timesteps: int
    n_eval_episodes: int
    push_prob: float
    #: perturbation kind ("push", "action_noise") -> strengths, 0 = unperturbed
    strengths: dict[str, list[float]]
    #: algorithm -> mean success at strength 0
    clean_success: dict[str, float]
    #: algorithm -> mean over seeds of the success averaged over every strength > 0 of both kinds
    perturbed_success: dict[str, float]
    perturbed_success_per_seed: dict[str, list[float]]
    success_diff_sac_minus_ddpg: float
    success_diff_ci95: list[float]
    #: kind -> algorithm -> per-strength mean and 95% t-interval of success and return
    curves: dict[str, dict[str, dict[str, list[float]]]]
    seconds: float
    figures: list[str]


def run(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    env_id: str = "MultiGoal-v0",
    n_seeds: int | None = None,
    total_timesteps: int | None = None,
    n_eval_episodes: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> RobustnessResult:
    """Train SAC and DDPG, evaluate them under pushes and action noise, write CSV/JSON/PNG.

    :param out_dir: output folder (created).
    :param quick: tiny budget for smoke tests (2 seeds, 600 steps, 3 strengths, 3 episodes).
    :param seed: base seed; run ``i`` uses ``seed + i`` for training and evaluation.
    :param env_id: a goal-reaching env with a Box action space (``MultiGoal-v0``, ``PointUMaze-v0``).
    :param n_seeds: seeds per algorithm (default 5, quick 2).
    :param total_timesteps: training steps per run (default 6000, quick 600); learning starts
        after ``min(500, total_timesteps // 2)`` random steps.
    :param n_eval_episodes: episodes per (model, perturbation, strength) (default 20, quick 3).
    :param env_kwargs: keyword arguments for ``gym.make``.
    :param progress: show a tqdm progress bar.
    :return: the summary dict that is also written to ``robustness.json``.
    """
    import torch
    from tqdm.auto import tqdm

    import sb3_softopt  # noqa: F401  (registers the environments)

    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env_kwargs = dict(env_kwargs or {})
    defaults = ENV_DEFAULTS.get(env_id, ENV_DEFAULTS["MultiGoal-v0"])
    n_seeds = n_seeds if n_seeds is not None else (2 if quick else 5)
    total_timesteps = total_timesteps if total_timesteps is not None else (600 if quick else 6000)
    n_eval_episodes = n_eval_episodes if n_eval_episodes is not None else (3 if quick else 20)
    for name, value in (("n_seeds", n_seeds), ("total_timesteps", total_timesteps), ("n_eval_episodes", n_eval_episodes)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={value!r}")
    push_strengths = list(defaults["push_strengths"])
    noise_strengths = list(ACTION_NOISE_STRENGTHS)
    if quick:
        push_strengths = [push_strengths[0], push_strengths[2], push_strengths[-1]]
        noise_strengths = [noise_strengths[0], noise_strengths[2], noise_strengths[-1]]
    sweeps = {
        "push": [dict(push_prob=defaults["push_prob"], push_scale=s, push_indices=defaults["push_indices"]) for s in push_strengths],
        "action_noise": [dict(action_noise=s) for s in noise_strengths],
    }
    strengths = {"push": push_strengths, "action_noise": noise_strengths}
    algos = ("SAC", "DDPG")

    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    bar = tqdm(total=len(algos) * n_seeds, desc="robustness: train+eval", disable=not progress)
    for i in range(n_seeds):
        for algo in algos:
            run_seed = seed + i
            model = _make_model(algo, env_id, run_seed, env_kwargs, learning_starts=min(500, int(total_timesteps) // 2))
            model.learn(total_timesteps=int(total_timesteps))
            for kind, configs in sweeps.items():
                for s, cfg in zip(strengths[kind], configs):
                    res = evaluate_under_perturbation(
                        model, env_id, n_eval_episodes, seed=10_000 * (run_seed + 1), env_kwargs=env_kwargs, **cfg
                    )
                    rows.append(dict(algo=algo, seed=run_seed, perturbation=kind, strength=s, **res))
            bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t0

    import pandas as pd

    df = pd.DataFrame(rows)
    df.to_csv(out / "robustness_runs.csv", index=False)

    curves: dict[str, dict[str, dict[str, list[float]]]] = {}
    for kind in sweeps:
        curves[kind] = {}
        for algo in algos:
            entry: dict[str, list[float]] = {k: [] for k in ("strength", "success", "success_lo", "success_hi", "return", "return_lo", "return_hi")}
            for s in strengths[kind]:
                sub = df[(df.algo == algo) & (df.perturbation == kind) & (df.strength == s)]
                entry["strength"].append(float(s))
                for metric in ("success", "return"):
                    m, lo, hi = mean_ci(sub[metric].to_numpy())
                    if metric == "success":  # a rate: the t-interval is clipped to [0, 1]
                        lo, hi = max(lo, 0.0), min(hi, 1.0)
                    entry[metric].append(m)
                    entry[f"{metric}_lo"].append(lo)
                    entry[f"{metric}_hi"].append(hi)
            curves[kind][algo] = entry

    # Per-seed success averaged over every perturbed strength of both sweeps: one number per run.
    perturbed = df[df.strength > 0].groupby(["algo", "seed"])["success"].mean()
    clean = df[df.strength == 0].groupby(["algo", "seed"])["success"].mean()
    per_seed = {a: perturbed.loc[a].to_numpy().tolist() for a in algos}
    diff, diff_lo, diff_hi = welch_diff_ci(per_seed["SAC"], per_seed["DDPG"])
    summary: RobustnessResult = {
        "claim": "robustness",
        "env_id": env_id,
        "quick": quick,
        "n_seeds": n_seeds,
        "total_timesteps": int(total_timesteps),
        "n_eval_episodes": n_eval_episodes,
        "push_prob": defaults["push_prob"],
        "strengths": strengths,
        "clean_success": {a: float(clean.loc[a].mean()) for a in algos},
        "perturbed_success": {a: float(np.mean(per_seed[a])) for a in algos},
        "perturbed_success_per_seed": per_seed,
        "success_diff_sac_minus_ddpg": diff,
        "success_diff_ci95": [diff_lo, diff_hi],
        "curves": curves,
        "seconds": elapsed,
        "figures": ["robustness.png"],  # relative to out_dir
    }
    _plot(curves, strengths, out / "robustness.png", env_id, n_seeds, summary["push_prob"])
    (out / "robustness.json").write_text(json.dumps(summary, indent=2))
    return summary


def _plot(curves, strengths, path: Path, env_id: str, n_seeds: int, push_prob: float) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(2, 2, sharex="col")
    xlabels = {
        "push": f"push norm (state units, p={push_prob} per step)",
        "action_noise": "action-noise std (x half action range)",
    }
    for col, kind in enumerate(("push", "action_noise")):
        for row, metric in enumerate(("success", "return")):
            ax = axes[row, col]
            for algo, c in curves[kind].items():
                plot_band(ax, c["strength"], c[metric], c[f"{metric}_lo"], c[f"{metric}_hi"], label=algo, marker="o")
            ax.set_ylabel("success rate" if metric == "success" else "episode return")
            if row == 1:
                ax.set_xlabel(xlabels[kind])
            ax.grid(alpha=0.3)
        axes[0, col].set_title(f"{kind.replace('_', ' ')}")
    axes[0, 0].legend()
    fig.suptitle(f"Robustness on {env_id}: mean over {n_seeds} seeds, 95% t-CI")
    return save_figure(fig, path)


def judge(result: RobustnessResult) -> Verdict:
    sac, ddpg = (float(result["perturbed_success"][a]) for a in ("SAC", "DDPG"))
    clean_sac, clean_ddpg = (float(result["clean_success"][a]) for a in ("SAC", "DDPG"))
    diff = float(result["success_diff_sac_minus_ddpg"])
    lo, hi = (float(x) for x in result["success_diff_ci95"])
    numbers = {
        "success unperturbed, SAC / DDPG": f"{clean_sac:.2f} / {clean_ddpg:.2f}",
        "success under perturbation (mean over strengths > 0), SAC / DDPG": f"{sac:.2f} / {ddpg:.2f}",
        "difference SAC - DDPG, 95% CI": f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}]",
    }
    if min(clean_sac, clean_ddpg) < 0.5:
        return Verdict(
            NOT_REPRODUCED if diff <= 0 else PARTLY,
            "at least one algorithm did not learn the unperturbed task (success < 0.5), so robustness is not comparable",
            numbers,
        )
    if diff > 0 and math.isfinite(lo) and lo > 0:
        return Verdict(REPRODUCED, "SAC keeps a significantly higher success rate under perturbations", numbers)
    if diff > 0:
        return Verdict(PARTLY, "SAC is ahead under perturbations, but the 95% interval includes zero", numbers)
    return Verdict(NOT_REPRODUCED, "SAC is not more robust than DDPG here", numbers)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny budget (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default="MultiGoal-v0", help="environment id")
    parser.add_argument("--n-seeds", type=int, default=None)
    parser.add_argument("--timesteps", type=int, default=None, help="training steps per run")
    parser.add_argument("--episodes", type=int, default=None, help="evaluation episodes per setting")
    args = parser.parse_args(argv)
    summary = run(
        args.out,
        quick=args.quick,
        seed=args.seed,
        env_id=args.env,
        n_seeds=args.n_seeds,
        total_timesteps=args.timesteps,
        n_eval_episodes=args.episodes,
    )
    print(
        f"perturbed success SAC={summary['perturbed_success']['SAC']:.3f} "
        f"DDPG={summary['perturbed_success']['DDPG']:.3f} "
        f"diff={summary['success_diff_sac_minus_ddpg']:+.3f} CI95={summary['success_diff_ci95']}"
    )
    return summary


if __name__ == "__main__":
    main()
