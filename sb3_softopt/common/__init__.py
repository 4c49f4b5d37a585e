"""Helpers shared by the algorithms: schedules, temperature parsing and features extractors."""

from sb3_softopt.common.schedules import (
    Constant,
    Linear,
    LogLinear,
    Schedule,
    ScheduleError,
    make_schedule,
    parse_schedule,
)
from sb3_softopt.common.temperature import TemperatureConfig, parse_target_entropy, parse_temperature
from sb3_softopt.common.torch_layers import MinAtarCNN

__all__ = [
    "Constant",
    "Linear",
    "LogLinear",
    "MinAtarCNN",
    "Schedule",
    "ScheduleError",
    "TemperatureConfig",
    "make_schedule",
    "parse_schedule",
    "parse_target_entropy",
    "parse_temperature",
]
