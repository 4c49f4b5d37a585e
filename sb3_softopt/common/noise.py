"""Moved to :mod:`sb3_softopt.experiments.infra.noise`: this path warns, and goes in the next release."""

from typing import TYPE_CHECKING

from sb3_softopt.common._moved import alias

if TYPE_CHECKING:  # at run time this module is replaced by the new one
    from sb3_softopt.experiments.infra.noise import *  # noqa: F403

alias(__name__, "sb3_softopt.experiments.infra.noise")
