"""SoftDQN: the soft Bellman target, oracles with exact solutions, numerics, SB3 plumbing."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
import yaml
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

import sb3_softopt
from sb3_softopt import SoftDQN
from sb3_softopt.common.schedules import ScheduleError, make_schedule
from sb3_softopt.soft_dqn import DEFAULT_TARGET_ENTROPY_RATIO, DEFAULT_TOTAL_TIMESTEPS, SoftDQNPolicy
from sb3_softopt.soft_dqn.policies import boltzmann_entropy, boltzmann_log_probs, soft_value

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(policy_kwargs=dict(net_arch=[32]), buffer_size=5_000, batch_size=64)


def _zoo_model(env_id: str, seed: int = 0, **overrides):
    """A model built from the shipped ``zoo_configs/soft_dqn.yml`` entry (so the tests check the shipped configs)."""
    with open(ROOT / "zoo_configs" / "soft_dqn.yml") as f:
        params = dict(yaml.safe_load(f)[env_id])
    n_timesteps = int(float(params.pop("n_timesteps")))
    policy = params.pop("policy")
    env = gym.make(env_id, **params.pop("env_kwargs", {}))
    if isinstance(params.get("policy_kwargs"), str):
        params["policy_kwargs"] = eval(params["policy_kwargs"])  # the zoo's own convention
    params.update(overrides)
    return SoftDQN(policy, env, seed=seed, **params), env, n_timesteps


def _filled_model(ent_coef=0.5, seed=0, **kwargs) -> SoftDQN:
    """A CartPole model with 300 random transitions in its buffer and no update yet (the plain
    soft target unless ``double_q=True`` is passed: the hand computations below are of that one)."""
    kwargs.setdefault("double_q", False)
    model = SoftDQN("MlpPolicy", "CartPole-v1", ent_coef=ent_coef, learning_starts=10_000, seed=seed, **SMALL, **kwargs)
    model.learn(300)
    assert model._n_updates == 0
    return model


def _perturb(module: th.nn.Module, scale: float = 0.3, seed: int = 1) -> None:
    gen = th.Generator().manual_seed(seed)
    with th.no_grad():
        for p in module.parameters():
            p.add_(scale * th.randn(p.shape, generator=gen))


def _batch(model: SoftDQN, n: int = 256):
    th.manual_seed(0)
    return model.replay_buffer.sample(n)


# ---------------------------------------------------------------------------- the target
def test_soft_value_helpers_are_exact_and_finite():
    q = th.tensor([[1.0, 2.0, 3.0], [1e4, -1e3, 0.0]])
    for alpha in (0.3, 1.0, 1e-30):
        expected = [alpha * math.log(sum(math.exp((x - max(row)) / alpha) for x in row)) + max(row) for row in q.tolist()]
        assert th.allclose(soft_value(q, alpha).squeeze(1), th.tensor(expected), rtol=1e-6)
        assert th.isfinite(boltzmann_entropy(q, alpha)).all()
        assert th.allclose(boltzmann_log_probs(q, alpha).exp().sum(1), th.ones(2))
    assert th.allclose(boltzmann_entropy(th.zeros(1, 4), 1.0), th.tensor([math.log(4)]))
    assert boltzmann_entropy(q, 1e-30).abs().max() == 0.0  # greedy limit


def test_target_matches_hand_computation():
    model = _filled_model()
    # Online and target nets start equal: perturb the online one, so that a target computed from the
    # online network (instead of the target network) cannot match the reference below.
    _perturb(model.q_net)
    data = _batch(model)
    assert not th.allclose(model.q_net(data.next_observations), model.q_net_target(data.next_observations), atol=1e-2)
    alpha, gamma = 0.7, model.gamma
    target, next_v = model.compute_target_q(data, alpha)
    q_next = model.q_net_target(data.next_observations).detach().double().numpy()
    v_ref = alpha * np.log(np.exp(q_next / alpha).sum(axis=1, keepdims=True))
    y_ref = data.rewards.double().numpy() + gamma * (1 - data.dones.double().numpy()) * v_ref
    np.testing.assert_allclose(next_v.double().numpy(), v_ref, rtol=1e-5)
    np.testing.assert_allclose(target.double().numpy(), y_ref, rtol=1e-5)
    assert data.dones.sum() > 0  # the batch exercises the (1 - done) mask


def test_n_step_target_hand_computation():
    """n_steps > 1: SB3's NStepReplayBuffer returns the discounted n-step reward sum, the discount
    gamma^k of the bootstrap (k <= n: fewer steps when the episode ended) and ``done``; the target is
    ``r_n + gamma^k (1 - done) V_targ(s_{t+k})``: no bootstrap past a termination."""
    model = _filled_model(n_steps=3)
    _perturb(model.q_net)  # online != target (the target network's soft value is the bootstrap)
    data = _batch(model)
    gamma, alpha = model.gamma, 0.7
    assert data.discounts is not None
    np.testing.assert_allclose(np.sort(data.discounts.unique().numpy()), [gamma**3, gamma**2, gamma], rtol=1e-6)
    assert data.dones.sum() > 0 and (data.dones == 0).sum() > 0  # both branches of (1 - done) occur
    q_next = model.q_net_target(data.next_observations).detach().double()
    v_ref = alpha * th.logsumexp(q_next / alpha, dim=1, keepdim=True)
    y_ref = data.rewards.double() + data.discounts.double() * (1 - data.dones.double()) * v_ref
    target, next_v = model.compute_target_q(data, alpha)
    assert th.allclose(next_v.double(), v_ref, rtol=1e-5, atol=1e-5)
    assert th.allclose(target.double(), y_ref, rtol=1e-5, atol=1e-5)
    # on terminated samples the target is the n-step reward sum alone
    done = data.dones[:, 0].bool()
    assert th.allclose(target[done], data.rewards[done])
    # one update runs through train() with the n-step buffer
    model.learning_starts = 0
    model.learn(10, reset_num_timesteps=False)
    assert model._n_updates > 0


def test_target_tends_to_dqn_max_as_alpha_goes_to_zero():
    model = _filled_model()
    data = _batch(model)
    q_next = model.q_net_target(data.next_observations).detach()
    dqn_target = data.rewards + (1 - data.dones) * model.gamma * q_next.max(dim=1, keepdim=True).values
    gaps = []
    for alpha in (1.0, 0.1, 0.01, 1e-3):
        target, _ = model.compute_target_q(data, alpha)
        gaps.append((target - dqn_target).abs().max().item())
        # the soft value exceeds the max by at most alpha * log |A|
        assert (target >= dqn_target - 1e-5).all()
        assert gaps[-1] <= model.gamma * alpha * math.log(2) + 1e-5
    assert gaps == sorted(gaps, reverse=True)
    target, _ = model.compute_target_q(data, 1e-12)
    assert th.allclose(target, dqn_target, atol=1e-6)


def test_double_q_target_hand_computation_and_double_dqn_limit():
    model = _filled_model(double_q=True)
    _perturb(model.q_net)  # online and target nets must disagree for the test to mean anything
    data = _batch(model)
    alpha = 0.4
    q_on = model.q_net(data.next_observations).detach().double()
    q_tg = model.q_net_target(data.next_observations).detach().double()
    assert (q_on.argmax(1) != q_tg.argmax(1)).any()
    pi = th.softmax(q_on / alpha, dim=1)
    v_ref = (pi * (q_tg - alpha * th.log(pi))).sum(1, keepdim=True)
    y_ref = data.rewards.double() + model.gamma * (1 - data.dones.double()) * v_ref
    target, _ = model.compute_target_q(data, alpha)
    assert th.allclose(target.double(), y_ref, rtol=1e-5, atol=1e-5)
    # alpha -> 0: Double DQN, the target net evaluated at the online argmax
    target, _ = model.compute_target_q(data, 1e-12)
    ddqn = data.rewards + (1 - data.dones) * model.gamma * q_tg.float().gather(1, q_on.argmax(1, keepdim=True))
    assert th.allclose(target, ddqn, atol=1e-5)


def test_munchausen_target_hand_computation():
    model = _filled_model(munchausen_coef=0.9, munchausen_clip=-1.0)
    _perturb(model.q_net_target, scale=1.0)
    data = _batch(model)
    alpha = 0.5
    q_s = model.q_net_target(data.observations).detach().double()
    log_pi_a = th.log_softmax(q_s / alpha, dim=1).gather(1, data.actions.long())
    bonus = 0.9 * (alpha * log_pi_a).clamp(-1.0, 0.0)
    assert (bonus < 0).any() and (bonus == -0.9).any()  # both the linear and the clipped regime occur
    q_next = model.q_net_target(data.next_observations).detach().double()
    v_ref = alpha * th.logsumexp(q_next / alpha, dim=1, keepdim=True)
    y_ref = data.rewards.double() + bonus + model.gamma * (1 - data.dones.double()) * v_ref
    target, _ = model.compute_target_q(data, alpha)
    assert th.allclose(target.double(), y_ref, rtol=1e-5, atol=1e-5)


def test_truncated_transitions_bootstrap():
    # TimeLimit truncation must not be stored as done (SB3's handle_timeout_termination).
    env = make_vec_env("CartPole-v1", n_envs=1, env_kwargs=dict(max_episode_steps=5), seed=0)
    model = SoftDQN("MlpPolicy", env, learning_starts=10_000, seed=0, **SMALL)
    model.learn(50)
    buffer = model.replay_buffer
    assert buffer.timeouts[:50].sum() == buffer.dones[:50].sum() == 10  # CartPole cannot fail within 5 steps
    assert buffer._get_samples(np.arange(50)).dones.sum() == 0  # sampled as "not done": V(s') is bootstrapped


# ---------------------------------------------------------------------------- the policy
def test_stochastic_predict_samples_the_boltzmann_policy():
    env = gym.make("TwoPeakBanditDiscrete-v0")
    model = SoftDQN("MlpPolicy", env, ent_coef=2.0, seed=0, **SMALL)
    _perturb(model.q_net, scale=0.5)
    model.policy.set_ent_coef(2.0)
    obs = np.zeros(20_000, dtype=np.int64)
    q = model.q_net(th.tensor([0])).detach()[0]
    expected = th.softmax(q / 2.0, dim=0).numpy()
    actions, _ = model.predict(obs, deterministic=False)
    freq = np.bincount(actions, minlength=21) / len(actions)
    assert 0.5 * np.abs(freq - expected).sum() < 0.03
    greedy, _ = model.predict(obs[:10], deterministic=True)
    assert (greedy == int(q.argmax())).all()


def test_stochastic_predict_is_finite_at_extreme_temperatures():
    env = gym.make("TwoPeakBanditDiscrete-v0")
    model = SoftDQN("MlpPolicy", env, ent_coef=1.0, seed=0, **SMALL)
    _perturb(model.q_net, scale=0.5)
    with th.no_grad():  # huge Q-values: Q / alpha would overflow float32 for alpha = 1e-30
        model.q_net.q_net[-1].weight.mul_(1e4)
        model.q_net.q_net[-1].bias.mul_(1e4)
    obs = np.zeros(2000, dtype=np.int64)
    greedy = int(model.q_net(th.tensor([0])).argmax())
    model.policy.set_ent_coef(1e-30)
    assert (model.predict(obs, deterministic=False)[0] == greedy).all()
    model.policy.set_ent_coef(1e30)  # uniform limit: every one of the 21 actions appears
    freq = np.bincount(model.predict(obs, deterministic=False)[0], minlength=21) / len(obs)
    assert freq.min() > 0.02 and freq.max() < 0.08


def test_exploration_eps_floor():
    env = gym.make("TwoPeakBanditDiscrete-v0")
    model = SoftDQN("MlpPolicy", env, ent_coef=1e-6, exploration_eps=1.0, seed=0, **SMALL)
    actions = np.array([model.predict(0, deterministic=False)[0] for _ in range(400)])
    assert len(np.unique(actions)) > 15  # uniform, although the Boltzmann policy is greedy
    assert len(np.unique([model.predict(0, deterministic=True)[0] for _ in range(20)])) == 1


# ---------------------------------------------------------------------------- oracles
def test_bandit_oracle_kl_to_softmax_rewards():
    alpha = 1.0
    model, env, n_timesteps = _zoo_model("TwoPeakBanditDiscrete-v0", ent_coef=alpha)
    model.learn(n_timesteps)
    q = model.q_net(th.tensor([0])).detach().double()[0]
    log_pi = th.log_softmax(q / alpha, dim=0).numpy()
    exact = env.unwrapped.soft_optimal_policy(alpha)
    kl = float(np.sum(np.exp(log_pi) * (log_pi - np.log(exact))))
    assert kl < 0.02, kl
    # both peaks survive: the soft policy is bimodal like the exact one
    pi = np.exp(log_pi)
    assert pi[:10].sum() > 0.3 and pi[11:].sum() > 0.3


def test_auto_temperature_tracks_target_entropy():
    env = gym.make("TwoPeakBanditDiscrete-v0")
    target = 1.0
    model = SoftDQN(
        "MlpPolicy", env, ent_coef="auto_1.0", target_entropy=target, learning_rate=1e-2, learning_starts=300,
        train_freq=1, gradient_steps=1, policy_kwargs=dict(net_arch=[32]), buffer_size=5_000, seed=0,
    )
    model.learn(1_500)
    q = model.q_net(th.tensor([0])).detach()
    entropy = float(boltzmann_entropy(q, model.current_ent_coef()))
    assert abs(entropy - target) < 0.15, (entropy, model.current_ent_coef())
    # the rewards alone have entropy ~2.0 at alpha = 1: alpha had to go down
    assert model.current_ent_coef() < 0.9
    assert float(model.policy.ent_coef) == pytest.approx(model.current_ent_coef())


#: The gridworld oracle's bounds (see _gridworld_check). Measured on seeds 0-15 (the slow sweep
#: below): well-visited states within 0.016, visitation-weighted error <= 0.0004, every visited state
#: within 0.25; the old bound (every visited state within 0.05) held on 9 of the 16 seeds.
GRID_WELL_VISITED = 20  # transitions from a state (0.4% of the 5000) for it to count as well visited
GRID_REL_WELL, GRID_REL_WEIGHTED, GRID_REL_ANY, GRID_MIN_WELL = 0.05, 0.01, 0.5, 9


def _gridworld_errors(seed: int) -> dict:
    """Train the shipped ReachingGridworld-v0 entry (5000 steps) with ``seed``; relative errors of
    Q against exact soft value iteration per (state, action), and the replay buffer's counts."""
    from sb3_softopt.inference import TabularMDP, soft_value_iteration

    model, env, n_timesteps = _zoo_model("ReachingGridworld-v0", seed=seed)
    base = env.unwrapped
    alpha, gamma = model.current_ent_coef(), model.gamma
    assert (base.width, base.height, base.horizon, base.terminate_at_goal) == (5, 3, None, True)
    terminal = np.zeros(base.transition_matrix.shape[0], dtype=bool)
    terminal[base.goal] = True
    mdp = TabularMDP.from_env(env, horizon=None, terminal_states=terminal)
    ref = soft_value_iteration(mdp, alpha=alpha, gamma=gamma, horizon=None)
    model.learn(n_timesteps)
    size = model.replay_buffer.size()
    obs = model.replay_buffer.observations[:size].reshape(-1).astype(int)
    act = model.replay_buffer.actions[:size].reshape(-1).astype(int)
    counts = np.zeros(ref.q.shape, dtype=int)
    np.add.at(counts, (obs, act), 1)
    counts[base.goal] = 0  # terminal: its Q is never a target
    q = model.q_net(th.arange(ref.q.shape[0])).detach().numpy()
    return dict(rel=np.abs(q - ref.q) / np.abs(ref.q), counts=counts)


