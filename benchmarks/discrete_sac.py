"""Discrete SAC against SB3's DQN, sb3-contrib's QR-DQN and SoftDQN (the bar SB3 set in #157).

On the same seeds: DQN and QR-DQN with rl-zoo3's hyperparameters, SoftDQN and SAC with this
package's ``zoo_configs/``, and the ``defaults`` arms (``SoftDQN("MlpPolicy", env).learn()``,
``SAC("MlpPolicy", env).learn()``: no settings, the default budget). Every run evaluates its
deterministic policy every ``budget / 10`` steps (10 episodes) and at the end (20 episodes, on
an env seeded apart from training), and records training wall and CPU seconds, and for the
max-ent arms the range of the temperature over training.

Resumable: each run writes ``runs/<env>/<arm>_seed<k>.json`` when it finishes and is skipped
when that file exists with the same settings; interrupt and rerun the same command.

Usage::

    python benchmarks/discrete_sac.py --out benchmarks/results/discrete_sac --envs CartPole-v1 --seeds 0 1 2 3 4
    python benchmarks/discrete_sac.py --out benchmarks/results/discrete_sac --summary-only

Writes ``summary.json``, ``summary.md`` (final-return IQM with 95% bootstrap CIs, rliable's
percentile method; seconds per env step and the ratio to DQN; alpha's range) and
``curves_<env>.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import yaml
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
ZOO = Path(importlib.util.find_spec("rl_zoo3").submodule_search_locations[0]) / "hyperparams"  # type: ignore[index]
#: the budgets of the issue (environment steps)
TASKS = {"CartPole-v1": 50_000, "Acrobot-v1": 100_000, "LunarLander-v3": 150_000, "MountainCar-v0": 120_000}
#: arm -> (rl-zoo3 algo name, yaml with its hyperparameters), or None for the constructor's defaults
ARMS: dict[str, tuple[str, Path] | None] = {
    "dqn": ("dqn", ZOO / "dqn.yml"),
    "qrdqn": ("qrdqn", ZOO / "qrdqn.yml"),
    "softdqn": ("soft_dqn", ROOT / "zoo_configs" / "soft_dqn.yml"),
    "sac": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "sac_sd": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "sac_decoupled": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "softdqn_defaults": None,
    "sac_defaults": None,
}
#: the discrete-step options (docs/sac.md) on top of the zoo entry: SD-SAC with the paper's
#: beta = c = 0.5, and a critic target without the entropy bonus (arXiv 2509.09838)
OPTIONS: dict[str, dict[str, Any]] = {
    "sac_sd": {"q_target": "mean", "q_clip": 0.5, "entropy_penalty": 0.5},
    "sac_decoupled": {"critic_ent_coef": 0.0},
}
#: SAC's settings for the tasks without a zoo entry (none measured to work yet)
CANDIDATES = ROOT / "benchmarks" / "discrete_sac_candidates.yml"
EVAL_EPISODES, FINAL_EPISODES = 10, 20


def _classes() -> dict[str, Any]:
    from sb3_contrib import QRDQN
    from stable_baselines3 import DQN

    from sb3_softopt import SAC, SoftDQN

    return {"dqn": DQN, "qrdqn": QRDQN, "softdqn": SoftDQN, "sac": SAC, "sac_sd": SAC, "sac_decoupled": SAC, "softdqn_defaults": SoftDQN, "sac_defaults": SAC}


def _hyperparams(arm: str, env_id: str) -> tuple[dict[str, Any], int | None]:
    """Constructor kwargs (as the yaml writes them) and the budget; the defaults arms have none."""
    from sb3_softopt.zoo import zoo_entry

    source = ARMS[arm]
    if source is None:
        return {}, None
    path = source[1]
    if source[0] == "sac" and env_id not in yaml.safe_load(path.read_text()):
        path = CANDIDATES
    entry = zoo_entry(env_id, algo=source[0], path=path)
    return {**entry.kwargs, **OPTIONS.get(arm, {})}, TASKS[env_id]


def _build(arm: str, env_id: str, seed: int):
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_softopt.common.schedules import make_schedule

    kwargs, budget = _hyperparams(arm, env_id)
    if isinstance(kwargs.get("learning_rate"), str):
        kwargs["learning_rate"] = make_schedule(kwargs["learning_rate"], name="learning_rate")
    env = make_vec_env(env_id, n_envs=1, seed=seed)
    return _classes()[arm]("MlpPolicy", env, seed=seed, verbose=0, **kwargs), budget


def _result_path(out: Path, env_id: str, arm: str, seed: int) -> Path:
    return out / "runs" / env_id / f"{arm}_seed{seed}.json"


def _settings(arm: str, env_id: str) -> dict[str, Any]:
    kwargs, budget = _hyperparams(arm, env_id)
    return dict(hyperparams={k: str(v) for k, v in kwargs.items()}, budget=budget, eval_episodes=EVAL_EPISODES, final_episodes=FINAL_EPISODES)


def run_one(arm: str, env_id: str, seed: int, out: str) -> dict[str, Any]:
    """Train one arm on one seed with evaluations; write and return its result."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    import sb3_softopt  # noqa: F401

    torch.set_num_threads(1)
    model, budget = _build(arm, env_id, seed)
    if budget is None:  # the defaults arms: learn()'s own budget
        import inspect

        budget = int(inspect.signature(type(model).learn).parameters["total_timesteps"].default)
    eval_env = make_vec_env(env_id, n_envs=1, seed=seed + 10_000)
    every = max(budget // 10, 1)

    class Recorder(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.curve: list[tuple[int, float]] = []
            self.alphas: list[float] = []
            self.eval_s = 0.0

        def _on_step(self) -> bool:
            alpha = self.logger.name_to_value.get("train/ent_coef")
            if alpha is not None:
                self.alphas.append(float(alpha))
            if self.num_timesteps % every == 0 and self.num_timesteps < budget:
                t = time.perf_counter()
                ret, _ = evaluate_policy(self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True)
                self.curve.append((self.num_timesteps, float(ret)))
                self.eval_s += time.perf_counter() - t
            return True

    rec = Recorder()
    w0, c0 = time.perf_counter(), time.process_time()
    model.learn(budget, callback=rec)
    wall, cpu = time.perf_counter() - w0 - rec.eval_s, time.process_time() - c0
    final, final_std = evaluate_policy(model, eval_env, n_eval_episodes=FINAL_EPISODES, deterministic=True)
    rec.curve.append((budget, float(final)))
    alphas = [a for a in rec.alphas if np.isfinite(a)]
    result = dict(
        arm=arm, env_id=env_id, seed=seed, settings=_settings(arm, env_id), steps=budget, final_return=float(final),
        final_std=float(final_std), curve=rec.curve, train_wall_s=wall, cpu_s=cpu,
        alpha_min=min(alphas) if alphas else None, alpha_max=max(alphas) if alphas else None,
        alpha_nonfinite=len(rec.alphas) - len(alphas), torch=torch.__version__, sb3=stable_baselines3.__version__,
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
    )  # fmt: skip
    path = _result_path(Path(out), env_id, arm, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)
    return result


def _done(out: Path, arm: str, env_id: str, seed: int) -> bool:
    path = _result_path(out, env_id, arm, seed)
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text())["settings"] == json.loads(json.dumps(_settings(arm, env_id)))
    except (ValueError, KeyError):
        return False


def summarise(out: Path) -> dict[str, Any]:
    import matplotlib

    from sb3_softopt.common.plotting import save_figure
    from sb3_softopt.common.stats import bootstrap_ci, iqm

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    runs = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/*.json"))]
    summary: dict[str, Any] = {}
    lines = ["| env | arm | seeds | steps | final return IQM [95% CI] | per seed | s / env step | vs DQN | alpha range |", "|---|---|---|---|---|---|---|---|---|"]
    for env_id in [e for e in TASKS if any(r["env_id"] == e for r in runs)]:
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        dqn = [r for r in runs if r["env_id"] == env_id and r["arm"] == "dqn"]
        dqn_speed = np.mean([r["train_wall_s"] / r["steps"] for r in dqn]) if dqn else float("nan")
        for arm in ARMS:
            rs = sorted((r for r in runs if r["env_id"] == env_id and r["arm"] == arm), key=lambda r: r["seed"])
            if not rs:
                continue
            finals = [r["final_return"] for r in rs]
            lo, hi = bootstrap_ci(finals, iqm) if len(finals) > 1 else (float("nan"), float("nan"))
            speed = float(np.mean([r["train_wall_s"] / r["steps"] for r in rs]))
            amin = [r["alpha_min"] for r in rs if r["alpha_min"] is not None]
            amax = [r["alpha_max"] for r in rs if r["alpha_max"] is not None]
            entry = dict(seeds=[r["seed"] for r in rs], steps=rs[0]["steps"], finals=finals, iqm=iqm(finals), ci=[lo, hi],
                         s_per_step=speed, vs_dqn=speed / dqn_speed, alpha_range=[min(amin), max(amax)] if amin else None,
                         alpha_nonfinite=sum(r["alpha_nonfinite"] for r in rs))  # fmt: skip
            summary[f"{env_id}/{arm}"] = entry
            alpha = f"{min(amin):.3g}-{max(amax):.3g}" if amin else "-"
            lines.append(f"| {env_id} | {arm} | {len(rs)} | {entry['steps']} | {entry['iqm']:.1f} [{lo:.1f}, {hi:.1f}] | "
                         f"{', '.join(f'{x:.0f}' for x in finals)} | {speed * 1e3:.2f} ms | {entry['vs_dqn']:.2f}x | {alpha} |")  # fmt: skip
            steps = np.array([s for s, _ in rs[0]["curve"]])
            curves = np.array([[v for _, v in r["curve"]] for r in rs if len(r["curve"]) == len(steps)])
            ax.plot(steps, np.median(curves, axis=0), label=f"{arm} ({len(curves)} seeds, median)")
            ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), alpha=0.15)
        ax.set(xlabel="environment steps", ylabel="deterministic return", title=env_id)
        ax.legend(fontsize=7)
        save_figure(fig, out / f"curves_{env_id}.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/discrete_sac"))
    parser.add_argument("--envs", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summary_only:
        jobs = [(a, e, s) for e in args.envs for s in args.seeds for a in args.arms if not _done(args.out, a, e, s)]
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(run_one, a, e, s, str(args.out)) for a, e, s in jobs]
            for fut in tqdm(as_completed(futures), total=len(futures), desc="discrete SAC benchmark"):
                r = fut.result()
                tqdm.write(f"{r['env_id']} {r['arm']} seed {r['seed']}: {r['final_return']:.1f} ({r['train_wall_s']:.0f} s)")
    summarise(args.out)


if __name__ == "__main__":
    main()
