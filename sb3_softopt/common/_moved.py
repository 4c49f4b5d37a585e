"""Old import paths of modules that moved out of ``sb3_softopt.common``, importable for one release.

Each old path is a one-line module that makes itself an alias of the new module: ``import
sb3_softopt.common.stats`` warns and gives :mod:`sb3_softopt.experiments.infra.stats` itself (the
same object, so private names, monkeypatching and any pickle that names a class by its old path
keep working).
"""

from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    """Make module ``old`` the module ``new`` and warn whoever imported ``old``.

    :param old: the deprecated module's name (the caller's ``__name__``).
    :param new: the module it moved to.
    """
    module = importlib.import_module(new)
    # stacklevel 3: past this function and the old module, to the import statement (warnings
    # skips the import machinery's own frames).
    warnings.warn(f"{old} moved to {new}; the old path will be removed in the next release", DeprecationWarning, stacklevel=3)
    sys.modules[old] = module
