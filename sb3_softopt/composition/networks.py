"""Composed Q-networks: the constituents' networks side by side, combined in the forward pass.

SB3's Q-networks are "features extractor, then a head on the features (and, for continuous
actions, the action)". A composed network keeps that layout, so every algorithm uses it unchanged:
its features extractor (:class:`ConcatExtractor`) concatenates the constituents' features, and its
head (:class:`ComposedHead`) splits them again, runs each constituent's head on its own slice and
combines the outputs as ``sum_i w_i Q_i`` ("and") or ``alpha * log sum_i w_i exp(Q_i / alpha)``
("or"). Every constituent's parameters stay trainable, so ``learn()`` fine-tunes the composition.
"""

from __future__ import annotations

import math
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel, BasePolicy, ContinuousCritic
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, create_mlp
from stable_baselines3.dqn.policies import QNetwork
from torch import nn

from sb3_softopt.common.validation import check_real
from sb3_softopt.sac.discrete_policies import DiscreteCritic

__all__ = [
    "ComposedContinuousCritic",
    "ComposedDiscreteCritic",
    "ComposedHead",
    "ComposedQNetwork",
    "ConcatExtractor",
    "combine_q",
]

MODES = ("and", "or")


def combine_q(q_values: th.Tensor, weights: th.Tensor, mode: str, alpha: float) -> th.Tensor:
    """Combine stacked Q-values ``(n, ...)`` into ``(...)``: ``sum_i w_i Q_i`` or
    ``alpha * logsumexp_i(Q_i / alpha + log w_i)`` (zero weights drop out: ``log 0 = -inf``)."""
    shape = (-1,) + (1,) * (q_values.dim() - 1)
    w = weights.to(q_values.dtype).reshape(shape)
    if mode == "and":
        return (w * q_values).sum(dim=0)
    return alpha * th.logsumexp(q_values / alpha + th.log(w), dim=0)


class ConcatExtractor(BaseFeaturesExtractor):
    """The constituents' features extractors applied to one observation, concatenated.

    :param observation_space: the shared observation space
    :param specs: one dict per constituent with ``features_extractor_class`` and
        ``features_extractor_kwargs``, as ``sb3_softopt.composition.models`` reads them from a trained model
    """

    def __init__(self, observation_space: spaces.Space, specs: list[dict[str, Any]]) -> None:
        extractors = [s["features_extractor_class"](observation_space, **(s["features_extractor_kwargs"] or {})) for s in specs]
        self.feature_dims = [int(e.features_dim) for e in extractors]
        super().__init__(observation_space, features_dim=sum(self.feature_dims))
        self.extractors = nn.ModuleList(extractors)

    def forward(self, observations: th.Tensor) -> th.Tensor:
        """The constituents' features side by side, shape ``(batch, sum(feature_dims))``."""
        return th.cat([e(observations) for e in self.extractors], dim=-1)


class ComposedHead(nn.Module):
    """Per-constituent heads on slices of concatenated features, combined into one Q-value.

    :param specs: one dict per constituent with ``net_arch`` and ``activation_fn``
    :param feature_dims: each constituent's number of features (the slices of the input)
    :param out_dim: outputs of each head (``|A|`` for discrete Q-networks, 1 for continuous critics)
    :param action_dim: trailing action entries of the input passed to every head (0: none)
    :param weights: non-negative composition weights, one per constituent
    :param mode: ``"and"`` or ``"or"``
    :param alpha: temperature of the ``"or"`` soft maximum
    """

    weights: th.Tensor

    def __init__(
        self,
        specs: list[dict[str, Any]],
        feature_dims: list[int],
        out_dim: int,
        action_dim: int,
        weights: list[float],
        mode: str,
        alpha: float,
    ) -> None:
        super().__init__()
        self.feature_dims = list(feature_dims)
        self.action_dim = int(action_dim)
        self.mode = mode
        self.alpha = float(alpha)
        self.heads = nn.ModuleList(
            nn.Sequential(*create_mlp(d + self.action_dim, out_dim, s["net_arch"], s["activation_fn"]))
            for s, d in zip(specs, self.feature_dims, strict=True)
        )
        # A buffer: saved with the state dict and moved with .to(device), never trained.
        self.register_buffer("weights", th.as_tensor(weights, dtype=th.float32))

    def forward(self, x: th.Tensor) -> th.Tensor:
        """The composed Q-values of ``x = [features, action]`` (the action part only for continuous heads)."""
        n_features = sum(self.feature_dims)
        parts = th.split(x[..., :n_features], self.feature_dims, dim=-1)
        action = x[..., n_features:]
        outs = [head(th.cat([f, action], dim=-1) if self.action_dim else f) for head, f in zip(self.heads, parts, strict=True)]
        return combine_q(th.stack(outs), self.weights, self.mode, self.alpha)

    def load_constituent(self, index: int, state_dict: dict[str, Any]) -> None:
        """Load constituent ``index``'s head (an ``nn.Sequential`` of the same architecture)."""
        self.heads[index].load_state_dict(state_dict)


