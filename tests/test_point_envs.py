"""The point-mass pretrain/finetune family: dynamics, walls, rewards, spaces, checkers, errors."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sb3_softopt  # noqa: F401  registers the ids
from sb3_softopt.envs.point_mass import V_MAX, PointHallwayEnv, PointPretrainEnv, PointUMazeEnv

IDS = ["PointPretrain-v0", "PointHallway-v0", "PointUMaze-v0"]


def _at(env, state):
    obs, _ = env.reset(seed=0, options={"state": state})
    return obs


@pytest.mark.parametrize("env_id", IDS)
def test_registered_with_horizon_and_checkers(env_id):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == 100
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        done = term or trunc
    assert steps == 100 and trunc and not term
    gym_check_env(gym.make(env_id, render_mode="rgb_array").unwrapped)
    sb3_check_env(gym.make(env_id).unwrapped, warn=True)


def test_spaces_identical():
    envs = [gym.make(i) for i in IDS]
    for e in envs[1:]:
        assert e.observation_space == envs[0].observation_space
        assert e.action_space == envs[0].action_space
    assert envs[0].action_space == gym.spaces.Box(-1, 1, (2,), np.float32)
    assert envs[0].observation_space.shape == (4,)


def test_inertia_dynamics_and_speed_cap():
    env = PointPretrainEnv(action_cost=0.0)
    _at(env, (0, 0, 0.5, 0))
    obs, r, *_ = env.step(np.array([1.0, 0.0]))
    # v' = 0.9 * 0.5 + 0.2 * 1 = 0.65, p' = p + v'
    np.testing.assert_allclose(obs, [0.65, 0.0, 0.65, 0.0], atol=1e-6)
    assert r == pytest.approx(0.65, abs=1e-6)  # reward = distance travelled
    for _ in range(50):
        obs, r, *_ = env.step(np.array([1.0, 1.0]))
    assert np.linalg.norm(obs[2:]) == pytest.approx(V_MAX, abs=1e-5)  # norm cap
    assert r == pytest.approx(V_MAX, abs=1e-5)
    # Actions outside the box are clipped, not extrapolated.
    _at(env, (0, 0, 0, 0))
    obs, *_ = env.step(np.array([5.0, -5.0]))
    np.testing.assert_allclose(obs[2:], [0.2, -0.2], atol=1e-6)


def test_reward_is_speed_in_any_direction_minus_action_cost():
    env = PointPretrainEnv(action_cost=0.05)
    rewards = []
    for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        _at(env, (0, 0, math.cos(angle), math.sin(angle)))
        a = 0.5 * np.array([math.cos(angle), math.sin(angle)])
        _, r, *_ = env.step(a)
        rewards.append(r)
    # Isotropic: every direction at full speed earns the same, 1 - 0.05 * 0.25.
    np.testing.assert_allclose(rewards, 1.0 - 0.05 * 0.25, atol=1e-6)


def test_walls_stop_motion_into_them():
    env = PointHallwayEnv(action_cost=0.0)  # x in [-1, 110], y in [-2, 2]
    _at(env, (0.0, 1.5, 0.0, 1.0))
    obs, r, *_ = env.step(np.array([0.0, 1.0]))
    # Would move to y = 1.5 + 1 (v capped at 1): stopped at the wall y = 2, all velocity lost.
    np.testing.assert_allclose(obs, [0.0, 2.0, 0.0, 0.0], atol=1e-6)
    assert r == pytest.approx(0.5, abs=1e-6)  # only the distance actually travelled
    # Pushing along the wall while pressing into it: the free component moves (a crawl).
    obs, r, *_ = env.step(np.array([1.0, 1.0]))
    np.testing.assert_allclose(obs, [0.2, 2.0, 0.0, 0.0], atol=1e-6)
    # Dead end behind the start.
    _at(env, (-0.5, 0.0, -1.0, 0.0))
    obs, *_ = env.step(np.array([-1.0, 0.0]))
    np.testing.assert_allclose(obs, [-1.0, 0.0, 0.0, 0.0], atol=1e-6)
    # Running along the corridor is unimpeded.
    _at(env, (0.0, 0.0, 1.0, 0.0))
    obs, r, *_ = env.step(np.array([0.5, 0.0]))
    np.testing.assert_allclose(obs, [1.0, 0.0, 1.0, 0.0], atol=1e-6)


def test_umaze_block_and_goal_bump():
    env = PointUMazeEnv(action_cost=0.0, goal_sigma=2.0)  # block x in [-2, 6], y in [2, 6]
    _at(env, (0.0, 1.5, 0.0, 1.0))
    obs, r, *_ = env.step(np.zeros(2))
    np.testing.assert_allclose(obs, [0.0, 2.0, 0.0, 0.0], atol=1e-6)  # cannot cut through the U
    assert r == pytest.approx(math.exp(-(6.0**2) / 8.0), rel=1e-6)
    assert r < 0.02  # the best the blocked straight line offers
    # The block's right face stops a move along -x from the right arm.
    _at(env, (6.5, 4.0, -1.0, 0.0))
    obs, *_ = env.step(np.zeros(2))
    np.testing.assert_allclose(obs, [6.0, 4.0, 0.0, 0.0], atol=1e-6)
    # Sliding exactly along the block's bottom face (y = 2) is not blocked.
    _at(env, (4.0, 2.0, 1.0, 0.0))
    obs, *_ = env.step(np.zeros(2))
    np.testing.assert_allclose(obs, [4.9, 2.0, 0.9, 0.0], atol=1e-6)
    # The right arm is open.
    _at(env, (7.0, 1.5, 0.0, 1.0))
    obs, *_ = env.step(np.zeros(2))
    assert obs[1] == pytest.approx(2.4, abs=1e-6)
    # At the goal the reward is the top of the bump, 1, and it decays as a Gaussian.
    _at(env, (0.0, 8.0, 0.0, 0.0))
    _, r, *_ = env.step(np.zeros(2))
    assert r == pytest.approx(1.0)
    _at(env, (2.0, 8.0, 0.0, 0.0))
    _, r, *_ = env.step(np.zeros(2))
    assert r == pytest.approx(math.exp(-0.5), rel=1e-6)


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_determinism(env_id):
    def rollout(seed):
        env = gym.make(env_id)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(30):
            obs, r, *_ = env.step(env.action_space.sample())
            out.append(np.append(obs, r))
        return np.concatenate(out)

    np.testing.assert_array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


@pytest.mark.parametrize("env_id", IDS)
def test_render_shows_walls_agent_and_goal(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    red = np.all(img == (220, 40, 40), axis=-1)
    grey = np.all(img == (110, 110, 110), axis=-1)
    green = np.all(img == (60, 190, 60), axis=-1)
    assert red.any()
    if env_id != "PointPretrain-v0":
        assert grey.any()
    assert green.any() == (env_id == "PointUMaze-v0")


@pytest.mark.parametrize(
    "env_id, kwargs, match",
    [
        ("PointPretrain-v0", {"action_cost": -1}, "action_cost"),
        ("PointPretrain-v0", {"start_noise": float("nan")}, "start_noise"),
        ("PointPretrain-v0", {"render_mode": "svg"}, "render_mode"),
        ("PointHallway-v0", {"width": 0}, "width"),
        ("PointHallway-v0", {"length": 5}, "length"),
        ("PointUMaze-v0", {"goal_sigma": -2}, "goal_sigma"),
        ("PointUMaze-v0", {"action_cost": "big"}, "action_cost"),
    ],
)
def test_bad_kwargs_raise(env_id, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        gym.make(env_id, **kwargs)


def test_bad_actions_and_states_raise():
    env = PointPretrainEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="state"):
        env.reset(options={"state": (0, 0)})
    with pytest.raises(ValueError, match="inside a wall"):
        PointUMazeEnv().reset(options={"state": (0, 4, 0, 0)})
