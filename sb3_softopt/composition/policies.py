"""Policies whose Q-function is a composition of other models' Q-functions.

Each class subclasses its algorithm's policy and only replaces the Q-network builder
(``make_q_net`` / ``make_critic``) by one that builds a composed network
(:mod:`sb3_softopt.composition.networks`) from four extra constructor arguments: ``constituents``
(each constituent's architecture), ``weights``, ``mode`` and ``composition_alpha``. They are
ordinary constructor arguments, saved in ``policy_kwargs``, so SB3's ``save``/``load`` rebuild the
composed network and load its weights like any other policy's.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.sac.policies import SACPolicy

from sb3_softopt.composition.networks import (
    ComposedContinuousCritic,
    ComposedDiscreteCritic,
    ComposedQNetwork,
    check_composition_args,
)
from sb3_softopt.sac.discrete_policies import DiscreteSACPolicy
from sb3_softopt.soft_dqn.policies import SoftDQNPolicy
from sb3_softopt.sql.policies import SQLPolicy

__all__ = ["ComposedDiscreteSACPolicy", "ComposedSACPolicy", "ComposedSQLPolicy", "ComposedSoftDQNPolicy"]


class _ComposedMixin:
    """Stores and validates the composition arguments (before the networks are built)."""

    constituents: list[dict[str, Any]]
    weights: list[float]
    mode: str
    composition_alpha: float

    def _set_composition(self, constituents: list[dict[str, Any]], weights: list[float], mode: str, composition_alpha: float) -> None:
        if not constituents:
            raise ValueError("constituents must list at least one constituent architecture")
        weights = [float(w) for w in weights]
        if len(weights) != len(constituents):
            raise ValueError(f"weights must have one entry per constituent ({len(constituents)}), got {len(weights)}")
        check_composition_args(weights, mode, float(composition_alpha))
        # Plain attributes set before nn.Module.__init__ (SB3's constructors build the networks).
        self.constituents = [dict(c) for c in constituents]
        self.weights = weights
        self.mode = mode
        self.composition_alpha = float(composition_alpha)

    def _composition_kwargs(self) -> dict[str, Any]:
        return dict(
            constituents=self.constituents, weights=self.weights, mode=self.mode, composition_alpha=self.composition_alpha
        )


class ComposedSoftDQNPolicy(_ComposedMixin, SoftDQNPolicy):
    """:class:`~sb3_softopt.soft_dqn.policies.SoftDQNPolicy` whose Q-network (and target copy) is
    the composition of the constituents' Q-networks; ``predict`` samples ``softmax(Q_C / alpha)``.

    :param observation_space: Observation space
    :param action_space: Action space (``Discrete``)
    :param lr_schedule: Learning rate schedule
    :param constituents: one architecture dict per constituent (``net_arch``, ``activation_fn``,
        ``features_extractor_class``, ``features_extractor_kwargs``)
    :param weights: composition weights, one per constituent
    :param mode: ``"and"`` (weighted sum) or ``"or"`` (weighted soft maximum)
    :param composition_alpha: temperature of the ``"or"`` soft maximum
    :param kwargs: the other arguments of :class:`SoftDQNPolicy` (``ent_coef``, ``normalize_images``,
        optimizer); ``net_arch`` and the features extractor arguments are the constituents'
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        constituents: list[dict[str, Any]],
        weights: list[float],
        mode: str = "and",
        composition_alpha: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self._set_composition(constituents, weights, mode, composition_alpha)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_q_net(self) -> ComposedQNetwork:
        return ComposedQNetwork(
            self.observation_space,
            self.action_space,  # type: ignore[arg-type]
            self.constituents,
            self.weights,
            self.mode,
            self.composition_alpha,
            normalize_images=self.normalize_images,
        ).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._composition_kwargs())
        return data


class _ComposedActorCritic(_ComposedMixin):
    """``make_critic`` for the actor-critic policies: the critic is always the composed one with its
    own (concatenated) features extractor, never the actor's."""

    n_critics_composed: int

    def _composed_critic_kwargs(self) -> dict[str, Any]:
        return dict(
            specs=self.constituents,
            weights=self.weights,
            mode=self.mode,
            alpha=self.composition_alpha,
            n_critics=self.critic_kwargs["n_critics"],  # type: ignore[attr-defined]
            normalize_images=self.normalize_images,  # type: ignore[attr-defined]
        )


