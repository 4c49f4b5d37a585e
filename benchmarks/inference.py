"""
Benchmark of the exact tabular toolkit (``sb3_softopt.inference``).

Two measurements, written to ``--out`` (JSON) and printed:

1. **Scale**: a ``W x W`` reaching gridworld (default 1000 x 1000 = 10^6 states, 5 actions,
   sparse CSR model from ``build_reaching_model``), horizon 100: ``soft_value_iteration`` +
   ``forward_messages`` end to end, wall time and peak resident memory (``ru_maxrss`` of this
   process, which includes the Python/numpy/torch import baseline, reported separately).
2. **Against a dense reference**: an imitation-style implementation (the structure of
   ``imitation.algorithms.mce_irl.mce_partition_fh`` + ``mce_occupancy_frequencies``: dense
   ``(S, A, S')`` transitions, finite horizon, expected backup, alpha = 1, ``scipy.special.logsumexp``),
   written out below (``imitation`` is *not* a dependency), on a 50 x 50 grid (2,500 states),
   horizon 100. Both are run interleaved ``--reps`` times; the ratio of median times is printed
   and the outputs (V, policy, state occupancies) are compared.

Run: ``python benchmarks/inference.py --out benchmarks/results`` (``--quick``: 300 x 300 grid).
"""

from __future__ import annotations

import os

# Single-threaded BLAS for both sides: our sparse code is single-threaded, and the machine is shared.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from tqdm import tqdm

from sb3_softopt.envs.reaching import build_reaching_model
from sb3_softopt.inference import TabularMDP, forward_messages, soft_value_iteration


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------- dense reference
def dense_mce_partition_fh(T_dense: np.ndarray, R: np.ndarray, horizon: int, terminal: np.ndarray):
    """imitation-style soft VI: dense (S, A, S) transitions, Q_t = R + T @ V_{t+1}, V = logsumexp_a Q.

    ``imitation``'s version has a state reward and no terminal value (``Q_{T-1} = R``); here the
    reward is (S, A) and ``V_T = terminal`` (zero reproduces imitation's) so both solve one problem."""
    S, A, _ = T_dense.shape
    V = np.zeros((horizon, S))
    Q = np.zeros((horizon, S, A))
    v_next = terminal
    for t in reversed(range(horizon)):
        Q[t] = R + T_dense @ v_next
        V[t] = logsumexp(Q[t], axis=1)
        v_next = V[t]
    pi = np.exp(Q - V[:, :, None])
    return V, Q, pi


def dense_mce_occupancy(T_dense: np.ndarray, pi: np.ndarray, p0: np.ndarray, horizon: int) -> np.ndarray:
    """imitation-style forward pass: D_{t+1} = sum_a (D_t * pi_t[:, a]) @ T[:, a, :]."""
    S, A, _ = T_dense.shape
    D = np.zeros((horizon + 1, S))
    D[0] = p0
    for t in range(horizon):
        for a in range(A):
            D[t + 1] += (D[t] * pi[t, :, a]) @ T_dense[:, a, :]
    return D


# ------------------------------------------------------------------------------- benchmarks
def bench_scale(width: int, horizon: int, p_slip: float) -> dict:
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    m = build_reaching_model(width, width, p_slip=p_slip)
    mdp = TabularMDP(m.transition, m.reward, m.initial_state_dist, horizon, terminal_reward=m.terminal_reward)
    del m
    t_build = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    sol = soft_value_iteration(mdp, alpha=1.0, gamma=1.0, horizon=horizon)
    t_backward, c_backward = time.perf_counter() - t1, time.process_time() - c1
    t2, c2 = time.perf_counter(), time.process_time()
    d = forward_messages(mdp, sol)
    t_forward, c_forward = time.perf_counter() - t2, time.process_time() - c2
    mass_err = float(np.max(np.abs(d.sum(axis=1) - 1.0)))
    return {
        "grid": f"{width}x{width}",
        "n_states": mdp.n_states,
        "n_actions": mdp.n_actions,
        "nnz": mdp.nnz,
        "horizon": horizon,
        "p_slip": p_slip,
        "seconds_build_model": t_build,
        "seconds_soft_value_iteration": t_backward,
        "seconds_forward_messages": t_forward,
        "seconds_solve_plus_forward": t_backward + t_forward,
        "cpu_seconds_soft_value_iteration": c_backward,
        "cpu_seconds_forward_messages": c_forward,
        "cpu_seconds_solve_plus_forward": c_backward + c_forward,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss0,
        "max_forward_mass_error": mass_err,
        "start_value": float(sol.v[0, int(np.argmax(mdp.initial_state_dist))]),
    }


