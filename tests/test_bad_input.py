"""Bad input found by the held-out probe set (issue #30, part 7): refused with the argument's name
and its range, at construction where possible, and at the update that would use it otherwise."""

from __future__ import annotations

import pytest

from sb3_softopt import SAC, SQL, EntropyPPO, SoftDQN

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
