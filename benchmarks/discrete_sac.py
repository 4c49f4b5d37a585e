"""Discrete SAC against SB3's DQN, sb3-contrib's QR-DQN and SoftDQN (the bar SB3 set in #157).

On the same seeds: DQN and QR-DQN with rl-zoo3's hyperparameters, SoftDQN and SAC with this
package's ``zoo_configs/``, and the ``defaults`` arms (``SoftDQN("MlpPolicy", env).learn()``,
``SAC("MlpPolicy", env).learn()``: no settings, the default budget). Every run evaluates its
deterministic policy every ``budget / 10`` steps (10 episodes) and at the end (20 episodes, on
an env seeded apart from training), and records training wall and CPU seconds, and for the
max-ent arms the range of the temperature over training.

Resumable: each run writes ``runs/<env>/<arm>_seed<k>.json`` when it finishes (``<env>`` with
``/`` replaced by ``_``, e.g. ``MinAtar_Breakout-v1``) and is skipped when that file exists with
the same settings (hyperparameters and budget); interrupt and rerun the same command.

MinAtar (``pip install "sb3_softopt[minatar]"``): the ``MinAtar/*-v1`` games take their settings
from ``MINATAR`` below (the MinAtar paper's DQN; rl-zoo3 has no MinAtar entries), every arm with
``sb3_softopt.common.MinAtarCNN``; the ``defaults`` arms are not run on them (an MLP on the
flattened grid is not the paper's network). ``--steps N`` replaces the budget of ``TASKS`` for a
pilot; the budget is part of the recorded settings, so a pilot result never counts as a full run.

Usage::

    python benchmarks/discrete_sac.py --out benchmarks/results/discrete_sac --envs CartPole-v1 --seeds 0 1 2 3 4
    python benchmarks/discrete_sac.py --out benchmarks/results/discrete_sac_minatar \
        --envs MinAtar/Breakout-v1 MinAtar/SpaceInvaders-v1 --arms dqn qrdqn softdqn sac --seeds 0 1 2
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
import sys
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
CLASSIC_TASKS = {"CartPole-v1": 50_000, "Acrobot-v1": 100_000, "LunarLander-v3": 150_000, "MountainCar-v0": 120_000}
#: MinAtar games (minimal action sets): 500k steps, a tenth of the MinAtar paper's 5M frames
MINATAR_TASKS = {"MinAtar/Breakout-v1": 500_000, "MinAtar/SpaceInvaders-v1": 500_000, "MinAtar/Asterix-v1": 500_000}
TASKS = {**CLASSIC_TASKS, **MINATAR_TASKS}
#: arm -> (rl-zoo3 algo name, yaml with its hyperparameters), or None for the constructor's defaults
ARMS: dict[str, tuple[str, Path] | None] = {
    "dqn": ("dqn", ZOO / "dqn.yml"),
    "qrdqn": ("qrdqn", ZOO / "qrdqn.yml"),
    "softdqn": ("soft_dqn", ROOT / "zoo_configs" / "soft_dqn.yml"),
    "sac": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "sac_sd": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "sac_decoupled": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "sac_plain": ("sac", ROOT / "zoo_configs" / "sac.yml"),
    "softdqn_defaults": None,
    "sac_defaults": None,
}
#: the discrete-step options (docs/sac.md) on top of the zoo entry: SD-SAC with the paper's
#: beta = c = 0.5, a critic target without the entropy bonus (arXiv 2509.09838), and every option
#: off (Christodoulou's algorithm; differs from ``sac`` where the entry turns options on: Acrobot)
OPTIONS: dict[str, dict[str, Any]] = {
    "sac_sd": {"q_target": "mean", "q_clip": 0.5, "entropy_penalty": 0.5},
    "sac_decoupled": {"critic_ent_coef": 0.0},
    "sac_plain": {"q_target": "min", "q_clip": None, "entropy_penalty": 0.0, "critic_ent_coef": None},
}
#: SAC's settings for the tasks without a zoo entry (none measured to work yet)
CANDIDATES = ROOT / "benchmarks" / "discrete_sac_candidates.yml"
EVAL_EPISODES, FINAL_EPISODES = 10, 20

# ---------------------------------------------------------------------------------------------
# MinAtar settings (not from rl-zoo3, which has no MinAtar entries). The MinAtar paper's DQN
# (Young & Tian 2019): replay 100k, batch 32, one update per step, learning starts after 5000
# steps, target network copied every 1000 updates, gamma 0.99, epsilon 1 -> 0.1 over the first
# 100k frames, learning rate 2.5e-4 (RMSProp in the paper; SB3's Adam here). Network: MinAtarCNN
# (conv 16x3x3 -> 128 units) and the output layer on top (net_arch=[]). QR-DQN: 50 quantiles
# (sb3-contrib's 200 cost 7x DQN's time per step on one CPU thread; 50 are level with DQN).
# SoftDQN: the same, with its Boltzmann policy and automatic temperature (no epsilon). SAC: the
# same replay, batch, learning rate and network for actor and critics; its own automatic
# temperature (target_entropy="auto") and Polyak target (tau=0.005 every step).
# ---------------------------------------------------------------------------------------------
#: environment steps over which DQN / QR-DQN's epsilon falls from 1 to 0.1 (a fraction of the
#: ``TASKS`` budget; a ``--steps`` pilot keeps the fraction, i.e. the schedule's shape)
MINATAR_EPS_DECAY_STEPS = 100_000
#: a safeguard, not part of the games: MinAtar episodes have no time limit, and a greedy policy
#: that never loses would make an evaluation endless
MINATAR_MAX_EPISODE_STEPS = 10_000
_MINATAR_COMMON: dict[str, Any] = dict(buffer_size=100_000, batch_size=32, learning_rate=2.5e-4, gamma=0.99, learning_starts=5_000,
                                       train_freq=1, gradient_steps=1)  # fmt: skip
#: rl-zoo3 algo name -> constructor kwargs on MinAtar (``policy_kwargs`` without the extractor)
MINATAR: dict[str, dict[str, Any]] = {
    "dqn": dict(_MINATAR_COMMON, target_update_interval=1_000, exploration_initial_eps=1.0, exploration_final_eps=0.1),
    "qrdqn": dict(_MINATAR_COMMON, target_update_interval=1_000, exploration_initial_eps=1.0, exploration_final_eps=0.1,
                  policy_kwargs=dict(n_quantiles=50)),
    "soft_dqn": dict(_MINATAR_COMMON, target_update_interval=1_000, tau=1.0, ent_coef="auto", target_entropy="auto"),
    "sac": dict(_MINATAR_COMMON, ent_coef="auto", target_entropy="auto"),
}


def _is_minatar(env_id: str) -> bool:
    return env_id.startswith("MinAtar/")


def _register(env_id: str) -> None:
    """Register the MinAtar games with Gymnasium (once per process) when ``env_id`` is one."""
    import gymnasium as gym

    if _is_minatar(env_id) and env_id not in gym.registry:
        import minatar.gym

        minatar.gym.register_envs()


def _minatar_hyperparams(algo: str, env_id: str) -> dict[str, Any]:
    from sb3_softopt.common import MinAtarCNN

    kwargs = {k: v for k, v in MINATAR[algo].items() if k != "policy_kwargs"}
    kwargs["policy_kwargs"] = dict(features_extractor_class=MinAtarCNN, normalize_images=False, net_arch=[],
                                   **MINATAR[algo].get("policy_kwargs", {}))  # fmt: skip
    if "exploration_final_eps" in kwargs:
        kwargs["exploration_fraction"] = min(1.0, MINATAR_EPS_DECAY_STEPS / TASKS[env_id])
    return kwargs


def _classes() -> dict[str, Any]:
    from sb3_contrib import QRDQN
    from stable_baselines3 import DQN

    from sb3_softopt import SAC, SoftDQN

    return {"dqn": DQN, "qrdqn": QRDQN, "softdqn": SoftDQN, "sac": SAC, "sac_sd": SAC, "sac_decoupled": SAC, "sac_plain": SAC, "softdqn_defaults": SoftDQN, "sac_defaults": SAC}


def _hyperparams(arm: str, env_id: str, steps: int | None = None) -> tuple[dict[str, Any], int | None]:
    """Constructor kwargs (as the yaml writes them) and the budget (``steps`` if given, else the
    ``TASKS`` one); the defaults arms have none unless ``steps`` is given."""
    from sb3_softopt.zoo import zoo_entry

    source = ARMS[arm]
    if source is None:
        if _is_minatar(env_id):
            raise ValueError(f"the {arm} arm is not run on MinAtar (no features extractor in the defaults)")
        return {}, steps
    if _is_minatar(env_id):
        return {**_minatar_hyperparams(source[0], env_id), **OPTIONS.get(arm, {})}, steps or TASKS[env_id]
    path = source[1]
    if source[0] == "sac" and env_id not in yaml.safe_load(path.read_text()):
        path = CANDIDATES
    entry = zoo_entry(env_id, algo=source[0], path=path)
    return {**entry.kwargs, **OPTIONS.get(arm, {})}, steps or TASKS[env_id]


def _env_kwargs(env_id: str) -> dict[str, Any]:
    return dict(max_episode_steps=MINATAR_MAX_EPISODE_STEPS) if _is_minatar(env_id) else {}


def _make_env(env_id: str, seed: int):
    from stable_baselines3.common.env_util import make_vec_env

    _register(env_id)
    return make_vec_env(env_id, n_envs=1, seed=seed, env_kwargs=_env_kwargs(env_id))


def _build(arm: str, env_id: str, seed: int, steps: int | None = None):
    from sb3_softopt.common.schedules import make_schedule

    kwargs, budget = _hyperparams(arm, env_id, steps)
    if isinstance(kwargs.get("learning_rate"), str):
        kwargs["learning_rate"] = make_schedule(kwargs["learning_rate"], name="learning_rate")
    env = _make_env(env_id, seed)
    return _classes()[arm]("MlpPolicy", env, seed=seed, verbose=0, **kwargs), budget


def _env_dir(env_id: str) -> str:
    """The directory name of an env id: ``MinAtar/Breakout-v1`` -> ``MinAtar_Breakout-v1``."""
    return env_id.replace("/", "_")


def _result_path(out: Path, env_id: str, arm: str, seed: int) -> Path:
    return out / "runs" / _env_dir(env_id) / f"{arm}_seed{seed}.json"


def _constructor_defaults(arm: str) -> dict[str, Any]:
    """The defaults arm's settings: its class's constructor defaults and learn()'s budget, so a
    result measured under other defaults is not taken for one of today's."""
    import inspect

    cls = _classes()[arm]
    params = [*inspect.signature(cls.__init__).parameters.values(), inspect.signature(cls.learn).parameters["total_timesteps"]]
    unrelated = {"verbose", "seed", "device", "tensorboard_log"}
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty and not p.name.startswith("_") and p.name not in unrelated}
    net_arch = getattr(sys.modules[cls.__module__], "DEFAULT_NET_ARCH", None)  # set by SoftDQN's constructor
    return {**defaults, "net_arch": net_arch} if net_arch is not None else defaults


