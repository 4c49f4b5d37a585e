"""The one list of lecture claims: ``name -> module`` (see :mod:`sb3_softopt.lecture.claim`).

``python -m sb3_softopt.lecture NAME --out DIR`` runs one claim, ``all`` runs them in this order.
Modules are imported when first asked for, so listing the names costs no import of torch.

Adding a claim: write a module with ``CLAIM``, ``run`` and ``judge`` and register it::

    from sb3_softopt.lecture.registry import register
    register("my_package.my_claim")   # or the module object itself
"""

from __future__ import annotations

import importlib
import sys
import typing
from types import ModuleType
from typing import Any, get_origin

if sys.version_info >= (3, 11):
    from typing import NotRequired, get_type_hints
else:  # Python 3.10: typing has no NotRequired; typing_extensions' get_type_hints knows its own
    from typing_extensions import NotRequired, get_type_hints

__all__ = ["CLAIM_MODULES", "get", "names", "register", "required_keys", "result_type", "unregister"]

#: claim name -> module path, in report order
CLAIM_MODULES: dict[str, str] = {
    name: f"sb3_softopt.experiments.{name}"
    for name in ("lottery", "reaching", "two_peaks", "temperature", "finetune", "robustness", "equivalence", "composition")
}
_LOADED: dict[str, ModuleType] = {}


def _check(module: ModuleType) -> ModuleType:
    for attr in ("CLAIM", "run", "judge"):
        if not hasattr(module, attr):
            raise TypeError(f"claim module {module.__name__} has no {attr!r} (needs CLAIM, run and judge)")
    if not callable(module.run) or not callable(module.judge):
        raise TypeError(f"{module.__name__}.run and .judge must be callable")
    return module


def register(module: str | ModuleType, *, overwrite: bool = False) -> str:
    """Add a claim module under its ``CLAIM.name``; returns that name.

    :param module: the module or its import path.
    :param overwrite: replace a claim already registered under that name.
    """
    mod = _check(importlib.import_module(module) if isinstance(module, str) else module)
    name = mod.CLAIM.name
    if name in CLAIM_MODULES and not overwrite:
        raise ValueError(f"claim {name!r} is already registered (pass overwrite=True to replace it)")
    CLAIM_MODULES[name] = mod.__name__
    _LOADED[name] = mod
    return name


def unregister(name: str) -> None:
    """Remove a claim (tests use it to undo :func:`register`)."""
    CLAIM_MODULES.pop(name, None)
    _LOADED.pop(name, None)


def names() -> list[str]:
    """The registered claim names, in report order."""
    return list(CLAIM_MODULES)


def get(name: str) -> ModuleType:
    """The module of claim ``name``, imported and checked (``KeyError`` lists the known names)."""
    if name not in CLAIM_MODULES:
        raise KeyError(f"unknown claim {name!r}; registered: {names()}")
    if name not in _LOADED:
        mod = _check(importlib.import_module(CLAIM_MODULES[name]))
        if mod.CLAIM.name != name:
            raise ValueError(f"{mod.__name__}.CLAIM.name is {mod.CLAIM.name!r}, registered as {name!r}")
        _LOADED[name] = mod
    return _LOADED[name]


def result_type(module: ModuleType) -> Any:
    """The ``TypedDict`` that ``module.run`` is annotated to return (``dict`` if not annotated)."""
    return typing.get_type_hints(module.run).get("return", dict)


def required_keys(module: ModuleType) -> frozenset[str]:
    """The keys every result of ``module.run`` holds: its result type's keys but ``NotRequired`` ones."""
    tp = result_type(module)
    if not typing.is_typeddict(tp):
        return frozenset()
    # ``__required_keys__`` misses ``NotRequired`` under ``from __future__ import annotations``
    # before Python 3.14: read the evaluated hints instead.
    hints = get_type_hints(tp, include_extras=True)
    return frozenset(k for k, h in hints.items() if get_origin(h) is not NotRequired and tp.__total__)
