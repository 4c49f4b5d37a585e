"""EntropyPPO: PPO on soft returns r_t - alpha * log pi(a_t|s_t)."""

from __future__ import annotations

import inspect
import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.vec_env import DummyVecEnv

import sb3_softopt
from sb3_softopt import EntropyPPO
from sb3_softopt.common.schedules import Linear, ScheduleError
from sb3_softopt.entropy_ppo import DEFAULT_TOTAL_TIMESTEPS
from sb3_softopt.entropy_ppo.entropy_ppo import default_target_entropy

SMALL = dict(n_steps=32, batch_size=32, n_epochs=2, policy_kwargs=dict(net_arch=[16]))


class RandomEpisodes(gym.Env):
    """Random observations and rewards; ends by termination (p=0.25 a step) or by a 5-step limit."""

    def __init__(self, action_space: spaces.Space):
        self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        reward = float(self.np_random.normal())
        return obs, reward, bool(self.np_random.random() < 0.25), False, {}


ACTION_SPACES = {
    "discrete": spaces.Discrete(3),
    "multidiscrete": spaces.MultiDiscrete([3, 2]),
    "box": spaces.Box(-1.0, 1.0, (2,), np.float32),
}


def random_env(kind: str, n_envs: int = 2, seed: int = 0) -> DummyVecEnv:
    space = ACTION_SPACES[kind]
    env = make_vec_env(lambda: TimeLimit(RandomEpisodes(space), max_episode_steps=5), n_envs=n_envs, seed=seed)
    env.action_space.seed(seed)
    return env


def params(model) -> dict[str, th.Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


class RolloutRecorder(BaseCallback):
    """Keeps the raw env rewards, truncation bootstraps and the buffer of the first rollout."""

    def __init__(self):
        super().__init__()
        self.raw, self.bootstrap, self.truncated, self.terminated = [], [], [], []
        self.buffer = None

    def _on_step(self) -> bool:
        if self.buffer is not None:
            return True
        # SB3 adds the bootstrap to ``rewards`` in place after this call: copy first.
        self.raw.append(np.array(self.locals["rewards"], dtype=np.float64))
        boot = np.zeros(len(self.raw[-1]))
        trunc = np.zeros(len(boot), dtype=bool)
        term = np.zeros(len(boot), dtype=bool)
        for i, (done, info) in enumerate(zip(self.locals["dones"], self.locals["infos"])):
            if done and info.get("TimeLimit.truncated", False):
                obs = self.model.policy.obs_to_tensor(info["terminal_observation"])[0]
                with th.no_grad():
                    boot[i] = self.model.gamma * float(self.model.policy.predict_values(obs)[0, 0])
                trunc[i] = True
            elif done:
                term[i] = True
        self.bootstrap.append(boot)
        self.truncated.append(trunc)
        self.terminated.append(term)
        return True

    def _on_rollout_end(self) -> None:
        if self.buffer is None:
            b = self.model.rollout_buffer
            self.buffer = {k: np.array(getattr(b, k)) for k in ("rewards", "returns", "advantages", "values", "log_probs", "episode_starts")}
            self.buffer["observations"] = np.array(b.observations)
            self.last_values = self.locals["values"].cpu().numpy().flatten()
            self.last_dones = np.array(self.locals["dones"], dtype=np.float32)


def gae(rewards, values, episode_starts, last_values, last_dones, gamma, lam):
    """GAE(lambda) written out independently of SB3's buffer."""
    n = len(rewards)
    adv = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(n)):
        nonterminal = 1.0 - (last_dones if t == n - 1 else episode_starts[t + 1])
        next_v = last_values if t == n - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_v * nonterminal - values[t]
        running = delta + gamma * lam * nonterminal * running
        adv[t] = running
    return adv, adv + values


