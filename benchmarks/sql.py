"""Benchmark of ``sb3_softopt.SQL`` against SB3's SAC (speed, Pendulum) and DDPG (MultiGoal).

``python benchmarks/sql.py {speed,pendulum,svgd} --out DIR``

* ``speed``: CPU time of ``train()`` per gradient step, SQL against ``stable_baselines3.SAC`` with
  the same networks and batch size, on the same filled Pendulum-v1 replay buffer, repetitions
  interleaved (alternating order, one process, median and range of the per-repetition ratios); also
  SQL's step split into its phases (``SQL_PHASES``: replay sample, target network on the value
  particles, critic step, sampler particles, Q gradient at the fixed particles, kernel and SVGD
  direction, sampler step, target update), timed in situ step by step.
* ``pendulum``: Pendulum-v1 for ``--steps`` (20k) per seed, SQL with its ``zoo_configs/sql.yml``
  entry and SB3's SAC with rl-zoo3's entry (learning_rate 1e-3) in the same run; deterministic
  evaluation on 10 episodes every quarter of training (SB3's ``evaluate_policy``). Resumable: a
  seed whose CSV holds its four whole checkpoints is not trained again; every file is written
  atomically and checked before it is reused (a truncated or foreign one is named and rerun), and
  the workers exit when a killed parent leaves them.
* ``svgd``: the sampler alone, trained by SQL's SVGD update on known densities (a two-component
  mixture in 1-D, a four-mode one in 2-D, modes 2 sigma from the centre): total variation of 50k
  samples to the density (20 bins in 1-D, 10 x 10 in 2-D), per seed and number of steps.

MultiGoal-v0 (SQL against DDPG) is the experiment ``python -m sb3_softopt.experiments.multigoal``.

Results: ``DIR/sql_speed.json``, ``DIR/sql_pendulum.{csv,json,png}``, ``DIR/sql_svgd.csv``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

import pandas as pd
import torch as th

from sb3_softopt.experiments.infra.atomic import InvalidResult, atomic_path, atomic_write_json, exit_with_parent, is_trusted, load_curve

SPEED_CONFIGS = (([256, 256], 256), ([128, 128], 128), ([64, 64], 64))


def _zoo(env_id: str, algo: str):
    from sb3_softopt.zoo import zoo_entry

    return zoo_entry(env_id, algo)


# ----------------------------------------------------------------------------- speed
#: The phases of one SQL gradient step, in order (what ``_timed_sql_step`` times).
SQL_PHASES = (
    "replay_sample",
    "value_particles",  # target network on the M uniform particles of every next state, soft value (no grad)
    "critic_step",  # Q(s, a), loss, backward, Adam
    "sampler_fixed_particles",  # the sampler's fixed particles (no grad)
    "q_gradient",  # grad_a of Q / alpha + log-Jacobian at the fixed particles (critic forward and backward)
    "sampler_updated_particles",  # the sampler's updated particles (forward with graph)
    "kernel_direction",  # RBF kernel, median bandwidth, SVGD direction
    "sampler_step",  # surrogate loss, backward through the sampler, Adam
    "target_update",  # Polyak update of the target critic
)


def _timed_sql_step(model, batch_size: int, alpha: float) -> dict[str, float]:
    """One gradient step of ``SQL.train`` written out phase by phase (the library's functions, the
    same computation and random draws), with the CPU seconds of each phase."""
    from stable_baselines3.common.utils import polyak_update
    from torch.nn import functional as F

    from sb3_softopt.sql.policies import particle_q_values
    from sb3_softopt.sql.svgd import SQUASH_EPS, svgd_direction, uniform_soft_value

    times, last = {}, time.process_time()

    def lap(name: str) -> None:
        nonlocal last
        now = time.process_time()
        times[name], last = now - last, now

    data = model.replay_buffer.sample(batch_size)
    lap("replay_sample")
    with th.no_grad():
        uniform = 2.0 * th.rand(batch_size, model.value_n_particles, model.action_dim) - 1.0
        next_value = uniform_soft_value(particle_q_values(model.critic_target, data.next_observations, uniform), alpha, model.action_dim)
        target = data.rewards + (1 - data.dones) * model.gamma * next_value
    lap("value_particles")
    loss = 0.5 * F.mse_loss(model.critic(data.observations, data.actions)[0], target)
    model.critic.optimizer.zero_grad()
    loss.backward()
    model.critic.optimizer.step()
    lap("critic_step")
    actor, obs = model.actor, data.observations
    features = actor.extract_features(obs, actor.features_extractor)
    with th.no_grad():
        fixed = actor.particles(features, model.n_fixed_particles)
    lap("sampler_fixed_particles")
    fixed.requires_grad_(True)
    actions = th.tanh(fixed)
    log_p = particle_q_values(model.critic, obs, actions) / alpha + th.log(1.0 - actions.pow(2) + SQUASH_EPS).sum(dim=-1)
    (grad_log_p,) = th.autograd.grad(log_p.sum(), fixed)
    lap("q_gradient")
    updated = actor.particles(features, model.n_updated_particles)
    lap("sampler_updated_particles")
    direction, _ = svgd_direction(fixed.detach(), updated, grad_log_p)
    lap("kernel_direction")
    loss = -(direction.detach() * updated).sum(dim=-1).mean()
    model.actor.optimizer.zero_grad()
    loss.backward()
    model.actor.optimizer.step()
    lap("sampler_step")
    polyak_update(model.critic.parameters(), model.critic_target.parameters(), model.tau)
    lap("target_update")
    return times


def _sql_phases(model, batch_size: int, steps: int) -> dict[str, float]:
    """Median CPU ms of each phase over ``steps`` gradient steps (default settings: pre-tanh SVGD space)."""
    assert model.svgd_space == "pre_tanh" and model.target_update_interval == 1 and model.n_steps == 1
    alpha = model.current_ent_coef()
    _timed_sql_step(model, batch_size, alpha)
    runs = [_timed_sql_step(model, batch_size, alpha) for _ in range(steps)]
    phases = {name: 1000 * statistics.median(r[name] for r in runs) for name in SQL_PHASES}
    phases["sum_of_phases"] = 1000 * statistics.median(sum(r.values()) for r in runs)
    return phases


def speed(
    out: Path, reps: int, grad_steps: int, matmul_precision: str = "highest", particles: tuple[int, int] = (16, 16)
) -> dict:
    from stable_baselines3 import SAC

    from sb3_softopt import SQL

    th.set_float32_matmul_precision(matmul_precision)
    load_before = os.getloadavg()
    results = []
    sql_kwargs = dict(value_n_particles=particles[0], kernel_n_particles=particles[1])
    for net_arch, batch in SPEED_CONFIGS:
        models = {}
        for name, cls, kwargs in (("sql", SQL, sql_kwargs), ("sac", SAC, {})):
            # learning_starts above the collected steps: the buffer is filled, nothing trained.
            models[name] = cls(
                "MlpPolicy", "Pendulum-v1", seed=0, batch_size=batch, learning_starts=10_000,
                policy_kwargs=dict(net_arch=net_arch), **kwargs,
            ).learn(2000)
        for model in models.values():
            model.train(gradient_steps=2, batch_size=batch)  # warm-up, not timed
        # Interleaved, in alternating order, in one process: a load that comes and goes hits both.
        cpu = {name: [] for name in models}
        for rep in range(reps):
            for name in (["sql", "sac"] if rep % 2 == 0 else ["sac", "sql"]):
                th.manual_seed(rep)
                start = time.process_time()
                models[name].train(gradient_steps=grad_steps, batch_size=batch)
                cpu[name].append(time.process_time() - start)
        ms = {name: 1000 * sum(v) / (reps * grad_steps) for name, v in cpu.items()}
        ratios = sorted(a / b for a, b in zip(cpu["sql"], cpu["sac"], strict=True))
        row = dict(
            net_arch=net_arch,
            batch_size=batch,
            ms_per_grad_step=ms,
            ratio=ms["sql"] / ms["sac"],
            ratio_median=statistics.median(ratios),
            ratio_min_max=[ratios[0], ratios[-1]],
            sql_phases_ms=_sql_phases(models["sql"], batch, 4 * grad_steps // 5 + 10),
        )
        results.append(row)
        print(
            f"net {net_arch} batch {batch}: SQL {ms['sql']:.2f} ms / SAC {ms['sac']:.2f} ms per gradient step "
            f"= {row['ratio']:.2f}x (median of {reps} interleaved reps {row['ratio_median']:.2f}, range "
            f"{ratios[0]:.2f}-{ratios[-1]:.2f}); SQL phases (median ms) "
            + ", ".join(f"{k} {v:.2f}" for k, v in row["sql_phases_ms"].items()),
            flush=True,
        )
    summary = dict(
        env="Pendulum-v1",
        reps=reps,
        grad_steps_per_rep=grad_steps,
        threads=th.get_num_threads(),
        matmul_precision=matmul_precision,
        load_average_before_after=[load_before[0], os.getloadavg()[0]],
        particles=dict(value=particles[0], kernel=particles[1]),
        results=results,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "sql_speed.json").write_text(json.dumps(summary, indent=2))
    return summary


# ----------------------------------------------------------------------------- pendulum
_RUN_COLUMNS = ("algo", "seed", "timesteps", "eval_return", "eval_std", "train_seconds")


def _checkpoints(steps: int) -> list[int]:
    return [steps // 4 * k for k in (1, 2, 3)] + [steps]


def _finished_run(path: Path, algo: str, seed: int, steps: int) -> list[dict]:
    """The rows of a whole saved run (``FileNotFoundError`` / ``InvalidResult`` otherwise)."""
    rows = load_curve(path, _RUN_COLUMNS, "timesteps", _checkpoints(steps), finite=("eval_return", "eval_std", "train_seconds"))
    if len(rows) != 4 or any(r["algo"] != algo or r["seed"] != str(seed) for r in rows):
        raise InvalidResult(f"{path} is not a run of {algo} seed {seed} with 4 checkpoints up to {steps} steps")
    # float() of the written repr is exact: a reused run reports the very numbers it measured.
    return [dict(algo=algo, seed=seed, timesteps=int(r["timesteps"]), **{k: float(r[k]) for k in _RUN_COLUMNS[3:]}) for r in rows]


def _write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:  # a resumed benchmark trusts whole files only
        pd.DataFrame(rows).to_csv(tmp, index=False)


def _pendulum_run(job: tuple[str, int, int, str]) -> list[dict]:
    from stable_baselines3 import SAC
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    import gymnasium as gym

    from sb3_softopt import SQL

    algo, seed, steps, out = job
    th.set_num_threads(1)
    path = Path(out) / f"sql_pendulum_{algo}_seed{seed}.csv"
    if is_trusted(_finished_run, path, algo, seed, steps, who="sql pendulum"):
        return _finished_run(path, algo, seed, steps)  # resume: not trained again
    if algo == "sql":
        entry = _zoo("Pendulum-v1", "sql")
        model = SQL(entry.policy, "Pendulum-v1", seed=seed, **entry.kwargs)
    else:
        model = SAC("MlpPolicy", "Pendulum-v1", seed=seed, learning_rate=1e-3)  # rl-zoo3's entry
    eval_env = Monitor(gym.make("Pendulum-v1"))
    eval_env.reset(seed=10_000 + seed)
    rows, done, start = [], 0, time.perf_counter()
    for target in _checkpoints(steps):
        model.learn(target - done, reset_num_timesteps=False)
        done = target
        train_s = time.perf_counter() - start
        mean, std = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
        rows.append(dict(algo=algo, seed=seed, timesteps=target, eval_return=float(mean), eval_std=float(std), train_seconds=train_s))
        _write_csv(path, rows)  # a partial curve: an interrupted benchmark keeps its checkpoints
        start += time.perf_counter() - start - train_s  # evaluation time is not training time
    return rows


def pendulum(out: Path, seeds: list[int], steps: int, workers: int) -> dict:
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    jobs = [(algo, s, steps, str(out)) for s in seeds for algo in ("sql", "sac")]
    rows: list[dict] = []
    # A SIGKILLed parent cannot stop its pool: its workers would go on training and writing.
    with multiprocessing.get_context("spawn").Pool(max(1, workers), exit_with_parent, (os.getpid(),)) as pool:
        for run in tqdm(pool.imap_unordered(_pendulum_run, jobs), total=len(jobs), desc="pendulum runs"):
            rows.extend(run)
    frame = pd.DataFrame(rows).sort_values(["algo", "seed", "timesteps"])
    _write_csv(out / "sql_pendulum.csv", frame.to_dict("records"))
    final = frame[frame.timesteps == steps]
    summary = dict(
        env="Pendulum-v1",
        steps=steps,
        seeds=seeds,
        sql_entry={k: repr(v) for k, v in _zoo("Pendulum-v1", "sql").kwargs.items()},
        sac="SB3 SAC, rl-zoo3 entry (learning_rate 1e-3, SB3 defaults otherwise)",
        eval="mean of 10 deterministic episodes (evaluate_policy)",
        final_returns={a: final[final.algo == a].eval_return.round(1).tolist() for a in ("sql", "sac")},
        median_final_return={a: float(final[final.algo == a].eval_return.median()) for a in ("sql", "sac")},
        train_seconds_median={a: float(final[final.algo == a].train_seconds.median()) for a in ("sql", "sac")},
    )
    atomic_write_json(out / "sql_pendulum.json", summary, indent=2, default=str)
    _plot_curves(out / "sql_pendulum.png", frame, "Pendulum-v1: SQL vs SB3 SAC", threshold=-200)
    print(
        f"pendulum ({len(seeds)} seeds, {steps} steps): median final return SQL {summary['median_final_return']['sql']:.1f} "
        f"{summary['final_returns']['sql']}, SAC {summary['median_final_return']['sac']:.1f} {summary['final_returns']['sac']}"
    )
    return summary


def _plot_curves(path: Path, frame: pd.DataFrame, title: str, threshold: float) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for (algo, seed), run in frame.groupby(["algo", "seed"]):
        ax.plot(run.timesteps, run.eval_return, "-" if algo == "sql" else "--", marker="o",
                color="C0" if algo == "sql" else "C1", alpha=0.7, label=f"{algo}" if seed == frame.seed.min() else None)
    ax.axhline(threshold, color="r", lw=0.8, ls=":", label=f"threshold {threshold}")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("eval return (10 episodes)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


# ----------------------------------------------------------------------------- svgd alone
def svgd(out: Path, seeds: list[int], steps_list: list[int], n_particles: int = 128, batch_size: int = 16) -> pd.DataFrame:
    from sb3_softopt.sql.diagnostics import fit_sampler, gaussian_mixture, histogram_tv, sampler_draws

    c = 0.4
    targets = {
        "1-D, 2 modes": (gaussian_mixture([[-c], [c]], 0.2), 1, 20),
        "2-D, 4 modes": (gaussian_mixture([[-c, -c], [-c, c], [c, -c], [c, c]], 0.2), 2, 10),
    }
    rows = []
    for name, (log_p, dim, bins) in targets.items():
        for steps in steps_list:
            for seed in seeds:
                start = time.process_time()
                actor = fit_sampler(log_p, dim, steps=steps, seed=seed, n_particles=n_particles, batch_size=batch_size)
                tv = histogram_tv(sampler_draws(actor), log_p, n_bins=bins)
                rows.append(dict(target=name, bins_per_axis=bins, steps=steps, seed=seed, particles=n_particles,
                                 groups=batch_size, tv=tv, cpu_s=time.process_time() - start))
                print(f"{name}: {steps} steps, seed {seed}: TV {tv:.3f}", flush=True)
    frame = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "sql_svgd.csv", index=False)
    print(frame.groupby(["target", "steps"]).tv.describe()[["min", "50%", "max"]].round(3).to_string())
    return frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["speed", "pendulum", "svgd"])
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/sql"))
    parser.add_argument("--reps", type=int, default=6, help="speed: interleaved repetitions")
    parser.add_argument("--grad-steps", type=int, default=50, help="speed: gradient steps per repetition")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, nargs="+", default=None,
                        help="pendulum: budget per run (20k); svgd: sampler steps (2500 5000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="speed: torch threads")
    parser.add_argument("--matmul-precision", choices=["highest", "high", "medium"], default="highest",
                        help="speed: torch.set_float32_matmul_precision for both SQL and SAC (an approximation below 'highest')")
    parser.add_argument("--particles", type=int, default=128, help="svgd: particles per group (half fixed)")
    parser.add_argument("--particles-per-state", type=int, nargs=2, default=[16, 16], metavar=("VALUE", "KERNEL"),
                        help="speed: SQL's value_n_particles and kernel_n_particles")
    parser.add_argument("--groups", type=int, default=16, help="svgd: particle groups per step")
    args = parser.parse_args(argv)
    th.set_num_threads(args.threads)
    if args.part == "speed":
        speed(args.out, args.reps, args.grad_steps, args.matmul_precision, tuple(args.particles_per_state))
    elif args.part == "pendulum":
        pendulum(args.out, args.seeds, args.steps[0] if args.steps else 20_000, args.workers)
    else:
        svgd(args.out, args.seeds, args.steps or [2500, 5000], args.particles, args.groups)


if __name__ == "__main__":
    main()
