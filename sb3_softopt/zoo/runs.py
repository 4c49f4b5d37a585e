"""Run folders of the rl-zoo3 bridge: clean failures and the choice of the model ``enjoy`` loads.

rl-zoo3 numbers runs ``<log folder>/<algo>/<env>_<N>`` and its ``enjoy``/``record_video`` take the
highest ``N`` unless ``--exp-id`` is given. A run that failed while being set up leaves such a
folder holding only a monitor file, which then hides every earlier, good model. The helpers here
remove what a failed set-up created and let ``enjoy`` fall back to the latest run holding a model.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "CleanSetupMixin",
    "error_line",
    "holds_model",
    "latest_run_with_model",
    "model_path_with_fallback",
    "patch_model_path",
    "remove_failed_run",
]


def holds_model(folder: str | Path) -> bool:
    """Whether a run folder holds a saved model anywhere below it (final, best or checkpoint zip).

    :param folder: the run folder
    """
    return any(Path(folder).rglob("*.zip"))


def remove_failed_run(folder: str | Path) -> bool:
    """Remove the run folder of a run that failed before it saved anything.

    The caller must only pass a folder that its own (failed) run created; a folder holding a
    model is kept whatever happened, so that no trained agent is ever deleted.

    :param folder: the run folder (``<log folder>/<algo>/<env>_<N>``)
    :return: whether the folder was removed
    """
    folder = Path(folder)
    if not folder.is_dir() or holds_model(folder):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()


def _run_ids(log_path: str, env_name: str) -> list[int]:
    # Same matching as rl_zoo3.utils.get_latest_run_id, highest first.
    ids = []
    for path in glob.glob(os.path.join(log_path, env_name + "_[0-9]*")):
        run_id = path.split("_")[-1]
        if path[: -len(run_id) - 1].endswith(env_name) and run_id.isdigit():
            ids.append(int(run_id))
    return sorted(set(ids), reverse=True)


def latest_run_with_model(
    get_model_path: Callable[..., tuple[str, str, str]], folder: str, algo: str, env_name: str, *args
) -> tuple[int, tuple[str, str, str]] | None:
    """The highest run id whose folder holds the model that ``get_model_path`` looks for.

    :param get_model_path: rl-zoo3's ``get_model_path`` (raises when the model is missing)
    :param folder: the log folder (``-f``)
    :param algo: the algorithm name
    :param env_name: the environment name (rl-zoo3's ``EnvironmentName``)
    :param args: ``get_model_path``'s remaining arguments (load_best, load_checkpoint, ...)
    :return: ``(run id, get_model_path's result)``, or None when no numbered run holds it
    """
    for run_id in _run_ids(os.path.join(folder, algo), str(env_name)):
        try:
            return run_id, get_model_path(run_id, folder, algo, env_name, *args)
        except (AssertionError, ValueError):
            continue
    return None


def model_path_with_fallback(get_model_path: Callable[..., tuple[str, str, str]]) -> Callable[..., tuple]:
    """Wrap rl-zoo3's ``get_model_path`` so that "the latest run" (``--exp-id 0``, the default)
    means the latest run that holds the requested model, and say which run that is.

    An explicit ``--exp-id`` is honoured as is; when no numbered run holds a model, rl-zoo3's own
    lookup runs (a model directly in ``<folder>/<algo>/``, or its own error).

    :param get_model_path: rl-zoo3's ``get_model_path``
    :return: a function with the same signature and result
    """

    def wrapped(exp_id: int, folder: str, algo: str, env_name, *args, **kwargs) -> tuple[str, str, str]:
        if exp_id != 0 or kwargs:
            return get_model_path(exp_id, folder, algo, env_name, *args, **kwargs)
        latest = _run_ids(os.path.join(folder, algo), str(env_name))
        found = latest_run_with_model(get_model_path, folder, algo, env_name, *args)
        if found is None:
            return get_model_path(exp_id, folder, algo, env_name, *args)
        run_id, result = found
        if run_id == latest[0]:
            print(f"Loading latest experiment, id={run_id}")
        else:
            skipped = ", ".join(f"{env_name}_{i}" for i in latest if i > run_id)
            print(f"Loading latest experiment holding a model, id={run_id} ({skipped}: no model)")
        return result

    wrapped.__wrapped__ = get_model_path  # type: ignore[attr-defined]
    return wrapped


def patch_model_path(set_attr: Callable[[Any, str, Any], None] = setattr) -> None:
    """Make rl-zoo3's ``enjoy``/``record_video`` use :func:`model_path_with_fallback` (idempotent;
    called by the bridge's entry point, never at import).

    :param set_attr: how to set a module attribute (the bridge passes one that records the undo)
    """
    import rl_zoo3.enjoy
    import rl_zoo3.utils

    if not hasattr(rl_zoo3.utils.get_model_path, "__wrapped__"):
        # record_video runs as a fresh __main__ module and imports the name from rl_zoo3.utils.
        set_attr(rl_zoo3.utils, "get_model_path", model_path_with_fallback(rl_zoo3.utils.get_model_path))
    set_attr(rl_zoo3.enjoy, "get_model_path", rl_zoo3.utils.get_model_path)


def error_line(exc: BaseException, prog: str = "softopt-zoo") -> str:
    """One line describing an error for the command line (no traceback).

    :param exc: the exception
    :param prog: program name put in front (``"softopt-zoo train"``)
    """
    message = " ".join(str(exc).split())
    kind = type(exc).__name__
    return f"{prog}: error: {kind}: {message}" if message else f"{prog}: error: {kind}"


class CleanSetupMixin:
    """Mixed into rl-zoo3's ``ExperimentManager`` by the bridge: a run whose set-up fails (bad
    hyperparameters, env that cannot be built, ...) removes the run folder it created, so that
    ``enjoy`` does not take it for the latest run. A folder that existed before is never touched."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # rl-zoo3 picked save_path = <algo>/<env>_<latest + 1>; it is ours only if new now.
        self._bridge_new_run = not os.path.exists(self.save_path)  # type: ignore[attr-defined]

    def setup_experiment(self) -> Any:
        try:
            return super().setup_experiment()  # type: ignore[misc]
        except BaseException:
            if self._bridge_new_run and remove_failed_run(self.save_path):  # type: ignore[attr-defined]
                print(f"Removed the folder of the failed run: {self.save_path}")  # type: ignore[attr-defined]
            raise
