"""Compose trained soft models into a model of the same class that acts for the combined task.

``compose([m1, m2], weights, mode)`` returns a new SoftDQN / SQL / SAC whose Q-function is
``sum_i w_i Q_i`` ("and", Haarnoja et al. 2018) or ``alpha * log sum_i w_i exp(Q_i / alpha)``
("or", van Niekerk et al. 2019), built from the constituents' networks (copied, not shared):

* SoftDQN: the policy *is* ``softmax(Q_C / alpha)``: exact, nothing is trained;
* SQL: the composed critic is frozen and a fresh sampler is trained by SVGD on ``exp(Q_C / alpha)``
  over states from the union of the constituents' replay buffers (the official
  ``pusher_combine.py`` procedure): zero environment steps;
* SAC: a fresh actor is fitted to ``Q_C`` by SAC's own actor loss on the same states: the best
  member of the actor's family (squashed Gaussian / categorical), an approximation of
  ``exp(Q_C / alpha)`` (a composed multimodal Q is not Gaussian).

The result is an ordinary model of its class: ``predict``, ``evaluate_policy``, ``save``/``load``
and further ``learn()`` on the combined task (which fine-tunes every constituent's network).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.type_aliases import GymEnv

from sb3_softopt.composition.policies import (
    ComposedDiscreteSACPolicy,
    ComposedSACPolicy,
    ComposedSoftDQNPolicy,
    ComposedSQLPolicy,
)
from sb3_softopt.composition.training import fit_composed_policy, replay_observations
from sb3_softopt.inference.composition_checks import check_weights

__all__ = ["DEFAULT_POLICY_STEPS", "compose"]

#: Gradient steps of the sampler (SQL) or actor (SAC) fit when ``compose`` is not told otherwise.
DEFAULT_POLICY_STEPS = 2000

#: Relative tolerance for "the same temperature / discount".
_RTOL = 1e-6

# Hyperparameters the composed model inherits from the first constituent (for further learn()).
_INHERITED = (
    "learning_rate", "buffer_size", "batch_size", "tau", "train_freq", "gradient_steps", "learning_starts", "target_update_interval",
    "double_q",  # SoftDQN's target (its default changed in 0.3: a composition keeps its constituents')
)  # fmt: skip


def _algorithms() -> dict[type, str]:
    from sb3_softopt.sac import SAC
    from sb3_softopt.soft_dqn import SoftDQN
    from sb3_softopt.sql import SQL

    return {SoftDQN: "soft_dqn", SQL: "sql", SAC: "sac"}


def _kind(model: Any, index: int) -> str:
    from sb3_softopt.entropy_ppo import EntropyPPO

    if isinstance(model, EntropyPPO):
        raise TypeError(
            f"models[{index}] is an EntropyPPO: it learns a policy and a state value, no soft Q-function, and "
            "composition adds soft Q-functions. Compose SoftDQN, SQL or SAC models"
        )
    for cls, kind in _algorithms().items():
        if isinstance(model, cls):
            return kind
    raise TypeError(f"models[{index}] must be a SoftDQN, SQL or SAC model, got {type(model).__name__}")


def _temperature(model: Any) -> float:
    return float(model.current_ent_coef())


def _check_models(models: Any) -> str:
    if isinstance(models, BaseAlgorithm) or not isinstance(models, Sequence) or len(models) < 2:
        raise ValueError("models must be a sequence of at least two trained models to compose")
    kinds = [_kind(m, i) for i, m in enumerate(models)]
    ref = models[0]
    for i, m in enumerate(models[1:], start=1):
        if kinds[i] != kinds[0] or type(m) is not type(ref):
            raise TypeError(f"models[{i}] is a {type(m).__name__}, models[0] a {type(ref).__name__}: compose models of one class")
        for name in ("observation_space", "action_space"):
            if getattr(m, name) != getattr(ref, name):
                raise ValueError(f"models[{i}].{name} = {getattr(m, name)} differs from models[0].{name} = {getattr(ref, name)}")
        if not math.isclose(m.gamma, ref.gamma, rel_tol=_RTOL):
            raise ValueError(f"models[{i}].gamma = {m.gamma} differs from models[0].gamma = {ref.gamma}: compose models of one discount")
        a_i, a_0 = _temperature(m), _temperature(ref)
        if not math.isclose(a_i, a_0, rel_tol=_RTOL):
            raise ValueError(
                f"models[{i}] has temperature alpha = {a_i:.6g}, models[0] {a_0:.6g}: soft Q-functions compose only at one "
                "temperature (exp(Q / alpha) is the policy); train the constituents with the same fixed ent_coef"
            )
    return kinds[0]


def _spec(model: Any, kind: str) -> dict[str, Any]:
    """The architecture of a constituent's Q-network(s)."""
    policy = model.policy
    if kind == "soft_dqn":
        net_arch, activation = policy.net_arch, policy.activation_fn
    else:
        net_arch, activation = policy.critic_kwargs["net_arch"], policy.critic_kwargs["activation_fn"]
    return dict(
        net_arch=list(net_arch),
        activation_fn=activation,
        features_extractor_class=policy.features_extractor_class,
        features_extractor_kwargs=dict(policy.features_extractor_kwargs or {}),
    )


