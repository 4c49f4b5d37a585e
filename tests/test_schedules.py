import math
import pickle

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


def test_scalar_adam_is_torch_adam():
    """Same trajectory and state as torch.optim.Adam (to float32 rounding), across commits, a
    learning-rate change and a reload through state_dict."""
    import torch as th

    from sb3_softopt.common.temperature import ScalarAdam

    ref_param = th.zeros(1, requires_grad=True)
    our_param = th.zeros(1, requires_grad=True)
    ref = th.optim.Adam([ref_param], lr=3e-3)
    ours = th.optim.Adam([our_param], lr=3e-3)
    gen = th.Generator().manual_seed(0)
    grads = [float(th.randn(1, generator=gen)) * (10.0 if i % 7 == 0 else 1.0) for i in range(200)]
    i = 0
    for burst in (1, 16, 83, 50, 50):  # one ScalarAdam per burst, as SoftDQN makes one per train() call
        if i == 100:
            for opt in (ref, ours):
                opt.param_groups[0]["lr"] = 1e-3
            reloaded = th.optim.Adam([our_param], lr=1.0)
            reloaded.load_state_dict(ours.state_dict())
            ours = reloaded
        fast = ScalarAdam(ours)
        for g in grads[i : i + burst]:
            ref_param.grad = th.tensor([g])
            ref.step()
            value = fast.step(g)
        i += burst
        assert abs(our_param.item() - value) > 1e-6  # nothing is written before commit
        fast.commit()
        assert our_param.item() == th.tensor(value, dtype=th.float32).item()
        assert abs(value - ref_param.item()) <= 1e-6 * max(1.0, abs(ref_param.item()))
    assert ref_param.item() != 0.0
    for key in ("step", "exp_avg", "exp_avg_sq"):
        assert th.allclose(ours.state[our_param][key], ref.state[ref_param][key], rtol=1e-5, atol=0)


def test_scalar_adam_falls_back_for_other_options():
    import torch as th

    from sb3_softopt.common.temperature import ScalarAdam

    a = th.zeros(1, requires_grad=True)
    b = th.zeros(1, requires_grad=True)
    ref = th.optim.Adam([a], lr=1e-2, amsgrad=True, weight_decay=0.1)
    ours = th.optim.Adam([b], lr=1e-2, amsgrad=True, weight_decay=0.1)
    fast = ScalarAdam(ours)
    assert fast.fallback
    for g in (1.0, -2.0, 0.5):
        a.grad = th.tensor([g])
        ref.step()
        assert fast.step(g) == b.item()
    fast.commit()
    assert th.equal(a, b)


def test_objects_pickled_under_the_former_names_still_load():
    import pickle

    from sb3_softopt.common.schedules import Constant, Linear, LogLinear

    for obj, old in ((Constant(2.0), b"ConstantSchedule"), (Linear(1.0, 0.5), b"LinearSchedule"), (LogLinear(1.0, 0.1), b"LogLinearSchedule")):
        data = pickle.dumps(obj, protocol=0).replace(b"\n" + type(obj).__name__.encode() + b"\n", b"\n" + old + b"\n")
        assert old in data
        assert pickle.loads(data) == obj
