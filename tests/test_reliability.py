"""Bad data and bad settings: non-finite rewards/observations/losses, out-of-range arguments,
numpy scalars, unsupported spaces and damaged checkpoints, for every algorithm (issue #18)."""

from __future__ import annotations

import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_softopt import SAC, SQL, EntropyPPO, SoftDQN
from stable_baselines3 import DQN
from stable_baselines3 import SAC as SB3SAC
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_softopt.common.checkpoint import CheckpointError
from sb3_softopt.common.checks import NonFiniteError, grad_check_hook

DISCRETE = "CartPole-v1"
CONTINUOUS = "Pendulum-v1"

#: Small, fast settings that learn from the first steps.
FAST = {
    SoftDQN: dict(learning_starts=10, buffer_size=1000, policy_kwargs=dict(net_arch=[64, 64])),
    EntropyPPO: dict(n_steps=64, batch_size=32, n_epochs=1),
    SAC: dict(learning_starts=10, buffer_size=1000, batch_size=16, policy_kwargs=dict(net_arch=[16])),
    SQL: dict(
        learning_starts=10, buffer_size=1000, batch_size=16, value_n_particles=4, kernel_n_particles=4,
        policy_kwargs=dict(net_arch=[16]),
    ),
}
ALGOS = list(FAST)


def env_id(algo: type) -> str:
    return CONTINUOUS if algo in (SAC, SQL) else DISCRETE


class Spoil(gym.Wrapper):
    """Replaces the reward or one observation entry by ``value`` at steps ``every``, ``2 every``, ..."""

    def __init__(self, env: gym.Env, what: str = "reward", value: float = np.nan, every: int = 50) -> None:
        super().__init__(env)
        self.what, self.value, self.every, self.t = what, value, every, 0

    def step(self, action):  # noqa: ANN001, ANN201
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t % self.every == 0:
            if self.what == "reward":
                reward = self.value
            else:
                obs = np.array(obs, copy=True)
                obs[1] = self.value
        return obs, reward, terminated, truncated, info


def all_finite(model) -> bool:  # noqa: ANN001
    tensors = list(model.policy.parameters())
    for name in ("log_ent_coef", "log_soft_ent_coef"):
        if getattr(model, name, None) is not None:
            tensors.append(getattr(model, name))
    return all(bool(th.isfinite(t).all()) for t in tensors)


# ------------------------------------------------------------------ non-finite data
@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("what, value, every", [("reward", np.nan, 1), ("reward", np.nan, 50), ("reward", np.inf, 50), ("obs", np.nan, 50)])
def test_non_finite_data_is_named_before_it_is_learned(algo, what, value, every):
    env = Spoil(gym.make(env_id(algo)), what=what, value=value, every=every)
    model = algo("MlpPolicy", env, seed=0, **FAST[algo])
    with pytest.raises(NonFiniteError) as info:
        model.learn(400)
    message = str(info.value)
    assert ("reward" if what == "reward" else "observation") in message
    assert "env 0" in message and "VecCheckNan" in message
    assert f"timestep {every}" in message
    assert all_finite(model)


@pytest.mark.parametrize("algo", [SoftDQN, EntropyPPO])
def test_non_finite_reward_names_the_env_index(algo):
    venv = DummyVecEnv([lambda: gym.make(DISCRETE), lambda: Spoil(gym.make(DISCRETE), value=-np.inf, every=7)])
    model = algo("MlpPolicy", venv, seed=0, **FAST[algo])
    with pytest.raises(NonFiniteError, match=r"reward \(-inf\) from env 1 at timestep 14"):
        model.learn(200)


def test_non_finite_dict_observation_names_its_key():
    class DictObs(gym.ObservationWrapper):
        def __init__(self, env: gym.Env) -> None:
            super().__init__(env)
            self.observation_space = spaces.Dict({"state": env.observation_space})

        def observation(self, obs):  # noqa: ANN001, ANN201
            return {"state": obs}

    env = DictObs(Spoil(gym.make(DISCRETE), what="obs", every=20))
    model = SoftDQN("MultiInputPolicy", env, seed=0, **FAST[SoftDQN])
    with pytest.raises(NonFiniteError, match=r"observation\['state'\] \(nan\) from env 0 at timestep 20"):
        model.learn(100)


def test_non_finite_terminal_observation_is_caught():
    class BadEnd(gym.Wrapper):
        def step(self, action):  # noqa: ANN001, ANN201
            obs, reward, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs = np.full_like(obs, np.nan)
            return obs, reward, terminated, truncated, info

    model = SoftDQN("MlpPolicy", BadEnd(gym.make(DISCRETE)), seed=0, **FAST[SoftDQN])
    with pytest.raises(NonFiniteError, match="terminal observation"):
        model.learn(500)


