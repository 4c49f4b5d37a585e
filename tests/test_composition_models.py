"""Composition of trained models (sb3_softopt.composition): the composed networks compute the closed
forms exactly, SoftDQN's composed policy is the exact Boltzmann policy of the tabular composition,
SQL/SAC fit their sampler/actor with zero environment steps, and the results predict, evaluate,
save, load and learn like any model of their class."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

import sb3_softopt  # noqa: F401  registers the environments
from sb3_softopt import SAC, SQL, EntropyPPO, SoftDQN
from sb3_softopt.composition import ComposedSoftDQNPolicy, compose, fit_composed_policy, replay_observations
from sb3_softopt.inference import TabularMDP, soft_value_iteration
from sb3_softopt.inference.composition import compose as compose_tabular

ALPHA = 0.5
TINY = dict(learning_starts=8, batch_size=16, seed=0)


def _dqns(env="CartPole-v1", n=2, ent_coef=ALPHA, steps=40):
    return [
        SoftDQN("MlpPolicy", env, ent_coef=ent_coef, policy_kwargs=dict(net_arch=[8 * (i + 1)]), **{**TINY, "seed": i}).learn(steps)
        for i in range(n)
    ]


def test_soft_dqn_composition_is_exact(tmp_path):
    models = _dqns()
    obs = th.as_tensor(np.random.default_rng(0).normal(size=(32, 4)), dtype=th.float32)
    with th.no_grad():
        q1, q2 = (m.q_net(obs) for m in models)
    both = compose(models, [0.3, 0.7])
    either = compose(models, mode="or")
    assert isinstance(both, SoftDQN) and isinstance(both.policy, ComposedSoftDQNPolicy)
    assert both.num_timesteps == 0
    with th.no_grad():
        th.testing.assert_close(both.q_net(obs), 0.3 * q1 + 0.7 * q2)
        th.testing.assert_close(both.q_net_target(obs), 0.3 * models[0].q_net_target(obs) + 0.7 * models[1].q_net_target(obs))
        expected_or = ALPHA * th.logsumexp(th.stack([q1, q2]) / ALPHA + np.log(0.5), dim=0)
        th.testing.assert_close(either.q_net(obs), expected_or)
        # The policy is the Boltzmann policy of the composed Q at the shared temperature.
        th.testing.assert_close(both.policy.action_log_probs(obs), th.log_softmax((0.3 * q1 + 0.7 * q2) / ALPHA, dim=1))
    # The constituents' networks were copied, not shared.
    assert all(p.data_ptr() != q.data_ptr() for p in both.policy.parameters() for q in models[0].policy.parameters())

    both.save(tmp_path / "both")
    loaded = SoftDQN.load(tmp_path / "both")
    with th.no_grad():
        th.testing.assert_close(loaded.q_net(obs), both.q_net(obs))
    assert loaded.policy.mode == "and" and loaded.policy.weights == [0.3, 0.7]
    mean, _ = evaluate_policy(loaded, Monitor(gym.make("CartPole-v1")), n_eval_episodes=2)
    assert mean > 0
    loaded.set_env(gym.make("CartPole-v1"))
    before = [p.detach().clone() for p in loaded.q_net.parameters()]
    loaded.learn(60)
    assert loaded.num_timesteps == 60
    assert any(not th.equal(b, p) for b, p in zip(before, loaded.q_net.parameters(), strict=True))


def test_soft_dqn_composition_matches_the_tabular_composition():
    # Linear Q-networks on one-hot states holding exact soft-optimal Q-tables: the composed model's
    # policy is exactly inference.composition's composed policy (float32 rounding only).
    def task(goal):
        return gym.make("ReachingGridworld-v0", width=7, height=5, goal=goal, horizon=12)

    envs = [task((5, 0)), task((5, 4))]
    sols = [soft_value_iteration(TabularMDP.from_env(e, horizon=None), ALPHA, gamma=0.9) for e in envs]
    models = []
    for e, sol in zip(envs, sols, strict=True):
        m = SoftDQN("MlpPolicy", e, ent_coef=ALPHA, gamma=0.9, policy_kwargs=dict(net_arch=[]), seed=0)
        with th.no_grad():
            m.q_net.q_net[0].weight.copy_(th.as_tensor(sol.q.T))
            m.q_net.q_net[0].bias.zero_()
        models.append(m)
    states = th.arange(35)
    for mode, weights in (("and", [0.4, 0.6]), ("or", [1.0, 1.0])):
        composed = compose(models, weights, mode)
        with th.no_grad():
            log_pi = composed.policy.action_log_probs(composed.policy.obs_to_tensor(states.numpy())[0]).numpy()
        np.testing.assert_allclose(log_pi, compose_tabular(sols, weights, mode).log_policy, atol=1e-4)


def _sqls(env, n=2, **kwargs):
    return [SQL("MlpPolicy", env, ent_coef=ALPHA, policy_kwargs=dict(net_arch=[16]), **{**TINY, "seed": i}, **kwargs).learn(30) for i in range(n)]


def test_sql_composition_trains_the_sampler_only(tmp_path):
    env = gym.make("TwoPeakBandit-v0")
    models = _sqls(env)
    composed = compose(models, policy_steps=0, seed=0)
    obs = th.zeros(16, 1)
    a = th.linspace(-1, 1, 16).reshape(-1, 1)
    with th.no_grad():
        expected = 0.5 * (models[0].critic(obs, a)[0] + models[1].critic(obs, a)[0])
        th.testing.assert_close(composed.critic(obs, a)[0], expected)
    critic_before = [p.detach().clone() for p in composed.critic.parameters()]
    actor_before = [p.detach().clone() for p in composed.actor.parameters()]
    states = replay_observations(models)
    assert states.shape == (2 * 30, 1)
    losses = fit_composed_policy(composed, states, 20, batch_size=8)
    assert len(losses) == 20 and np.all(np.isfinite(losses))
    assert all(th.equal(b, p) for b, p in zip(critic_before, composed.critic.parameters(), strict=True))
    assert any(not th.equal(b, p) for b, p in zip(actor_before, composed.actor.parameters(), strict=True))
    assert composed.num_timesteps == 0  # zero environment steps

    composed.save(tmp_path / "sql")
    loaded = SQL.load(tmp_path / "sql", env=env)
    with th.no_grad():
        th.testing.assert_close(loaded.critic(obs, a)[0], composed.critic(obs, a)[0])
    evaluate_policy(loaded, Monitor(env), n_eval_episodes=2)
    loaded.learn(20)
    assert loaded.num_timesteps == 20


def test_sac_discrete_actor_fits_the_composed_boltzmann_policy():
    env = gym.make("CartPole-v1")
    models = [SAC("MlpPolicy", env, ent_coef=ALPHA, policy_kwargs=dict(net_arch=[16]), **{**TINY, "seed": i}).learn(60) for i in range(2)]
    composed = compose(models, policy_steps=0, seed=0)
    obs = th.as_tensor(replay_observations(models), dtype=th.float32)
    with th.no_grad():
        pairs = zip(composed.critic(obs), models[0].critic(obs), models[1].critic(obs), strict=True)
        for qc, q1, q2 in pairs:
            th.testing.assert_close(qc, 0.5 * (q1 + q2))

    def kl_to_target():
        # SAC's discrete actor loss is minimised by softmax(min_j Q_C,j / alpha): a closed-form target.
        with th.no_grad():
            target = th.log_softmax(th.stack(composed.critic(obs)).min(dim=0).values / ALPHA, dim=1)
            probs, log_probs = composed.actor.action_log_probs(obs)
            return float((probs * (log_probs - target)).sum(dim=1).mean())

    start = kl_to_target()
    fit_composed_policy(composed, obs.numpy(), 300, batch_size=64)
    assert kl_to_target() < start / 10


def test_sac_box_composition_saves_loads_and_learns(tmp_path):
    env = gym.make("TwoPeakBandit-v0")
    models = [SAC("MlpPolicy", env, ent_coef=0.2, policy_kwargs=dict(net_arch=[16]), **{**TINY, "seed": i}).learn(30) for i in range(2)]
    composed = compose(models, [2.0, 1.0], policy_steps=10)
    obs, a = th.zeros(8, 1), th.linspace(-1, 1, 8).reshape(-1, 1)
    with th.no_grad():
        for qc, q1, q2 in zip(composed.critic(obs, a), models[0].critic(obs, a), models[1].critic(obs, a), strict=True):
            th.testing.assert_close(qc, 2.0 * q1 + q2)
    composed.save(tmp_path / "sac")
    loaded = SAC.load(tmp_path / "sac", env=env)
    with th.no_grad():
        th.testing.assert_close(loaded.critic(obs, a)[0], composed.critic(obs, a)[0])
    loaded.learn(20)
    assert loaded.num_timesteps == 20


def test_composition_errors_are_clear():
    dqns = _dqns(steps=10)
    with pytest.raises(TypeError, match="no soft Q-function"):
        compose([EntropyPPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16), dqns[0]])
    with pytest.raises(ValueError, match="at least two"):
        compose(dqns[:1])
    with pytest.raises(ValueError, match="one entry per constituent"):
        compose(dqns, [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        compose(dqns, [1.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        compose(dqns, [1.0, float("nan")])
    with pytest.raises(ValueError, match="mode must be"):
        compose(dqns, mode="xor")
    hot = _dqns(n=1, ent_coef=1.0, steps=10)[0]
    with pytest.raises(ValueError, match="temperature alpha"):
        compose([dqns[0], hot])
    far = SoftDQN("MlpPolicy", "CartPole-v1", ent_coef=ALPHA, gamma=0.9)
    with pytest.raises(ValueError, match="gamma"):
        compose([dqns[0], far])
    other = SoftDQN("MlpPolicy", "Acrobot-v1", ent_coef=ALPHA)
    with pytest.raises(ValueError, match="observation_space"):
        compose([dqns[0], other])
    sql = SQL("MlpPolicy", "TwoPeakBandit-v0", ent_coef=ALPHA)
    with pytest.raises(TypeError, match="one class"):
        compose([dqns[0], sql])
    with pytest.raises(ValueError, match="empty replay buffer"):
        compose([sql, SQL("MlpPolicy", "TwoPeakBandit-v0", ent_coef=ALPHA)])
    with pytest.raises(ValueError, match="spaces"):
        compose(dqns, env=gym.make("Acrobot-v1"))
