"""Figures of docs/composition.md: the exact tabular gaps, and how many policy steps a composed
SQL sampler / SAC actor needs on the two-peak bandit pair.

``python benchmarks/composition.py tabular --out DIR`` (seconds) and
``python benchmarks/composition.py bandit --out DIR [--seeds 0 1 2]`` (minutes per seed).

``tabular``: on the two-goal reaching grid (21 x 11, T = 30, alpha = 1, goals (19, 2) and (19, 8),
``p_slip`` 0 and 0.2) the exact gaps of AND and OR composition, the width of Haarnoja et al.'s
bounds and the error of the divergence-corrected Q; on 200 random MDPs whether the bounds ever fail.
Results: ``DIR/composition_tabular.json``.

``bandit``:

Task 1 is ``TwoPeakBandit-v0`` with ``weights=(1, 0)`` (reward ``log N(x; -2, 1)``), task 2 with
``weights=(0, 1)`` (``log N(x; +2, 1)``), ``x = 5 a``. A bandit has no next state, so ``Q_i = r_i``
and composition is exact: at ``alpha = 1`` the AND task's soft-optimal policy is
``∝ exp((r_1 + r_2) / 2)``, a Gaussian at 0, and the OR task's is the mixture of the two peaks.
Per seed: SQL and SAC (fixed ``ent_coef=1``) are trained on each task (``--steps`` environment
steps each), composed with zero environment steps, and the fresh sampler (SQL, SVGD on the frozen
composed critic) or actor (SAC, its actor loss) is fitted on the union of the two replay buffers.
After 0, 100, 250, 500, 1000 and 2000 fit steps: total variation (20 bins over x in [-5, 5], 20k
samples) to the combined task's exact optimum and to ``exp(Q_C / alpha)`` of the composed critic.

Results: ``DIR/composition_bandit.json`` (one record per seed, algorithm, mode and step count).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th

import sb3_softopt  # noqa: F401  registers the environments
from sb3_softopt import SAC, SQL
from sb3_softopt.composition import compose, fit_composed_policy, replay_observations
from sb3_softopt.envs import two_peak_log_density
from sb3_softopt.inference import TabularMDP
from sb3_softopt.inference.composition import and_bounds, composition_gap, divergence_correction

CHECKPOINTS = (0, 100, 250, 500, 1000, 2000)
EDGES = np.linspace(-5.0, 5.0, 21)
GRID = np.linspace(-5.0, 5.0, 2001)
N_SAMPLES = 20_000
SQL_KWARGS = dict(ent_coef=1.0, learning_rate=1e-3, learning_starts=200, batch_size=128, policy_kwargs=dict(net_arch=[128, 128]))
SAC_KWARGS = dict(ent_coef=1.0, learning_rate=1e-3, learning_starts=200, batch_size=128, policy_kwargs=dict(net_arch=[128, 128]))


def bin_probs(log_density: np.ndarray) -> np.ndarray:
    """Probabilities of the 20 bins of a density given on ``GRID`` (unnormalised log values)."""
    p = np.exp(log_density - log_density.max())
    idx = np.clip(np.digitize(GRID, EDGES) - 1, 0, len(EDGES) - 2)
    mass = np.bincount(idx, weights=p, minlength=len(EDGES) - 1)
    return mass / mass.sum()


def exact_optimum(mode: str) -> np.ndarray:
    r1, r2 = two_peak_log_density(GRID, (1, 0)), two_peak_log_density(GRID, (0, 1))
    return bin_probs(0.5 * (r1 + r2) if mode == "and" else np.logaddexp(r1, r2))


def critic_target(model) -> np.ndarray:
    """``exp(Q_C(s, a) / alpha)`` of the composed critic, binned (its first Q-network, as SQL uses)."""
    a = th.as_tensor(GRID / 5.0, dtype=th.float32).reshape(-1, 1)
    with th.no_grad():
        q = model.critic(th.zeros(len(GRID), 1), a)[0].numpy().ravel()
    return bin_probs(q / model.current_ent_coef())


def sample_tv(model, target: np.ndarray) -> float:
    x = 5.0 * model.predict(np.zeros((N_SAMPLES, 1), np.float32), deterministic=False)[0][:, 0]
    counts = np.histogram(np.clip(x, -5, 5), EDGES)[0] / N_SAMPLES
    return float(0.5 * np.abs(counts - target).sum())


def run_seed(seed: int, steps: int) -> list[dict]:
    records = []
    for name, cls, kwargs in (("sql", SQL, SQL_KWARGS), ("sac", SAC, SAC_KWARGS)):
        t0 = time.time()
        models = [cls("MlpPolicy", gym.make("TwoPeakBandit-v0", weights=w), seed=seed, **kwargs).learn(steps) for w in ((1, 0), (0, 1))]
        train_s = time.time() - t0
        states = replay_observations(models)
        for mode in ("and", "or"):
            target = exact_optimum(mode)
            composed = compose(models, mode=mode, policy_steps=0, seed=seed)
            done = 0
            for checkpoint in CHECKPOINTS:
                t1 = time.time()
                if checkpoint > done:
                    fit_composed_policy(composed, states, checkpoint - done, batch_size=128)
                fit_s = time.time() - t1
                done = checkpoint
                records.append(
                    dict(
                        seed=seed, algo=name, mode=mode, policy_steps=checkpoint, env_steps=composed.num_timesteps,
                        tv_optimum=sample_tv(composed, target), tv_critic=sample_tv(composed, critic_target(composed)),
                        critic_tv_optimum=float(0.5 * np.abs(critic_target(composed) - target).sum()),
                        constituent_train_s=train_s, fit_s=fit_s,
                    )
                )  # fmt: skip
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in records[-1].items()}, flush=True)
    return records


def tabular() -> dict:
    out: dict = {}
    for p_slip in (0.0, 0.2):
        tasks = [TabularMDP.from_env(gym.make("ReachingGridworld-v0", goal=g, p_slip=p_slip)) for g in ((19, 2), (19, 8))]
        start = int(np.argmax(tasks[0].initial_state_dist))
        row: dict = {}
        for mode in ("and", "or"):
            gap = composition_gap(tasks, 1.0, mode=mode)
            row[mode] = dict(max_q_gap=gap.max_q_gap, max_kl=gap.max_kl, regret=gap.regret)
            if mode == "and":
                upper, lower = and_bounds(gap.constituents)
                q_star = np.asarray(gap.optimal.q)
                corrected = gap.composed.q + divergence_correction(gap.constituents)
                row[mode].update(
                    bound_width_start=float(np.max(upper[0, start] - lower[0, start])),
                    gap_start=float(np.max(upper[0, start] - q_star[0, start])),
                    bounds_hold=bool(np.all(q_star <= upper + 1e-9) and np.all(q_star >= lower - 1e-9)),
                    corrected_max_error=float(np.max(np.abs(corrected - q_star))),
                )
        out[f"reaching_p_slip_{p_slip}"] = row
    rng = np.random.default_rng(0)
    failures, rel = 0, []
    for _ in range(200):
        S, A = int(rng.integers(3, 12)), int(rng.integers(2, 6))
        P = rng.random((S, A, S)) ** 3
        P /= P.sum(axis=2, keepdims=True)
        tasks = [TabularMDP(P, rng.normal(size=(S, A)) * rng.uniform(0.1, 3)) for _ in range(2)]
        gap = composition_gap(tasks, float(rng.uniform(0.1, 2)), gamma=float(rng.uniform(0.5, 0.95)), horizon=None)
        upper, lower = and_bounds(gap.constituents)
        q_star = np.asarray(gap.optimal.q)
        failures += int(not (np.all(q_star <= upper + 1e-9) and np.all(q_star >= lower - 1e-9)))
        rel.append(float(np.max(upper - q_star) / max(np.max(upper - lower), 1e-12)))
    out["random_mdps"] = dict(
        n=200, bound_failures=failures, gap_over_width_median=float(np.median(rel)), gap_over_width_max=float(np.max(rel))
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("tabular", "bandit"), default="bandit")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/composition"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=1500, help="bandit: environment steps per constituent")
    args = parser.parse_args()
    th.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "tabular":
        result = tabular()
        print(json.dumps(result, indent=1))
        (args.out / "composition_tabular.json").write_text(json.dumps(result, indent=1))
        return
    records = [r for seed in args.seeds for r in run_seed(seed, args.steps)]
    (args.out / "composition_bandit.json").write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