def _load_constituents(composed: Any, models: Sequence[Any], kind: str) -> None:
    """Copy every constituent's Q-network weights (online and target) into the composed networks."""
    if kind == "soft_dqn":
        policy = composed.policy
        pairs = [(policy.q_net, [m.policy.q_net for m in models]), (policy.q_net_target, [m.policy.q_net_target for m in models])]
        for net, sources in pairs:
            for i, src in enumerate(sources):
                net.features_extractor.extractors[i].load_state_dict(src.features_extractor.state_dict())
                net.q_net.load_constituent(i, src.q_net.state_dict())
        return
    policy = composed.policy
    pairs = [(policy.critic, [m.policy.critic for m in models]), (policy.critic_target, [m.policy.critic_target for m in models])]
    for net, sources in pairs:
        for i, src in enumerate(sources):
            net.features_extractor.extractors[i].load_state_dict(src.features_extractor.state_dict())
            for j, head in enumerate(net.q_networks):
                head.load_constituent(i, src.q_networks[j].state_dict())


def _policy_kwargs(models: Sequence[Any], kind: str, weights: list[float], mode: str, alpha: float) -> tuple[type, dict[str, Any]]:
    ref = models[0]
    specs = [_spec(m, kind) for m in models]
    kwargs: dict[str, Any] = dict(constituents=specs, weights=weights, mode=mode, composition_alpha=alpha)
    kwargs["normalize_images"] = ref.policy.normalize_images
    if kind == "soft_dqn":
        return ComposedSoftDQNPolicy, kwargs
    n_critics = {m.policy.critic_kwargs["n_critics"] for m in models}
    if len(n_critics) != 1:
        raise ValueError(f"the models have different numbers of critics {sorted(n_critics)}: compose models with one n_critics")
    kwargs["n_critics"] = n_critics.pop()
    # The actor/sampler gets the first constituent's architecture (its own features extractor).
    kwargs["net_arch"] = dict(pi=list(ref.policy.actor_kwargs["net_arch"]), qf=list(specs[0]["net_arch"]))
    kwargs["activation_fn"] = ref.policy.actor_kwargs["activation_fn"]
    kwargs["features_extractor_class"] = ref.policy.features_extractor_class
    kwargs["features_extractor_kwargs"] = dict(ref.policy.features_extractor_kwargs or {})
    kwargs["share_features_extractor"] = False
    if kind == "sql":
        kwargs["n_deterministic_particles"] = ref.policy.n_deterministic_particles
        return ComposedSQLPolicy, kwargs
    return (ComposedDiscreteSACPolicy if isinstance(ref.action_space, spaces.Discrete) else ComposedSACPolicy), kwargs


def compose(
    models: Sequence[Any],
    weights: Any = None,
    mode: str = "and",
    *,
    env: GymEnv | str | None = None,
    policy_steps: int | None = None,
    observations: Any = None,
    fit_batch_size: int = 256,
    seed: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> Any:
    """
    Compose trained models of one class into a model of that class for the combined task.

    :param models: two or more trained ``SoftDQN``, ``SQL`` or ``SAC`` models (one class), with equal
        observation and action spaces, ``gamma`` and temperature (``current_ent_coef()``)
    :param weights: non-negative, finite, one per model, not all zero; default ``1/n`` each
    :param mode: ``"and"`` (``sum_i w_i Q_i``, the policy for the reward ``sum_i w_i r_i``) or
        ``"or"`` (``alpha log sum_i w_i exp(Q_i / alpha)``)
    :param env: environment of the combined task for further ``learn()`` (optional; its spaces
        must be the constituents')
    :param policy_steps: SQL/SAC: gradient steps of the sampler/actor fit to the frozen composed
        critic (default :data:`DEFAULT_POLICY_STEPS`; 0 leaves the fresh network untrained);
        ignored by SoftDQN, whose policy is exact
    :param observations: SQL/SAC: states to fit on; default the union of the constituents' replay buffers
    :param fit_batch_size: SQL/SAC: states per fit step
    :param seed: seed of the composed model (and of its fresh sampler/actor)
    :param model_kwargs: other constructor arguments of the composed model (e.g. ``learning_rate``
        for later ``learn()``); default: the first model's training hyperparameters
    :return: a new model of the constituents' class; with ``ent_coef`` fixed to the shared temperature
    """
    kind = _check_models(models)
    w = [float(x) for x in check_weights(weights, len(models))]
    if mode not in ("and", "or"):
        raise ValueError(f"mode must be 'and' or 'or', got {mode!r}")
    ref = models[0]
    alpha = _temperature(ref)
    policy_class, policy_kwargs = _policy_kwargs(models, kind, w, mode, alpha)
    kwargs: dict[str, Any] = {name: getattr(ref, name) for name in _INHERITED if hasattr(ref, name)}
    if hasattr(kwargs.get("train_freq"), "frequency"):
        tf = kwargs["train_freq"]
        kwargs["train_freq"] = (tf.frequency, tf.unit.value)
    kwargs.update(model_kwargs or {})
    kwargs.update(gamma=ref.gamma, ent_coef=alpha, policy_kwargs=policy_kwargs, seed=seed, device=ref.device)
    composed = type(ref)(policy_class, env, _init_setup_model=False, **kwargs)
    if env is None:
        # As SB3's load does for a model without an environment: the spaces come from the constituents.
        composed.observation_space, composed.action_space, composed.n_envs = ref.observation_space, ref.action_space, 1
    elif composed.observation_space != ref.observation_space or composed.action_space != ref.action_space:
        raise ValueError(
            f"env has spaces {composed.observation_space}, {composed.action_space}; the models have "
            f"{ref.observation_space}, {ref.action_space}"
        )
    composed._setup_model()
    _load_constituents(composed, models, kind)
    if kind != "soft_dqn":
        steps = DEFAULT_POLICY_STEPS if policy_steps is None else int(policy_steps)
        if steps > 0:
            obs = replay_observations(models) if observations is None else observations
            fit_composed_policy(composed, obs, steps, batch_size=fit_batch_size)
    return composed

