"""SAC on Discrete action spaces: the losses against a hand computation, the policy against exact
soft-optimal solutions, the target-entropy range, and the SB3 behaviour the other algorithms have."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

import sb3_softopt  # noqa: F401  registers the envs
from sb3_softopt import SAC
from sb3_softopt.common.temperature import DEFAULT_TARGET_ENTROPY_RATIO
from sb3_softopt.sac import DiscreteCnnPolicy, DiscreteMultiInputPolicy, DiscreteSACPolicy
from sb3_softopt.sac.discrete import clipped_td_loss

SMALL = dict(learning_starts=50, batch_size=32, buffer_size=2_000, policy_kwargs=dict(net_arch=[32, 32]))
LOG_KEYS = ("train/entropy", "train/target_entropy", "train/entropy_gap", "train/ent_coef", "train/q_values",
            "train/actor_loss", "train/critic_loss")  # fmt: skip


def _filled(ent_coef="auto", seed=0, **kwargs) -> SAC:
    model = SAC("MlpPolicy", "CartPole-v1", ent_coef=ent_coef, seed=seed, **dict(SMALL, **kwargs))
    model.learn(200)
    return model


# ---------------------------------------------------------------------------- the maths
@pytest.mark.parametrize("ent_coef", [0.3, "auto_0.5"])
def test_one_gradient_step_matches_hand_computation(ent_coef):
    model = _filled(ent_coef)
    data = model.replay_buffer.sample(64)
    before = copy.deepcopy(model.policy)
    alpha = model.current_ent_coef()
    target = model.target_entropy_schedule(1.0)
    step = model._discrete_step(data, target)

    obs, next_obs = data.observations, data.next_observations
    with th.no_grad():
        p, logp = before.actor.action_log_probs(obs)
        p_next, logp_next = before.actor.action_log_probs(next_obs)
        q_next = np.minimum(*[q.numpy() for q in before.critic_target(next_obs)])
        v_next = (p_next.numpy() * (q_next - alpha * logp_next.numpy())).sum(1)
        y = data.rewards.numpy()[:, 0] + (1 - data.dones.numpy()[:, 0]) * model.gamma * v_next
        a = data.actions.numpy()[:, 0].astype(int)
        q_taken = [q.numpy()[np.arange(len(a)), a] for q in before.critic(obs)]
        critic_loss = 0.5 * sum(np.mean((q - y) ** 2) for q in q_taken)
        # the actor step uses the critic after its own step
        q_now = np.minimum(*[q.numpy() for q in model.critic(obs)])
        actor_loss = np.mean((p.numpy() * (alpha * logp.numpy() - q_now)).sum(1))
        entropy = -(p * logp).sum(1).numpy()
    assert float(step.critic_loss) == pytest.approx(critic_loss, rel=1e-4)
    assert float(step.actor_loss) == pytest.approx(actor_loss, rel=1e-4, abs=1e-5)
    assert float(step.entropy) == pytest.approx(entropy.mean(), rel=1e-5)
    assert float(step.ent_coef) == pytest.approx(alpha, rel=1e-6)
    if ent_coef == "auto_0.5":
        assert float(step.ent_coef_loss) == pytest.approx(-math.log(alpha) * (target - entropy.mean()), rel=1e-4)
        # log alpha moves against the entropy gap
        moved = model.current_ent_coef() - alpha
        assert np.sign(moved) == np.sign(target - entropy.mean())
    else:
        assert step.ent_coef_loss is None


OPTIONS = [dict(q_target="mean"), dict(q_clip=0.05), dict(entropy_penalty=2.0), dict(critic_ent_coef=0.0),
           dict(q_target="mean", q_clip=0.05, entropy_penalty=2.0, critic_ent_coef=0.1)]  # fmt: skip


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o))
def test_step_options_match_hand_computation(options):
    """SD-SAC's double-average Q, Q-clip and entropy penalty and the decoupled critic temperature."""
    model = _filled("auto_0.5", **options)
    model.learn(200, reset_num_timesteps=False)  # the targets drift away from the critics
    data = model.replay_buffer.sample(64)
    before = copy.deepcopy(model.policy)
    alpha = model.current_ent_coef()
    step = model._discrete_step(data, model.target_entropy_schedule(1.0))

    combine = np.mean if options.get("q_target") == "mean" else np.min
    critic_alpha = options.get("critic_ent_coef", alpha)
    obs, next_obs = data.observations, data.next_observations
    with th.no_grad():
        p, logp = (x.numpy() for x in before.actor.action_log_probs(obs))
        p_next, logp_next = (x.numpy() for x in before.actor.action_log_probs(next_obs))
        q_next = combine([q.numpy() for q in before.critic_target(next_obs)], axis=0)
        v_next = (p_next * (q_next - critic_alpha * logp_next)).sum(1)
        y = data.rewards.numpy()[:, 0] + (1 - data.dones.numpy()[:, 0]) * model.gamma * v_next
        a = data.actions.numpy()[:, 0].astype(int)
        rows = np.arange(len(a))
        losses = []
        for q, q_targ in zip(before.critic(obs), before.critic_target(obs), strict=True):
            q, q_targ = q.numpy()[rows, a], q_targ.numpy()[rows, a]
            loss = (q - y) ** 2
            if "q_clip" in options:  # per sample, as SD-SAC writes it
                c = options["q_clip"]
                loss = np.maximum(loss, (q_targ + np.clip(q - q_targ, -c, c) - y) ** 2)
            loss = np.mean(loss)
            losses.append(loss)
        q_now = combine([q.numpy() for q in model.critic(obs)], axis=0)
        actor_loss = np.mean((p * (alpha * logp - q_now)).sum(1))
        if "entropy_penalty" in options:
            entropy = -(p * logp).sum(1)
            actor_loss += options["entropy_penalty"] * np.mean((entropy - data.old_entropy.numpy()[:, 0]) ** 2)
    assert float(step.critic_loss) == pytest.approx(0.5 * sum(losses), rel=1e-4)
    assert float(step.actor_loss) == pytest.approx(actor_loss, rel=1e-4, abs=1e-5)