# ------------------------------------------------------------------ non-finite losses
def test_diverging_losses_stop_before_the_parameters_move():
    sac = SAC("MlpPolicy", CONTINUOUS, seed=0, learning_rate=1e6, **FAST[SAC])
    with pytest.raises(NonFiniteError, match=r"SAC: (the loss \(its gradient\) is nan at gradient step \d+; training stopped|train/\w+_loss is (nan|inf))"):
        sac.learn(2000)
    assert all_finite(sac)

    sql = SQL("MlpPolicy", CONTINUOUS, seed=0, learning_rate=1e8, **FAST[SQL])
    with pytest.raises(NonFiniteError, match="training stopped before the optimiser step"):
        sql.learn(2000)
    assert all_finite(sql)

    # A learning rate this large moves log(alpha) to +inf in one step: the loss it makes is refused.
    dqn = SoftDQN("MlpPolicy", DISCRETE, seed=0, learning_rate=1e15, **FAST[SoftDQN])
    with pytest.raises(NonFiniteError, match="loss is nan"):
        dqn.learn(500)
    assert all_finite(dqn)


def test_entropy_ppo_reports_an_overflowing_loss():
    env = gym.wrappers.TransformReward(gym.make(DISCRETE), lambda r: r * 1e30)  # finite, but squares overflow
    model = EntropyPPO("MlpPolicy", env, seed=0, **FAST[EntropyPPO])
    with pytest.warns(RuntimeWarning), pytest.raises(NonFiniteError, match=r"train/\w*loss is inf"):
        model.learn(300)
    assert all_finite(model)


def test_grad_check_hook_refuses_a_nan_gradient_before_the_step():
    param = th.nn.Parameter(th.ones(3))
    optimizer = th.optim.Adam([param], lr=0.1)
    optimizer.register_step_pre_hook(grad_check_hook("Algo", lambda: 41))
    param.grad = th.tensor([1.0, 1.0, 1.0])
    optimizer.step()
    moved = param.detach().clone()
    assert not th.equal(moved, th.ones(3))
    param.grad = th.tensor([1.0, float("nan"), 1.0])
    with pytest.raises(NonFiniteError, match="Algo: the loss \\(its gradient\\) is nan at gradient step 42"):
        optimizer.step()
    assert th.equal(param.detach(), moved)


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("gamma", [1.5, -0.1, 0.0, float("nan"), "0.9"])
def test_gamma_outside_unit_interval_is_refused(algo, gamma):
    with pytest.raises(ValueError, match=r"gamma must be a number in \(0, 1\]"):
        algo("MlpPolicy", env_id(algo), gamma=gamma, **FAST[algo])


@pytest.mark.parametrize("algo", ALGOS)
def test_gamma_one_and_numpy_gamma_are_accepted(algo):
    assert algo("MlpPolicy", env_id(algo), gamma=1, **FAST[algo]).gamma == 1.0
    model = algo("MlpPolicy", env_id(algo), gamma=np.float32(0.5), **FAST[algo])
    assert model.gamma == 0.5 and type(model.gamma) is float


@pytest.mark.parametrize(
    "algo, name", [(SoftDQN, "ent_coef"), (EntropyPPO, "soft_ent_coef"), (SAC, "ent_coef")]
)
@pytest.mark.parametrize("value", ["auto_inf", "auto_1e400", "auto_1e-50", "auto_nan"])
def test_overflowing_initial_temperature_is_refused(algo, name, value):
    with pytest.raises(ValueError, match=rf"{name}='{value}'.*initial temperature must be in \[1.18e-38, 3.4e\+38\]"):
        algo("MlpPolicy", env_id(algo), **{name: value})


@pytest.mark.parametrize("algo, name", [(SoftDQN, "ent_coef"), (EntropyPPO, "soft_ent_coef"), (SAC, "ent_coef"), (SQL, "ent_coef")])
def test_fixed_temperature_beyond_float32_is_refused(algo, name):
    with pytest.raises(ValueError, match=rf"{name} must be <= 3.4e\+38"):
        algo("MlpPolicy", env_id(algo), **{name: 1e300})


