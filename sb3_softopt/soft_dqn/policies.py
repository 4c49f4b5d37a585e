"""Policies for :class:`sb3_softopt.soft_dqn.SoftDQN`: SB3's DQN Q-network policies with a Boltzmann ``predict``.

The network is exactly SB3's (``QNetwork`` + target copy); only action selection changes:

* ``deterministic=True``: ``argmax_a Q(s, a)`` (as DQN);
* ``deterministic=False``: a sample from ``softmax(Q(s, .) / alpha)``, the soft-optimal policy of
  the current Q-function.

The temperature ``alpha`` is a buffer of the policy (``policy.ent_coef``), written by the algorithm
before each update, so that ``predict`` and ``save``/``load`` (of the whole model or of the policy
alone) always see the alpha the Q-function was trained with.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor, NatureCNN
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.dqn.policies import DQNPolicy
from torch import nn

from sb3_softopt.common.validation import check_real


def boltzmann_log_probs(q_values: th.Tensor, ent_coef: th.Tensor | float) -> th.Tensor:
    """``log softmax(Q / alpha)`` along the last dimension, finite for any alpha > 0.

    Subtracting the row maximum before dividing by alpha keeps ``Q / alpha`` from overflowing to
    ``inf`` (and ``inf - inf = nan``) when alpha is tiny or Q is huge; the result is unchanged.
    """
    centred = q_values - q_values.amax(dim=-1, keepdim=True)
    return th.log_softmax(centred / ent_coef, dim=-1)


#: Below this (float) temperature the helpers centre Q on its row maximum before dividing by alpha.
#: Above it ``Q / alpha`` is finite for any ``|Q| < 3e32``, and the two ops of centring (a tenth
#: of the extra cost of a soft target over DQN's max) are skipped; the result is the same up to
#: float rounding.
CENTRE_BELOW_ALPHA = 1e-6


def _fast(ent_coef: th.Tensor | float) -> bool:
    return isinstance(ent_coef, (int, float)) and ent_coef >= CENTRE_BELOW_ALPHA


def soft_value(q_values: th.Tensor, ent_coef: th.Tensor | float) -> th.Tensor:
    """``V(s) = alpha * logsumexp_a(Q(s, a) / alpha)`` along the last dimension (keeps the dim).

    For a tiny or tensor alpha it is written as ``max Q + alpha * logsumexp((Q - max Q) / alpha)``
    so that it neither overflows for large rewards nor loses the exact limit ``V -> max_a Q`` as
    ``alpha -> 0``.
    """
    if _fast(ent_coef):
        return ent_coef * th.logsumexp(q_values / ent_coef, dim=-1, keepdim=True)
    q_max = q_values.amax(dim=-1, keepdim=True)
    return q_max + ent_coef * th.logsumexp((q_values - q_max) / ent_coef, dim=-1, keepdim=True)


def boltzmann_entropy(q_values: th.Tensor, ent_coef: th.Tensor | float) -> th.Tensor:
    """Exact entropy (nats) of ``softmax(Q / alpha)`` for each row; 0 for a one-hot policy."""
    # entr(p) = -p log p with entr(0) = 0, where a greedy limit would give exp(-inf) * (-inf) = nan
    return th.special.entr(_boltzmann_probs(q_values, ent_coef)).sum(dim=-1)


def mean_boltzmann_entropy(q_values: th.Tensor, ent_coef: float) -> float:
    """Mean over the rows of :func:`boltzmann_entropy`, as a Python float (one op fewer than ``.mean()``)."""
    return float(th.special.entr(_boltzmann_probs(q_values, ent_coef)).sum()) / q_values.shape[0]


def _boltzmann_probs(q_values: th.Tensor, ent_coef: th.Tensor | float) -> th.Tensor:
    if _fast(ent_coef):
        return th.softmax(q_values / ent_coef, dim=-1)
    return th.softmax((q_values - q_values.amax(dim=-1, keepdim=True)) / ent_coef, dim=-1)


class SoftDQNPolicy(DQNPolicy):
    """Q-network policy whose stochastic action is drawn from ``softmax(Q / alpha)``.

    :param observation_space: Observation space
    :param action_space: Action space (``Discrete``)
    :param lr_schedule: Learning rate schedule (could be constant)
    :param net_arch: The specification of the Q-network (default ``[64, 64]``)
    :param activation_fn: Activation function
    :param features_extractor_class: Features extractor to use.
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor.
    :param normalize_images: Whether to normalize images or not, dividing by 255.0 (True by default)
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer
    :param ent_coef: initial temperature alpha used by ``predict(deterministic=False)``; the
        algorithm overwrites it during training (it is the buffer ``ent_coef``)
    """

    ent_coef: th.Tensor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        ent_coef: float = 1.0,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch,
            activation_fn,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
        )
        ent_coef = check_real(ent_coef, "ent_coef", low=0.0, low_open=True)
        # A buffer (not a parameter): saved in the state dict, moved with .to(device), never optimised here.
        self.register_buffer("ent_coef", th.tensor(float(ent_coef), dtype=th.float32))

    def set_ent_coef(self, value: th.Tensor | float) -> None:
        """Set the temperature used by ``predict`` (in place, so no new tensor per update)."""
        if isinstance(value, th.Tensor):
            self.ent_coef.copy_(value.detach().reshape(()))
        else:
            self.ent_coef.fill_(float(value))

    def action_log_probs(self, obs: PyTorchObs) -> th.Tensor:
        """``log pi(a|s)`` for every action: ``log softmax(Q(s, .) / alpha)``, shape (batch, n_actions)."""
        return boltzmann_log_probs(self.q_net(obs), self.ent_coef)

    def _predict(self, obs: PyTorchObs, deterministic: bool = True) -> th.Tensor:
        q_values = self.q_net(obs)
        if deterministic:
            return q_values.argmax(dim=1).reshape(-1)
        # Gumbel-max: argmax_a (Q/alpha + G_a), G_a = -log E_a with E_a ~ Exp(1), is an exact sample of
        # softmax(Q / alpha). Multiplying by alpha > 0 keeps the argmax and gives Q - alpha log E,
        # finite for any alpha (no Q / alpha to overflow), greedy in the alpha -> 0 limit, and four
        # small ops: the cheapest sampler per env step (inverse-CDF on the host cost 3x more).
        # The noise comes from torch's RNG, seeded by SB3's set_random_seed.
        log_e = th.empty_like(q_values).exponential_().log_()
        return th.addcmul(q_values, self.ent_coef, log_e, value=-1.0).argmax(dim=1)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(ent_coef=float(self.ent_coef))
        return data


MlpPolicy = SoftDQNPolicy


class CnnPolicy(SoftDQNPolicy):
    """:class:`SoftDQNPolicy` for image observations: ``NatureCNN`` features by default.

    :param observation_space: Observation space
    :param action_space: Action space (``Discrete``)
    :param lr_schedule: Learning rate schedule
    :param features_extractor_class: Features extractor to use (default ``NatureCNN``)
    :param kwargs: the other keyword arguments of :class:`SoftDQNPolicy`
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN,
        **kwargs: Any,
    ) -> None:
        super().__init__(observation_space, action_space, lr_schedule, features_extractor_class=features_extractor_class, **kwargs)


class MultiInputPolicy(SoftDQNPolicy):
    """:class:`SoftDQNPolicy` for ``Dict`` observations: ``CombinedExtractor`` features by default.

    :param observation_space: Observation space (``Dict``)
    :param action_space: Action space (``Discrete``)
    :param lr_schedule: Learning rate schedule
    :param features_extractor_class: Features extractor to use (default ``CombinedExtractor``)
    :param kwargs: the other keyword arguments of :class:`SoftDQNPolicy`
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor,
        **kwargs: Any,
    ) -> None:
        super().__init__(observation_space, action_space, lr_schedule, features_extractor_class=features_extractor_class, **kwargs)
