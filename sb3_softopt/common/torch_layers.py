"""Features extractors for observation spaces SB3's own extractors do not cover.

``MinAtarCNN`` is the network of the MinAtar paper (Young & Tian 2019, "MinAtar: An
Atari-inspired testbed for thorough and reproducible reinforcement learning experiments"): one
3x3 convolution with 16 channels, stride 1, no padding, ReLU, then a fully connected layer of 128
ReLU units. MinAtar's observations are ``Box(bool, (10, 10, C))``: SB3 treats only ``uint8``
boxes as images and its ``NatureCNN`` needs at least 36x36 pixels, so neither ``"CnnPolicy"`` nor
``NatureCNN`` applies. Use ``"MlpPolicy"`` with this extractor::

    import gymnasium as gym
    import minatar.gym

    from sb3_softopt import SAC
    from sb3_softopt.common import MinAtarCNN

    minatar.gym.register_envs()  # MinAtar/{Asterix,Breakout,Freeway,Seaquest,SpaceInvaders}-v0/-v1
    model = SAC("MlpPolicy", "MinAtar/Breakout-v1",
                policy_kwargs=dict(features_extractor_class=MinAtarCNN, normalize_images=False, net_arch=[]))

``net_arch=[]`` puts the output layer (Q-values or logits) directly on the 128 features, as in the
paper; SB3's default heads add hidden layers on top.
"""

from __future__ import annotations

import gymnasium as gym
import torch as th
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from sb3_softopt.common.validation import check_int

__all__ = ["MinAtarCNN"]


class MinAtarCNN(BaseFeaturesExtractor):
    """The MinAtar paper's network: ``Conv2d(C, 16, 3, stride 1) -> ReLU -> Linear(16 (H-2) (W-2), 128) -> ReLU``.

    Shapes: observations ``(batch, H, W, C)`` (channel-last, as MinAtar returns them; ``H = W =
    10``) or ``(batch, C, H, W)`` with ``channels_last=False``; features ``(batch, features_dim)``.
    Observations of any dtype (``bool`` as MinAtar's, ``uint8``, float) are converted to
    ``float32`` and, when channel-last, permuted to channel-first before the convolution; they are
    not rescaled (MinAtar's are 0/1: pass ``normalize_images=False`` in ``policy_kwargs`` so that
    a ``uint8`` version of the space is not divided by 255 either).

    :param observation_space: a 3-dimensional ``Box`` (``(H, W, C)`` or, with
        ``channels_last=False``, ``(C, H, W)``), with ``H`` and ``W`` at least ``kernel_size``.
    :param features_dim: number of units of the fully connected layer, i.e. of the extracted
        features (the paper: 128).
    :param n_filters: number of channels of the convolution (the paper: 16).
    :param kernel_size: side of the square convolution kernel (stride 1, no padding; the paper: 3).
    :param channels_last: whether the channel axis is the last one (MinAtar's layout, the default)
        or the first one (SB3's image layout, e.g. after ``VecTransposeImage``).
    """

    def __init__(
        self,
        observation_space: gym.Space,
        features_dim: int = 128,
        n_filters: int = 16,
        kernel_size: int = 3,
        channels_last: bool = True,
    ) -> None:
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 3:
            raise ValueError(f"MinAtarCNN needs a 3-dimensional Box observation space (H, W, C), got {observation_space}")
        features_dim = check_int(features_dim, "features_dim", low=1)
        n_filters = check_int(n_filters, "n_filters", low=1)
        kernel_size = check_int(kernel_size, "kernel_size", low=1)
        super().__init__(observation_space, features_dim)
        self.channels_last = bool(channels_last)
        shape = observation_space.shape
        channels, height, width = (shape[2], shape[0], shape[1]) if self.channels_last else shape
        if height < kernel_size or width < kernel_size:
            raise ValueError(f"MinAtarCNN: observations of {height}x{width} are smaller than the {kernel_size}x{kernel_size} kernel")
        self.cnn = nn.Sequential(nn.Conv2d(channels, n_filters, kernel_size=kernel_size, stride=1), nn.ReLU(), nn.Flatten())
        n_flatten = n_filters * (height - kernel_size + 1) * (width - kernel_size + 1)
        self.linear = nn.Sequential(nn.Linear(n_flatten, features_dim), nn.ReLU())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        """Features ``(batch, features_dim)`` of observations ``(batch, H, W, C)`` (or ``(batch, C, H, W)``)."""
        x = observations.float()
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return self.linear(self.cnn(x))
