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

3. **A user-built model, every documented path**: a ``W x W`` gridworld built by hand as a CSR
   ``(S*A, S)`` matrix from COO triplets (:func:`build_user_gridworld`, uniform start, so the
   forward pass covers every state from the first step), ``p_slip`` 0 and 0.2, horizon 100,
   alpha = 1. Each path of ``PATHS`` (solution, ``sol.policy``, ``sol.q``, float32 materialisation,
   exact inference, state marginals, occupancy) runs end to end in a fresh process (its own peak
   RSS), beside the plain-scipy soft VI backward a user would write (``scipy_backward``); the
   ratio of each to that baseline is printed.

Run: ``python benchmarks/inference.py --out benchmarks/results --slip-scale`` (``--quick``: 300 x 300).
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
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from tqdm import tqdm

from sb3_softopt.envs.reaching import build_reaching_model
from sb3_softopt.inference import (  # noqa: F401  (the PATHS snippets use them)
    TabularMDP,
    evaluate_policy,
    exact_inference,
    forward_messages,
    occupancy_measure,
    soft_value_iteration,
    state_marginals,
)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MiB): Linux's ``VmHWM``, which, unlike ``ru_maxrss``,
    does not inherit the parent's peak across fork + exec (the paths run in child processes)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


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


# ------------------------------------------------------------------- a user-built CSR model
def build_user_gridworld(width: int, p_slip: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """What a user writes by hand: a ``W x W`` grid, 5 actions (stay, up, down, left, right; moves
    into the border stay put), slip to a uniformly random action with probability ``p_slip``,
    ``P`` built from COO triplets (int64 indices, duplicates summed), ``r(s, a)`` = minus the
    normalised distance to the centre minus 0.1 per move. No start distribution (uniform)."""
    S, A = width * width, 5
    s = np.arange(S, dtype=np.int64)
    x, y = s % width, s // width
    moves = [(0, 0), (0, -1), (0, 1), (-1, 0), (1, 0)]
    nxt = np.stack([np.clip(y + dy, 0, width - 1) * width + np.clip(x + dx, 0, width - 1) for dx, dy in moves], 1)
    if p_slip == 0.0:
        P = sp.csr_matrix((np.ones(S * A), (np.arange(S * A), nxt.ravel())), shape=(S * A, S))
    else:
        w = np.full((A, A), p_slip / A) + (1.0 - p_slip) * np.eye(A)  # w[a, k]: executed k when a is chosen
        rows = np.repeat(np.arange(S * A), A)
        cols = np.broadcast_to(nxt[:, None, :], (S, A, A)).ravel()
        data = np.broadcast_to(w, (S, A, A)).ravel()
        P = sp.coo_matrix((data, (rows, cols)), shape=(S * A, S)).tocsr()
    c = width // 2
    r = -(np.abs(x - c) + np.abs(y - c))[:, None] / width - 0.1 * (np.arange(A) > 0)
    return P, r


def scipy_backward(P: sp.csr_matrix, R: np.ndarray, horizon: int, alpha: float = 1.0) -> np.ndarray:
    """The plain-scipy soft VI a user would write: ``Q = R + P V``, ``V = alpha logsumexp(Q / alpha)``."""
    S, A = R.shape
    V = np.zeros((horizon + 1, S))
    for t in range(horizon - 1, -1, -1):
        Q = R + (P @ V[t + 1]).reshape(S, A)
        V[t] = alpha * logsumexp(Q / alpha, axis=1)
    return V


#: Each documented path of the toolkit, end to end on the user-built model (one fresh process each,
#: so that the peak RSS is that path's own): (untimed setup, timed code).
SOLVE = "sol = soft_value_iteration(mdp, 1.0)"
PATHS = {
    "scipy backward alone (baseline)": ("", "V = scipy_backward(P, R, T)"),
    "soft_value_iteration alone": ("", SOLVE),
    "forward_messages(mdp, sol)": ("", SOLVE + "; d = forward_messages(mdp, sol)"),
    "forward_messages(mdp, sol.policy) (README)": ("", SOLVE + "; d = forward_messages(mdp, sol.policy)"),
    "sol.q[t] and sol.policy[t] for every t": ("", SOLVE + "; d = [(q.max(), p.max()) for q, p in zip(sol.q, sol.policy)]"),
    "occupancy_measure(mdp, sol)": ("", SOLVE + "; rho = occupancy_measure(mdp, sol)"),
    "np.asarray(sol.policy, float32) + forward_messages": ("", SOLVE + "; pi = np.asarray(sol.policy, dtype=np.float32); d = forward_messages(mdp, pi)"),
    "exact_inference + forward_messages": ("", "sol = exact_inference(mdp, 1.0); d = forward_messages(mdp, sol)"),
    "state_marginals(method='exact')": ("", "d = state_marginals(mdp, 1.0)"),
    "state_marginals(method='variational')": ("", "d = state_marginals(mdp, 1.0, method='variational')"),
    "build sol.policy (float32) only": (SOLVE, "pi = np.asarray(sol.policy, dtype=np.float32)"),
    "build sol.q (float32) only": (SOLVE, "q = np.asarray(sol.q, dtype=np.float32)"),
}


def run_path(name: str, width: int, horizon: int, p_slip: float) -> dict:
    """One path in this process: build the model, run the setup, then time the path's code."""
    P, R = build_user_gridworld(width, p_slip)
    mdp = TabularMDP(P, R, None, horizon)
    env = {"np": np, "P": mdp.P, "R": R, "T": horizon, "mdp": mdp, **globals()}
    setup, code = PATHS[name]
    exec(setup, env)
    rss0 = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    exec(code, env)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"path": name, "seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb(), "rss_before_timed_mb": rss0}


def bench_infinite(width: int, p_slip: float, gamma: float) -> dict:
    """The discounted infinite-horizon paths on the user-built model: soft VI to convergence, the
    occupancy measure and the evaluation of its policy (one linear solve each)."""
    P, R = build_user_gridworld(width, p_slip)
    mdp = TabularMDP(P, R, None, None)
    t = time.perf_counter()
    sol = soft_value_iteration(mdp, 1.0, gamma=gamma, horizon=None, tol=1e-8)
    t_vi = time.perf_counter() - t
    t = time.perf_counter()
    rho = occupancy_measure(mdp, sol, gamma=gamma)
    t_occ = time.perf_counter() - t
    t = time.perf_counter()
    v = evaluate_policy(mdp, sol, alpha=1.0, gamma=gamma)
    t_eval = time.perf_counter() - t
    return {"grid": f"{width}x{width}", "p_slip": p_slip, "gamma": gamma, "n_iter": sol.n_iter,
            "seconds_soft_value_iteration": t_vi, "seconds_occupancy_measure": t_occ,
            "seconds_evaluate_policy": t_eval, "occupancy_mass_error": abs(float(rho.sum()) - 1 / (1 - gamma)),
            "max_abs_diff_policy_value_vs_V": float(np.max(np.abs(v - sol.v))), "peak_rss_mb": peak_rss_mb()}


def bench_user_csr(width: int, horizon: int, p_slip: float) -> dict:
    rows = []
    for name in tqdm(PATHS, desc=f"user-built CSR {width}x{width} p_slip={p_slip}"):
        cmd = [sys.executable, __file__, "--path", name, "--width", str(width), "--horizon", str(horizon),
               "--p-slip", str(p_slip)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = rows[0]["seconds"]
    for r in rows:
        r["ratio_to_scipy_backward"] = r["seconds"] / base
        tqdm.write(f"  {r['path']:<48} {r['seconds']:7.2f} s ({r['ratio_to_scipy_backward']:.2f}x scipy backward), "
                   f"peak {r['peak_rss_mb'] / 1024:.2f} GB")
    P, _ = build_user_gridworld(width, p_slip)
    return {"grid": f"{width}x{width}", "n_states": width * width, "n_actions": 5, "nnz": int(P.nnz),
            "horizon": horizon, "alpha": 1.0, "p_slip": p_slip, "paths": rows}


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
    parser.add_argument("--user-slip", type=float, nargs="*", default=[0.0, 0.2],
                        help="p_slip values of the user-built CSR case (none: skip it)")
    parser.add_argument("--infinite", action="store_true",
                        help="only the discounted infinite-horizon paths on the user-built grid (p_slip=0.2, gamma=0.95)")
    parser.add_argument("--path", help=argparse.SUPPRESS)  # internal: run one documented path
    parser.add_argument("--p-slip", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.path:
        print(json.dumps(run_path(args.path, args.width, args.horizon, args.p_slip)))
        return {}
    if args.infinite:
        r = bench_infinite(args.width or (300 if args.quick else 1000), 0.2, 0.95)
        print(json.dumps(r, indent=2))
        return r
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
    results["user_csr"] = []
    for p_slip in args.user_slip:
        print(f"[user CSR] {width}x{width} grid, p_slip={p_slip}, horizon {args.horizon} ...", flush=True)
        results["user_csr"].append(bench_user_csr(width, args.horizon, p_slip))
    if args.slip_scale:
        print(f"[scale] {width}x{width} grid with p_slip=0.2 ...", flush=True)
        results["scale_slip"] = bench_scale(width, args.horizon, 0.2)
        print(json.dumps(results["scale_slip"], indent=2), flush=True)
    (out / "inference.json").write_text(json.dumps(results, indent=2))
    print(f"written {out / 'inference.json'}")
    return results


if __name__ == "__main__":
    main()
