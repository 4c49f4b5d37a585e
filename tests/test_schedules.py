import math
import pickle

import numpy as np
import pytest

from sb3_softopt.common import (
    Constant,
    Linear,
    LogLinear,
    ScheduleError,
    make_schedule,
    parse_schedule,
    parse_target_entropy,
    parse_temperature,
)


@pytest.mark.parametrize(
    "text, p, expected",
    [
        ("0.2", 0.3, 0.2),
        ("const_0.5", 0.0, 0.5),
        ("lin_0.1", 1.0, 0.1),
        ("lin_0.1", 0.0, 0.0),
        ("lin_0.1", 0.5, 0.05),
        ("lin_1_3", 0.25, 2.5),
        ("loglin_0.1_0.001", 1.0, 0.1),
        ("loglin_0.1_0.001", 0.0, 0.001),
        ("loglin_0.1_0.001", 0.5, 0.01),
        ("exp_1_0.01", 0.5, 0.1),
        ("lin_1e-3_1e-5", 1.0, 1e-3),
    ],
)
def test_parse_schedule_values(text, p, expected):
    assert math.isclose(parse_schedule(text)(p), expected, rel_tol=1e-12, abs_tol=1e-15)


@pytest.mark.parametrize("bad", ["", "lin_", "lin_a_b", "cosine_1_2", "loglin_0_1", "loglin_1", "const_1_2", "lin_1_2_3", "nan"])
def test_parse_schedule_rejects_malformed(bad):
    with pytest.raises(ScheduleError):
        parse_schedule(bad)


def test_schedule_clips_progress_and_pickles():
    sched = Linear(1.0, 0.0)
    assert sched(1.5) == 1.0 and sched(-0.5) == 0.0
    for s in (Constant(2.0), Linear(1.0, 2.0), LogLinear(1.0, 0.1)):
        assert pickle.loads(pickle.dumps(s)) == s


def test_make_schedule_forms():
    assert make_schedule(0.3)(0.1) == 0.3
    assert make_schedule(lambda p: 2 * p)(0.25) == 0.5
    with pytest.raises(ScheduleError, match="lr"):
        make_schedule("bogus", name="lr")
    with pytest.raises(ScheduleError):
        make_schedule(True)
    with pytest.raises(ScheduleError):
        make_schedule(float("inf"))


def test_parse_temperature():
    cfg = parse_temperature("auto")
    assert cfg.auto and cfg.init_value == 1.0
    cfg = parse_temperature("auto_0.1")
    assert cfg.auto and cfg.init_value == 0.1
    cfg = parse_temperature("loglin_0.1_0.001")
    assert not cfg.auto and math.isclose(cfg.schedule(0.0), 0.001)
    assert parse_temperature(0.0, allow_zero=True).init_value == 0.0
    with pytest.raises(ValueError, match="ent_coef"):
        parse_temperature(0.0)
    with pytest.raises(ValueError, match="ent_coef"):
        parse_temperature(-1.0)
    with pytest.raises(ValueError):
        parse_temperature("lin_1_-1")
    with pytest.raises(ValueError):
        parse_temperature("auto_-1")
    with pytest.raises(ScheduleError):
        parse_temperature("auto_x")


def test_parse_target_entropy():
    assert parse_target_entropy("auto", -3.0)(0.5) == -3.0
    assert parse_target_entropy("lin_0_-2", -1.0)(0.5) == -1.0
    with pytest.raises(ScheduleError):
        parse_target_entropy("lin_x", -1.0)


def test_objects_pickled_under_the_former_names_still_load():
    import pickle

    from sb3_softopt.common.schedules import Constant, FromCallable, Linear, LogLinear

    for obj, old in ((Constant(2.0), b"ConstantSchedule"), (Linear(1.0, 0.5), b"LinearSchedule"), (LogLinear(1.0, 0.1), b"LogLinearSchedule")):
        data = pickle.dumps(obj, protocol=0).replace(b"\n" + type(obj).__name__.encode() + b"\n", b"\n" + old + b"\n")
        assert old in data
        assert pickle.loads(data) == obj
    # FromCallable has no __eq__: compare what the loaded schedule computes
    data = pickle.dumps(FromCallable(abs), protocol=0).replace(b"\nFromCallable\n", b"\nCallableSchedule\n")
    assert b"CallableSchedule" in data
    assert pickle.loads(data)(-0.25) == 0.25


def test_temperature_step_is_sb3_sac_loss_and_moves_alpha_against_the_entropy_gap():
    import torch as th

    from sb3_softopt.common.temperature import make_log_ent_coef, temperature_step

    for entropy, target in ((1.5, 1.0), (0.5, 1.0)):
        log_alpha, opt = make_log_ent_coef(0.3, lr=0.01)
        assert float(log_alpha.exp()) == pytest.approx(0.3)
        neg_entropy = th.full((4,), -entropy)
        loss = temperature_step(log_alpha, opt, neg_entropy, target)
        # SB3's SAC: -(log_alpha * (log_prob + target)).mean(), with -H for log_prob
        assert float(loss) == pytest.approx(-math.log(0.3) * (-entropy + target), rel=1e-6)
        # Adam's first step moves by lr against the gradient's sign, the gradient being H - H0
        assert float(log_alpha) == pytest.approx(math.log(0.3) - 0.01 * np.sign(entropy - target), rel=1e-5)
