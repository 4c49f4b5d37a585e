"""The error an algorithm raises for an action space it cannot use.

SB3 checks the action space with a bare ``assert`` (``AssertionError``: "The algorithm only supports
... as action spaces but ... was provided"); this package raises earlier, with a ``TypeError`` that
says which algorithm does support the space. :class:`UnsupportedActionSpaceError` is both, and its
text starts with SB3's, so code written against SB3 (``except AssertionError``, a match on SB3's
text) and code written against this package's docs (``except TypeError``) behave the same.
"""

from __future__ import annotations

from gymnasium import spaces


class UnsupportedActionSpaceError(TypeError, AssertionError):
    """An action space the algorithm does not support (SB3's ``AssertionError``, and a ``TypeError``)."""


def unsupported_action_space(
    action_space: spaces.Space, supported: tuple[type[spaces.Space], ...], diagnosis: str
) -> UnsupportedActionSpaceError:
    """The error for ``action_space``: SB3's text (``BaseAlgorithm.__init__``'s), then ``diagnosis``."""
    sb3_text = f"The algorithm only supports {supported} as action spaces but {action_space} was provided"
    return UnsupportedActionSpaceError(f"{sb3_text}; {diagnosis}")
