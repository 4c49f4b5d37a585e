"""MinAtar (the ``minatar`` extra, in ``all``): ``MinAtarCNN`` and the four discrete learners on a game (#34).

The games are registered by ``minatar.gym.register_envs()`` (never by ``import sb3_softopt``);
their observations are ``Box(bool, (10, 10, C))``, which ``MinAtarCNN`` reads channel-last.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from sb3_softopt.common import MinAtarCNN

pytest.importorskip("minatar")  # the minatar extra; CI installs it (`all`)

ENV_ID = "MinAtar/Breakout-v1"
POLICY_KWARGS = dict(features_extractor_class=MinAtarCNN, normalize_images=False, net_arch=[])


@pytest.fixture(scope="module")
def minatar_envs():
    if ENV_ID not in gym.registry:
        import minatar.gym

        minatar.gym.register_envs()
    return ENV_ID


def test_import_sb3_softopt_does_not_register_minatar():
    import subprocess

    code = "import gymnasium as gym, sb3_softopt, sb3_softopt.common; print(any(k.startswith('MinAtar/') for k in gym.registry))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_output_shape_and_bool_observations(minatar_envs):
    env = gym.make(minatar_envs)
    space = env.observation_space
    assert space.dtype == np.bool_ and space.shape[:2] == (10, 10)
    net = MinAtarCNN(space)
    assert net.features_dim == 128
    obs, _ = env.reset(seed=0)
    batch = np.stack([obs, env.step(0)[0], env.step(1)[0]])  # (3, 10, 10, C) bool
    features = net(th.as_tensor(batch))
    assert features.shape == (3, 128) and features.dtype == th.float32
    # bool, uint8 and float observations give the same features
    for dtype in (th.uint8, th.float32):
        th.testing.assert_close(net(th.as_tensor(batch).to(dtype)), features)
    # the paper's sizes: conv 16 x 3 x 3 (no padding: 8 x 8 maps), then 1024 -> 128
    conv, linear = net.cnn[0], net.linear[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (space.shape[2], 16, (3, 3), (1, 1))
    assert (linear.in_features, linear.out_features) == (16 * 8 * 8, 128)


def test_channel_last_is_permuted_to_channel_first():
    last = gym.spaces.Box(0, 1, (10, 10, 4), dtype=bool)
    first = gym.spaces.Box(0, 1, (4, 10, 10), dtype=bool)
    net_last = MinAtarCNN(last, features_dim=32, n_filters=8)
    net_first = MinAtarCNN(first, features_dim=32, n_filters=8, channels_last=False)
    net_first.load_state_dict(net_last.state_dict())
    x = th.as_tensor(np.random.default_rng(0).random((5, 10, 10, 4)) < 0.3)
    out = net_last(x)
    assert out.shape == (5, 32)
    th.testing.assert_close(out, net_first(x.permute(0, 3, 1, 2)))


@pytest.mark.parametrize(
    "space, kwargs",
    [
        (gym.spaces.Box(0, 1, (100,), dtype=bool), {}),
        (gym.spaces.Discrete(3), {}),
        (gym.spaces.Box(0, 1, (2, 2, 4), dtype=bool), {}),
        (gym.spaces.Box(0, 1, (10, 10, 4), dtype=bool), {"features_dim": 0}),
        (gym.spaces.Box(0, 1, (10, 10, 4), dtype=bool), {"n_filters": 1.5}),
    ],
)
def test_bad_spaces_and_sizes_are_refused(space, kwargs):
    with pytest.raises(ValueError):
        MinAtarCNN(space, **kwargs)


def _algorithms():
    from sb3_contrib import QRDQN
    from stable_baselines3 import DQN

    from sb3_softopt import SAC, SoftDQN

    return {"dqn": DQN, "qrdqn": QRDQN, "softdqn": SoftDQN, "sac": SAC}


@pytest.mark.parametrize("name", ["dqn", "qrdqn", "softdqn", "sac"])
def test_learners_run_on_a_minatar_game(minatar_envs, name):
    cls = _algorithms()[name]
    policy_kwargs = dict(POLICY_KWARGS, n_quantiles=10) if name == "qrdqn" else POLICY_KWARGS
    model = cls("MlpPolicy", minatar_envs, policy_kwargs=policy_kwargs, learning_starts=50, batch_size=32, buffer_size=1000,
                train_freq=1, seed=0)  # fmt: skip
    extractors = [m for m in model.policy.modules() if isinstance(m, MinAtarCNN)]
    assert extractors, "the policy does not use MinAtarCNN"
    model.learn(200)
    assert model.num_timesteps == 200
    obs = model.get_env().reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (1,) and 0 <= int(action[0]) < model.action_space.n
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def _benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "discrete_sac.py"
    if importlib.util.find_spec("rl_zoo3") is None:  # the benchmark reads rl-zoo3's yaml files (zoo extra)
        pytest.skip("rl_zoo3 is not installed")
    spec = importlib.util.spec_from_file_location("discrete_sac_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_minatar_settings_and_paths(tmp_path):
    bench = _benchmark()
    for arm in ("dqn", "qrdqn", "softdqn", "sac"):
        kwargs, budget = bench._hyperparams(arm, ENV_ID)
        assert budget == bench.TASKS[ENV_ID]
        assert kwargs["policy_kwargs"]["features_extractor_class"] is MinAtarCNN
        assert (kwargs["buffer_size"], kwargs["batch_size"], kwargs["learning_rate"], kwargs["train_freq"]) == (100_000, 32, 2.5e-4, 1)
        # a --steps pilot records its own budget, so that it is never taken for the full run
        assert bench._settings(arm, ENV_ID, 5_000)["budget"] == 5_000 != bench._settings(arm, ENV_ID)["budget"]
    dqn, _ = bench._hyperparams("dqn", ENV_ID)
    assert dqn["exploration_fraction"] * bench.TASKS[ENV_ID] == pytest.approx(100_000)
    path = bench._result_path(tmp_path, ENV_ID, "sac", 0)
    assert path.parent.name == "MinAtar_Breakout-v1" and path.parent.parent == tmp_path / "runs"
