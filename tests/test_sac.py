"""Extended SAC: identical to SB3's SAC by default, entropy diagnostics, schedules, errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import SAC as SB3SAC

from sb3_softopt import SAC
from sb3_softopt.common.schedules import Constant, Linear

SMALL = dict(learning_starts=50, batch_size=32, policy_kwargs=dict(net_arch=[32, 32]))
LOG_KEYS = (
    "train/entropy",
    "train/target_entropy",
    "train/entropy_gap",
    "train/ent_coef",
    "train/ent_coef_loss",
    "train/q_values",
)


def _assert_same_parameters(a, b) -> None:
    sa, sb = a.policy.state_dict(), b.policy.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert th.allclose(sa[key], sb[key], atol=1e-6), key


@pytest.fixture(scope="module")
def sb3_default():
    """SB3's SAC with its default arguments, a short run."""
    return SB3SAC("MlpPolicy", "Pendulum-v1", seed=0).learn(250)


@pytest.fixture(scope="module")
def sb3_small():
    return SB3SAC("MlpPolicy", "Pendulum-v1", seed=1, **SMALL).learn(150)


def test_identical_to_sb3_with_defaults(sb3_default):
    ours = SAC("MlpPolicy", "Pendulum-v1", seed=0).learn(250)
    _assert_same_parameters(ours, sb3_default)
    assert th.allclose(ours.log_ent_coef, sb3_default.log_ent_coef, atol=1e-6)
    assert ours.target_entropy == sb3_default.target_entropy == -1.0
    for key in LOG_KEYS:
        assert key in ours.logger.name_to_value, key


@pytest.mark.parametrize(
    "target_entropy",
    [-1.0, "const_-1", Constant(-1.0), lambda progress: -1.0],
    ids=["float", "string", "schedule", "callable"],
)
def test_constant_target_schedule_is_identical_to_auto(target_entropy, sb3_small):
    ref = sb3_small
    ours = SAC("MlpPolicy", "Pendulum-v1", seed=1, target_entropy=target_entropy, **SMALL).learn(150)
    _assert_same_parameters(ours, ref)
    assert th.allclose(ours.log_ent_coef, ref.log_ent_coef, atol=1e-6)


def test_fixed_ent_coef_callable_is_identical_to_sb3_float():
    ref = SB3SAC("MlpPolicy", "Pendulum-v1", seed=2, ent_coef=0.1, **SMALL).learn(150)
    ours = SAC("MlpPolicy", "Pendulum-v1", seed=2, ent_coef=lambda progress: 0.1, **SMALL).learn(150)
    _assert_same_parameters(ours, ref)
    assert ours.ent_coef_optimizer is None
    assert ours.logger.name_to_value["train/ent_coef"] == pytest.approx(0.1)


def test_loads_sb3_checkpoint_and_keeps_training(tmp_out, sb3_default):
    path = tmp_out / "sb3_sac.zip"
    sb3_default.save(path)
    ours = SAC.load(path, env=gym.make("Pendulum-v1"))
    assert isinstance(ours, SAC)
    _assert_same_parameters(ours, sb3_default)
    assert th.allclose(ours.log_ent_coef, sb3_default.log_ent_coef)
    obs = np.array([[0.5, -0.3, 0.1]], dtype=np.float32)
    np.testing.assert_allclose(
        ours.predict(obs, deterministic=True)[0], sb3_default.predict(obs, deterministic=True)[0], atol=1e-6
    )
    ours.learn(120, reset_num_timesteps=False)
    assert ours.logger.name_to_value["train/target_entropy"] == -1.0


def test_save_load_roundtrip_keeps_schedules(tmp_out):
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, target_entropy="lin_-1_-3", **SMALL).learn(60)
    model.save(tmp_out / "ours.zip")
    loaded = SAC.load(tmp_out / "ours.zip")
    assert loaded.target_entropy_schedule == Linear(-1.0, -3.0)
    assert loaded.target_entropy_schedule(0.5) == pytest.approx(-2.0)
    _assert_same_parameters(loaded, model)

    fixed = SAC("MlpPolicy", "Pendulum-v1", seed=0, ent_coef="loglin_0.1_0.001", **SMALL)
    fixed.save(tmp_out / "fixed.zip")
    loaded = SAC.load(tmp_out / "fixed.zip")
    assert loaded.ent_coef_schedule(0.0) == pytest.approx(0.001)


def _one_update(model: SAC, progress: float, seed: int = 123):
    """Run ``train(1)`` at a given progress with seeded RNGs; return the logged values."""
    model._current_progress_remaining = progress
    np.random.seed(seed)
    th.manual_seed(seed)
    model.train(gradient_steps=1, batch_size=model.batch_size)
    return dict(model.logger.name_to_value)