def _gridworld_check(errors: dict) -> list[str]:
    """The oracle's bounds; returns the ones that fail (empty: pass).

    A state's Q-values are only as good as its data: a state the soft policy seldom enters (a few
    of the 5000 transitions) has actions that were never tried there, whose Q is the network's
    extrapolation, and through the soft value (a log-sum-exp over all actions) that error reaches
    its neighbours. So the tight bound is on the states with >= 20 transitions, the error weighted
    by how often the agent acts in each (state, action) is bounded tightly too, and every visited
    state gets a loose bound:

    * every well-visited state (>= 20 transitions), all its actions: relative error < 0.05, and at
      least 9 of the 14 non-goal states are well visited;
    * the relative error averaged with the replay buffer's (state, action) frequencies < 0.01;
    * every visited state, all actions: relative error < 0.5.
    """
    rel, counts = errors["rel"], errors["counts"]
    per_state = counts.sum(axis=1)
    well, visited = per_state >= GRID_WELL_VISITED, per_state > 0
    failures = []
    if well.sum() < GRID_MIN_WELL:
        failures.append(f"only {well.sum()} well-visited states")
    if rel[well].max() >= GRID_REL_WELL:
        failures.append(f"well-visited states: max relative error {rel[well].max():.3f}")
    weighted = float((counts * rel).sum() / counts.sum())
    if weighted >= GRID_REL_WEIGHTED:
        failures.append(f"visitation-weighted relative error {weighted:.4f}")
    if rel[visited].max() >= GRID_REL_ANY:
        failures.append(f"visited states: max relative error {rel[visited].max():.3f}")
    return failures


