"""Two peaks: does the trained policy keep both modes of a bimodal reward?

``python -m sb3_softopt.experiments.two_peaks --out DIR [--seeds 10] [--quick]``

On ``TwoPeakBandit-v0`` (equal weights, reward ``r(x) = log`` of a two-Gaussian mixture with
peaks at ``x = -2`` and ``x = +2``) the max-entropy optimal policy at ``alpha = 1`` is the
mixture itself: bimodal. Three learners, each trained once per seed:

* ``sac``: :class:`sb3_softopt.SAC` with fixed ``ent_coef = 1`` (so that its target is exactly the
  mixture); its policy is a tanh-squashed *unimodal* Gaussian, so it can only cover both peaks by
  widening (the best such fit is centred on the valley between them).
* ``ddpg``: SB3's DDPG (``zoo_configs/ddpg.yml``); its deterministic action must pick one peak.
* ``soft_dqn``: :class:`sb3_softopt.SoftDQN` with ``ent_coef = 1`` on
  ``TwoPeakBanditDiscrete-v0`` (21 grid actions); its Boltzmann policy ``softmax(Q / alpha)``
  can be bimodal. Its exact optimum is ``softmax(r / alpha)``.
* ``sql``: :class:`sb3_softopt.SQL` with ``ent_coef = 1`` (``zoo_configs/sql.yml``): soft
  Q-learning for continuous actions, whose policy is the energy-based model ``exp(Q / alpha)``
  itself, drawn by an amortised SVGD sampler; the continuous energy-based policy of the lecture.

For each seed we sample ``n_samples`` actions from the trained policy (for DDPG we also take
its deterministic action) and report the fraction within 1 (one sigma, in ``x`` units) of each
peak and in the valley ``|x| < 1``, and for the continuous arms the total-variation distance
``tv_to_exact`` between the histogram of the samples (20 equal bins over ``x`` in [-5, 5]) and the
closed-form soft-optimal density (the mixture, truncated to the interval). Outputs: ``two_peaks.csv`` (one row per learner and seed),
``two_peaks.json`` (summary and configuration), ``two_peaks.png`` (action histograms against the
soft-optimal density).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any, TypedDict, cast

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # Python 3.10
    from typing_extensions import NotRequired

import numpy as np

from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict
from sb3_softopt.experiments.infra.plotting import save_figure

CLAIM = Claim(
    name="two_peaks",
    title="Energy-based policies keep both peaks",
    section="4.7 (ex. 3)",
    statement="When the Q-function has two peaks, a soft (energy-based) policy explores both, while a "
    "deterministic method such as DDPG commits to one.",
    criteria="a seed 'keeps both peaks' when each peak holds >= 15% of the sampled actions (the experiment's "
    "classification). Three criteria over the seeds: the continuous energy-based policy (SQL) is within "
    "total variation 0.10 of the closed-form soft-optimal density (20 bins over [-5, 5]) in >= 80% of the "
    "seeds; SoftDQN's Boltzmann policy on the discrete bandit keeps both peaks in >= 80%; DDPG commits to a "
    "single peak in >= 80%. Reproduced if all three hold, partly if one or two, not reproduced if none. "
    "SAC's unimodal Gaussian is reported for comparison.",
)

PEAKS = (-2.0, 2.0)
NEAR = 1.0  # "near a peak": within one sigma of it, in x units
ALPHA = 1.0

# Shared by the three learners (and by zoo_configs/ddpg.yml's TwoPeakBandit-v0 entry). Deep-copied
# at use: SB3 stores ``policy_kwargs`` by reference and adds keys to it.
_COMMON_KWARGS: dict[str, Any] = dict(
    learning_rate=1e-3,
    learning_starts=200,
    batch_size=128,
    buffer_size=10_000,
    train_freq=1,
    gradient_steps=1,
    policy_kwargs=dict(net_arch=[64, 64]),
)
SAC_KWARGS: dict[str, Any] = dict(_COMMON_KWARGS, ent_coef=ALPHA)
DDPG_KWARGS: dict[str, Any] = dict(_COMMON_KWARGS)
DDPG_NOISE_STD = 0.3  # zoo_configs/ddpg.yml: noise_type normal, noise_std 0.3
# zoo_configs/sql.yml: 2x64 critics sometimes settle on a flat Q between the peaks.
SQL_KWARGS: dict[str, Any] = dict(_COMMON_KWARGS, ent_coef=ALPHA, policy_kwargs=dict(net_arch=[128, 128]))
TV_BINS = 20
# One-step episodes: the target network never enters the target, so update it every step.
SOFT_DQN_KWARGS: dict[str, Any] = dict(_COMMON_KWARGS, ent_coef=ALPHA, target_update_interval=1, tau=1.0, double_q=False)
FULL_STEPS = 3000
QUICK_STEPS = 300
FULL_SEEDS = 10
QUICK_SEEDS = 2
N_SAMPLES = 2000


def peak_fractions(x: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Fractions (or probability masses with ``weights``) of ``x`` near each peak and in the valley."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    w = np.full(x.shape, 1.0 / len(x)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    tol = 1e-6  # grid points exactly one sigma away count as near
    return dict(
        frac_left=float(w[np.abs(x - PEAKS[0]) <= NEAR + tol].sum()),
        frac_right=float(w[np.abs(x - PEAKS[1]) <= NEAR + tol].sum()),
        frac_valley=float(w[np.abs(x) < NEAR - tol].sum()),
    )


def tv_to_closed_form(x: np.ndarray, n_bins: int = TV_BINS) -> float:
    """Total variation between the histogram of ``x`` (``n_bins`` equal bins over [-5, 5]) and the
    soft-optimal density at alpha = 1, the equal-weight mixture truncated to the interval (erf)."""
    from scipy.stats import norm

    edges = np.linspace(-5.0, 5.0, n_bins + 1)
    mass = np.diff(np.mean([norm.cdf(edges, loc=peak) for peak in PEAKS], axis=0))
    counts, _ = np.histogram(np.clip(x, -5.0, 5.0), edges)
    return 0.5 * float(np.abs(counts / counts.sum() - mass / mass.sum()).sum())


def classify(frac_left: float, frac_right: float, threshold: float = 0.15) -> str:
    """``both`` when each peak holds at least ``threshold`` of the mass, else the dominant one."""
    if min(frac_left, frac_right) >= threshold:
        return "both"
    if max(frac_left, frac_right) < threshold:
        return "neither"
    return "left" if frac_left > frac_right else "right"


def _train_stochastic(cls_name: str, kwargs: dict, seed: int, steps: int, n_samples: int) -> tuple[dict, np.ndarray]:
    """Train SAC or SQL on the continuous bandit and describe ``n_samples`` of its actions."""
    import gymnasium as gym

    import sb3_softopt
    from sb3_softopt.envs.two_peak import TwoPeakBandit

    env = gym.make("TwoPeakBandit-v0")
    bandit = env.unwrapped
    assert isinstance(bandit, TwoPeakBandit)
    model = getattr(sb3_softopt, cls_name)("MlpPolicy", env, seed=seed, **copy.deepcopy(kwargs)).learn(steps)
    obs = np.zeros((n_samples, 1), dtype=np.float32)
    actions, _ = model.predict(obs, deterministic=False)
    x = bandit.action_scale * actions.reshape(-1)
    best, _ = model.predict(obs[:1], deterministic=True)  # SAC: the mean; SQL: the best of 32 under Q
    row = dict(peak_fractions(x), x_deterministic=float(bandit.action_scale * best.reshape(-1)[0]))
    row["mean_reward"] = float(np.mean(bandit.reward(actions.reshape(-1))))
    # SQL's sampler has no density, hence no entropy to log.
    row["entropy_logged"] = float(model.logger.name_to_value.get("train/entropy", np.nan))
    row["tv_to_exact"] = tv_to_closed_form(x)
    return row, x


def _train_sac(seed: int, steps: int, n_samples: int) -> tuple[dict, np.ndarray]:
    return _train_stochastic("SAC", SAC_KWARGS, seed, steps, n_samples)


def _train_sql(seed: int, steps: int, n_samples: int) -> tuple[dict, np.ndarray]:
    return _train_stochastic("SQL", SQL_KWARGS, seed, steps, n_samples)


def _train_ddpg(seed: int, steps: int, n_samples: int) -> tuple[dict, np.ndarray]:
    import gymnasium as gym
    from stable_baselines3 import DDPG
    from stable_baselines3.common.noise import NormalActionNoise

    from sb3_softopt.envs.two_peak import TwoPeakBandit

    env = gym.make("TwoPeakBandit-v0")
    bandit = env.unwrapped
    assert isinstance(bandit, TwoPeakBandit)
    noise = NormalActionNoise(mean=np.zeros(1), sigma=DDPG_NOISE_STD * np.ones(1))
    model = DDPG("MlpPolicy", env, seed=seed, action_noise=noise, **copy.deepcopy(DDPG_KWARGS)).learn(steps)
    action, _ = model.predict(np.zeros((1, 1), dtype=np.float32), deterministic=True)
    x_det = float(bandit.action_scale * action.reshape(-1)[0])
    # DDPG's policy is deterministic: every "sample" is the same action.
    x = np.full(n_samples, x_det)
    row = dict(peak_fractions(x), x_deterministic=x_det, mean_reward=float(bandit.reward_at_x(x_det)))
    row["entropy_logged"] = np.nan
    row["tv_to_exact"] = tv_to_closed_form(x)
    return row, np.array([x_det])


def _train_soft_dqn(seed: int, steps: int, n_samples: int) -> tuple[dict, np.ndarray]:
    import gymnasium as gym
    import torch as th

    from sb3_softopt import SoftDQN
    from sb3_softopt.envs.two_peak import TwoPeakBanditDiscrete

    env = gym.make("TwoPeakBanditDiscrete-v0")
    bandit = env.unwrapped
    assert isinstance(bandit, TwoPeakBanditDiscrete)
    model = SoftDQN("MlpPolicy", env, seed=seed, **copy.deepcopy(SOFT_DQN_KWARGS)).learn(steps)
    obs, _ = model.policy.obs_to_tensor(np.int64(0))
    with th.no_grad():
        probs = model.policy.action_log_probs(obs).exp().cpu().numpy().reshape(-1)
    values = bandit.action_values
    rng = np.random.default_rng(seed)
    sampled = rng.choice(len(values), size=n_samples, p=probs / probs.sum())
    x = values[sampled]
    exact = bandit.soft_optimal_policy(ALPHA)
    row = dict(peak_fractions(x), x_deterministic=float(values[int(np.argmax(probs))]))
    row["mean_reward"] = float(np.mean(bandit.rewards[sampled]))
    row["entropy_logged"] = float(model.logger.name_to_value.get("train/entropy", np.nan))
    row["tv_to_exact"] = float(0.5 * np.abs(probs - exact).sum())
    exact_fracs = peak_fractions(values, exact)
    row["exact_frac_left"], row["exact_frac_right"] = exact_fracs["frac_left"], exact_fracs["frac_right"]
    row["probs"] = probs.tolist()
    return row, x


ARMS = {"sac": _train_sac, "ddpg": _train_ddpg, "soft_dqn": _train_soft_dqn, "sql": _train_sql}


def reference_fractions() -> dict[str, dict[str, float]]:
    """Peak masses of the exact soft-optimal policies (alpha = 1), continuous and discrete."""
    from sb3_softopt.envs.two_peak import TwoPeakBandit, TwoPeakBanditDiscrete

    cont = TwoPeakBandit()  # the registered ids' environments (no kwargs)
    grid = np.linspace(-1.0, 1.0, 20_001)
    dens = np.exp(cont.soft_optimal_log_density(grid, ALPHA))
    weights = dens * (grid[1] - grid[0])
    disc = TwoPeakBanditDiscrete()
    return dict(
        continuous=peak_fractions(cont.action_scale * grid, weights / weights.sum()),
        discrete=peak_fractions(disc.action_values, disc.soft_optimal_policy(ALPHA)),
    )


class ArmSummary(TypedDict):
    """One arm over the seeds: how many seeds fell in each mode, and mean fractions of the samples."""

    #: seeds per mode: "both", "left", "right", "neither" (see :func:`classify`)
    modes: dict[str, int]
    mean_frac_left: float
    mean_frac_right: float
    mean_frac_valley: float
    mean_reward: float
    #: continuous arms only: total variation to the soft-optimal density
    mean_tv_to_exact: NotRequired[float]
    median_tv_to_exact: NotRequired[float]
    seeds_tv_at_most_0_10: NotRequired[int]


class TwoPeaksResult(TypedDict):
    """What :func:`run` measures (also written to ``two_peaks.json``, without ``files``)."""

    seeds: list[int]
    steps: int
    n_samples: int
    alpha: float
    near: str
    #: peak fractions of the exact soft-optimal policies (``continuous``, ``discrete``)
    reference: dict[str, dict[str, float]]
    config: dict[str, Any]
    #: how ``tv_to_exact`` is measured (results saved before the SQL arm have none)
    tv: NotRequired[str]
    arms: dict[str, ArmSummary]
    #: ``csv``, ``json``, ``png`` -> path
    files: dict[str, str]


def run(
    out_dir: str | os.PathLike[str],
    quick: bool = False,
    seed: int = 0,
    seeds: int | list[int] | None = None,
    steps: int | None = None,
    n_samples: int = N_SAMPLES,
    arms: tuple[str, ...] = tuple(ARMS),
    progress: bool = True,
) -> TwoPeaksResult:
    """Train every arm on every seed; write CSV, JSON and PNG into ``out_dir``; return the summary.

    :param out_dir: output folder (created)
    :param quick: a smoke run (2 seeds, 300 steps) unless ``seeds`` / ``steps`` are given
    :param seed: the first seed when ``seeds`` is a count (seeds ``seed .. seed + n - 1``)
    :param seeds: number of seeds or an explicit list (used as given); default 10 (2 with ``quick``)
    :param steps: environment steps per training run; default 3000 (300 with ``quick``)
    :param n_samples: actions sampled from each trained policy
    :param arms: subset of ``("sac", "ddpg", "soft_dqn", "sql")``
    :param progress: show a tqdm bar
    """
    import pandas as pd
    import torch as th
    from tqdm import tqdm

    import sb3_softopt  # noqa: F401  (registers the environments)

    th.set_num_threads(1)
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"arms must be a subset of {tuple(ARMS)}, got unknown {unknown}")
    if seeds is None:
        seeds = QUICK_SEEDS if quick else FULL_SEEDS
    seed_list = list(range(seed, seed + seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError(f"seeds must give at least one seed, got {seeds!r}")
    steps = int(steps if steps is not None else (QUICK_STEPS if quick else FULL_STEPS))
    if steps <= 0 or n_samples <= 0:
        raise ValueError(f"steps and n_samples must be > 0, got steps={steps}, n_samples={n_samples}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, Any]] = []
    samples: dict[str, list[np.ndarray]] = {arm: [] for arm in arms}
    jobs = [(arm, seed) for arm in arms for seed in seed_list]
    for arm, seed in tqdm(jobs, desc="two peaks", disable=not progress):
        row, x = ARMS[arm](seed, steps, n_samples)
        row.update(algo=arm, seed=seed, steps=steps)
        row["mode"] = classify(row["frac_left"], row["frac_right"])
        rows.append(row)
        samples[arm].append(x)

    table = pd.DataFrame([{k: v for k, v in r.items() if k != "probs"} for r in rows])
    lead = ["algo", "seed", "steps", "mode", "frac_left", "frac_right", "frac_valley", "x_deterministic"]
    table = table[lead + [c for c in table.columns if c not in lead]]
    table.to_csv(out / "two_peaks.csv", index=False)

    summary: TwoPeaksResult = dict(  # type: ignore[typeddict-item]  # ``files`` is added below
        seeds=seed_list,
        steps=steps,
        n_samples=n_samples,
        alpha=ALPHA,
        near=f"|x - peak| <= {NEAR} (peaks at x = {PEAKS}); valley |x| < {NEAR}",
        reference=reference_fractions(),
        config=dict(
            sac=SAC_KWARGS, ddpg=dict(DDPG_KWARGS, noise_std=DDPG_NOISE_STD), soft_dqn=SOFT_DQN_KWARGS, sql=SQL_KWARGS
        ),
        tv=f"total variation to the soft-optimal policy: histogram of the samples, {TV_BINS} equal bins over "
        "x in [-5, 5] (continuous arms), or the exact distribution over the 21 actions (soft_dqn)",
        arms={},
    )
    for arm in arms:
        sub = table[table.algo == arm]
        summary["arms"][arm] = dict(
            modes={m: int((sub["mode"] == m).sum()) for m in ("both", "left", "right", "neither")},
            mean_frac_left=float(sub.frac_left.mean()),
            mean_frac_right=float(sub.frac_right.mean()),
            mean_frac_valley=float(sub.frac_valley.mean()),
            mean_reward=float(sub.mean_reward.mean()),
        )
        if "tv_to_exact" in sub and sub.tv_to_exact.notna().any():
            summary["arms"][arm]["mean_tv_to_exact"] = float(sub.tv_to_exact.mean())
            summary["arms"][arm]["median_tv_to_exact"] = float(sub.tv_to_exact.median())
            summary["arms"][arm]["seeds_tv_at_most_0_10"] = int((sub.tv_to_exact <= 0.10).sum())
    (out / "two_peaks.json").write_text(json.dumps(summary, indent=2, default=float))
    _plot(out / "two_peaks.png", rows, samples, arms)
    summary["files"] = {k: str(out / f"two_peaks.{k}") for k in ("csv", "json", "png")}
    return summary


def _mode_share(result: TwoPeaksResult, arm: str, modes: tuple[str, ...]) -> tuple[float, int]:
    counts = result["arms"][arm]["modes"]
    n = sum(int(v) for v in counts.values())
    if n == 0:
        raise ValueError(f"arm {arm!r} has no seeds")
    return sum(int(counts.get(m, 0)) for m in modes) / n, n


def judge(result: TwoPeaksResult) -> Verdict:
    arms = result["arms"]
    sql = arms["sql"]
    n_sql = sum(int(v) for v in sql["modes"].values())
    sql_close = int(sql["seeds_tv_at_most_0_10"]) / n_sql if n_sql else 0.0
    soft, n_soft = _mode_share(result, "soft_dqn", ("both",))
    ddpg, n_ddpg = _mode_share(result, "ddpg", ("left", "right"))
    numbers: dict[str, Any] = {
        "seeds where SQL's samples are within TV 0.10 of the soft-optimal density": f"{sql_close:.0%} of {n_sql}",
        "median TV to the soft-optimal density: SQL": f"{float(sql['median_tv_to_exact']):.3f}",
        "seeds where SoftDQN's Boltzmann policy keeps both peaks": f"{soft:.0%} of {n_soft}",
        "seeds where DDPG commits to one peak": f"{ddpg:.0%} of {n_ddpg}",
    }
    if "sac" in arms and "median_tv_to_exact" in arms["sac"]:
        sac_both, n_sac = _mode_share(result, "sac", ("both",))
        numbers["median TV: SAC (unimodal Gaussian), for comparison"] = f"{float(arms['sac']['median_tv_to_exact']):.3f}"
        numbers["seeds where SAC covers both peaks (by one wide bump)"] = f"{sac_both:.0%} of {n_sac}"
    held = {"SQL matches the bimodal optimum": sql_close >= 0.8, "SoftDQN keeps both": soft >= 0.8, "DDPG commits": ddpg >= 0.8}
    if all(held.values()):
        return Verdict(
            REPRODUCED,
            "the energy-based policies keep both peaks (SQL samples the two-peaked soft optimum, SoftDQN's Boltzmann "
            "policy covers both), DDPG commits to one",
            numbers,
        )
    if any(held.values()):
        return Verdict(PARTLY, "; ".join(f"{k}: {v}" for k, v in held.items()), numbers)
    return Verdict(NOT_REPRODUCED, "no difference in mode coverage between the energy-based policies and DDPG", numbers)


def _plot(path: Path, rows: list[dict], samples: dict[str, list[np.ndarray]], arms: tuple[str, ...]) -> None:
    from matplotlib.figure import Figure

    from sb3_softopt.envs.two_peak import TwoPeakBandit, TwoPeakBanditDiscrete

    cont, disc = TwoPeakBandit(), TwoPeakBanditDiscrete()  # the registered ids' environments (no kwargs)
    scale = cont.action_scale
    grid = np.linspace(-1.0, 1.0, 2001)
    # density in x units: pi_x(x) = pi_a(x / scale) / scale
    optimal_x = np.exp(cont.soft_optimal_log_density(grid, ALPHA)) / scale

    fig = Figure(figsize=(4.2 * len(arms), 3.4))
    axes = fig.subplots(1, len(arms), squeeze=False)
    bins = np.linspace(-5, 5, 51)
    for ax, arm in zip(axes[0], arms, strict=True):
        arm_rows = [r for r in rows if r["algo"] == arm]
        if arm == "soft_dqn":
            width = disc.action_values[1] - disc.action_values[0]
            mean_probs = np.mean([r["probs"] for r in arm_rows], axis=0)
            ax.bar(disc.action_values, mean_probs / width, width=0.8 * width, alpha=0.6, label="learned (mean over seeds)")
            exact = disc.soft_optimal_policy(ALPHA)
            ax.plot(disc.action_values, exact / width, "k.", label="exact softmax(r/alpha)")
        elif arm == "ddpg":
            xs = np.concatenate(samples[arm])
            ax.hist(xs, bins=bins, density=False, alpha=0.6, label=f"deterministic action ({len(xs)} seeds)")
            ax.set_ylabel("seeds")
        else:
            for x in samples[arm]:
                ax.hist(x, bins=bins, density=True, histtype="step", alpha=0.35, color="C0")
            ax.hist(np.concatenate(samples[arm]), bins=bins, density=True, alpha=0.4, color="C0", label="sampled (all seeds)")
        ax_r = ax if arm != "ddpg" else ax.twinx()
        ax_r.plot(scale * grid, optimal_x, "k--", lw=1, label="soft-optimal (alpha=1)")
        modes = {m: sum(r["mode"] == m for r in arm_rows) for m in ("both", "left", "right")}
        ax.set_title(f"{arm}: both {modes['both']}, left {modes['left']}, right {modes['right']}", fontsize=9)
        ax.set_xlabel("x = 5 a")
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle("TwoPeakBandit: action distributions of the trained policies", fontsize=10)
    save_figure(fig, path, dpi=120)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture two_peaks`` and of this module (keyword arguments of :func:`run`)."""
    parser.add_argument(
        "--seeds", type=int, default=None, help=f"number of seeds (default {FULL_SEEDS}, {QUICK_SEEDS} with --quick), from --seed on"
    )
    parser.add_argument("--steps", type=int, default=None, help=f"steps per run (default {FULL_STEPS}, {QUICK_STEPS} with --quick)")
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES, help="actions sampled from each trained policy")
    parser.add_argument("--arms", nargs="+", default=tuple(ARMS), choices=list(ARMS))


def print_summary(summary: TwoPeaksResult, out_dir: str | os.PathLike[str]) -> None:
    """What the command line prints before the verdict."""
    for arm, s in summary["arms"].items():
        print(
            f"{arm:9s} modes {s['modes']}  mean frac left {s['mean_frac_left']:.2f} right {s['mean_frac_right']:.2f} "
            f"valley {s['mean_frac_valley']:.2f}  mean reward {s['mean_reward']:.3f}"
            + (f"  TV to exact {s['mean_tv_to_exact']:.3f}" if "mean_tv_to_exact" in s else "")
        )
    print("reference (exact soft-optimal, alpha=1):", json.dumps(summary["reference"]))
    print("wrote", ", ".join(summary["files"].values()))


def main(argv: list[str] | None = None) -> TwoPeaksResult:
    """``python -m sb3_softopt.experiments.two_peaks`` (= ``python -m sb3_softopt.lecture two_peaks``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(TwoPeaksResult, module_main(sys.modules[__name__], argv))


if __name__ == "__main__":
    main()
