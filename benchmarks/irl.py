"""
Benchmark of maximum-entropy IRL (``sb3_softopt.inference.maxent_irl``) against imitation's MCE-IRL.

Reference: ``imitation.algorithms.mce_irl`` (``mce_partition_fh`` + ``mce_occupancy_measures``) when
``import imitation`` works; otherwise (imitation 1.0.1 pins stable-baselines3 ~2.2.1 and gymnasium
~0.29, so it cannot be installed beside this package) the imitation-style dense reference of
``benchmarks/inference.py`` (``dense_mce_partition_fh``, ``dense_mce_occupancy``: dense
``(S, A, S')`` transitions, the same recursions). The script prints which one it used.

1. **Agreement** on a shared ``--check-width`` (10 x 10) reaching grid with ``p_slip``, state
   features (a 4 x 4 lattice of Gaussian bumps), zero move cost and no terminal reward, so that
   imitation's state-only reward applies: soft values, policies and per-step state occupancies of
   both at a random reward.
2. **Time per IRL iteration** on a ``--width`` (50 x 50 = 2,500 states) grid, horizon 100: ours (one
   ``maxent_irl`` iteration: backward pass, ``occupancy_measure``, log-likelihood, gradient, Adam
   step) vs the reference (partition function, occupancy, gradient, Adam step, as
   ``MCEIRL._train_step``), interleaved ``--reps`` times, ``--iters`` iterations each; medians.
   The demonstrations are ``--n-demos`` trajectories of the task's soft-optimal expert.
3. ``--width 1000`` (10^6 states): ours only; the dense reference would need ``S * A * S * 8``
   bytes for its transitions, which is printed instead.

Run: ``python benchmarks/irl.py --out benchmarks/results`` (``--quick``: 30 x 30, 2 reps).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from sb3_softopt.envs.reaching import build_reaching_model
from tqdm import tqdm

from sb3_softopt.inference import (
    TabularMDP,
    expert_occupancy,
    forward_messages,
    maxent_irl,
    sample_trajectories,
    soft_value_iteration,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import dense_mce_occupancy, dense_mce_partition_fh, peak_rss_mb  # noqa: E402

try:
    from imitation.algorithms import mce_irl as imitation_mce  # type: ignore[import-not-found]
except ImportError:
    imitation_mce = None

#: Above this many bytes of dense transitions the reference is not run.
DENSE_LIMIT_BYTES = 2 << 30


def rbf_features(width: int, height: int, k: int = 4) -> np.ndarray:
    """``(S, k*k)`` Gaussian bumps on a ``k x k`` lattice of centres (the same features at every size)."""
    s = np.arange(width * height)
    xy = np.stack([s % width, s // width], axis=1) / np.array([max(width - 1, 1), max(height - 1, 1)])
    c = (np.arange(k) + 0.5) / k
    centres = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2)
    return np.exp(-((xy[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * (1.0 / k) ** 2))


def reference(T_dense: np.ndarray, r_state: np.ndarray, p0: np.ndarray, horizon: int):
    """``(V, pi, D)`` of the reference at a state reward (imitation's functions when importable)."""
    S, A, _ = T_dense.shape
    if imitation_mce is not None:
        # Duck-typed TabularModelPOMDP: older imitation reads n_states/n_actions, 1.0 state_dim/action_dim.
        env = SimpleNamespace(horizon=horizon, n_states=S, n_actions=A, state_dim=S, action_dim=A,
                              transition_matrix=T_dense, reward_matrix=r_state, initial_state_dist=p0)
        V, _, pi = imitation_mce.mce_partition_fh(env, reward=r_state)
        D, _ = imitation_mce.mce_occupancy_measures(env, reward=r_state, pi=pi)
        return V, pi, D
    V, _, pi = dense_mce_partition_fh(T_dense, np.repeat(r_state[:, None], A, axis=1), horizon, np.zeros(S))
    return V, pi, dense_mce_occupancy(T_dense, pi, p0, horizon)


def task(width: int, p_slip: float, horizon: int, move_cost: float = 0.1, distance_cost: float = 5.0):
    m = build_reaching_model(width, width, p_slip=p_slip, move_cost=move_cost, distance_cost=distance_cost)
    mdp = TabularMDP(m.transition, m.reward, m.initial_state_dist, horizon, terminal_reward=m.terminal_reward)
    return m, mdp


def bench_agreement(width: int, p_slip: float, horizon: int, seed: int) -> dict:
    m, mdp = task(width, p_slip, horizon, move_cost=0.0, distance_cost=0.0)
    S, A = mdp.n_states, mdp.n_actions
    phi = rbf_features(width, width)
    r_state = phi @ np.random.default_rng(seed).normal(size=phi.shape[1])
    V_ref, pi_ref, D_ref = reference(m.transition.toarray().reshape(S, A, S), r_state, m.initial_state_dist, horizon)
    sol = soft_value_iteration(mdp.with_rewards(np.repeat(r_state[:, None], A, axis=1)), 1.0, gamma=1.0, horizon=horizon)
    D = forward_messages(mdp, sol)
    return {
        "grid": f"{width}x{width}", "n_states": S, "horizon": horizon, "p_slip": p_slip, "seed": seed,
        "max_abs_diff_V": float(np.max(np.abs(V_ref - sol.v))),
        "max_abs_diff_policy": float(np.max(np.abs(pi_ref - sol.policy))),
        "max_abs_diff_state_occupancy": float(np.max(np.abs(D_ref - D))),
    }


def reference_iterations(T_dense, phi, D_expert, p0, horizon, iters, lr):
    """imitation's ``MCEIRL._train_step`` with a linear state reward: Adam on
    ``dot(Dcum_model - Dcum_expert, r_theta)``, ``Dcum`` summed over the T + 1 steps."""
    theta = torch.zeros(phi.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=lr)
    phi_t = torch.from_numpy(phi)
    for _ in range(iters):
        opt.zero_grad()
        r = phi_t @ theta
        D = reference(T_dense, r.detach().numpy(), p0, horizon)[2]
        torch.dot(torch.from_numpy(D.sum(0) - D_expert), r).backward()
        opt.step()


def bench_iterations(width: int, p_slip: float, horizon: int, reps: int, iters: int, n_demos: int, seed: int) -> dict:
    t0 = time.perf_counter()
    m, mdp = task(width, p_slip, horizon)
    S, A = mdp.n_states, mdp.n_actions
    phi = rbf_features(width, width)
    demos = sample_trajectories(mdp, soft_value_iteration(mdp, 1.0), n_demos, seed=seed)
    demo = expert_occupancy(mdp, demos, horizon=horizon)
    setup = time.perf_counter() - t0
    dense_bytes = S * A * S * 8
    run_dense = dense_bytes <= DENSE_LIMIT_BYTES
    if run_dense:
        T_dense = m.transition.toarray().reshape(S, A, S)
        D_expert = np.bincount(np.concatenate([tr.states for tr in demos]), minlength=S) / n_demos
    maxent_irl(mdp, phi, demo, horizon=horizon, max_iter=1)  # warm-up: torch.optim's first use imports ~4 s of modules
    ours, dense = [], []
    for _ in tqdm(range(reps), desc=f"IRL iterations {width}x{width} (p_slip={p_slip})"):
        t = time.perf_counter()
        res = maxent_irl(mdp, phi, demo, horizon=horizon, max_iter=iters, linf_eps=0.0, grad_l2_eps=0.0)
        ours.append((time.perf_counter() - t) / iters)
        if run_dense:
            t = time.perf_counter()
            reference_iterations(T_dense, phi, D_expert, m.initial_state_dist, horizon, iters, 0.1)
            dense.append((time.perf_counter() - t) / iters)
    out = {
        "grid": f"{width}x{width}", "n_states": S, "n_actions": A, "nnz": mdp.nnz, "horizon": horizon,
        "p_slip": p_slip, "n_features": phi.shape[1], "n_demos": n_demos, "seed": seed, "reps": reps,
        "iters_per_rep": iters, "seconds_setup": setup, "keeps_q": res.solution.keeps_q,
        "seconds_per_iteration_ours_median": statistics.median(ours), "seconds_per_iteration_ours_all": ours,
        "log_likelihood_after": res.log_likelihood, "dense_transition_bytes": dense_bytes,
        "peak_rss_mb": peak_rss_mb(),
    }
    if run_dense:
        out.update(seconds_per_iteration_reference_median=statistics.median(dense), seconds_per_iteration_reference_all=dense,
                   speedup=statistics.median(dense) / statistics.median(ours))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results", help="folder for irl.json")
    parser.add_argument("--quick", action="store_true", help="30 x 30 grid, 2 reps of 2 iterations")
    parser.add_argument("--width", type=int, default=None, help="timing grid side (default 50; 1000 = 10^6 states, ours only)")
    parser.add_argument("--check-width", type=int, default=10, help="side of the agreement grid")
    parser.add_argument("--horizon", type=int, default=100)
    parser.add_argument("--p-slip", type=float, default=0.2)
    parser.add_argument("--reps", type=int, default=None, help="default 5 (2 with --quick)")
    parser.add_argument("--iters", type=int, default=None, help="IRL iterations per rep (default 3, 2 with --quick)")
    parser.add_argument("--n-demos", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    width = args.width or (30 if args.quick else 50)
    reps = args.reps or (2 if args.quick else 5)
    iters = args.iters or (2 if args.quick else 3)
    torch.set_num_threads(1)
    used = "imitation.algorithms.mce_irl" if imitation_mce is not None else "dense reference of benchmarks/inference.py (imitation not importable)"
    print(f"reference: {used}", flush=True)
    results: dict = {
        "command": "python benchmarks/irl.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} / Python {platform.python_version()} / numpy {np.__version__} / torch {torch.__version__}",
        "reference": used,
    }
    a = bench_agreement(args.check_width, args.p_slip, 30, args.seed)
    results["agreement"] = a
    print(f"[agreement] {a['grid']} p_slip={a['p_slip']} T=30 seed={a['seed']}: max |dV| {a['max_abs_diff_V']:.2e}, "
          f"|dpi| {a['max_abs_diff_policy']:.2e}, |dD| {a['max_abs_diff_state_occupancy']:.2e}", flush=True)
    r = bench_iterations(width, args.p_slip, args.horizon, reps, iters, args.n_demos, args.seed)
    results["iterations"] = r
    line = (f"[iteration] {r['grid']} ({r['n_states']} states, nnz {r['nnz']}) T={r['horizon']} p_slip={r['p_slip']} "
            f"K={r['n_features']} {r['n_demos']} demos seed={r['seed']}: ours {r['seconds_per_iteration_ours_median']:.4f} s/iter")
    if "speedup" in r:
        line += f", reference {r['seconds_per_iteration_reference_median']:.3f} s/iter -> x{r['speedup']:.1f}"
    else:
        line += (f"; the dense reference would need {r['dense_transition_bytes'] / 1e12:.3g} TB for its (S, A, S) "
                 "transitions: it cannot run")
    print(line + f" (median of {reps} reps x {iters} iterations; peak RSS {r['peak_rss_mb'] / 1024:.2f} GB)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "irl.json").write_text(json.dumps(results, indent=2))
    print(f"written {out / 'irl.json'}")
    return results


if __name__ == "__main__":
    main()