def test_entropy_is_minus_mean_log_prob_of_the_training_batch():
    model = SAC("MlpPolicy", "Pendulum-v1", seed=3, **SMALL).learn(80)
    policy_before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    logged = _one_update(model, progress=0.7)

    # Replay the same random numbers with the pre-update actor, and recompute log pi by hand
    # from the Gaussian in pre-tanh space (independent of SB3's distribution classes).
    model.policy.load_state_dict(policy_before)
    np.random.seed(123)
    th.manual_seed(123)
    batch = model.replay_buffer.sample(model.batch_size, env=model._vec_normalize_env)
    with th.no_grad():
        mean, log_std, _ = model.actor.get_action_dist_params(batch.observations)
        std = log_std.exp()
        u = mean + std * th.randn_like(mean)
        a = th.tanh(u)
        log_gauss = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=1)
        log_pi = log_gauss - th.log(1 - a**2 + 1e-6).sum(dim=1)
    assert logged["train/entropy"] == pytest.approx(-log_pi.mean().item(), abs=1e-5)
    assert logged["train/entropy_gap"] == pytest.approx(logged["train/entropy"] - logged["train/target_entropy"])
    with th.no_grad():
        q = th.cat(model.critic(batch.observations, batch.actions), dim=1)
    assert logged["train/q_values"] == pytest.approx(q.mean().item(), abs=1e-5)


def test_entropy_matches_the_gaussian_for_a_narrow_policy():
    # With a tiny std the tanh barely bends the Gaussian near 0, so -E log pi is close to
    # the Gaussian entropy 0.5 * log(2 pi e sigma^2) (one action dimension).
    model = SAC("MlpPolicy", "Pendulum-v1", seed=4, **SMALL).learn(60)
    with th.no_grad():
        for p in model.actor.mu.parameters():
            p.zero_()
        model.actor.log_std.weight.zero_()
        model.actor.log_std.bias.fill_(-3.0)
    logged = _one_update(model, progress=1.0)
    expected = 0.5 * math.log(2 * math.pi * math.e) - 3.0
    assert logged["train/entropy"] == pytest.approx(expected, abs=0.02)


def test_target_entropy_schedule_reaches_the_temperature_loss():
    model = SAC("MlpPolicy", "Pendulum-v1", seed=5, ent_coef="auto_0.5", target_entropy="lin_2_-4", **SMALL)
    model.learn(60)
    for progress in (1.0, 0.5, 0.25, 0.0):
        log_alpha = model.log_ent_coef.item()
        logged = _one_update(model, progress)
        target = -4.0 + 6.0 * progress
        assert logged["train/target_entropy"] == pytest.approx(target)
        # loss = -log(alpha) * (log pi + H_0), averaged over the batch
        expected_loss = -log_alpha * (-logged["train/entropy"] + target)
        assert logged["train/ent_coef_loss"] == pytest.approx(expected_loss, rel=1e-4, abs=1e-6)
    assert model.target_entropy == Linear(2.0, -4.0)


def test_auto_temperature_moves_towards_the_target():
    # Entropy above the target -> alpha decreases; below -> increases. A fresh Adam state for
    # each case, so that momentum from earlier steps cannot mask the sign of the gradient.
    model = SAC("MlpPolicy", "Pendulum-v1", seed=6, ent_coef="auto_0.5", **SMALL).learn(50)
    for target, sign in ((-10.0, -1.0), (10.0, 1.0)):
        model.target_entropy_schedule = Constant(target)
        model.ent_coef_optimizer = th.optim.Adam([model.log_ent_coef], lr=1e-3)
        before = model.log_ent_coef.item()
        _one_update(model, 1.0)
        assert sign * (model.log_ent_coef.item() - before) > 0


def test_ent_coef_schedule_values():
    model = SAC("MlpPolicy", "Pendulum-v1", seed=7, ent_coef="loglin_0.1_0.001", **SMALL).learn(60)
    assert model.ent_coef_optimizer is None
    for progress, alpha in ((1.0, 0.1), (0.5, 0.01), (0.0, 0.001)):
        logged = _one_update(model, progress)
        assert logged["train/ent_coef"] == pytest.approx(alpha, rel=1e-5)
        assert "train/ent_coef_loss" not in logged or model.ent_coef_optimizer is None


def test_vectorised_env_and_progress_bar():
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    model = SAC("MlpPolicy", env, seed=0, **SMALL).learn(80, progress_bar=True)
    assert model.logger.name_to_value["train/entropy"] != 0.0


def test_multi_discrete_action_space_is_rejected_with_the_alternatives():
    from stable_baselines3.common.envs import IdentityEnv

    env = IdentityEnv(space=gym.spaces.MultiDiscrete([2, 3]))
    with pytest.raises(TypeError, match="action_space.*EntropyPPO"):
        SAC("MlpPolicy", env)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target_entropy="lin_x"), "target_entropy"),
        (dict(target_entropy="bogus"), "target_entropy"),
        (dict(ent_coef=-0.1), "ent_coef"),
        (dict(ent_coef=0.0), "ent_coef"),
        (dict(ent_coef="auto_-1"), "ent_coef"),
        (dict(ent_coef="autox"), "ent_coef"),
        (dict(ent_coef="loglin_0.1"), "ent_coef"),
        (dict(ent_coef="lin_0.1"), "ent_coef"),  # reaches 0 at the end of training
    ],
)
def test_malformed_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SAC("MlpPolicy", "Pendulum-v1", **kwargs)



def test_numpy_scalars_are_accepted_like_sb3():
    model = SAC("MlpPolicy", "Pendulum-v1", target_entropy=np.float32(-2.0), ent_coef=np.float64(0.2), **SMALL)
    assert model.target_entropy == -2.0 and model.ent_coef_tensor.item() == pytest.approx(0.2)