class ComposedSQLPolicy(_ComposedActorCritic, SQLPolicy):
    """:class:`~sb3_softopt.sql.policies.SQLPolicy` whose critic composes the constituents' critics;
    the sampler is an ordinary SVGD sampler (trained to ``exp(Q_C / alpha)``).

    :param observation_space: Observation space
    :param action_space: Action space (``Box``)
    :param lr_schedule: Learning rate schedule
    :param constituents: one critic architecture dict per constituent
    :param weights: composition weights, one per constituent
    :param mode: ``"and"`` or ``"or"``
    :param composition_alpha: temperature of the ``"or"`` soft maximum
    :param kwargs: the other arguments of :class:`SQLPolicy` (``net_arch`` is the sampler's;
        ``share_features_extractor`` must stay False)
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        constituents: list[dict[str, Any]],
        weights: list[float],
        mode: str = "and",
        composition_alpha: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self._set_composition(constituents, weights, mode, composition_alpha)
        if kwargs.get("share_features_extractor", False):
            raise ValueError("share_features_extractor must be False: the composed critic has its own features extractors")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ComposedContinuousCritic:
        return ComposedContinuousCritic(
            self.observation_space, self.action_space, **self._composed_critic_kwargs()  # type: ignore[arg-type]
        ).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._composition_kwargs())
        return data


class ComposedSACPolicy(_ComposedActorCritic, SACPolicy):
    """SB3's ``SACPolicy`` (``Box`` actions) whose twin critics compose the constituents' twins
    index by index (``Q_C,j = sum_i w_i Q_i,j``); the Gaussian actor is an ordinary one.

    :param observation_space: Observation space
    :param action_space: Action space (``Box``)
    :param lr_schedule: Learning rate schedule
    :param constituents: one critic architecture dict per constituent
    :param weights: composition weights, one per constituent
    :param mode: ``"and"`` or ``"or"``
    :param composition_alpha: temperature of the ``"or"`` soft maximum
    :param kwargs: the other arguments of ``SACPolicy`` (``net_arch`` is the actor's;
        ``share_features_extractor`` must be False)
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        constituents: list[dict[str, Any]],
        weights: list[float],
        mode: str = "and",
        composition_alpha: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self._set_composition(constituents, weights, mode, composition_alpha)
        if kwargs.setdefault("share_features_extractor", False):
            raise ValueError("share_features_extractor must be False: the composed critic has its own features extractors")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ComposedContinuousCritic:
        return ComposedContinuousCritic(
            self.observation_space, self.action_space, **self._composed_critic_kwargs()  # type: ignore[arg-type]
        ).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._composition_kwargs())
        return data


class ComposedDiscreteSACPolicy(_ComposedActorCritic, DiscreteSACPolicy):
    """Discrete SAC's policy whose critics compose the constituents' (``Q(s, .)`` per network);
    the categorical actor is an ordinary one.

    :param observation_space: Observation space
    :param action_space: Action space (``Discrete``)
    :param lr_schedule: Learning rate schedule
    :param constituents: one critic architecture dict per constituent
    :param weights: composition weights, one per constituent
    :param mode: ``"and"`` or ``"or"``
    :param composition_alpha: temperature of the ``"or"`` soft maximum
    :param kwargs: the other arguments of :class:`DiscreteSACPolicy` (``share_features_extractor``
        must be False)
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        constituents: list[dict[str, Any]],
        weights: list[float],
        mode: str = "and",
        composition_alpha: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self._set_composition(constituents, weights, mode, composition_alpha)
        if kwargs.setdefault("share_features_extractor", False):
            raise ValueError("share_features_extractor must be False: the composed critic has its own features extractors")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ComposedDiscreteCritic:  # type: ignore[override]
        return ComposedDiscreteCritic(
            self.observation_space, self.action_space, **self._composed_critic_kwargs()  # type: ignore[arg-type]
        ).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._composition_kwargs())
        return data
