"""Mutation audit: apply deliberate bugs, one at a time, to a *copy* of the package and run the tests
that should catch each one.

    python tools/mutation_audit.py                 # every mutant
    python tools/mutation_audit.py --list          # the mutants and their tests
    python tools/mutation_audit.py softdqn-online-target pointgoal-cost-sign   # some of them

The checkout is never modified. Each mutant gets a fresh temporary directory holding a copy of
``sb3_softopt/`` with ``envs/`` and ``zoo_configs/`` placed inside it (the layout of a regular
install), the one substitution applied there; pytest then runs from the repository root with that
directory first on ``PYTHONPATH`` and ``python -P`` (the repository root is not put on
``sys.path``), so the tests import the mutated copy. Before the mutants, the same tests run against
an unmutated copy and must pass; for every mutant the script checks that the mutated module is the
one imported. A mutant is *killed* when its tests fail, *survived* when they pass.

Each substitution must match its file exactly once (the script refuses a stale mutant). The result
(mutant, file, tests, outcome, seconds) is printed as a table and, with ``--json PATH``, written out.
docs/testing.md reports the last run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    #: repository-relative path (``envs/...`` maps to ``sb3_softopt/envs/...`` in the copy)
    path: str
    old: str
    new: str
    #: pytest node ids (relative to the repository root) expected to fail with the mutant
    tests: tuple[str, ...]
    #: what the bug is, in words
    why: str


T_DQN = "tests/test_soft_dqn.py"
T_SQL = "tests/test_sql.py"
T_INF = "tests/test_inference.py"
T_EQ = "tests/test_equivalence.py"

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ SoftDQN (issue #33 list)
    Mutant(
        "softdqn-nstep-done-ignored",
        "sb3_softopt/soft_dqn/soft_dqn.py",
        "target = rewards + (1 - replay_data.dones) * discounts * next_value",
        "target = rewards + discounts * next_value",
        (f"{T_DQN}::test_n_step_target_hand_computation",),
        "n-step target bootstraps past a termination",
    ),
    Mutant(
        "softdqn-nstep-gamma-not-gamma-k",
        "sb3_softopt/soft_dqn/soft_dqn.py",
        "discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma",
        "discounts = self.gamma",
        (f"{T_DQN}::test_n_step_target_hand_computation",),
        "n-step target discounts the bootstrap by gamma instead of gamma^k",
    ),
    Mutant(
        "softdqn-online-target",
        "sb3_softopt/soft_dqn/soft_dqn.py",
        "next_q_target = self.q_net_target(replay_data.next_observations)",
        "next_q_target = self.q_net(replay_data.next_observations)",
        (f"{T_DQN}::test_target_matches_hand_computation",),
        "the bootstrap uses the online network instead of the target network",
    ),
    Mutant(
        "softdqn-1step-done-ignored",
        "sb3_softopt/soft_dqn/soft_dqn.py",
        "target = th.addcmul(rewards, 1 - replay_data.dones, next_value, value=discounts)",
        "target = th.addcmul(rewards, th.ones_like(replay_data.dones), next_value, value=discounts)",
        (f"{T_DQN}::test_target_matches_hand_computation",),
        "1-step target bootstraps past a termination",
    ),
    Mutant(
        "softdqn-soft-value-is-max",
        "sb3_softopt/soft_dqn/soft_dqn.py",
        "next_value = soft_value(next_q_target, ent_coef)",
        "next_value = next_q_target.max(dim=1, keepdim=True).values",
        (f"{T_DQN}::test_target_matches_hand_computation", f"{T_DQN}::test_gridworld_matches_soft_value_iteration"),
        "hard max instead of the soft value (no entropy bonus)",
    ),
    Mutant(
        "softdqn-soft-value-no-temperature",
        "sb3_softopt/soft_dqn/soft_dqn.py",
        "next_value = soft_value(next_q_target, ent_coef)",
        "next_value = soft_value(next_q_target, 1.0)",
        (f"{T_DQN}::test_gridworld_matches_soft_value_iteration",),
        "soft value at alpha = 1 whatever the temperature (caught by the gridworld oracle alone)",
    ),
    Mutant(
        "entropy-ppo-bonus-sign",
        "sb3_softopt/entropy_ppo/entropy_ppo.py",
        "rollout_buffer.rewards += (alpha * bonus)",
        "rollout_buffer.rewards -= (alpha * bonus)",
        ("tests/test_entropy_ppo.py::test_tabular_mdp_policy_approaches_soft_value_iteration",),
        "EntropyPPO's soft reward subtracts the entropy bonus (the oracle alone, no hand computation)",
    ),
    Mutant(
        "sql-uniform-volume-sign",
        "sb3_softopt/sql/svgd.py",
        "log_volume = action_dim * math.log(2.0) - math.log(n_particles)",
        "log_volume = action_dim * math.log(2.0) + math.log(n_particles)",
        (f"{T_SQL}::test_uniform_soft_value_estimates_the_log_partition_function",),
        "importance-sampling soft value multiplies by M instead of averaging",
    ),
    # ------------------------------------------------------------------ inference toolkit
    Mutant(
        "backup-q-missing-alpha",
        "sb3_softopt/inference/backup.py",
        "    return alpha * segment_logsumexp(vals, indptr).reshape(-1, mdp.n_actions)",
        "    return segment_logsumexp(vals, indptr).reshape(-1, mdp.n_actions)",
        (T_INF,),
        "the optimistic (exact-inference) backup drops the temperature factor",
    ),
    Mutant(
        "backup-gamma-ignored",
        "sb3_softopt/inference/backup.py",
        "vals = mdp.log_p_nz[nz] + (gamma / alpha) * v_next[cols]",
        "vals = mdp.log_p_nz[nz] + (1.0 / alpha) * v_next[cols]",
        ("tests/test_inference_paths.py",),
        "discount ignored in the row-by-row exact backup (the underflow fallback and the `states=` path)",
    ),
    Mutant(
        "forward-backward-logz-alpha",
        "sb3_softopt/inference/messages.py",
        "log_z = logsumexp(log_fwd[0] + sol.v[0] / alpha)",
        "log_z = logsumexp(log_fwd[0] + sol.v[0])",
        (T_INF,),
        "log p(O) without dividing V_0 by alpha",
    ),
    Mutant(
        "marginal-entropy-bits",
        "sb3_softopt/inference/messages.py",
        "return entropy(marginals, axis=-1)",
        "return entropy(marginals, axis=-1, base=2)",
        (f"{T_INF}::test_marginal_entropy_closed_forms",),
        "marginal_entropy in bits instead of nats",
    ),
    Mutant(
        "marginal-entropy-wrong-axis",
        "sb3_softopt/inference/messages.py",
        "return entropy(marginals, axis=-1)",
        "return entropy(marginals, axis=0)",
        (f"{T_INF}::test_marginal_entropy_closed_forms",),
        "entropy over time instead of over states",
    ),
    # ------------------------------------------------------------------ SQL: diagnostics and SVGD
    Mutant(
        "histogram-tv-halved",
        "sb3_softopt/sql/diagnostics.py",
        "return 0.5 * float(np.abs(target / target.sum() - empirical).sum())",
        "return 0.25 * float(np.abs(target / target.sum() - empirical).sum())",
        (f"{T_SQL}::test_histogram_tv_against_independent_references",),
        "total variation halved",
    ),
    Mutant(
        "histogram-tv-off-by-one-bin",
        "sb3_softopt/sql/diagnostics.py",
        "idx = np.clip(((points + 1) / 2 * n_bins).astype(int), 0, n_bins - 1)",
        "idx = np.clip(((points + 1) / 2 * n_bins).astype(int) + 1, 0, n_bins - 1)",
        (f"{T_SQL}::test_histogram_tv_against_independent_references",),
        "samples and density binned one bin off",
    ),
    Mutant(
        "svgd-no-repulsion",
        "sb3_softopt/sql/svgd.py",
        "phi = (kappa.unsqueeze(-1) * grad_log_p.unsqueeze(-2) + kappa_grad).mean(dim=-3)",
        "phi = (kappa.unsqueeze(-1) * grad_log_p.unsqueeze(-2)).mean(dim=-3)",
        (f"{T_SQL}::test_svgd_direction_equals_the_formula_written_out",),
        "SVGD without the kernel-gradient (repulsion) term",
    ),
    Mutant(
        "svgd-sum-not-mean",
        "sb3_softopt/sql/svgd.py",
        "phi = (kappa.unsqueeze(-1) * grad_log_p.unsqueeze(-2) + kappa_grad).mean(dim=-3)",
        "phi = (kappa.unsqueeze(-1) * grad_log_p.unsqueeze(-2) + kappa_grad).sum(dim=-3)",
        (f"{T_SQL}::test_svgd_direction_equals_the_formula_written_out",),
        "SVGD direction summed over the fixed particles instead of averaged",
    ),
    Mutant(
        "svgd-repulsion-sign",
        "sb3_softopt/sql/svgd.py",
        "kappa_grad = -2.0 * diff / h[..., None, None, None] * kappa.unsqueeze(-1)",
        "kappa_grad = 2.0 * diff / h[..., None, None, None] * kappa.unsqueeze(-1)",
        (f"{T_SQL}::test_svgd_direction_equals_the_formula_written_out",),
        "kernel gradient with the wrong sign (attraction between particles)",
    ),
    Mutant(
        "svgd-bandwidth-no-log",
        "sb3_softopt/sql/svgd.py",
        "h = (median / math.log(n_x)).clamp(min=h_min)",
        "h = median.clamp(min=h_min)",
        (f"{T_SQL}::test_svgd_direction_equals_the_formula_written_out",),
        "median heuristic without the 1/log K factor",
    ),
    Mutant(
        "equivalence-kl-reversed",
        "sb3_softopt/experiments/equivalence.py",
        "kl = np.sum(pi * (ref.log_policy - log_q), axis=1)",
        "kl = np.sum(np.exp(log_q) * (log_q - ref.log_policy), axis=1)",
        (f"{T_EQ}::test_weighted_kl_closed_forms", f"{T_EQ}::test_both_agents_move_toward_the_exact_policy"),
        "KL(pi || pi*) instead of KL(pi* || pi)",
    ),
    # ------------------------------------------------------------------ environments
    Mutant(
        "pointgoal-cost-sign",
        "envs/point_goal.py",
        "return progress + at_goal - self.action_cost * (ax * ax + ay * ay)",
        "return progress + at_goal + self.action_cost * (ax * ax + ay * ay)",
        ("tests/test_point_goal.py::test_action_cost_at_the_default_weight",),
        "the action cost rewards instead of penalising",
    ),
    Mutant(
        "pointgoal-cost-l1",
        "envs/point_goal.py",
        "return progress + at_goal - self.action_cost * (ax * ax + ay * ay)",
        "return progress + at_goal - self.action_cost * (abs(ax) + abs(ay))",
        ("tests/test_point_goal.py::test_action_cost_at_the_default_weight",),
        "L1 instead of squared L2 action cost",
    ),
    # ------------------------------------------------------------------ experiments' quick runs
    Mutant(
        "temperature-gap-whole-run",
        "sb3_softopt/experiments/temperature.py",
        'late = [r for r in rows if r["timestep"] >= steps / 2]',
        "late = list(rows)",
        ("tests/test_temperature.py::test_quick_run_summary_is_the_second_half_of_its_records",),
        "the tracking gap averaged over the whole run instead of its second half",
    ),
    Mutant(
        "temperature-gap-first-half",
        "sb3_softopt/experiments/temperature.py",
        'late = [r for r in rows if r["timestep"] >= steps / 2]',
        'late = [r for r in rows if r["timestep"] < steps / 2]',
        ("tests/test_temperature.py::test_quick_run_summary_is_the_second_half_of_its_records",),
        "the tracking gap averaged over the first half",
    ),
    Mutant(
        "multigoal-goal-counts-first-goal-only",
        "sb3_softopt/experiments/multigoal.py",
        "n_goals_reached=int((counts > 0).sum())",
        "n_goals_reached=int(counts[0] > 0)",
        ("tests/test_multigoal.py::test_quick_cli_end_to_end",),
        "goals reached counted wrongly (only the first goal)",
    ),
)


def _copy_package(dest: Path) -> Path:
    """A regular-install layout of the package under ``dest``; returns the package folder."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    pkg = dest / "sb3_softopt"
    shutil.copytree(ROOT / "sb3_softopt", pkg, ignore=ignore)
    shutil.copytree(ROOT / "envs", pkg / "envs", ignore=ignore)
    shutil.copytree(ROOT / "zoo_configs", pkg / "zoo_configs", ignore=ignore)
    return pkg