def test_gridworld_matches_soft_value_iteration():
    errors = _gridworld_errors(seed=0)
    assert (errors["counts"].sum(axis=1) > 0).sum() >= 12  # the soft policy explores most of the 14 states
    assert not _gridworld_check(errors), (_gridworld_check(errors), errors)


@pytest.mark.slow
def test_gridworld_oracle_seed_sweep(record_property):
    """The gridworld oracle on seeds 0-15: it must hold on at least 15 (reports the pass count)."""
    failures = {seed: _gridworld_check(_gridworld_errors(seed)) for seed in range(16)}
    passed = sum(not f for f in failures.values())
    record_property("passed_seeds", passed)
    print(f"gridworld vs soft value iteration: {passed}/16 seeds pass; failures: { {s: f for s, f in failures.items() if f} }")
    assert passed >= 15, failures


def test_lottery_large_rewards_stay_finite_and_policy_does_not_buy():
    model, env, n_timesteps = _zoo_model("LotteryMDP-v0", ent_coef=1.0)
    assert env.unwrapped.win == 10000.0 and env.unwrapped.reward_scale == 1.0  # raw rewards +10000 / -1000
    model.learn(n_timesteps)
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    q = model.q_net(th.tensor([0])).detach()
    assert th.isfinite(q).all()
    p_buy = th.softmax(q / 1.0, dim=1)[0, 1].item()
    assert p_buy < 0.01, q
    assert model.predict(0, deterministic=True)[0] == 0
    for key, val in model.logger.name_to_value.items():
        assert math.isfinite(val), key


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(ent_coef=0.0), ValueError, "ent_coef"),
        (dict(ent_coef=-1.0), ValueError, "ent_coef"),
        (dict(ent_coef="auto_-1"), ValueError, "ent_coef"),
        (dict(ent_coef="sqrt_1_2"), ScheduleError, "ent_coef"),
        (dict(ent_coef="lin_1_-1"), ValueError, "ent_coef"),
        (dict(target_entropy="bogus"), ValueError, "target_entropy"),
        (dict(munchausen_coef=-0.5), ValueError, "munchausen_coef"),
        (dict(munchausen_clip=0.5), ValueError, "munchausen_clip"),
        (dict(exploration_eps=1.5), ValueError, "exploration_eps"),
        (dict(double_q="yes"), TypeError, "double_q"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SoftDQN("MlpPolicy", "CartPole-v1", **kwargs)


def test_box_action_space_is_rejected():
    with pytest.raises(TypeError, match="Discrete"):
        SoftDQN("MlpPolicy", "Pendulum-v1")
    with pytest.raises(TypeError, match="Discrete"):
        SoftDQN("MlpPolicy", gym.make("TwoPeakBandit-v0"))


# ---------------------------------------------------------------------------- temperature forms
def test_schedule_temperature_follows_progress():
    env = gym.make("LotteryMDP-v0", reward_scale=1e-3)
    model = SoftDQN("MlpPolicy", env, ent_coef="loglin_1_0.01", learning_starts=50, train_freq=1, seed=0, **SMALL)
    assert model.current_ent_coef() == pytest.approx(1.0)
    model.learn(400)
    alpha = float(model.policy.ent_coef)
    assert 0.0099 <= alpha < 0.015  # last update at progress_remaining = 1/400
    callable_model = SoftDQN("MlpPolicy", env, ent_coef=lambda p: 0.5 * p + 0.1, learning_starts=50, seed=0, **SMALL)
    callable_model.learn(200)
    assert float(callable_model.policy.ent_coef) < 0.2
    assert not callable_model.auto_ent_coef and callable_model.log_ent_coef is None


def test_auto_target_entropy_default_is_documented_fraction_of_log_actions():
    model = SoftDQN("MlpPolicy", gym.make("TwoPeakBanditDiscrete-v0"), seed=0, **SMALL)
    assert model.auto_ent_coef
    assert model.target_entropy_schedule(0.5) == pytest.approx(DEFAULT_TARGET_ENTROPY_RATIO * math.log(21))


def test_zoo_config_entries_construct():
    with open(ROOT / "zoo_configs" / "soft_dqn.yml") as f:
        config = yaml.safe_load(f)
    for env_id in config:
        params = dict(config[env_id])
        assert int(float(params.pop("n_timesteps"))) > 0
        policy = params.pop("policy")
        env_kwargs = params.pop("env_kwargs", {})
        if isinstance(params.get("policy_kwargs"), str):
            params["policy_kwargs"] = eval(params["policy_kwargs"])  # the zoo's own convention
        if isinstance(params.get("learning_rate"), str):  # "lin_2.3e-3": rl-zoo3 turns it into a schedule
            params["learning_rate"] = make_schedule(params["learning_rate"], name="learning_rate")
        model = SoftDQN(policy, gym.make(env_id, **env_kwargs), **params)
        assert model.current_ent_coef() > 0


# ---------------------------------------------------------------------------- SB3 plumbing
def test_save_load_roundtrip_is_exact(tmp_out):
    model = SoftDQN("MlpPolicy", "CartPole-v1", ent_coef="auto_0.5", learning_starts=100, seed=0, **SMALL)
    model.learn(500)
    assert model.ent_coef_optimizer.state_dict()["state"]  # Adam moments exist
    path = tmp_out / "softdqn.zip"
    model.save(path)
    loaded = SoftDQN.load(path)
    assert th.equal(loaded.log_ent_coef, model.log_ent_coef)
    assert float(loaded.policy.ent_coef) == float(model.policy.ent_coef) == pytest.approx(model.current_ent_coef())
    s1, s2 = model.ent_coef_optimizer.state_dict(), loaded.ent_coef_optimizer.state_dict()
    for k in s1["state"][0]:
        assert th.equal(s1["state"][0][k], s2["state"][0][k])
    assert s1["param_groups"][0]["lr"] == s2["param_groups"][0]["lr"]
    # the restored optimizer still drives the restored parameter
    assert loaded.ent_coef_optimizer.param_groups[0]["params"][0] is loaded.log_ent_coef
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    th.manual_seed(3)
    a1 = model.predict(obs, deterministic=False)[0]
    th.manual_seed(3)
    a2 = loaded.predict(obs, deterministic=False)[0]
    assert np.array_equal(a1, a2)
    for p1, p2 in zip(model.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert th.equal(p1, p2)
    # the policy alone also keeps alpha
    model.policy.save(tmp_out / "policy.pth")
    policy = SoftDQNPolicy.load(tmp_out / "policy.pth")
    assert float(policy.ent_coef) == float(model.policy.ent_coef)
    # and training continues
    loaded.set_env(make_vec_env("CartPole-v1", n_envs=1, seed=1))
    steps = loaded.num_timesteps
    loaded.learn(200, reset_num_timesteps=False)
    assert loaded.num_timesteps == steps + 200
    assert not th.equal(loaded.log_ent_coef, model.log_ent_coef)


def test_vec_env_callbacks_progress_bar_and_logger_keys(tmp_out):
    class Count(BaseCallback):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def _on_step(self) -> bool:
            self.calls += 1
            return True

    env = make_vec_env("CartPole-v1", n_envs=3, seed=0)
    model = SoftDQN("MlpPolicy", env, learning_starts=90, train_freq=2, seed=0, **SMALL)
    model.set_logger(configure(str(tmp_out), ["csv"]))
    callback = Count()
    model.learn(900, callback=callback, progress_bar=True, log_interval=1)
    assert model.num_timesteps == 900 and callback.calls == 300
    assert model.replay_buffer.n_envs == 3
    import pandas as pd

    columns = set(pd.read_csv(tmp_out / "progress.csv").columns)
    expected = {
        "train/loss", "train/ent_coef", "train/entropy", "train/target_entropy", "train/ent_coef_loss",
        "train/q_values", "train/soft_value", "rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps",
    }
    assert expected <= columns, expected - columns


def test_tensorboard_logging(tmp_out):
    pytest.importorskip("tensorboard")
    model = SoftDQN("MlpPolicy", "CartPole-v1", learning_starts=50, tensorboard_log=str(tmp_out), seed=0, **SMALL)
    model.learn(300)
    assert any((tmp_out).rglob("events.out.tfevents*"))


def test_learn_without_arguments_uses_documented_default():
    assert inspect.signature(SoftDQN.learn).parameters["total_timesteps"].default == DEFAULT_TOTAL_TIMESTEPS

    class StopEarly(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 200

    model = SoftDQN("MlpPolicy", "CartPole-v1", learning_starts=100, seed=0, **SMALL)
    model.learn(callback=StopEarly())  # no budget given: the default one, stopped early by the callback
    assert model._total_timesteps == DEFAULT_TOTAL_TIMESTEPS
    assert 200 <= model.num_timesteps < 300


def test_package_exports_softdqn():
    assert sb3_softopt.SoftDQN is SoftDQN
    assert "SoftDQN" in sb3_softopt.__all__


@pytest.mark.parametrize("policy", ["CnnPolicy", "MultiInputPolicy"])
def test_cnn_and_multi_input_policies_learn_and_sample(policy):
    from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv

    env = FakeImageEnv(screen_height=36, screen_width=36, discrete=True) if policy == "CnnPolicy" else SimpleMultiObsEnv()
    model = SoftDQN(policy, env, learning_starts=20, batch_size=8, train_freq=10, buffer_size=200, seed=0)
    assert isinstance(model.policy, SoftDQNPolicy)
    model.learn(60)
    assert model._n_updates > 0
    obs, _ = env.reset()
    action, _ = model.predict(obs, deterministic=False)
    assert env.action_space.contains(int(action))


def test_defaults_network_and_a_model_saved_with_the_former_default_loads(tmp_path):
    """2 x 256 unless policy_kwargs names net_arch; a file saved by 0.2 (policy_kwargs {}: the
    policy's own 2 x 64) still loads as 2 x 64, because load() restores the saved kwargs."""
    model = SoftDQN("MlpPolicy", "CartPole-v1", seed=0)
    assert [m.out_features for m in model.q_net.q_net if isinstance(m, th.nn.Linear)] == [256, 256, 2]
    # a policy class named by the caller keeps its own default (the policy's 2 x 64)
    by_class = SoftDQN(SoftDQNPolicy, "CartPole-v1", seed=0)
    assert [m.out_features for m in by_class.q_net.q_net if isinstance(m, th.nn.Linear)] == [64, 64, 2]
    old = SoftDQN("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs=dict(net_arch=[64, 64]))
    old.policy_kwargs = {}  # what 0.2 stored for the default network
    old.save(tmp_path / "old.zip")
    loaded = SoftDQN.load(tmp_path / "old.zip")
    assert [m.out_features for m in loaded.q_net.q_net if isinstance(m, th.nn.Linear)] == [64, 64, 2]
    for p1, p2 in zip(old.policy.state_dict().values(), loaded.policy.state_dict().values(), strict=True):
        assert th.equal(p1, p2)
