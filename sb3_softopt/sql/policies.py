"""Policies for :class:`sb3_softopt.SQL`: an amortised SVGD sampler beside SB3's continuous critic.

The sampler ("actor", SB3's name) maps an observation and Gaussian noise to an action,
``a = tanh(f_phi(s, xi) + xi)`` with ``xi ~ N(0, I_d)``; it has no density of its own and is trained so
that its samples follow ``pi(a|s) ∝ exp(Q(s, a) / alpha)``. The critic is SB3's
:class:`~stable_baselines3.common.policies.ContinuousCritic` with one Q-network (and a target copy),
built exactly as SAC builds its critics, so the two share ``net_arch``, features extractors,
``share_features_extractor``, optimizers and checkpoints layout (``actor``, ``critic``,
``critic_target``).

``predict(obs, deterministic=False)`` draws one sample of the sampler. ``deterministic=True``
returns the best action under Q among the sampler's images of a fixed set of noise vectors
(``n_deterministic_particles`` of them, drawn once from a fixed seed and saved with the policy):
the same observation always gets the same action, and it is a mode of the energy-based policy,
not the image of the mean noise (which, for a bimodal policy, lands between the modes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy, ContinuousCritic
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.sac.policies import SACPolicy
from torch import nn
from torch.nn import functional as F

#: Seed of the fixed noise vectors behind ``predict(deterministic=True)``.
DETERMINISTIC_NOISE_SEED = 0

# SACPolicy's Gaussian-actor options, which an SVGD sampler does not have.
_SAC_ONLY_KWARGS = ("use_sde", "log_std_init", "use_expln", "clip_mean")


def mlp_on_particles(net: nn.Module, features: th.Tensor, particles: th.Tensor) -> th.Tensor:
    """``net(cat([features_b, x_bk]))`` for ``K`` particles per state, without the concatenation.

    The first layer splits as ``W [f; x] + b = (W_f f + b) + W_x x``: its observation half is
    computed once per state and broadcast over the particles. Without gradient (the target
    network's value particles, the sampler's fixed particles) the ReLUs run in place, which saves
    a pass over, and an allocation of, every ``(B, K, width)`` activation. The result is the same
    function of the same parameters as ``net`` on the concatenation (up to float rounding).

    :param net: a network whose input is ``cat([features, particle])``; the split applies to an
        ``nn.Sequential`` that starts with an ``nn.Linear`` (SB3's ``create_mlp``), any other
        network gets the concatenation
    :param features: shape ``(B, F)``
    :param particles: shape ``(B, K, d)``
    :return: shape ``(B, K, out)``
    """
    if not (isinstance(net, nn.Sequential) and isinstance(net[0], nn.Linear)):
        expanded = features.unsqueeze(1).expand(-1, particles.shape[1], -1)
        return net(th.cat([expanded, particles], dim=-1))
    first, n_features = net[0], features.shape[-1]
    per_state = F.linear(features, first.weight[:, :n_features], first.bias)  # (B, width)
    hidden = F.linear(particles, first.weight[:, n_features:]).add_(per_state.unsqueeze(1))  # (B, K, width)
    in_place = not th.is_grad_enabled()
    for layer in list(net)[1:]:
        hidden = hidden.relu_() if in_place and isinstance(layer, nn.ReLU) else layer(hidden)
    return hidden


def particle_q_values(critic: ContinuousCritic, obs: PyTorchObs, actions: th.Tensor) -> th.Tensor:
    """``Q(s_b, a_bk)`` of the first Q-network for ``K`` actions per observation.

    The observation features (and the first layer's observation half, see
    :func:`mlp_on_particles`) are computed once per state and broadcast over the particles.

    :param critic: SB3 continuous critic
    :param obs: a batch of ``B`` observations
    :param actions: shape ``(B, K, d)``, in the squashed box ``[-1, 1]^d``
    :return: shape ``(B, K)``
    """
    with th.set_grad_enabled(th.is_grad_enabled() and not critic.share_features_extractor):
        features = critic.extract_features(obs, critic.features_extractor)
    return mlp_on_particles(critic.q_networks[0], features, actions).squeeze(-1)


class SVGDActor(BasePolicy):
    """Amortised sampler ``a = tanh(f_phi(s, xi) + xi)``, ``xi ~ N(0, I_d)``: an MLP over the
    observation features concatenated with the noise (Haarnoja et al. 2017, section 3.2), plus the
    noise itself (a skip connection, so that the untrained sampler covers the action box).

    :param observation_space: Observation space
    :param action_space: Action space (``Box``)
    :param net_arch: hidden layer sizes of ``f_phi``
    :param features_extractor: network that extracts features from the observations
    :param features_dim: number of features
    :param activation_fn: activation function of the hidden layers
    :param normalize_images: whether to divide images by 255
    """

    action_space: spaces.Box

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: nn.Module,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            normalize_images=normalize_images,
            squash_output=True,
        )
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.action_dim = get_action_dim(self.action_space)
        # No tanh in the network: training needs the pre-tanh particles u as well as a = tanh(u).
        self.net = nn.Sequential(*create_mlp(features_dim + self.action_dim, self.action_dim, net_arch, activation_fn))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            net_arch=self.net_arch,
            features_dim=self.features_dim,
            activation_fn=self.activation_fn,
            features_extractor=self.features_extractor,
        )
        return data

    def pre_tanh(self, obs: PyTorchObs, n_particles: int = 1, noise: th.Tensor | None = None) -> th.Tensor:
        """Pre-tanh particles ``u = f_phi(s, xi) + xi``, shape ``(B, K, d)``.

        :param obs: a batch of ``B`` observations
        :param n_particles: ``K``, the number of noise draws per observation (ignored if ``noise`` is given)
        :param noise: optional noise, shape ``(K, d)`` (the same for every observation) or ``(B, K, d)``
        """
        return self.particles(self.extract_features(obs, self.features_extractor), n_particles, noise)

    def particles(self, features: th.Tensor, n_particles: int = 1, noise: th.Tensor | None = None) -> th.Tensor:
        """:meth:`pre_tanh` from already extracted features, shape ``(B, F)``."""
        batch = features.shape[0]
        if noise is None:
            noise = th.randn(batch, n_particles, self.action_dim, device=features.device)
        elif noise.dim() == 2:
            noise = noise.unsqueeze(0).expand(batch, -1, -1)
        # The noise skips the network: at initialisation (small output weights) the sampler is
        # about tanh(N(0, I)), spread over the whole box, and SVGD contracts it towards the modes
        # of Q. Without the skip it starts as a narrow, off-centre bump, and SVGD cannot move
        # mass into a mode its particles never visit (docs/sql.md).
        return mlp_on_particles(self.net, features, noise) + noise

    def sample(self, obs: PyTorchObs, n_particles: int = 1) -> th.Tensor:
        """``K`` actions per observation in ``[-1, 1]^d``, shape ``(B, K, d)``."""
        return th.tanh(self.pre_tanh(obs, n_particles))

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """One action per observation, shape ``(B, d)``; ``deterministic=True`` is the image of the
        zero noise (the sampler alone; :class:`SQLPolicy` picks a mode with its critic instead)."""
        if deterministic:
            zero = th.zeros(1, self.action_dim, device=self.device)
            return th.tanh(self.pre_tanh(obs, noise=zero))[:, 0]
        return self.sample(obs, 1)[:, 0]

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)


class SQLPolicy(SACPolicy):
    """Sampler and critic of SQL. SB3's SAC policy with its Gaussian actor replaced by an
    :class:`SVGDActor` and one Q-network by default (the algorithm's soft value needs no twin).

    :param observation_space: Observation space
    :param action_space: Action space (``Box``)
    :param lr_schedule: Learning rate schedule (could be constant)
    :param net_arch: layer sizes: a list for both networks, or ``dict(pi=[...], qf=[...])``
        (default ``[128, 128]``, the official code's; SAC's is ``[256, 256]``, but each SQL state
        carries 32 particles through the networks, see docs/sql.md)
    :param activation_fn: Activation function
    :param features_extractor_class: Features extractor to use
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param normalize_images: Whether to normalize images or not, dividing by 255.0
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer
    :param n_critics: number of Q-networks; the algorithm trains and uses the first one, so
        keep the default 1 unless you use the others yourself
    :param share_features_extractor: Whether to share the features extractor between the
        sampler and the critic
    :param n_deterministic_particles: number of fixed noise vectors among whose images
        ``predict(deterministic=True)`` takes the best under Q
    """

    actor: SVGDActor  # type: ignore[assignment]
    deterministic_noise: th.Tensor  # a registered buffer

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        n_critics: int = 1,
        share_features_extractor: bool = False,
        n_deterministic_particles: int = 32,
    ) -> None:
        if not isinstance(action_space, spaces.Box):
            raise TypeError(f"SQLPolicy needs a Box action space, got {action_space!r}")
        if net_arch is None:
            net_arch = [128, 128]
        if (
            isinstance(n_deterministic_particles, (bool, np.bool_))
            or not isinstance(n_deterministic_particles, (int, np.integer))
            or n_deterministic_particles < 1
        ):
            raise ValueError(f"n_deterministic_particles must be an int >= 1, got {n_deterministic_particles!r}")
        self.n_deterministic_particles = int(n_deterministic_particles)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            n_critics=n_critics,
            share_features_extractor=share_features_extractor,
        )
        generator = th.Generator().manual_seed(DETERMINISTIC_NOISE_SEED)
        noise = th.randn(n_deterministic_particles, get_action_dim(action_space), generator=generator)
        self.register_buffer("deterministic_noise", noise.to(self.device))

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> SVGDActor:  # type: ignore[override]
        kwargs = {k: v for k, v in self.actor_kwargs.items() if k not in _SAC_ONLY_KWARGS}
        return SVGDActor(**self._update_features_extractor(kwargs, features_extractor)).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = {k: v for k, v in super()._get_constructor_parameters().items() if k not in _SAC_ONLY_KWARGS}
        data.update(
            share_features_extractor=self.share_features_extractor,
            n_deterministic_particles=self.n_deterministic_particles,
        )
        return data

    def reset_noise(self, batch_size: int = 1) -> None:
        """No-op: SQL has no state-dependent exploration noise."""

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        if not deterministic:
            return self.actor.sample(observation, 1)[:, 0]
        candidates = th.tanh(self.actor.pre_tanh(observation, noise=self.deterministic_noise))
        q_values = particle_q_values(self.critic, observation, candidates)
        best = q_values.argmax(dim=1)
        return candidates[th.arange(candidates.shape[0], device=candidates.device), best]


MlpPolicy = SQLPolicy


class CnnPolicy(SQLPolicy):
    """:class:`SQLPolicy` with SB3's ``NatureCNN`` features extractor (image observations)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs: Any) -> None:
        kwargs["features_extractor_class"] = features_extractor_class
        super().__init__(*args, **kwargs)


class MultiInputPolicy(SQLPolicy):
    """:class:`SQLPolicy` with SB3's ``CombinedExtractor`` (``Dict`` observations)."""

    def __init__(
        self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor, **kwargs: Any
    ) -> None:
        kwargs["features_extractor_class"] = features_extractor_class
        super().__init__(*args, **kwargs)
