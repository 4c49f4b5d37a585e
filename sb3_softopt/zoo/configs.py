"""The shipped hyperparameter files (``zoo_configs/``) and which file an algorithm/env pair uses."""

from __future__ import annotations

import os
from pathlib import Path

from sb3_softopt.zoo.constants import CONFIGS_ENV, ZooBridgeError


# --------------------------------------------------------------------------------------
# Shipped hyperparameter files
# --------------------------------------------------------------------------------------
def zoo_configs_dir() -> Path | None:
    """Folder holding the shipped ``<algo>.yml`` files, or None if none is found.

    Looked up, in order: ``$SOFTOPT_ZOO_CONFIGS``; ``sb3_softopt/zoo_configs/`` (regular
    install: pyproject maps the repository's ``zoo_configs/`` into the package);
    ``<repo>/zoo_configs/`` next to the package (editable install or source checkout).
    """
    package_dir = Path(__file__).resolve().parents[1]  # sb3_softopt/
    candidates = []
    if os.environ.get(CONFIGS_ENV):
        candidates.append(Path(os.environ[CONFIGS_ENV]))
    candidates += [package_dir / "zoo_configs", package_dir.parent / "zoo_configs"]
    for path in candidates:
        if path.is_dir() and any(path.glob("*.yml")):
            return path
    return None


def _yaml_keys(path: Path) -> set[str]:
    import yaml

    with open(path) as f:
        content = yaml.safe_load(f) or {}
    if not isinstance(content, dict):
        raise ZooBridgeError(f"hyperparameter file {path} must map env ids to dicts, got {type(content).__name__}")
    return set(content)


def _zoo_default_config(algo: str) -> Path:
    # Mirrors ExperimentManager.__init__'s own default.
    import rl_zoo3.exp_manager

    root = Path(rl_zoo3.exp_manager.__file__).parent
    if not (root / "hyperparams").is_dir():
        root = root.parent
    return root / "hyperparams" / f"{algo}.yml"


def default_config(algo: str, env_id: str) -> str | None:
    """The hyperparameter file ``train`` uses when ``-conf`` is not given.

    Our ``zoo_configs/<algo>.yml`` if it has an entry for ``env_id`` (or a ``default``
    entry while rl-zoo3's own file has none for ``env_id``); otherwise rl-zoo3's own
    ``hyperparams/<algo>.yml`` (returned as None: rl-zoo3 picks it itself); our file
    again when rl-zoo3 has no file for ``algo`` at all, so that the error names it.
    """
    folder = zoo_configs_dir()
    ours = folder / f"{algo}.yml" if folder is not None else None
    zoo = _zoo_default_config(algo)
    zoo_keys = _yaml_keys(zoo) if zoo.is_file() else set()
    if ours is not None and ours.is_file():
        our_keys = _yaml_keys(ours)
        if env_id in our_keys or ("default" in our_keys and env_id not in zoo_keys):
            return str(ours)
        if not zoo.is_file():
            return str(ours)
    return None