def bench_dense(width: int, horizon: int, p_slip: float, reps: int) -> dict:
    m = build_reaching_model(width, width, p_slip=p_slip)
    S, A = m.n_states, m.n_actions
    T_dense = m.transition.toarray().reshape(S, A, S)
    mdp = TabularMDP(m.transition, m.reward, m.initial_state_dist, horizon, terminal_reward=m.terminal_reward)
    times_dense, times_ours, cpu_dense, cpu_ours = [], [], [], []
    for _ in tqdm(range(reps), desc=f"dense vs sparse {width}x{width} (p_slip={p_slip})"):
        t0, c0 = time.perf_counter(), time.process_time()
        V_d, _, pi_d = dense_mce_partition_fh(T_dense, m.reward, horizon, m.terminal_reward)
        D_d = dense_mce_occupancy(T_dense, pi_d, m.initial_state_dist, horizon)
        times_dense.append(time.perf_counter() - t0)
        cpu_dense.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        sol = soft_value_iteration(mdp, alpha=1.0, gamma=1.0, horizon=horizon)
        pi_o = sol.policy
        D_o = forward_messages(mdp, sol)
        times_ours.append(time.perf_counter() - t0)
        cpu_ours.append(time.process_time() - c0)
    dense_med, ours_med = statistics.median(times_dense), statistics.median(times_ours)
    return {
        "grid": f"{width}x{width}",
        "n_states": S,
        "nnz": mdp.nnz,
        "horizon": horizon,
        "p_slip": p_slip,
        "reps": reps,
        "seconds_dense_median": dense_med,
        "seconds_ours_median": ours_med,
        "seconds_dense_all": times_dense,
        "seconds_ours_all": times_ours,
        "speedup": dense_med / ours_med,
        "cpu_seconds_dense_median": statistics.median(cpu_dense),
        "cpu_seconds_ours_median": statistics.median(cpu_ours),
        "speedup_cpu_time": statistics.median(cpu_dense) / statistics.median(cpu_ours),
        "max_abs_diff_V": float(np.max(np.abs(V_d - sol.v))),
        "max_abs_diff_policy": float(np.max(np.abs(pi_d - pi_o))),
        "max_abs_diff_occupancy": float(np.max(np.abs(D_d - D_o))),
        "dense_transition_mb": T_dense.nbytes / 2**20,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results", help="folder for inference.json")
    parser.add_argument("--quick", action="store_true", help="300 x 300 scale grid, 2 reps")
    parser.add_argument("--width", type=int, default=None, help="scale grid side (default 1000)")
    parser.add_argument("--horizon", type=int, default=100)
    parser.add_argument("--dense-width", type=int, default=50)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--slip-scale", action="store_true", help="also run the scale grid with p_slip=0.2")
    args = parser.parse_args(argv)
    width = args.width or (300 if args.quick else 1000)
    reps = args.reps or (2 if args.quick else 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    results: dict = {
        "command": "python benchmarks/inference.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} / Python {platform.python_version()} / numpy {np.__version__}",
    }
    # Scale first, so that ru_maxrss (a process-wide peak) measures it and not the dense part.
    print(f"[scale] {width}x{width} grid, horizon {args.horizon} ...", flush=True)
    results["scale"] = bench_scale(width, args.horizon, 0.0)
    print(json.dumps(results["scale"], indent=2), flush=True)
    results["dense_comparison"] = []
    for p_slip in (0.0, 0.2):
        r = bench_dense(args.dense_width, args.horizon, p_slip, reps)
        results["dense_comparison"].append(r)
        print(
            f"[dense] {r['grid']} p_slip={p_slip}: dense {r['seconds_dense_median']:.3f} s, ours "
            f"{r['seconds_ours_median']:.4f} s -> speedup x{r['speedup']:.1f} (CPU-time ratio "
            f"x{r['speedup_cpu_time']:.1f}); max |dV| {r['max_abs_diff_V']:.2e}, "
            f"|dpi| {r['max_abs_diff_policy']:.2e}, |dD| {r['max_abs_diff_occupancy']:.2e}",
            flush=True,
        )
    if args.slip_scale:
        print(f"[scale] {width}x{width} grid with p_slip=0.2 ...", flush=True)
        results["scale_slip"] = bench_scale(width, args.horizon, 0.2)
        print(json.dumps(results["scale_slip"], indent=2), flush=True)
    (out / "inference.json").write_text(json.dumps(results, indent=2))
    print(f"written {out / 'inference.json'}")
    return results


if __name__ == "__main__":
    main()