def _copy_path(pkg: Path, repo_path: str) -> Path:
    if repo_path.startswith("envs/"):
        return pkg / repo_path
    if not repo_path.startswith("sb3_softopt/"):
        raise ValueError(f"mutants live in sb3_softopt/ or envs/, got {repo_path}")
    return pkg.parent / repo_path


def _module_name(repo_path: str) -> str:
    mod = repo_path[: -len(".py")].replace("/", ".")
    return "sb3_softopt." + mod if repo_path.startswith("envs/") else mod


def _env(copy_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy_root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _pytest(copy_root: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, float, str]:
    cmd = [sys.executable, "-P", "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-x", "-m", "", *tests]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=_env(copy_root), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, time.perf_counter() - t0, "timeout"
    return proc.returncode, time.perf_counter() - t0, (proc.stdout + proc.stderr)[-2000:]


def _imported_from(copy_root: Path, module: str) -> str:
    code = f"import importlib; print(importlib.import_module({module!r}).__file__)"
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=ROOT, env=_env(copy_root), capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr[-500:]


def run_one(m: Mutant | None, tests: tuple[str, ...], timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="mutant_") as tmp:
        root = Path(tmp)
        pkg = _copy_package(root)
        if m is not None:
            target = _copy_path(pkg, m.path)
            text = target.read_text()
            if text.count(m.old) != 1:
                raise SystemExit(f"mutant {m.name}: the original text occurs {text.count(m.old)} times in {m.path} (stale mutant)")
            target.write_text(text.replace(m.old, m.new))
            where = _imported_from(root, _module_name(m.path))
            if Path(where).resolve() != target.resolve():
                raise SystemExit(f"mutant {m.name}: the tests would import {where}, not the mutated copy {target}")
        rc, seconds, tail = _pytest(root, tests, timeout)
    return dict(rc=rc, seconds=round(seconds, 1), tail=tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run against the unmutated copy")
    args = parser.parse_args(argv)
    known = {m.name: m for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutants {unknown}; known: {sorted(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(MUTANTS)
    if args.list:
        for m in chosen:
            print(f"{m.name:40s} {m.path}\n    {m.why}\n    tests: {' '.join(m.tests)}")
        return 0

    if not args.no_baseline:
        all_tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        base = run_one(None, all_tests, args.timeout)
        print(f"baseline (unmutated copy, {len(all_tests)} tests): rc={base['rc']} in {base['seconds']} s", flush=True)
        if base["rc"] != 0:
            print(base["tail"])
            print("the tests fail without a mutant: fix them first")
            return 2

    results = []
    for m in chosen:
        r = run_one(m, m.tests, args.timeout)
        # 1: a test failed; 2: interrupted by an error (e.g. the mutant breaks an import); 124: timed out.
        # Anything else (no tests collected, usage error) is an error of the audit, not a kill.
        outcome = "killed" if r["rc"] in (1, 2, 124) else ("SURVIVED" if r["rc"] == 0 else f"error rc={r['rc']}")
        results.append(dict(name=m.name, path=m.path, why=m.why, tests=list(m.tests), outcome=outcome, rc=r["rc"], seconds=r["seconds"], tail=r["tail"][-600:]))
        print(f"{outcome:9s} {m.name:40s} rc={r['rc']:<3d} {r['seconds']:6.1f} s  {m.path}", flush=True)
    killed = sum(r["outcome"] == "killed" for r in results)
    print(f"mutation score: {killed}/{len(results)} killed")
    if args.json:
        args.json.write_text(json.dumps(dict(killed=killed, total=len(results), results=results), indent=2))
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