@pytest.mark.parametrize("value", [np.float32(0.1), np.float64(0.1), np.int64(1), np.int32(2)])
def test_numpy_scalar_temperatures_are_accepted_and_round_trip(tmp_path, value):
    dqn = SoftDQN("MlpPolicy", DISCRETE, ent_coef=value, target_entropy=np.float32(0.3), **FAST[SoftDQN])
    assert dqn.current_ent_coef() == pytest.approx(float(value))
    ppo = EntropyPPO("MlpPolicy", DISCRETE, soft_ent_coef=value, soft_ent_coef_lr=np.float32(0.01), **FAST[EntropyPPO])
    assert ppo.current_soft_ent_coef() == pytest.approx(float(value))
    sql = SQL("MlpPolicy", CONTINUOUS, ent_coef=value, kernel_update_ratio=np.float32(0.5), **FAST[SQL])
    assert sql.current_ent_coef() == pytest.approx(float(value))
    dqn.learn(64)
    dqn.save(tmp_path / "dqn.zip")
    assert SoftDQN.load(tmp_path / "dqn.zip").current_ent_coef() == dqn.current_ent_coef()


@pytest.mark.parametrize("algo", [SoftDQN, EntropyPPO])
@pytest.mark.parametrize("target", [-1.0, 0.0, 5.0, np.log(2.0), "lin_0.5_-0.1"])
def test_unreachable_discrete_target_entropy_is_refused(algo, target):
    kwargs = {"ent_coef": "auto"} if algo is SoftDQN else {"soft_ent_coef": "auto"}
    with pytest.raises(ValueError, match=r"target_entropy=.* is outside \(0, 0.693147\)"):
        algo("MlpPolicy", DISCRETE, target_entropy=target, **kwargs)


def test_reachable_target_entropies_are_accepted():
    SoftDQN("MlpPolicy", DISCRETE, ent_coef="auto", target_entropy=0.5)
    SoftDQN("MlpPolicy", DISCRETE, ent_coef="auto", target_entropy=np.float64(0.05))
    EntropyPPO("MlpPolicy", DISCRETE, soft_ent_coef="auto", target_entropy="lin_0.6_0.1")
    # Box: a differential entropy has no bound (SAC's -dim(A) is the usual target).
    EntropyPPO("MlpPolicy", CONTINUOUS, soft_ent_coef="auto", target_entropy=-5.0)
    # MultiDiscrete([3, 4]): the bound is log 12.
    env = gym.make(DISCRETE)
    env.action_space = spaces.MultiDiscrete([3, 4])
    EntropyPPO("MlpPolicy", env, soft_ent_coef="auto", target_entropy=2.4)
    with pytest.raises(ValueError, match=r"outside \(0, 2.48491\)"):
        EntropyPPO("MlpPolicy", env, soft_ent_coef="auto", target_entropy=2.5)


def test_unsupported_space_hint_names_the_algorithm_that_supports_it():
    env = gym.make(DISCRETE)
    env.action_space = spaces.MultiDiscrete([2, 2])
    with pytest.raises(TypeError, match="MultiDiscrete or MultiBinary actions use sb3_softopt.EntropyPPO"):
        SoftDQN("MlpPolicy", env)
    with pytest.raises(TypeError, match="SQL or sb3_softopt.SAC"):
        SoftDQN("MlpPolicy", CONTINUOUS)
    with pytest.raises(TypeError, match="for MultiDiscrete ones sb3_softopt.EntropyPPO"):
        SQL("MlpPolicy", env)


def _multi_discrete_env():
    env = gym.make(DISCRETE)
    env.action_space = spaces.MultiDiscrete([2, 2])
    return env