# --------------------------------------------------------------------------- extension off == PPO
@pytest.mark.parametrize(
    "env_id,kwargs",
    [("CartPole-v1", {}), ("Pendulum-v1", dict(use_sde=True, sde_sample_freq=4)), ("Pendulum-v1", {})],
)
def test_alpha_zero_matches_sb3_ppo(env_id, kwargs):
    models = []
    for cls, extra in ((PPO, {}), (EntropyPPO, dict(soft_ent_coef=0.0))):
        model = cls("MlpPolicy", make_vec_env(env_id, n_envs=2, seed=3), seed=3, **SMALL, **kwargs, **extra)
        model.learn(3 * 2 * SMALL["n_steps"])
        models.append(params(model))
    ppo, ours = models
    assert ppo.keys() == ours.keys()
    for k in ppo:
        assert th.allclose(ppo[k], ours[k], atol=1e-6), k

    # ...and the comparison can fail: a positive temperature changes the update.
    model = EntropyPPO("MlpPolicy", make_vec_env(env_id, n_envs=2, seed=3), seed=3, soft_ent_coef=0.5, **SMALL, **kwargs)
    model.learn(3 * 2 * SMALL["n_steps"])
    assert any(not th.allclose(ppo[k], v, atol=1e-6) for k, v in params(model).items())


