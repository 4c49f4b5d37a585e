"""The experiments' infrastructure moved from ``sb3_softopt.common`` to ``sb3_softopt.experiments.infra`` (#30).

The old paths import for one more release: with a ``DeprecationWarning`` that names the new path,
and as the new module itself, so every name (private ones too) is the same object and a pickle
that names a class by its old path still loads. The new paths import without a warning and
without loading the experiments themselves.
"""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import textwrap

import pytest

MOVED = ("atomic", "executors", "noise", "plotting", "run_state", "stats")


@pytest.mark.parametrize("name", MOVED)
def test_old_path_warns_and_is_the_new_module(name):
    new = importlib.import_module(f"sb3_softopt.experiments.infra.{name}")
    sys.modules.pop(f"sb3_softopt.common.{name}", None)  # an earlier import would not warn again
    with pytest.warns(DeprecationWarning, match=rf"sb3_softopt\.experiments\.infra\.{name}\b"):
        old = importlib.import_module(f"sb3_softopt.common.{name}")
    assert old is new
    assert new.__all__ and all(getattr(old, attr) is getattr(new, attr) for attr in new.__all__)


def test_from_import_of_an_old_path_gives_the_same_objects():
    from sb3_softopt.experiments.infra import stats

    sys.modules.pop("sb3_softopt.common.stats", None)
    with pytest.warns(DeprecationWarning, match="sb3_softopt.common.stats moved to sb3_softopt.experiments.infra.stats"):
        from sb3_softopt.common.stats import bootstrap_ci, iqm
    assert (iqm, bootstrap_ci) == (stats.iqm, stats.bootstrap_ci)


def test_a_pickle_naming_the_old_path_still_loads():
    """No file the package writes names these modules (result files are JSON; checkpoints and
    models hold SB3's noise classes), but an exception pickled between processes, or by a user,
    names its class by module path."""
    from sb3_softopt.experiments.infra.atomic import InvalidResult

    sys.modules.pop("sb3_softopt.common.atomic", None)
    payload = b"csb3_softopt.common.atomic\nInvalidResult\n."  # protocol 0: the class by its old path
    with pytest.warns(DeprecationWarning, match="sb3_softopt.experiments.infra.atomic"):
        assert pickle.loads(payload) is InvalidResult


def test_new_paths_do_not_warn_or_load_the_experiments():
    script = textwrap.dedent(
        f"""
        import importlib, sys, warnings
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            for name in {MOVED!r}:
                importlib.import_module("sb3_softopt.experiments.infra." + name)
        print([str(w.message) for w in caught if "sb3_softopt" in str(w.message)])
        loaded = [m for m in sys.modules if m.startswith("sb3_softopt.experiments.")]
        print(sorted(m for m in loaded if not m.startswith("sb3_softopt.experiments.infra")))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]


def test_the_package_uses_the_new_paths():
    """Only the old modules themselves name the old paths: the package's own imports do not warn."""
    from pathlib import Path

    import sb3_softopt

    root = Path(sb3_softopt.__file__).parent
    old = [f"sb3_softopt.common.{name}" for name in MOVED]
    users = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if not (path.parent.name == "common" and path.stem in (*MOVED, "_moved")) and any(o in path.read_text() for o in old)
    ]
    assert users == []
