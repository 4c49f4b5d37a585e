"""Policies of SAC for ``Discrete`` action spaces (Christodoulou 2019).

The actor outputs the logits of a categorical policy ``pi(.|s)``; each critic outputs
``Q(s, .)`` for all actions at once, so the critic target and the actor loss take exact
expectations over actions instead of sampling them. The classes subclass SB3's
:class:`~stable_baselines3.sac.policies.SACPolicy` and only replace the two networks, so
optimisers, target critic, feature-extractor sharing and ``save``/``load`` are SB3's.
``sb3_softopt.SAC`` picks them when the action space is ``Discrete``: ``"MlpPolicy"``,
``"CnnPolicy"`` and ``"MultiInputPolicy"`` resolve to ``DiscreteMlpPolicy`` and its siblings.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel, BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.sac.policies import SACPolicy
from torch import nn

__all__ = ["DiscreteActor", "DiscreteCnnPolicy", "DiscreteCritic", "DiscreteMlpPolicy", "DiscreteMultiInputPolicy", "DiscreteSACPolicy"]


def _n_actions(action_space: spaces.Space) -> int:
    if not isinstance(action_space, spaces.Discrete):
        raise TypeError(f"the discrete SAC policies need a gymnasium.spaces.Discrete action space, got {action_space!r}")
    return int(action_space.n)


class DiscreteActor(BasePolicy):
    """Categorical policy ``pi(a|s) = softmax(logits(s))_a``.

    :param observation_space: observation space
    :param action_space: a ``Discrete`` action space
    :param net_arch: hidden layer sizes between the features and the logits
    :param features_extractor: network that extracts features from observations
    :param features_dim: number of features
    :param activation_fn: activation of the hidden layers
    :param normalize_images: divide image observations by 255
    """

    action_space: spaces.Discrete

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
    ):
        super().__init__(observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images)
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.logits_net = nn.Sequential(*create_mlp(features_dim, _n_actions(action_space), net_arch, activation_fn))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(dict(net_arch=self.net_arch, features_dim=self.features_dim, activation_fn=self.activation_fn,
                         features_extractor=self.features_extractor))  # fmt: skip
        return data

    def action_log_probs(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """``(pi(.|s), log pi(.|s))``, each ``(batch, n_actions)``; the log-probabilities by
        ``log_softmax`` (finite for any finite logits)."""
        logits = self.logits_net(self.extract_features(obs, self.features_extractor))
        log_probs = th.log_softmax(logits, dim=1)
        return log_probs.exp(), log_probs

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> th.Tensor:
        _, log_probs = self.action_log_probs(obs)
        if deterministic:
            return log_probs.argmax(dim=1)
        return th.distributions.Categorical(logits=log_probs).sample()

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)


class DiscreteCritic(BaseModel):
    """``n_critics`` networks, each mapping features to ``Q(s, .)`` over all actions.

    :param observation_space: observation space
    :param action_space: a ``Discrete`` action space
    :param net_arch: hidden layer sizes
    :param features_extractor: network that extracts features from observations
    :param features_dim: number of features
    :param activation_fn: activation of the hidden layers
    :param normalize_images: divide image observations by 255
    :param n_critics: number of Q-networks (the minimum over them is used, as in SAC)
    :param share_features_extractor: the features extractor is the actor's (then only the
        actor's loss trains it, as in SB3's ``ContinuousCritic``)
    """

    features_extractor: BaseFeaturesExtractor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_critics: int = 2,
        share_features_extractor: bool = True,
    ):
        super().__init__(observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images)
        n_actions = _n_actions(action_space)
        self.share_features_extractor = share_features_extractor
        self.n_critics = n_critics
        self.q_networks: list[nn.Module] = []
        for idx in range(n_critics):
            q_net = nn.Sequential(*create_mlp(features_dim, n_actions, net_arch, activation_fn))
            self.add_module(f"qf{idx}", q_net)
            self.q_networks.append(q_net)

    def forward(self, obs: th.Tensor) -> tuple[th.Tensor, ...]:
        """``Q_i(s, .)`` of every critic, each ``(batch, n_actions)``."""
        with th.set_grad_enabled(not self.share_features_extractor):
            features = self.extract_features(obs, self.features_extractor)
        return tuple(q_net(features) for q_net in self.q_networks)


class DiscreteSACPolicy(SACPolicy):
    """SB3's ``SACPolicy`` with a categorical actor and critics over all actions.

    Takes SB3's ``SACPolicy`` arguments; the state-dependent-exploration ones (``use_sde``,
    ``log_std_init``, ``use_expln``, ``clip_mean``) have no meaning for a categorical policy
    and ``use_sde=True`` is refused.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        if kwargs.get("use_sde", False):
            raise ValueError("use_sde=True needs a continuous (Box) action space; a categorical policy explores by sampling")
        super().__init__(*args, **kwargs)

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> DiscreteActor:  # type: ignore[override]
        kwargs = self._update_features_extractor(self.actor_kwargs, features_extractor)
        for key in ("use_sde", "log_std_init", "use_expln", "clip_mean"):
            kwargs.pop(key, None)
        return DiscreteActor(**kwargs).to(self.device)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> DiscreteCritic:  # type: ignore[override]
        return DiscreteCritic(**self._update_features_extractor(self.critic_kwargs, features_extractor)).to(self.device)


DiscreteMlpPolicy = DiscreteSACPolicy


class DiscreteCnnPolicy(DiscreteSACPolicy):
    """``DiscreteSACPolicy`` with SB3's ``NatureCNN`` features extractor (image observations)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs: Any):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class DiscreteMultiInputPolicy(DiscreteSACPolicy):
    """``DiscreteSACPolicy`` with SB3's ``CombinedExtractor`` (``Dict`` observations)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor, **kwargs: Any):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)