# --------------------------------------------------------------------------- soft rewards by hand
@pytest.mark.parametrize("kind", ["discrete", "box"])
def test_buffer_holds_soft_rewards_and_soft_gae(kind):
    alpha, gamma, lam = 0.3, 0.9, 0.8
    model = EntropyPPO("MlpPolicy", random_env(kind), soft_ent_coef=alpha, gamma=gamma, gae_lambda=lam, seed=1, **SMALL)
    rec = RolloutRecorder()
    model.learn(2 * SMALL["n_steps"], callback=rec)
    buf = rec.buffer
    raw, boot = np.array(rec.raw), np.array(rec.bootstrap)
    assert np.array(rec.truncated).any() and np.array(rec.terminated).any()  # both endings are exercised

    expected = raw + boot - alpha * buf["log_probs"]
    np.testing.assert_allclose(buf["rewards"], expected, rtol=1e-5, atol=1e-5)
    # The soft term is applied once; a truncated step keeps its soft bootstrap on top.
    trunc = np.array(rec.truncated)
    np.testing.assert_allclose(buf["rewards"][trunc], (raw + boot)[trunc] - alpha * buf["log_probs"][trunc], rtol=1e-5, atol=1e-5)

    adv, ret = gae(expected, buf["values"], buf["episode_starts"], rec.last_values, rec.last_dones, gamma, lam)
    np.testing.assert_allclose(buf["advantages"], adv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(buf["returns"], ret, rtol=1e-4, atol=1e-4)


def test_analytic_entropy_variant_adds_alpha_times_entropy():
    alpha = 0.7
    model = EntropyPPO("MlpPolicy", random_env("discrete"), soft_ent_coef=alpha, analytic_entropy=True, seed=2, **SMALL)
    rec = RolloutRecorder()
    model.learn(SMALL["n_steps"] * 2, callback=rec)
    obs = th.as_tensor(rec.buffer["observations"].reshape(-1, 3))
    raw, boot = np.array(rec.raw), np.array(rec.bootstrap)
    bonus = (rec.buffer["rewards"] - raw - boot) / alpha
    assert np.all(bonus > 0) and np.all(bonus <= math.log(3) + 1e-5)  # an entropy of a 3-way categorical
    assert not np.allclose(bonus, -rec.buffer["log_probs"], atol=1e-3)  # not the sampled estimator
    fresh = EntropyPPO("MlpPolicy", random_env("discrete"), soft_ent_coef=alpha, analytic_entropy=True, seed=2, **SMALL)
    with th.no_grad():
        h = fresh.policy.get_distribution(obs).entropy().numpy().reshape(bonus.shape)
    np.testing.assert_allclose(bonus, h, rtol=1e-4, atol=1e-4)  # same seed => same initial policy


# --------------------------------------------------------------------------- oracle
def _bandit_probs(model) -> np.ndarray:
    with th.no_grad():
        obs = model.policy.obs_to_tensor(np.array([0]))[0]
        return model.policy.get_distribution(obs).distribution.probs[0].numpy().astype(np.float64)


def test_two_peak_bandit_learns_softmax_of_rewards():
    alpha = 0.5
    rewards = gym.make("TwoPeakBanditDiscrete-v0").unwrapped.rewards
    target = np.exp(rewards / alpha - np.logaddexp.reduce(rewards / alpha))
    env = make_vec_env("TwoPeakBanditDiscrete-v0", n_envs=8, seed=0)
    model = EntropyPPO(
        "MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3,
        soft_ent_coef=alpha, seed=0, policy_kwargs=dict(net_arch=[32]),
    )
    kl = lambda p: float(np.sum(p * (np.log(p) - np.log(target))))  # noqa: E731
    assert kl(_bandit_probs(model)) > 1.0  # the uniform start is far from the target
    model.learn(6144)
    assert kl(_bandit_probs(model)) < 0.05


def test_auto_temperature_moves_entropy_towards_target():
    env = make_vec_env("TwoPeakBanditDiscrete-v0", n_envs=8, seed=0)
    # softmax(r / alpha) has entropy 2.0 at alpha ~ 0.2 and 2.74 at alpha = 1.
    target = 2.0
    model = EntropyPPO(
        "MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3, seed=0,
        soft_ent_coef="auto_1.0", target_entropy=target, soft_ent_coef_lr=0.1, policy_kwargs=dict(net_arch=[32]),
    )
    h0 = -np.sum(_bandit_probs(model) * np.log(_bandit_probs(model)))
    model.learn(6144)
    p = _bandit_probs(model)
    h1 = -np.sum(p * np.log(p))
    assert h0 > 3.0 and model.current_soft_ent_coef() < 0.5  # too random at first: alpha fell
    assert abs(h1 - target) < 0.25


def test_schedule_temperature_is_followed_and_logged():
    class Rows(KVWriter):
        rows: list = []

        def write(self, key_values, key_excluded, step=0):
            self.rows.append(dict(key_values))

    model = EntropyPPO("MlpPolicy", "CartPole-v1", soft_ent_coef="lin_0.5_0.1", seed=0, **SMALL)
    model.set_logger(Logger(folder=None, output_formats=[Rows()]))
    assert model.current_soft_ent_coef() == pytest.approx(0.5)
    model.learn(10 * SMALL["n_steps"])
    expected = [Linear(0.5, 0.1)(1 - k / 10) for k in range(10)]
    # Logged with the update that used it; SB3 dumps before train(), so the 10th is not dumped.
    logged = [row["train/soft_ent_coef"] for row in Rows.rows if "train/loss" in row]
    np.testing.assert_allclose(logged, expected[:9], atol=1e-6)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,exc,word",
    [
        (dict(soft_ent_coef=-0.1), ValueError, "soft_ent_coef"),
        (dict(soft_ent_coef="lin_0.1_-0.2"), ValueError, "soft_ent_coef"),
        (dict(soft_ent_coef="lin_abc"), ScheduleError, "soft_ent_coef"),
        (dict(soft_ent_coef="cos_0.1"), ScheduleError, "soft_ent_coef"),
        (dict(soft_ent_coef="auto_-1"), ValueError, "soft_ent_coef"),
        (dict(soft_ent_coef="autox"), ScheduleError, "soft_ent_coef"),
        (dict(soft_ent_coef="auto", target_entropy="lin_x"), ScheduleError, "target_entropy"),
        (dict(soft_ent_coef_lr=0.0), ValueError, "soft_ent_coef_lr"),
        (dict(analytic_entropy="yes"), TypeError, "analytic_entropy"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        EntropyPPO("MlpPolicy", "CartPole-v1", **kwargs)


def test_analytic_entropy_needs_closed_form():
    model = EntropyPPO(
        "MlpPolicy", "Pendulum-v1", use_sde=True, policy_kwargs=dict(squash_output=True, net_arch=[16]),
        analytic_entropy=True, soft_ent_coef=0.1, n_steps=32, batch_size=32,
    )
    with pytest.raises(ValueError, match="analytic_entropy"):
        model.learn(32)


# --------------------------------------------------------------------------- action spaces, API
@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("discrete", {}),
        ("multidiscrete", {}),
        ("box", {}),
        ("box", dict(use_sde=True, sde_sample_freq=2)),
        ("multidiscrete", dict(analytic_entropy=True)),
        ("box", dict(use_sde=True, analytic_entropy=True)),
    ],
)
def test_action_spaces_learn_and_log(kind, kwargs):
    class Snapshot(BaseCallback):
        logged: dict = {}

        def _on_rollout_end(self):  # our keys are recorded before GAE, dumped after the rollout
            self.logged.update(self.model.logger.name_to_value)

        def _on_step(self):
            return True

    model = EntropyPPO("MlpPolicy", random_env(kind), soft_ent_coef="auto_0.2", seed=0, **SMALL, **kwargs)
    model.learn(3 * 2 * SMALL["n_steps"], callback=Snapshot())
    logged = {**Snapshot.logged, **model.logger.name_to_value}
    for key in ("train/entropy", "train/soft_ent_coef", "train/target_entropy", "rollout/soft_reward_mean", "train/value_loss"):
        assert key in logged, key
    assert np.isfinite(logged["train/entropy"]) and np.isfinite(logged["rollout/soft_reward_mean"])
    assert logged["train/target_entropy"] == pytest.approx(default_target_entropy(ACTION_SPACES[kind]))
    assert np.isfinite(model.current_soft_ent_coef()) and model.current_soft_ent_coef() != 0.2


def test_default_target_entropies():
    assert default_target_entropy(spaces.Discrete(4)) == pytest.approx(0.3 * math.log(4))
    assert default_target_entropy(spaces.MultiDiscrete([2, 3])) == pytest.approx(0.3 * math.log(6))
    assert default_target_entropy(spaces.Box(-1, 1, (3,))) == -3.0


@pytest.mark.parametrize("soft_ent_coef", ["auto_0.3", 0.2])
def test_save_load_round_trip_is_exact(tmp_out, soft_ent_coef):
    env = random_env("box")
    model = EntropyPPO("MlpPolicy", env, soft_ent_coef=soft_ent_coef, target_entropy="lin_1.0_-1.0", seed=0, **SMALL)
    model.learn(4 * 2 * SMALL["n_steps"])
    path = tmp_out / "eppo.zip"
    model.save(path)
    loaded = EntropyPPO.load(path, env=env)
    for k, v in params(model).items():
        assert th.equal(v, params(loaded)[k]), k
    assert loaded.soft_ent_coef == soft_ent_coef and loaded.target_entropy == "lin_1.0_-1.0"
    assert loaded.current_soft_ent_coef() == model.current_soft_ent_coef()
    if model.soft_ent_coef_optimizer is not None:
        assert th.equal(loaded.log_soft_ent_coef, model.log_soft_ent_coef)
        s0, s1 = model.soft_ent_coef_optimizer.state_dict(), loaded.soft_ent_coef_optimizer.state_dict()
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert th.equal(th.as_tensor(s0["state"][0][key]), th.as_tensor(s1["state"][0][key]))
        assert loaded.log_soft_ent_coef.requires_grad
    else:
        assert loaded.log_soft_ent_coef is None
    obs = env.reset()
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    loaded.learn(2 * 2 * SMALL["n_steps"], reset_num_timesteps=False)  # training resumes


def test_learn_defaults_callbacks_and_progress_bar():
    assert inspect.signature(EntropyPPO.learn).parameters["total_timesteps"].default == DEFAULT_TOTAL_TIMESTEPS == 100_000

    class StopAfterOneRollout(BaseCallback):
        def __init__(self):
            super().__init__()
            self.rollouts = 0

        def _on_rollout_end(self):
            self.rollouts += 1

        def _on_step(self):
            return self.rollouts == 0

    model = EntropyPPO("MlpPolicy", "CartPole-v1", seed=0, **SMALL)
    cb = StopAfterOneRollout()
    model.learn(callback=cb, progress_bar=True)
    assert model._total_timesteps == DEFAULT_TOTAL_TIMESTEPS and cb.rollouts == 1
    assert "compute_returns_and_advantage" not in vars(model.rollout_buffer)  # the hook is removed
    assert sb3_softopt.EntropyPPO is EntropyPPO and "EntropyPPO" in sb3_softopt.__all__


# --------------------------------------------------------------------------- slow learning checks
@pytest.mark.slow
def test_cartpole_reaches_high_return():
    from stable_baselines3.common.evaluation import evaluate_policy

    from sb3_softopt.common.schedules import make_schedule

    env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = EntropyPPO(
        "MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
        learning_rate=make_schedule("lin_0.001"), clip_range=make_schedule("lin_0.2"), soft_ent_coef=0.01, seed=0,
    )
    model.learn(100_000)
    mean, _ = evaluate_policy(model, make_vec_env("CartPole-v1", n_envs=1, seed=123), n_eval_episodes=10)
    assert mean >= 475


class SmallTabularMDP(gym.Env):
    """4 decision states + 1 terminal state, 3 actions, random (seeded) dynamics and rewards."""

    N_STATES, N_ACTIONS, TERMINAL = 5, 3, 4

    def __init__(self):
        rng = np.random.default_rng(7)
        S, A = self.N_STATES, self.N_ACTIONS
        p = rng.dirichlet(np.ones(S), size=(S, A))
        p[:, :, self.TERMINAL] += 0.15  # every step ends the episode with probability >= ~0.15
        p /= p.sum(-1, keepdims=True)
        p[self.TERMINAL] = 0.0
        p[self.TERMINAL, :, self.TERMINAL] = 1.0
        self.transition_matrix = p
        self.reward_matrix = rng.uniform(-1, 1, (S, A))
        self.reward_matrix[self.TERMINAL] = 0.0
        self.observation_space = spaces.Discrete(S)
        self.action_space = spaces.Discrete(A)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = int(self.np_random.integers(0, self.TERMINAL))
        return self.s, {}

    def step(self, action):
        r = float(self.reward_matrix[self.s, int(action)])
        self.s = int(self.np_random.choice(self.N_STATES, p=self.transition_matrix[self.s, int(action)]))
        return self.s, r, self.s == self.TERMINAL, False, {}


# a cheap strong oracle (about 10 s): runs by default
def test_tabular_mdp_policy_approaches_soft_value_iteration():
    from sb3_softopt.inference import TabularMDP, soft_value_iteration

    alpha, gamma = 0.5, 0.9
    env0 = SmallTabularMDP()
    terminal = np.zeros(env0.N_STATES, dtype=bool)
    terminal[env0.TERMINAL] = True
    mdp = TabularMDP(env0.transition_matrix, env0.reward_matrix, horizon=None, terminal_states=terminal)
    reference = soft_value_iteration(mdp, alpha=alpha, gamma=gamma, horizon=None).policy[: env0.TERMINAL]

    model = EntropyPPO(
        "MlpPolicy", make_vec_env(SmallTabularMDP, n_envs=8, seed=0), n_steps=64, batch_size=128, n_epochs=4,
        learning_rate=1e-3, gamma=gamma, gae_lambda=0.95, soft_ent_coef=alpha, seed=0, policy_kwargs=dict(net_arch=[32]),
    )
    model.learn(60_000)
    with th.no_grad():
        obs = model.policy.obs_to_tensor(np.arange(env0.TERMINAL))[0]
        probs = model.policy.get_distribution(obs).distribution.probs.numpy().astype(np.float64)
    kl = np.sum(probs * (np.log(probs) - np.log(reference)), axis=1)
    uniform_kl = np.sum((np.log(1 / 3) - np.log(reference)) / 3, axis=1)
    assert uniform_kl.max() > 0.05  # the task is not solved by the initial policy
    assert kl.max() < 0.05, (kl, probs, reference)
