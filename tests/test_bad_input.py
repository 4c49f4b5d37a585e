"""Bad input found by the held-out probe set (issue #30, part 7): refused with the argument's name
and its range, at construction where possible, and at the update that would use it otherwise."""

from __future__ import annotations

import pytest

import gymnasium as gym
import numpy as np

from sb3_softopt import SAC, SQL, EntropyPPO, SoftDQN
from sb3_softopt.experiments.infra.noise import make_action_noise

OFF_POLICY = [(SoftDQN, "CartPole-v1"), (SQL, "Pendulum-v1"), (SAC, "CartPole-v1"), (SAC, "Pendulum-v1")]
IDS = ["SoftDQN", "SQL", "SAC-discrete", "SAC-box"]


@pytest.mark.parametrize(("cls", "env_id"), OFF_POLICY, ids=IDS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
        (dict(batch_size=-4), r"batch_size must be an integer >= 1, got -4"),
        (dict(batch_size=32.0), r"batch_size must be an integer >= 1, got 32.0"),
        (dict(buffer_size=0), r"buffer_size must be an integer >= 1, got 0"),
        (dict(learning_starts=-1), r"learning_starts must be an integer >= 0, got -1"),
        (dict(gradient_steps=-2), r"gradient_steps must be an integer >= 0 \(or -1"),
        (dict(tau=1.5), r"tau \(the soft-update coefficient\) must be a number in \[0, 1\], got 1.5"),
        (dict(tau=float("nan")), r"tau .* got nan"),
    ],
    ids=lambda x: ",".join(f"{k}={v}" for k, v in x.items()) if isinstance(x, dict) else None,
)
def test_replay_settings_are_refused_at_construction(cls, env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls("MlpPolicy", env_id, **kwargs)


@pytest.mark.parametrize(("cls", "env_id"), OFF_POLICY, ids=IDS)
def test_valid_edge_values_are_accepted(cls, env_id):
    model = cls("MlpPolicy", env_id, batch_size=1, buffer_size=1_000, learning_starts=0, tau=1.0, gradient_steps=-1)
    assert (model.batch_size, model.tau, model.gradient_steps) == (1, 1.0, -1)


def _dips(progress: float) -> float:
    """Positive at progress 1, 0.5 and 0 (where construction probes a schedule), negative in between."""
    return -0.1 if 0.6 < progress < 0.7 else 0.5


@pytest.mark.parametrize(
    ("make", "steps"),
    [
        (lambda: SoftDQN("MlpPolicy", "CartPole-v1", ent_coef=_dips, learning_starts=10, batch_size=16), 300),
        (lambda: SQL("MlpPolicy", "Pendulum-v1", ent_coef=_dips, learning_starts=10, batch_size=16), 300),
        (lambda: SAC("MlpPolicy", "CartPole-v1", ent_coef=_dips, learning_starts=10, batch_size=16), 300),
        (lambda: SAC("MlpPolicy", "Pendulum-v1", ent_coef=_dips, learning_starts=10, batch_size=16), 300),
        (lambda: EntropyPPO("MlpPolicy", "CartPole-v1", soft_ent_coef=_dips, n_steps=32, batch_size=32), 640),
    ],
    ids=["SoftDQN", "SQL", "SAC-discrete", "SAC-box", "EntropyPPO"],
)
def test_a_temperature_schedule_that_leaves_its_range_mid_run_stops_training(make, steps):
    model = make()  # passes the construction-time probe
    with pytest.raises(ValueError, match=r"ent_coef=-0.1 at progress_remaining=0.6\d*: a temperature must be"):
        model.learn(steps)
    # stopped at the first update inside the dip: nothing was learned with a negative alpha
    assert 0.6 < model._current_progress_remaining < 0.7


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("gaussian", TypeError, r"spec must be a mapping"),
        (dict(kind="gaussian"), ValueError, r"spec of kind 'gaussian' needs 'sigma'; got keys \['kind'\]"),
        (dict(kind="ornstein_uhlenbeck", sigma=0.1, dt=1.0), ValueError, r"needs 'theta'"),
        (dict(kind="ornstein_uhlenbeck", sigma=0.1, theta=float("nan"), dt=1.0), ValueError, r"spec\['theta'\] must be a finite number >= 0, got nan"),
        (dict(kind="ornstein_uhlenbeck", sigma=0.1, theta=0.15, dt=-0.01), ValueError, r"spec\['dt'\] must be a finite number > 0, got -0.01"),
        (dict(kind="gaussian", sigma="wide"), ValueError, r"spec\['sigma'\] must be a finite number >= 0, got 'wide'"),
    ],
)
def test_action_noise_specs_name_the_bad_key(spec, error, message):
    with pytest.raises(error, match=message):
        make_action_noise(spec, 2)


def test_valid_action_noise_specs_build():
    ou = make_action_noise(dict(kind="ornstein_uhlenbeck", sigma=0.3, theta=0.15, dt=1.0), 2)
    assert np.all(np.isfinite([ou() for _ in range(5)]))
    assert make_action_noise(dict(kind="gaussian", sigma=0.0), 3)().shape == (3,)


@pytest.mark.parametrize("goal", [(1, 2, 3), (1,), "ab", 5.0])
def test_point_goal_names_a_goal_that_is_not_a_point(goal):
    with pytest.raises(ValueError, match=r"goal must be 2 numbers \(x, y\), got"):
        gym.make("PointGoal-v0", goal=goal)


def test_lecture_cli_refuses_an_unknown_claim_before_creating_anything(tmp_path, capsys):
    from sb3_softopt.lecture.__main__ import main

    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main(["all", "--only", "NOSUCH", "--out", str(out)])
    assert exc.value.code == 2 and "invalid choice: 'NOSUCH'" in capsys.readouterr().err
    assert not out.exists()