class ComposedQNetwork(QNetwork):
    """SB3's DQN ``QNetwork`` whose output is the composition of the constituents' ``Q(s, .)``.

    :param observation_space: the shared observation space
    :param action_space: the shared ``Discrete`` action space
    :param specs: the constituents' architectures
    :param weights: composition weights
    :param mode: ``"and"`` or ``"or"``
    :param alpha: temperature of ``"or"``
    :param normalize_images: whether to divide image observations by 255
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        specs: list[dict[str, Any]],
        weights: list[float],
        mode: str,
        alpha: float,
        normalize_images: bool = True,
    ) -> None:
        extractor = ConcatExtractor(observation_space, specs)
        # QNetwork's own __init__ would build one MLP on all features: skip it, keep its attributes.
        BasePolicy.__init__(self, observation_space, action_space, features_extractor=extractor, normalize_images=normalize_images)
        # QNetwork's attributes (one architecture: the first constituent's; all of them are in ``specs``)
        self.net_arch = list(specs[0]["net_arch"])
        self.activation_fn = specs[0]["activation_fn"]
        self.features_dim = extractor.features_dim
        # QNetwork declares an nn.Sequential; any module mapping features to Q(s, .) serves its forward.
        self.q_net = ComposedHead(specs, extractor.feature_dims, int(action_space.n), 0, weights, mode, alpha)  # type: ignore[assignment]


class ComposedContinuousCritic(ContinuousCritic):
    """SB3's ``ContinuousCritic`` whose ``j``-th Q-network composes the constituents' ``j``-th ones.

    :param observation_space: the shared observation space
    :param action_space: the shared ``Box`` action space
    :param specs: the constituents' critic architectures
    :param weights: composition weights
    :param mode: ``"and"`` or ``"or"``
    :param alpha: temperature of ``"or"``
    :param n_critics: Q-networks per constituent (SAC's twins: 2; SQL: 1)
    :param normalize_images: whether to divide image observations by 255
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        specs: list[dict[str, Any]],
        weights: list[float],
        mode: str,
        alpha: float,
        n_critics: int = 1,
        normalize_images: bool = True,
    ) -> None:
        extractor = ConcatExtractor(observation_space, specs)
        BaseModel.__init__(self, observation_space, action_space, features_extractor=extractor, normalize_images=normalize_images)
        self.share_features_extractor = False  # the concatenated extractor is the critic's own
        self.n_critics = n_critics
        self.q_networks: list[nn.Module] = []
        action_dim = get_action_dim(action_space)
        for idx in range(n_critics):
            head = ComposedHead(specs, extractor.feature_dims, 1, action_dim, weights, mode, alpha)
            self.add_module(f"qf{idx}", head)
            self.q_networks.append(head)


class ComposedDiscreteCritic(DiscreteCritic):
    """Discrete SAC's critic (``Q(s, .)`` per network) composing the constituents' networks.

    :param observation_space: the shared observation space
    :param action_space: the shared ``Discrete`` action space
    :param specs: the constituents' critic architectures
    :param weights: composition weights
    :param mode: ``"and"`` or ``"or"``
    :param alpha: temperature of ``"or"``
    :param n_critics: Q-networks per constituent
    :param normalize_images: whether to divide image observations by 255
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        specs: list[dict[str, Any]],
        weights: list[float],
        mode: str,
        alpha: float,
        n_critics: int = 2,
        normalize_images: bool = True,
    ) -> None:
        extractor = ConcatExtractor(observation_space, specs)
        BaseModel.__init__(self, observation_space, action_space, features_extractor=extractor, normalize_images=normalize_images)
        self.share_features_extractor = False
        self.n_critics = n_critics
        self.q_networks: list[nn.Module] = []
        for idx in range(n_critics):
            head = ComposedHead(specs, extractor.feature_dims, int(action_space.n), 0, weights, mode, alpha)
            self.add_module(f"qf{idx}", head)
            self.q_networks.append(head)


def check_composition_args(weights: Any, mode: Any, alpha: Any) -> None:
    """Validate what a composed network is built from (so a policy built by hand fails clearly too)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    check_real(alpha, "alpha", low=0.0, low_open=True, note="the composition temperature")
    if not weights or any(not (math.isfinite(w) and w >= 0) for w in weights) or not any(w > 0 for w in weights):
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {weights!r}")
