"""The release (#31): ``python -m build`` gives an sdist and a wheel that install and run.

Default run: the sources are copied into a temporary folder and built there with ``python -m
build`` (pip fetches the build backend from the configured package index, as any build does); the
wheel must hold every package, the environments, ``py.typed``, the license and the shipped
``zoo_configs/*.yml``, and carry the version of ``pyproject.toml``, which is the newest release of
``CHANGELOG.md``. The wheel is then installed, without its dependencies, into a fresh virtualenv
that sees this environment's packages (but not its editable install of the checkout); there, with the extras' packages blocked (a core-only
install), every public name of every module outside the zoo bridge imports and the demo runs.

Slow run (``-m slow``): a fresh virtualenv with nothing else, ``pip install torch==2.13.0
<wheel>`` (core only), the demo and the imports; then ``pip install "<wheel>[zoo]"`` and the
rl-zoo3 bridge imports and registers.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
pytest.importorskip("build")  # the `build` frontend (docs extra); CI installs it

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
#: what a build needs from the checkout (the sdist is built from a copy of exactly this)
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "sb3_softopt", "envs", "zoo_configs")


def _extra_only_modules() -> tuple[str, ...]:
    """Top-level modules of the distributions that only an extra declares (as in test_core_install)."""

    def names(requirements: list[str]) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in requirements}

    core = names(PROJECT["dependencies"])
    extras = set().union(*(names(reqs) for reqs in PROJECT["optional-dependencies"].values())) - core - {"sb3-softopt"}
    modules = {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if any(canonicalize_name(d) in extras for d in dists)
    }
    return tuple(sorted(modules - {"__pycache__"}))


#: Import every public name (``__all__``) of every module; with ``zoo`` false, not the zoo bridge.
PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import sb3_softopt, sb3_softopt.envs
    venv_prefix, with_zoo = sys.argv[2], sys.argv[3] == "zoo"
    assert sb3_softopt.__file__.startswith(venv_prefix), f"imported from {sb3_softopt.__file__}"
    names = [m.name for pkg in (sb3_softopt, sb3_softopt.envs)
             for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    names = ["sb3_softopt"] + [n for n in names if not n.endswith("__main__")
                               and (with_zoo or not n.startswith("sb3_softopt.zoo"))]
    count = 0
    for name in names:
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            getattr(module, public)
            count += 1
    if with_zoo:
        import sb3_softopt.zoo as zoo
        zoo.register()
        zoo.unregister()
    print("version", sb3_softopt.__version__, "modules", len(names), "names", count)
    """
)

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(",")) if sys.argv[1] else set()

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked: an extra's package)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def changelog_version() -> str:
    """The newest release of CHANGELOG.md (``## Release X.Y.Z (date)``)."""
    match = re.search(r"^## Release (\d+\.\d+\.\d+\S*) \(", (ROOT / "CHANGELOG.md").read_text(), flags=re.M)
    assert match, "CHANGELOG.md has no '## Release X.Y.Z (date)' heading"
    return match.group(1)


def test_version_follows_the_changelog():
    assert PROJECT["version"] == changelog_version()


def test_metadata_is_complete():
    assert {"Homepage", "Documentation", "Source", "Changelog", "Issues"} <= set(PROJECT["urls"])
    classifiers = set(PROJECT["classifiers"])
    minimum = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert minimum, PROJECT["requires-python"]
    assert f"Programming Language :: Python :: 3.{minimum.group(1)}" in classifiers
    assert f"Programming Language :: Python :: 3.{sys.version_info.minor}" in classifiers, "the tested Python"
    assert PROJECT["license"] and (ROOT / "LICENSE").exists()
    assert "docs" in PROJECT["optional-dependencies"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """sdist and wheel built by ``python -m build`` from a copy of the sources."""
    work = tmp_path_factory.mktemp("release")
    src = work / "src"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    out = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(src)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.mark.source_tree
def test_build_gives_an_sdist_and_a_complete_wheel(dist):
    version = PROJECT["version"]
    assert (dist / f"sb3_softopt-{version}.tar.gz").exists()
    wheel = _wheel(dist)
    assert wheel.name == f"sb3_softopt-{version}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = PYPROJECT["tool"]["setuptools"]["packages"]
    for package in packages:
        assert f"{package.replace('.', '/')}/__init__.py" in names or package.endswith("zoo_configs"), package
    shipped = {p.name for p in (ROOT / "zoo_configs").glob("*.yml")}
    assert shipped and {f"sb3_softopt/zoo_configs/{n}" for n in shipped} <= names
    assert {f"sb3_softopt/envs/{p.name}" for p in (ROOT / "envs").glob("*.py")} <= names
    assert "sb3_softopt/py.typed" in names
    assert not any(n.startswith(("envs/", "tests/", "docs/", "benchmarks/")) for n in names)
    meta = zipfile.ZipFile(wheel).read(f"sb3_softopt-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in meta and "License-Expression: MIT" in meta
    assert "Project-URL: Documentation" in meta and "Provides-Extra: zoo" in meta
    entry_points = zipfile.ZipFile(wheel).read(f"sb3_softopt-{version}.dist-info/entry_points.txt").decode()
    assert "softopt-zoo = sb3_softopt.zoo:main" in entry_points


@pytest.mark.source_tree
def test_wheel_installs_core_only_and_runs_the_demo(dist, tmp_path):
    """The wheel alone in a fresh virtualenv (this environment's packages visible, the extras blocked)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    # The core dependencies come from this environment: its site-packages are appended to the new
    # one's path (plain path entries: their .pth files, such as an editable install's finder of
    # this checkout, are not run), after the virtualenv's own site-packages that holds the wheel.
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    Path(purelib, "_outer_environment.pth").write_text("\n".join(outer) + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(_wheel(dist))],
                   check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    script = BLOCKER + PROBE + textwrap.dedent(
        """
        from sb3_softopt import demo
        demo.main(["--out", sys.argv[4], "--steps", "300"])
        """
    )
    out = tmp_path / "demo"
    result = subprocess.run(
        [python, "-c", script, ",".join(_extra_only_modules()), str(env_dir), "core", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"version {PROJECT['version']}" in result.stdout
    assert (out / "demo.json").exists()


@pytest.mark.slow
@pytest.mark.source_tree
def test_wheel_in_a_bare_virtualenv_core_then_zoo(dist, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q"]
    wheel = str(_wheel(dist))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    # torch first, pinned: on the project's machines that is the CPU build from local disk.
    subprocess.run([*pip, "torch==2.13.0"], check=True, timeout=1800)
    subprocess.run([*pip, wheel], check=True, timeout=1800)
    out = tmp_path / "demo"
    result = subprocess.run(
        [python, "-c", BLOCKER + PROBE, "", str(env_dir), "core"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    demo = subprocess.run([python, "-m", "sb3_softopt.demo", "--out", str(out), "--steps", "300"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert (out / "demo.json").exists()

    subprocess.run([*pip, f"{wheel}[zoo]"], check=True, timeout=1800)
    result = subprocess.run(
        [python, "-c", BLOCKER + PROBE, "", str(env_dir), "zoo"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    help_ = subprocess.run([str(env_dir / "bin" / "softopt-zoo"), "--help"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=300)
    assert "train" in help_.stdout + help_.stderr
