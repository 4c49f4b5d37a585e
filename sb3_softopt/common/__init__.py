"""Helpers shared by the algorithms: schedules and temperature parsing."""

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

__all__ = [
    "Constant",
    "Linear",
    "LogLinear",
    "Schedule",
    "ScheduleError",
    "TemperatureConfig",
    "make_schedule",
    "parse_schedule",
    "parse_target_entropy",
    "parse_temperature",
]