def test_q_clip_loss_takes_the_larger_squared_error_per_sample():
    q_old = th.tensor([[0.0], [0.0], [0.0], [0.0]])
    q = th.tensor([[1.0], [1.0], [-0.2], [0.3]])
    target = th.tensor([[2.0], [-1.0], [0.5], [0.3]])
    # clipped to 0.5: (1.5^2 vs 1^2), (1.5^2 vs 2^2); inside the clip: both errors equal
    expected = (2.25 + 4.0 + 0.49 + 0.0) / 4
    assert float(clipped_td_loss(q, q_old, target, 0.5)) == pytest.approx(expected)
    # not the larger of the two batch means (1.2475 and 1.3725 against 1.685)
    assert expected > max((2.25 + 2.25 + 0.49) / 4, (1 + 4 + 0.49) / 4)
    # a clip that never binds is the TD loss
    assert float(clipped_td_loss(q, q_old, target, 10.0)) == pytest.approx(float(((q - target) ** 2).mean()))


def test_entropy_penalty_stores_the_acting_policys_entropy():
    model = SAC("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), entropy_penalty=1.0, learning_starts=10_000, seed=0)
    model.learn(100)  # no update yet: the acting policy is the current one
    buffer = model.replay_buffer
    n = buffer.pos
    obs = th.tensor(buffer.observations[:n].reshape(2 * n, -1))
    with th.no_grad():
        p, logp = model.actor.action_log_probs(obs)
    np.testing.assert_allclose(buffer.old_entropies[:n].reshape(-1), -(p * logp).sum(1).numpy(), rtol=1e-5)
    assert float(buffer.old_entropies[:n].min()) > 0.6  # an untrained policy on two actions: close to log 2


def test_deterministic_predict_is_the_argmax_and_stochastic_samples_the_policy():
    model = _filled(0.5)
    obs = np.array([0.01, 0.2, -0.03, -0.1], dtype=np.float32)
    probs = model.actor.action_log_probs(th.tensor(obs[None]))[0].detach().numpy()[0]
    assert model.predict(obs, deterministic=True)[0] == probs.argmax()
    samples = np.array([model.predict(obs, deterministic=False)[0] for _ in range(2000)])
    # binomial standard error is <= 0.011 at 2000 draws: 5 of them
    assert abs(samples.mean() - probs[1]) < 0.055


# ---------------------------------------------------------------------------- oracles
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bandit_policy_is_softmax_of_rewards_over_alpha(seed):
    alpha = 1.0
    env = gym.make("TwoPeakBanditDiscrete-v0")
    model = SAC("MlpPolicy", env, ent_coef=alpha, learning_rate=1e-2, learning_starts=400, batch_size=64,
                buffer_size=5_000, policy_kwargs=dict(net_arch=[32]), seed=seed)  # fmt: skip
    model.learn(1_600)
    log_pi = model.actor.action_log_probs(th.tensor([0]))[1].detach().double()[0].numpy()
    exact = env.unwrapped.soft_optimal_policy(alpha)
    kl = float(np.sum(np.exp(log_pi) * (log_pi - np.log(exact))))
    # a KL of 0.05 is a 5% log-likelihood ratio per draw: both peaks and their heights are kept
    assert kl < 0.05, kl
    assert np.exp(log_pi)[:10].sum() > 0.3 and np.exp(log_pi)[11:].sum() > 0.3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gridworld_policy_matches_soft_value_iteration(seed):
    from sb3_softopt.inference import TabularMDP, soft_value_iteration

    alpha, gamma = 0.2, 0.9
    env = gym.make("ReachingGridworld-v0", width=5, height=3, horizon=None, terminate_at_goal=True)
    base = env.unwrapped
    terminal = np.zeros(base.transition_matrix.shape[0], dtype=bool)
    terminal[base.goal] = True
    ref = soft_value_iteration(TabularMDP.from_env(env, horizon=None, terminal_states=terminal), alpha=alpha, gamma=gamma, horizon=None)
    model = SAC("MlpPolicy", env, gamma=gamma, ent_coef=alpha, learning_rate=3e-3, learning_starts=1000, batch_size=64,
                buffer_size=10_000, tau=0.01, policy_kwargs=dict(net_arch=[64]), seed=seed)  # fmt: skip
    model.learn(5_000)
    seen = model.replay_buffer.observations[: model.replay_buffer.size()].reshape(-1).astype(int)
    states, counts = np.unique(seen[seen != base.goal], return_counts=True)
    log_pi = model.actor.action_log_probs(th.tensor(states))[1].detach().double().numpy()
    log_pi_ref = (ref.q[states] - ref.v[states][:, None]) / alpha
    kl = (np.exp(log_pi) * (log_pi - log_pi_ref)).sum(1)
    weighted = float((counts / counts.sum()) @ kl)
    # six probe seeds gave 0.0002-0.014; the uniform policy is at 0.6 here
    assert weighted < 0.05, (weighted, kl)


def test_auto_temperature_reaches_the_target_entropy():
    from stable_baselines3.common.callbacks import BaseCallback

    class Entropies(BaseCallback):
        def __init__(self):
            super().__init__()
            self.values = []

        def _on_step(self) -> bool:
            if "train/entropy" in self.logger.name_to_value:
                self.values.append(self.logger.name_to_value["train/entropy"])
            return True

    rec = Entropies()
    model = SAC("MlpPolicy", "CartPole-v1", seed=0, learning_rate=1e-3, learning_starts=500, batch_size=64,
                buffer_size=20_000, policy_kwargs=dict(net_arch=[64, 64]))  # fmt: skip
    model.learn(4_000, callback=rec)
    target = DEFAULT_TARGET_ENTROPY_RATIO * math.log(2)
    assert model.logger.name_to_value["train/target_entropy"] == pytest.approx(target)
    # one batch is noisy: the mean over the last 1000 updates; the uniform policy is at 0.69
    assert abs(np.mean(rec.values[-1000:]) - target) < 0.1, np.mean(rec.values[-1000:])
    assert 0 < model.current_ent_coef() < 1.0  # from 1.0 (auto), alpha had to go down


# ---------------------------------------------------------------------------- arguments
def test_aliases_resolve_to_discrete_policies():
    from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv

    assert type(SAC("MlpPolicy", "CartPole-v1", **SMALL).policy) is DiscreteSACPolicy
    image = FakeImageEnv(screen_height=36, screen_width=36, discrete=True)
    assert isinstance(SAC("CnnPolicy", image, buffer_size=100).policy, DiscreteCnnPolicy)
    assert isinstance(SAC("MultiInputPolicy", SimpleMultiObsEnv(), buffer_size=100).policy, DiscreteMultiInputPolicy)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target_entropy=0.0), r"target_entropy=0.0 .*outside \(0, 0.693"),
        (dict(target_entropy=math.log(2)), "outside"),
        (dict(target_entropy=-1.0), "only applies to Box"),
        (dict(target_entropy="lin_0.5_0.9"), "progress_remaining=0"),
        (dict(use_sde=True), "gSDE"),
        (dict(ent_coef=-1.0), "ent_coef"),
        (dict(q_target="max"), "q_target must be 'min' or 'mean'"),
        (dict(q_clip=0.0), r"q_clip must be a finite number > 0 \(or None: off\)"),
        (dict(entropy_penalty=float("nan")), "entropy_penalty must be a finite number >= 0"),
        (dict(critic_ent_coef=-0.1), r"critic_ent_coef must be a finite number >= 0 \(or None"),
        (dict(entropy_penalty=0.5, n_steps=3), "EntropyReplayBuffer"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SAC("MlpPolicy", "CartPole-v1", **kwargs)


def test_target_schedule_leaving_the_range_between_checked_points_is_caught_where_used():
    def dips(progress: float) -> float:
        return 0.3 if progress in (1.0, 0.5, 0.0) else -0.2

    model = SAC("MlpPolicy", "CartPole-v1", target_entropy=dips, **SMALL)
    with pytest.raises(ValueError, match="target_entropy=-0.2 .*progress_remaining"):
        model.learn(100)


def test_discrete_step_options_are_refused_with_box_actions():
    with pytest.raises(ValueError, match=r"q_target='mean': options of the discrete step"):
        SAC("MlpPolicy", "Pendulum-v1", q_target="mean")


def test_continuous_policy_class_with_discrete_actions_is_refused():
    from stable_baselines3.sac.policies import SACPolicy

    class Custom(SACPolicy):
        pass

    with pytest.raises(TypeError, match="continuous SAC policy"):
        SAC(Custom, "CartPole-v1")


# ---------------------------------------------------------------------------- SB3 behaviour
def test_save_load_roundtrip_is_exact_and_training_continues(tmp_path):
    model = _filled("auto_0.2", target_entropy="lin_0.5_0.2")
    model.save(tmp_path / "m")
    loaded = SAC.load(tmp_path / "m", env=model.get_env())
    for a, b in zip(model.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert th.equal(a, b)
    assert loaded.current_ent_coef() == model.current_ent_coef()
    assert loaded.target_entropy_schedule(0.3) == pytest.approx(model.target_entropy_schedule(0.3))
    obs = model.get_env().reset()
    assert (loaded.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0]).all()
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps == model.num_timesteps + 100


def test_vec_env_progress_bar_and_logger_keys():
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = SAC("MlpPolicy", env, seed=0, **SMALL).learn(200, progress_bar=True)
    logged = model.logger.name_to_value
    for key in LOG_KEYS:
        assert key in logged and np.isfinite(logged[key]), key
    assert logged["train/entropy_gap"] == pytest.approx(logged["train/entropy"] - logged["train/target_entropy"])
    reward, _ = evaluate_policy(model, env, n_eval_episodes=2)
    assert np.isfinite(reward)


@pytest.mark.parametrize("policy", ["CnnPolicy", "MultiInputPolicy"])
def test_cnn_and_multi_input_policies_learn_and_sample(policy):
    from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv

    env = FakeImageEnv(screen_height=36, screen_width=36, discrete=True) if policy == "CnnPolicy" else SimpleMultiObsEnv()
    model = SAC(policy, env, learning_starts=20, batch_size=8, train_freq=10, buffer_size=200, seed=0)
    model.learn(60)
    assert model._n_updates > 0
    obs, _ = env.reset()
    action, _ = model.predict(obs, deterministic=False)
    assert env.action_space.contains(int(action))


def test_learn_without_arguments_uses_the_documented_budget():
    import inspect

    from sb3_softopt.sac import DEFAULT_TOTAL_TIMESTEPS

    assert inspect.signature(SAC.learn).parameters["total_timesteps"].default == DEFAULT_TOTAL_TIMESTEPS


@pytest.mark.parametrize("algo", ["SoftDQN", "EntropyPPO"])
def test_other_discrete_algorithms_check_the_target_where_it_is_used(algo):
    import sb3_softopt as pkg

    def dips(progress: float) -> float:
        return 0.3 if progress in (1.0, 0.5, 0.0) else -0.2

    kwargs = dict(learning_starts=50, train_freq=4) if algo == "SoftDQN" else dict(n_steps=64, batch_size=32)
    model = getattr(pkg, algo)("MlpPolicy", "CartPole-v1", target_entropy=dips, **kwargs, **({"ent_coef": "auto"} if algo == "SoftDQN" else {"soft_ent_coef": "auto"}))
    with pytest.raises(ValueError, match="target_entropy=-0.2 .*progress_remaining"):
        model.learn(200)
    assert model.current_ent_coef() > 0
