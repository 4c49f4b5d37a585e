"""A core-only install (``pip install .``, no extra) runs everything that needs no extra (#17 bug 4).

The default test imports every module outside the zoo bridge, and runs the README's demo, in a
fresh interpreter where the extras' packages cannot be imported. The slow test does the real
thing: a new virtualenv, ``pip install torch==2.13.0 .``, then the demo.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

def _extra_only_modules() -> tuple[str, ...]:
    """Top-level modules of the distributions that only an extra declares (read from pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in requirements}

    core = names(project["dependencies"])
    extras = set().union(*(names(reqs) for reqs in project["optional-dependencies"].values())) - core - {"sb3-softopt"}
    modules = {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if any(canonicalize_name(d) in extras for d in dists)
    }
    return tuple(sorted(modules - {"__pycache__"}))


#: Top-level modules installed only by an extra (zoo, test, box2d, postgres).
EXTRA_MODULES = _extra_only_modules()

#: Modules that belong to the zoo extra by design.
ZOO_MODULES = ("sb3_softopt.zoo.",)

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked: an extra's package)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def test_core_modules_and_demo_import_no_extra(tmp_path):
    script = BLOCKER + textwrap.dedent(
        f"""
        import importlib, pkgutil
        import sb3_softopt, sb3_softopt.envs
        skipped = {ZOO_MODULES!r}
        names = [m.name for pkg in (sb3_softopt, sb3_softopt.envs)
                 for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
        names = [n for n in names if not n.startswith(skipped) and not n.endswith("__main__")]
        for name in names:
            importlib.import_module(name)
        print("imported", len(names))
        from sb3_softopt import demo
        demo.main(["--out", sys.argv[2], "--steps", "300"])
        """
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", script, ",".join(EXTRA_MODULES), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split("imported ")[1].split()[0]) > 30
    assert (tmp_path / "demo.json").exists()


def test_the_blocker_blocks():
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER + "import sb3_softopt.zoo; sb3_softopt.zoo.register()", "rl_zoo3"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0 and "blocked: an extra's package" in result.stderr


@pytest.mark.slow
def test_core_only_install_runs_the_demo(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q"]
    # torch first, pinned: on the project's machines that is the CPU build from local disk.
    subprocess.run([*pip, "torch==2.13.0"], check=True, timeout=1800)
    subprocess.run([*pip, str(ROOT)], check=True, timeout=1800)
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print([m for m in %r if u.find_spec(m)])" % (EXTRA_MODULES,)],
        capture_output=True, text=True, check=True,
    )
    assert probe.stdout.strip() == "[]", f"an extra's package came with the core install: {probe.stdout}"
    out = tmp_path / "demo"
    result = subprocess.run(
        [str(python), "-m", "sb3_softopt.demo", "--out", str(out), "--steps", "300"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "demo.json").exists()


def test_every_subpackage_is_declared_for_a_regular_install():
    """pyproject lists packages explicitly: a package missing there is absent from ``pip install .``."""
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "sb3_softopt").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - declared == set()