@pytest.mark.parametrize(
    ("ours", "sb3", "make_env"),
    [
        (SoftDQN, DQN, lambda: CONTINUOUS),
        (SoftDQN, DQN, _multi_discrete_env),
        (SAC, SB3SAC, _multi_discrete_env),
    ],
)
def test_unsupported_action_space_keeps_sb3s_error_type_and_text(ours, sb3, make_env):
    # SB3's own suite (tests/test_spaces.py::test_action_spaces) expects AssertionError; the
    # package documents TypeError: the error is both, SB3's text first, then the diagnosis.
    with pytest.raises(AssertionError) as sb3_error:
        sb3("MlpPolicy", make_env())
    with pytest.raises(AssertionError) as info:
        ours("MlpPolicy", make_env())
    assert isinstance(info.value, TypeError)
    text, sb3_text = str(info.value), str(sb3_error.value)
    if ours is SoftDQN:  # same supported spaces as DQN: SB3's text, word for word
        assert text.startswith(sb3_text + "; SoftDQN only supports Discrete action spaces")
    else:  # SAC also supports Discrete: SB3's sentence with the spaces it supports
        assert sb3_text.startswith("The algorithm only supports (<class 'gymnasium.spaces.box.Box'>,) as action spaces")
        supported = "(<class 'gymnasium.spaces.box.Box'>, <class 'gymnasium.spaces.discrete.Discrete'>)"
        assert text.startswith(f"The algorithm only supports {supported} as action spaces but MultiDiscrete([2 2]) was provided; ")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(value_n_particles=1), "value_n_particles must be an integer >= 2"),
        (dict(kernel_n_particles=2), "kernel_n_particles must be an integer >= 3"),
        (dict(kernel_n_particles=4.0), "kernel_n_particles must be an integer >= 3"),
        (dict(kernel_update_ratio=1.0), r"kernel_update_ratio must be in \(0, 1\)"),
        (dict(kernel_update_ratio=np.nan), r"kernel_update_ratio must be in \(0, 1\)"),
        (dict(kernel_n_particles=3, kernel_update_ratio=0.2), "at least 1 updated and 2 fixed"),
    ],
)
def test_sql_particle_settings_are_range_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SQL("MlpPolicy", CONTINUOUS, **kwargs)
    SQL("MlpPolicy", CONTINUOUS, value_n_particles=np.int64(2), kernel_n_particles=np.int32(3), kernel_update_ratio=np.float32(0.4))


# ------------------------------------------------------------------ damaged checkpoints
def _damaged(raw: bytes, how: str) -> bytes:
    if how == "truncated":
        return raw[: len(raw) // 2]
    if how == "overwritten":
        out = bytearray(raw)
        out[len(raw) // 2 : len(raw) // 2 + 64] = b"\xff" * 64
        return bytes(out)
    if how == "empty":
        return b""
    return b"not a model\n"


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize(
    "how, match",
    [
        ("truncated", "is truncated: the end of the zip archive is missing"),
        ("overwritten", r"member '.*' of .* is corrupt \(its CRC does not match\)"),
        ("empty", r"\(0 bytes\) is not a zip archive"),
        ("text", "is not a zip archive"),
    ],
)
def test_damaged_checkpoint_error_names_the_file_and_the_damage(tmp_path, algo, how, match):
    good = tmp_path / "model.zip"
    algo("MlpPolicy", env_id(algo), **FAST[algo]).save(good)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_damaged(good.read_bytes(), how))
    # SB3's own load, for the type and text its users' code expects
    with pytest.raises(Exception) as sb3_error:
        BaseAlgorithm.load.__func__(algo, bad)
    with pytest.raises(CheckpointError, match=match) as info:
        algo.load(bad)
    assert str(bad) in str(info.value)
    assert isinstance(info.value, type(sb3_error.value))
    assert str(info.value).startswith(str(sb3_error.value))
    assert algo.load(good) is not None  # a sound file still loads


def test_damaged_data_member_and_sound_file_errors(tmp_path):
    good = tmp_path / "model.zip"
    model = SoftDQN("MlpPolicy", DISCRETE, **FAST[SoftDQN])
    model.save(good)
    bad = tmp_path / "bad_data.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name)[:40] if name == "data" else src.read(name))
    with pytest.raises(CheckpointError, match="member 'data' of .* is not valid JSON"):
        SoftDQN.load(bad)
    # Errors of a sound file keep their type and message.
    with pytest.raises(ValueError, match="Observation spaces do not match") as info:
        SoftDQN.load(good, env=gym.make("Acrobot-v1"))
    assert not isinstance(info.value, CheckpointError)
    with pytest.raises(FileNotFoundError):
        SoftDQN.load(tmp_path / "missing.zip")


@pytest.mark.parametrize("shape", [(2, 4), (2, 84, 84)])
def test_transition_check_small_and_large_observations(shape):
    from sb3_softopt.common.checks import check_finite_transition

    obs = np.ones(shape, dtype=np.float32)
    rewards, dones, infos = np.zeros(2, np.float32), np.zeros(2, bool), [{}, {}]
    # Huge but finite values overflow a float32 sum: they must pass (the exact check decides).
    check_finite_transition("A", np.full(2, 3e38, np.float32), np.full(shape, 3e38, np.float32), dones, infos, 1)
    obs[(1, *(0,) * (len(shape) - 1))] = np.inf
    with pytest.raises(NonFiniteError, match=r"observation \(inf\) from env 1 at timestep 9"):
        check_finite_transition("A", rewards, obs, dones, infos, 9)
