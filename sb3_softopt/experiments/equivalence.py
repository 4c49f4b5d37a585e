"""Lecture 4.3: soft Q-learning ~ entropy-regularised policy gradient.

The lecture shows that the policy gradient of the maximum-entropy objective, written with
``log pi = Q - V``, is soft Q-learning up to the off-policy soft max and the ``- grad V`` term:
both optimise ``E[sum_t gamma^t (r_t + alpha * H(pi(.|s_t)))]`` and share its optimum, the
soft-optimal policy ``pi*(a|s) = exp((Q*(s,a) - V*(s)) / alpha)``.

This experiment trains :class:`~sb3_softopt.SoftDQN` (soft Q-learning) and
:class:`~sb3_softopt.EntropyPPO` (policy gradient on the soft return ``r - alpha log pi``) at the
*same fixed temperature* ``alpha`` and discount ``gamma`` on a small reaching gridworld with
one-hot observations, and measures, every ``eval_freq`` environment steps, how far each learned
policy is from the exact ``soft_value_iteration`` policy.

Consistency between the solver and the agents (the choice made here):

* the gridworld runs in its *terminating* mode (``terminate_at_goal=True, horizon=None``):
  entering the goal pays ``goal_reward`` and ends the episode, there is no horizon-dependent
  terminal penalty, so the task is a stationary discounted MDP;
* the exact reference is the *infinite-horizon* soft value iteration with the same ``gamma`` and
  ``alpha``, the goal marked as a terminal state (value 0, like the agents' ``(1 - done)`` mask);
* the 30-step ``TimeLimit`` only *truncates* episodes; SB3 bootstraps through truncations (SoftDQN's
  replay buffer with ``handle_timeout_termination``, EntropyPPO's ``gamma * V(terminal_obs)``
  reward fold), so the agents estimate the same infinite-horizon values.

Metric: ``KL(pi* || pi_agent)`` per state, averaged with weights ``d(s)`` = the expected number of
visits to ``s`` within an episode (30 steps from the start, stopping at the goal) when following
``pi*``, normalised to sum to 1. These are the states where the soft-optimal policy acts; states it
never reaches carry no weight. The unweighted mean over all non-terminal states is reported too.

Run it alone::

    python -m sb3_softopt.experiments.equivalence --out runs/equivalence [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict, cast

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from sb3_softopt.lecture.claim import NOT_REPRODUCED, PARTLY, REPRODUCED, Claim, Verdict
from sb3_softopt.experiments.infra.plotting import save_figure

__all__ = [
    "CLAIM",
    "EquivalenceResult",
    "ExactReference",
    "KLTracker",
    "add_arguments",
    "exact_reference",
    "judge",
    "main",
    "make_env",
    "policy_log_probs",
    "print_summary",
    "run",
    "weighted_kl",
]

CLAIM = Claim(
    name="equivalence",
    title="Soft Q-learning ~ entropy-regularised policy gradient",
    section="4.3",
    statement="Soft Q-learning and policy gradient with the entropy-regularised (soft) return optimise the "
    "same objective, so both converge to the same soft-optimal policy.",
    criteria="reproduced if the visitation-weighted KL(pi_exact || pi_agent) of both SoftDQN and EntropyPPO "
    "ends <= the experiment's threshold (0.05 nats) and fell by >= 80% from its start; partly if "
    "both fell by >= 80% or one ends below the threshold.",
)

#: The default task: a 6 x 3 reaching grid, start (1, 1), goal (4, 1), three moves apart.
ENV_KWARGS: dict[str, Any] = dict(width=6, height=3, horizon=None, terminate_at_goal=True, goal_reward=10.0, move_cost=0.1)
MAX_EPISODE_STEPS = 30
#: The experiment's settings (``run``'s defaults): the shared temperature and discount, the steps
#: per agent (full and ``quick``), evaluations per run, and the KL (nats) counted as converged.
ALPHA = 0.5
GAMMA = 0.9
TOTAL_TIMESTEPS = 20_000
QUICK_TIMESTEPS = 2_000
N_EVALS = 30
KL_THRESHOLD = 0.05
#: The agents' own settings (``alpha``, ``gamma`` and the seed are passed in): one 2 x 64 network
#: and learning rate for both. SoftDQN copies its target network every 200 steps, without double
#: Q; EntropyPPO's ``ent_coef`` (SB3's entropy bonus) is 0, the soft return carrying the entropy.
NET_ARCH = [64, 64]
SOFT_DQN_KWARGS: dict[str, Any] = dict(
    learning_rate=1e-3, buffer_size=50_000, learning_starts=200, batch_size=64, train_freq=1, gradient_steps=1,
    target_update_interval=200, tau=1.0, double_q=False,
)  # fmt: skip
ENTROPY_PPO_KWARGS: dict[str, Any] = dict(ent_coef=0.0, gae_lambda=0.95, learning_rate=1e-3, n_steps=256, batch_size=64, n_epochs=10)


def make_env(env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """The terminating reaching grid with one-hot observations (``OneHotObservation``)."""
    import sb3_softopt  # noqa: F401  (registers the environments)
    from sb3_softopt.envs import OneHotObservation

    kwargs = dict(ENV_KWARGS)
    kwargs.update(env_kwargs or {})
    return OneHotObservation(gym.make("ReachingGridworld-v0", max_episode_steps=MAX_EPISODE_STEPS, **kwargs))


class ExactReference:
    """The exact soft-optimal policy of the env and the state weights of the KL metric.

    :ivar log_policy: ``(S, A)`` log pi*(a|s) from infinite-horizon soft value iteration.
    :ivar weights: ``(S,)`` normalised expected visits under pi* (0 on terminal states).
    :ivar nonterminal: ``(S,)`` bool mask of states where the agent acts.
    """

    def __init__(self, log_policy: np.ndarray, weights: np.ndarray, nonterminal: np.ndarray, v: np.ndarray) -> None:
        self.log_policy = log_policy
        self.weights = weights
        self.nonterminal = nonterminal
        self.v = v

    @property
    def n_states(self) -> int:
        return int(self.log_policy.shape[0])


def exact_reference(env: gym.Env, alpha: float, gamma: float, visit_steps: int = MAX_EPISODE_STEPS) -> ExactReference:
    """Solve the env's tabular model exactly and compute the KL weights.

    :param env: a (wrapped) ``ReachingGridworld`` in terminating mode, or any env exposing the
        tabular model attributes and a ``goal`` state index on ``unwrapped``.
    :param alpha: temperature (> 0).
    :param gamma: discount in (0, 1).
    :param visit_steps: episode length used for the expected-visit weights.
    """
    from sb3_softopt.inference import TabularMDP, forward_messages, soft_value_iteration

    if not (0 < gamma < 1):
        raise ValueError(f"gamma must be in (0, 1) for the infinite-horizon reference, got gamma={gamma!r}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got alpha={alpha!r}")
    base: Any = env.unwrapped  # duck-typed: the attributes named above
    P = np.asarray(base.transition_matrix, dtype=np.float64)  # (S, A, S')
    S = P.shape[0]
    terminal = np.zeros(S, dtype=bool)
    if getattr(base, "terminate_at_goal", False):
        terminal[int(base.goal)] = True
    mdp = TabularMDP.from_env(env, horizon=None, terminal_states=terminal)
    sol = soft_value_iteration(mdp, alpha=alpha, gamma=gamma, horizon=None)
    log_pi = np.asarray(sol.log_policy, dtype=np.float64)
    # Expected visits within an episode: the state distributions under pi* for visit_steps decisions,
    # counted before the agent acts; terminal states absorb, and are not visits.
    d = forward_messages(mdp, np.exp(log_pi), horizon=int(visit_steps), initial_state_dist=base.initial_state_dist)
    visits = np.where(terminal, 0.0, d[:-1].sum(axis=0))
    weights = visits / visits.sum()
    return ExactReference(log_pi, weights, ~terminal, np.asarray(sol.v))


def policy_log_probs(model: Any, obs: np.ndarray) -> np.ndarray:
    """``log pi(a|s)`` of an SB3 discrete-action model for a batch of observations, ``(N, A)``.

    Uses the policy's ``action_log_probs`` (SoftDQN: ``log softmax(Q / alpha)``) when it has one,
    else the action distribution (actor-critic policies such as EntropyPPO's).
    """
    policy = model.policy
    with th.no_grad():
        obs_t, _ = policy.obs_to_tensor(obs)
        if hasattr(policy, "action_log_probs"):
            logp = policy.action_log_probs(obs_t)
        else:
            dist = policy.get_distribution(obs_t).distribution
            logp = th.log_softmax(dist.logits, dim=-1)
    return logp.cpu().numpy().astype(np.float64)


def weighted_kl(ref: ExactReference, log_q: np.ndarray) -> tuple[float, float]:
    """(visitation-weighted, uniform over non-terminal states) ``KL(pi* || q)`` in nats."""
    pi = np.exp(ref.log_policy)
    kl = np.sum(pi * (ref.log_policy - log_q), axis=1)
    kl = np.maximum(kl, 0.0)  # float round-off only
    return float(np.dot(ref.weights, kl)), float(kl[ref.nonterminal].mean())


class KLTracker(BaseCallback):
    """Record the KL to the exact policy at step 0 and every ``eval_freq`` environment steps."""

    def __init__(self, ref: ExactReference, eval_freq: int) -> None:
        super().__init__()
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be >= 1, got eval_freq={eval_freq!r}")
        self.ref = ref
        self.eval_freq = int(eval_freq)
        self.steps: list[int] = []
        self.kl: list[float] = []
        self.kl_uniform: list[float] = []
        self._obs = np.eye(ref.n_states, dtype=np.float32)
        self._next = 0

    def _record(self) -> None:
        w, u = weighted_kl(self.ref, policy_log_probs(self.model, self._obs))
        self.steps.append(int(self.num_timesteps))
        self.kl.append(w)
        self.kl_uniform.append(u)
        self.logger.record("eval/kl_to_exact", w)

    def _on_training_start(self) -> None:
        self._record()
        self._next = self.num_timesteps + self.eval_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._record()
            self._next += self.eval_freq
        return True

    def _on_training_end(self) -> None:
        if self.steps[-1] != self.num_timesteps:
            self._record()


def _make_agent(algo: str, env: gym.Env, alpha: float, gamma: float, seed: int):
    from sb3_softopt import EntropyPPO, SoftDQN

    shared: dict[str, Any] = dict(gamma=gamma, policy_kwargs=dict(net_arch=list(NET_ARCH)), seed=seed, device="cpu")
    if algo == "SoftDQN":
        return SoftDQN("MlpPolicy", env, ent_coef=alpha, **SOFT_DQN_KWARGS, **shared)
    if algo == "EntropyPPO":
        return EntropyPPO("MlpPolicy", env, soft_ent_coef=alpha, **ENTROPY_PPO_KWARGS, **shared)
    raise ValueError(f"algo must be 'SoftDQN' or 'EntropyPPO', got algo={algo!r}")


ALGOS = ("SoftDQN", "EntropyPPO")


class EquivalenceResult(TypedDict):
    """What :func:`run` measures (also written to ``equivalence.json``); KLs in nats, per algorithm."""

    claim: str
    quick: bool
    alpha: float
    gamma: float
    env_kwargs: dict[str, Any]
    total_timesteps: int
    eval_freq: int
    kl_threshold: float
    #: visitation-weighted KL(pi_exact || pi_agent) at the first and last evaluation
    initial_kl: dict[str, float]
    final_kl: dict[str, float]
    #: the same KL averaged uniformly over non-terminal states
    final_kl_uniform: dict[str, float]
    #: algorithm -> ``steps``, ``kl``, ``kl_uniform`` lists
    curves: dict[str, dict[str, Sequence[float]]]
    seconds: float
    figures: list[str]


def run(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    alpha: float = ALPHA,
    gamma: float = GAMMA,
    total_timesteps: int | None = None,
    eval_freq: int | None = None,
    kl_threshold: float = KL_THRESHOLD,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> EquivalenceResult:
    """Train SoftDQN and EntropyPPO at the same alpha/gamma; record their KL to the exact policy.

    :param out_dir: output folder (created).
    :param quick: smoke-test budget (2k steps instead of 20k).
    :param seed: seed of both agents.
    :param alpha: the shared fixed temperature (> 0).
    :param gamma: the shared discount, in (0, 1).
    :param total_timesteps: environment steps per agent (default 20000, quick 2000).
    :param eval_freq: steps between KL evaluations (default total/30).
    :param kl_threshold: KL (nats) under which a policy counts as converged (used by the report).
    :param env_kwargs: overrides of :data:`ENV_KWARGS` for ``ReachingGridworld-v0``.
    :param progress: tqdm progress bar.
    :return: the summary written to ``equivalence.json``.
    """
    from tqdm.auto import tqdm

    th.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total_timesteps = int(total_timesteps if total_timesteps is not None else (QUICK_TIMESTEPS if quick else TOTAL_TIMESTEPS))
    if total_timesteps < 1:
        raise ValueError(f"total_timesteps must be >= 1, got total_timesteps={total_timesteps!r}")
    eval_freq = int(eval_freq if eval_freq is not None else max(1, total_timesteps // N_EVALS))

    env = make_env(env_kwargs)
    ref = exact_reference(env, alpha, gamma)
    curves: dict[str, dict[str, Sequence[float]]] = {}
    t0 = time.perf_counter()
    for algo in tqdm(ALGOS, desc="equivalence", disable=not progress):
        model = _make_agent(algo, make_env(env_kwargs), alpha, gamma, seed)
        tracker = KLTracker(ref, eval_freq)
        model.learn(total_timesteps=total_timesteps, callback=tracker)
        curves[algo] = {"steps": tracker.steps, "kl": tracker.kl, "kl_uniform": tracker.kl_uniform}
    elapsed = time.perf_counter() - t0

    import pandas as pd

    rows = [
        dict(algo=a, step=s, kl=k, kl_uniform=u)
        for a, c in curves.items()
        for s, k, u in zip(c["steps"], c["kl"], c["kl_uniform"], strict=True)
    ]
    pd.DataFrame(rows).to_csv(out / "equivalence_kl.csv", index=False)
    summary: EquivalenceResult = {
        "claim": "equivalence",
        "quick": quick,
        "alpha": alpha,
        "gamma": gamma,
        "env_kwargs": {**ENV_KWARGS, **(env_kwargs or {})},
        "total_timesteps": total_timesteps,
        "eval_freq": eval_freq,
        "kl_threshold": kl_threshold,
        "initial_kl": {a: c["kl"][0] for a, c in curves.items()},
        "final_kl": {a: c["kl"][-1] for a, c in curves.items()},
        "final_kl_uniform": {a: c["kl_uniform"][-1] for a, c in curves.items()},
        "curves": curves,
        "seconds": elapsed,
        "figures": ["equivalence_kl.png"],  # relative to out_dir
    }
    _plot(curves, out / "equivalence_kl.png", alpha, gamma, kl_threshold)
    (out / "equivalence.json").write_text(json.dumps(summary, indent=2))
    return summary


def _plot(curves: dict[str, dict[str, Sequence[float]]], path: Path, alpha: float, gamma: float, thr: float) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for i, (algo, c) in enumerate(curves.items()):
        color = f"C{i}"
        ax.plot(c["steps"], c["kl"], color=color, label=f"{algo} (visitation-weighted)")
        ax.plot(c["steps"], c["kl_uniform"], color=color, ls=":", alpha=0.7, label=f"{algo} (uniform over states)")
    ax.axhline(thr, color="grey", lw=0.8, ls="--", label=f"threshold {thr}")
    ax.set_yscale("log")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("KL(pi* || pi_agent) [nats]")
    ax.set_title(f"Soft Q-learning vs entropy-regularised PG (alpha={alpha}, gamma={gamma})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, path, dpi=110)
    return path


def judge(result: EquivalenceResult) -> Verdict:
    final = {k: float(v) for k, v in result["final_kl"].items()}
    first = {k: float(v) for k, v in result["initial_kl"].items()}
    thr = float(result["kl_threshold"])
    numbers = {f"KL {k}: start -> end (nats)": f"{first[k]:.3g} -> {final[k]:.3g}" for k in final}
    close = {k: final[k] <= thr for k in final}
    fell = {k: final[k] <= 0.2 * first[k] for k in final}
    if all(close.values()) and all(fell.values()):
        return Verdict(REPRODUCED, f"both agents converge to the exact soft-optimal policy (KL <= {thr} nats)", numbers)
    if all(fell.values()) or any(close.values()):
        return Verdict(PARTLY, f"KL <= {thr}: {close}; KL fell by >= 80%: {fell}", numbers)
    return Verdict(NOT_REPRODUCED, "the agents' policies do not approach the exact soft-optimal policy", numbers)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sb3_softopt.lecture equivalence`` and of this module (keyword arguments of :func:`run`)."""
    parser.add_argument("--alpha", type=float, default=ALPHA, help="shared fixed temperature (default %(default)s)")
    parser.add_argument("--gamma", type=float, default=GAMMA, help="shared discount (default %(default)s)")
    parser.add_argument(
        "--timesteps", dest="total_timesteps", type=int, default=None,
        help=f"environment steps per agent (default {TOTAL_TIMESTEPS}, {QUICK_TIMESTEPS} with --quick)",
    )  # fmt: skip


def print_summary(s: EquivalenceResult, out_dir: str | Path) -> None:
    """What the command line prints before the verdict."""
    for a in ALGOS:
        print(f"{a}: KL {s['initial_kl'][a]:.4f} -> {s['final_kl'][a]:.4f} nats")


def main(argv: Sequence[str] | None = None) -> EquivalenceResult:
    """``python -m sb3_softopt.experiments.equivalence`` (= ``python -m sb3_softopt.lecture equivalence``)."""
    from sb3_softopt.lecture.cli import module_main

    return cast(EquivalenceResult, module_main(sys.modules[__name__], argv))


if __name__ == "__main__":
    main()