def _settings(arm: str, env_id: str, steps: int | None = None) -> dict[str, Any]:
    kwargs, budget = _hyperparams(arm, env_id, steps)
    if ARMS[arm] is None:
        kwargs = _constructor_defaults(arm)
    settings = dict(hyperparams={k: str(v) for k, v in kwargs.items()}, budget=budget, eval_episodes=EVAL_EPISODES,
                    final_episodes=FINAL_EPISODES)  # fmt: skip
    if _env_kwargs(env_id):
        settings["env_kwargs"] = _env_kwargs(env_id)
    return settings


def run_one(arm: str, env_id: str, seed: int, out: str, steps: int | None = None) -> dict[str, Any]:
    """Train one arm on one seed with evaluations; write and return its result."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    import sb3_softopt  # noqa: F401

    torch.set_num_threads(1)
    model, budget = _build(arm, env_id, seed, steps)
    if budget is None:  # the defaults arms: learn()'s own budget
        import inspect

        budget = int(inspect.signature(type(model).learn).parameters["total_timesteps"].default)
    eval_env = _make_env(env_id, seed + 10_000)
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
        arm=arm, env_id=env_id, seed=seed, settings=_settings(arm, env_id, steps), steps=budget, final_return=float(final),
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


def _done(out: Path, arm: str, env_id: str, seed: int, steps: int | None = None) -> bool:
    path = _result_path(out, env_id, arm, seed)
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text())["settings"] == json.loads(json.dumps(_settings(arm, env_id, steps)))
    except (ValueError, KeyError):
        return False


def summarise(out: Path) -> dict[str, Any]:
    import matplotlib

    from sb3_softopt.experiments.infra.plotting import save_figure
    from sb3_softopt.experiments.infra.stats import bootstrap_ci, iqm

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    runs = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/*.json"))]
    summary: dict[str, Any] = {}
    lines = ["| env | arm | seeds | steps | final return IQM [95% CI] | per seed | s / env step | vs DQN | alpha range |", "|---|---|---|---|---|---|---|---|---|"]
    for env_id in [e for e in TASKS if any(r["env_id"] == e for r in runs)]:
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        here = [r for r in runs if r["env_id"] == env_id]
        budgets = {arm: sorted({r["steps"] for r in here if r["arm"] == arm}, reverse=True) for arm in ARMS}
        for arm, steps in [(a, b) for a in ARMS for b in budgets[a]]:
            # an arm's runs at another budget (a --steps pilot in the same --out) are rows of their own
            rs = sorted((r for r in here if r["arm"] == arm and r["steps"] == steps), key=lambda r: r["seed"])
            dqn = [r for r in here if r["arm"] == "dqn" and r["steps"] == steps] or [r for r in here if r["arm"] == "dqn"]
            dqn_speed = np.mean([r["train_wall_s"] / r["steps"] for r in dqn]) if dqn else float("nan")
            finals = [r["final_return"] for r in rs]
            lo, hi = bootstrap_ci(finals, iqm) if len(finals) > 1 else (float("nan"), float("nan"))
            speed = float(np.mean([r["train_wall_s"] / r["steps"] for r in rs]))
            amin = [r["alpha_min"] for r in rs if r["alpha_min"] is not None]
            amax = [r["alpha_max"] for r in rs if r["alpha_max"] is not None]
            entry = dict(seeds=[r["seed"] for r in rs], steps=rs[0]["steps"], finals=finals, iqm=iqm(finals), ci=[lo, hi],
                         s_per_step=speed, vs_dqn=speed / dqn_speed, alpha_range=[min(amin), max(amax)] if amin else None,
                         alpha_nonfinite=sum(r["alpha_nonfinite"] for r in rs))  # fmt: skip
            summary[f"{env_id}/{arm}" if len(budgets[arm]) == 1 else f"{env_id}/{arm}@{steps}"] = entry
            alpha = f"{min(amin):.3g}-{max(amax):.3g}" if amin else "-"
            lines.append(f"| {env_id} | {arm} | {len(rs)} | {entry['steps']} | {entry['iqm']:.1f} [{lo:.1f}, {hi:.1f}] | "
                         f"{', '.join(f'{x:.0f}' for x in finals)} | {speed * 1e3:.2f} ms | {entry['vs_dqn']:.2f}x | {alpha} |")  # fmt: skip
            label = arm if len(budgets[arm]) == 1 else f"{arm} @{steps}"
            xs = np.array([x for x, _ in rs[0]["curve"]])
            curves = np.array([[v for _, v in r["curve"]] for r in rs if len(r["curve"]) == len(xs)])
            ax.plot(xs, np.median(curves, axis=0), label=f"{label} ({len(curves)} seeds, median)")
            ax.fill_between(xs, curves.min(axis=0), curves.max(axis=0), alpha=0.15)
        ax.set(xlabel="environment steps", ylabel="deterministic return", title=env_id)
        ax.legend(fontsize=7)
        save_figure(fig, out / f"curves_{_env_dir(env_id)}.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/discrete_sac"))
    parser.add_argument("--envs", nargs="+", default=list(CLASSIC_TASKS), choices=list(TASKS),
                        help="default: the four classic-control tasks; MinAtar games need the minatar extra")  # fmt: skip
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--steps", type=int, default=None,
                        help="budget of every run in place of TASKS' (a pilot; recorded in the settings, so never taken for a full run)")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive number of environment steps, got {args.steps}")
    bad = [a for a in args.arms if ARMS[a] is None for e in args.envs if _is_minatar(e)]
    if bad:
        parser.error(f"the arms {sorted(set(bad))} are not run on MinAtar games (no features extractor in the defaults)")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summary_only:
        jobs = [(a, e, s) for e in args.envs for s in args.seeds for a in args.arms if not _done(args.out, a, e, s, args.steps)]
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(run_one, a, e, s, str(args.out), args.steps) for a, e, s in jobs]
            for fut in tqdm(as_completed(futures), total=len(futures), desc="discrete SAC benchmark"):
                r = fut.result()
                tqdm.write(f"{r['env_id']} {r['arm']} seed {r['seed']}: {r['final_return']:.1f} ({r['train_wall_s']:.0f} s)")
    summarise(args.out)


if __name__ == "__main__":
    main()
