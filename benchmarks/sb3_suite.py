"""Stable-Baselines3's own test suite, run with sb3_softopt's classes in place of DQN, PPO and SAC.

"Drop-in means drop-in" (#30): code written against SB3 should behave the same with
``sb3_softopt.SoftDQN`` for ``DQN``, ``sb3_softopt.EntropyPPO`` for ``PPO`` and ``sb3_softopt.SAC``
for ``SAC``. This script measures it with SB3's own tests, twice, the same way:

* ``sb3``: SB3's tests unmodified (the baseline: what fails here fails for the environment, e.g. an
  optional dependency that is missing, or a newer Gymnasium, not for our classes);
* ``softopt``: the same tests with our three classes substituted.

**How the classes are substituted.** SB3's tests bind the classes at import time (``from
stable_baselines3 import A2C, DQN, PPO``) and most of them capture the class objects in
``@pytest.mark.parametrize`` lists while the module is being imported, so rebinding module
attributes after collection would leave the parametrized tests on SB3's classes. The script
therefore rewrites the *extracted copy* of the tests (SB3's installed package is not touched, and
nothing is patched at run time): after each ``from stable_baselines3 import ... DQN ...`` (also
``stable_baselines3.dqn`` etc.) it inserts, at the same indentation, ``from sb3_softopt import
SoftDQN as DQN`` (``EntropyPPO as PPO``, ``SAC as SAC``), so every later use in that module, in a
parametrize list or a test body, gets our class; after ``import stable_baselines3 as sb3`` in a
module that uses ``sb3.DQN`` (``sb3.PPO``, ``sb3.SAC``) it rebinds ``sb3`` to a copy of the package
namespace whose three names are ours. Each insertion is listed in the summary. A ``conftest.py``
written next to the tests checks at collection that every test module's ``DQN``, ``PPO`` and ``SAC``
(and ``sb3.DQN``...) are the expected classes (it fails the run otherwise), and counts the tests that
reach one of them (parametrized with it, or naming it in the test function's body).

Each run is SB3's own ``make pytest`` (``-m "not expensive"``; ``--expensive`` keeps those) with SB3's
pytest settings (``filterwarnings``, ``markers``; ``PYTHONHASHSEED=0`` as its pytest-env sets),
``-p no:cacheprovider``, no ``-x``, ``--continue-on-collection-errors``, in a temporary folder; the
outcomes are read from a JUnit XML file. ``--out`` gets ``summary.json`` and ``summary.md``: counts per
run, every failing test with its first error line, and each failure of the ``softopt`` run classified
(``CLASSIFIED`` below): (a) asserts SB3's class name, (c) a documented, intended difference, ``env``
when it fails in the baseline too; anything else is reported as ``unclassified`` (a regression to
look at).

SB3's tests come from a git repository of SB3 (``--sb3-git``, a bare mirror is enough), at the tag of
the installed version when it has one, else ``--rev`` (default ``HEAD``). SB3's optional test
dependencies that the project does not need (``ale-py``, ``opencv-python-headless``) can be installed
into a side folder, ``--extras`` (prepended to ``PYTHONPATH`` for both runs), leaving the environment
as it is::

    pip install --no-deps --target /tmp/sb3_extras ale-py opencv-python-headless
    python benchmarks/sb3_suite.py --extras /tmp/sb3_extras --out benchmarks/results/sb3_suite

``--files test_save_load.py test_tensorboard.py`` restricts both runs to some files (to iterate);
``--runs softopt`` skips the baseline; ``--workdir DIR --reuse`` summarises the runs left in ``DIR``
again (after a change to ``CLASSIFIED``) without running pytest.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

DEFAULT_SB3_GIT = "/work/.mirror/DLR-RM+stable-baselines3/repo"

# SB3's name -> (our module, our class)
SUBSTITUTES = {"DQN": "SoftDQN", "PPO": "EntropyPPO", "SAC": "SAC"}
SB3_MODULES = {"stable_baselines3"} | {f"stable_baselines3.{m}" for m in ("dqn", "ppo", "sac")}
SB3_MODULES |= {f"stable_baselines3.{m}.{m}" for m in ("dqn", "ppo", "sac")}

# Failures of the softopt run that are expected: (fnmatch pattern on the test id, class, reason).
# (a): the test asserts SB3's class name; our classes have their own names, as SB3's own subclasses
#      (and sb3-contrib's) do. (c): a documented, intended difference (the reason names the doc).
CLASSIFIED: list[tuple[str, str, str]] = [
    (
        "tests/test_tensorboard.py::test_tensorboard[[]ppo[]]",
        "a",
        "asserts the log folder PPO_1; ours is EntropyPPO_1 (SB3 names it after the class)",
    ),
    (
        "tests/test_callbacks.py::test_eval_callback_logs_are_written_with_the_correct_timestep",
        "a",
        "reads the log folder DQN_1; ours is SoftDQN_1 (SB3 names it after the class)",
    ),
    (
        "tests/test_run.py::test_ppo_warnings",
        "a",
        "matches 'You are trying to run PPO on the GPU'; SB3 writes the class name: 'EntropyPPO'",
    ),
    (
        "tests/test_gae.py::test_gae_computation[[]*-EntropyPPO[]]",
        "c",
        "checks GAE of the raw rewards; EntropyPPO's buffer holds the soft rewards r - alpha log pi "
        "(docs/entropy_ppo.md, 'How it is implemented'; soft_ent_coef=0.01 by default); with soft_ent_coef=0, "
        "documented as identical to PPO, the check passes",
    ),
    (
        "tests/test_her.py::test_performance_her[[]*[]]",
        "c",
        "passes DQN's exploration_final_eps, which SoftDQN does not take (TypeError): it explores by Boltzmann "
        "sampling, with exploration_eps as an optional floor, 'DQN's exploration_* schedule is not used' "
        "(docs/soft_dqn.md, table and options)",
    ),
    (
        "tests/test_spaces.py::test_action_spaces[[]CartPole-v1-SAC[]]",
        "c",
        "expects SAC to refuse a Discrete action space; sb3_softopt.SAC supports it (docs/sac.md, README)",
    ),
    (
        "tests/test_logger.py::test_fps_logger[[]SoftDQN[]]",
        "c",
        "asserts >= 100 steps/s while training every step; SoftDQN's defaults take one gradient step of batch "
        "256 on 2 x 256 per env step (docs/soft_dqn.md, 'Defaults': 5.4 ms of CPU per step on an idle thread), "
        "DQN's one of batch 32 on 2 x 64 every 4 steps; a timing check on a loaded machine",
    ),
]

HELPER = '''"""Written by sb3_softopt's benchmarks/sb3_suite.py: SB3's namespace with our classes."""

import types

from sb3_softopt import EntropyPPO, SAC, SoftDQN

CLASSES = {"DQN": SoftDQN, "PPO": EntropyPPO, "SAC": SAC}


def namespace(module):
    """A module object with ``module``'s attributes, DQN, PPO and SAC replaced by ours."""
    copy = types.ModuleType(module.__name__, module.__doc__)
    copy.__dict__.update(vars(module))
    copy.__dict__.update(CLASSES)
    return copy
'''

CONFTEST = '''"""Written by sb3_softopt's benchmarks/sb3_suite.py (run: {mode}): checks the substitution."""

import json
import types

import pytest

MODE = {mode!r}
NAMES = ("DQN", "PPO", "SAC")


def _expected():
    if MODE == "softopt":
        from softopt_substitutes import CLASSES

        return CLASSES
    import stable_baselines3

    return {{name: getattr(stable_baselines3, name) for name in NAMES}}


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _classes_in(value, expected, depth=3):
    """The names of the expected classes that ``value`` is or holds (lists, tuples, dicts)."""
    found = {{name for name, cls in expected.items() if value is cls}}
    if depth and isinstance(value, dict):
        value = list(value.values())
    if depth and isinstance(value, (list, tuple, set)):
        for v in value:
            found |= _classes_in(v, expected, depth - 1)
    return found


def pytest_collection_modifyitems(session, config, items):
    expected = _expected()
    reach = {{}}
    for item in items:
        module = item.getparent(pytest.Module).obj
        for name, cls in expected.items():
            bound = module.__dict__.get(name)
            if bound is not None and bound is not cls:
                raise pytest.UsageError(f"{{module.__name__}}.{{name}} is {{bound!r}}, not {{cls!r}}")
        for value in module.__dict__.values():
            if isinstance(value, types.ModuleType) and value.__name__ == "stable_baselines3":
                for name, cls in expected.items():
                    if getattr(value, name) is not cls:
                        raise pytest.UsageError(f"{{module.__name__}}: stable_baselines3.{{name}} is not {{cls!r}}")
        used = set()
        for value in getattr(getattr(item, "callspec", None), "params", {{}}).values():
            used |= _classes_in(value, expected)
        function = getattr(item, "function", None)
        if function is not None and hasattr(function, "__code__"):
            for name in _code_names(function.__code__):
                used |= _classes_in(module.__dict__.get(name), expected)
            used |= set(NAMES) & _code_names(function.__code__)
        reach[item.nodeid] = sorted(used)
    with open(config.rootpath / "reach.json", "w") as f:
        json.dump(reach, f)
'''


def git_head() -> str | None:
    """The commit of this repository (the sb3_softopt under test, for an editable install)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
    return done.stdout.strip() or None


# ------------------------------------------------------------------------------- extraction
def sb3_rev(git_dir: str, rev: str | None) -> str:
    """The tag of the installed SB3 version if the repository has it, else ``rev`` or HEAD."""
    if rev:
        return rev
    tags = subprocess.run(["git", "--git-dir", git_dir, "tag"], capture_output=True, text=True, check=True).stdout.split()
    tag = f"v{version('stable_baselines3')}"
    return tag if tag in tags else "HEAD"


def extract(git_dir: str, rev: str, dest: Path) -> dict[str, str]:
    """SB3's ``tests/`` at ``rev`` into ``dest``, with a ``pytest.ini`` of its pytest settings; returns
    the variables of its pytest-env option (``env``), which the runner sets itself."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", rev, "tests", "pyproject.toml"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    settings = tomllib.loads((dest / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    (dest / "pyproject.toml").unlink()  # its other sections are SB3's build settings
    lines = ["[pytest]"]
    for key, value in settings.items():
        if key == "env":  # pytest-env's option: the runner sets these variables itself
            continue
        lines.append(f"{key} =" + "".join(f"\n    {v}" for v in value) if isinstance(value, list) else f"{key} = {value}")
    (dest / "pytest.ini").write_text("\n".join(lines) + "\n")
    return dict(item.split("=", 1) for item in settings.get("env", []))


# ----------------------------------------------------------------------------- substitution
def substitute_source(text: str) -> tuple[str, list[tuple[int, str]]]:
    """``text`` with our classes bound after each import of SB3's; the (line, inserted text) pairs."""
    tree = ast.parse(text)
    attribute_owners = {
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in SUBSTITUTES and isinstance(node.value, ast.Name)
    }
    inserts: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in SB3_MODULES:
            names = [f"{SUBSTITUTES[a.name]} as {a.asname or a.name}" for a in node.names if a.name in SUBSTITUTES]
            if names:
                inserts.append((node.end_lineno or node.lineno, node.col_offset, "from sb3_softopt import " + ", ".join(names)))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name.split(".")[0] == "stable_baselines3" and (alias.asname is None or alias.name == "stable_baselines3"):
                    if bound in attribute_owners:
                        line = f"from softopt_substitutes import namespace as _softopt_namespace; {bound} = _softopt_namespace({bound})"
                        inserts.append((node.end_lineno or node.lineno, node.col_offset, line))
    lines = text.splitlines(keepends=True)
    for lineno, col, line in sorted(inserts, reverse=True):
        lines.insert(lineno, " " * col + line + "  # sb3_suite.py\n")
    return "".join(lines), [(lineno, line) for lineno, _, line in sorted(inserts)]


def substitute(tests: Path) -> list[dict]:
    """Rewrite every test module under ``tests``; the list of insertions."""
    edits = []
    for path in sorted(tests.rglob("*.py")):
        new, inserted = substitute_source(path.read_text())
        if inserted:
            path.write_text(new)
            edits += [{"file": str(path.relative_to(tests.parent)), "after_line": n, "inserted": s} for n, s in inserted]
    (tests.parent / "softopt_substitutes.py").write_text(HELPER)
    return edits


# ---------------------------------------------------------------------------------- running
def run_suite(root: Path, mode: str, args: argparse.Namespace, sb3_env: dict[str, str]) -> int:
    """SB3's ``make pytest`` on ``root/tests`` (without coverage), output in ``root/pytest.log``."""
    (root / "tests" / "conftest.py").write_text(CONFTEST.format(mode=mode))
    targets = [f"tests/{f}" for f in args.files] if args.files else ["tests"]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--continue-on-collection-errors", "-q", "-rN"]
    cmd += ["--junitxml", "junit.xml", "-o", "junit_family=xunit1"]
    if not args.expensive:
        cmd += ["-m", "not expensive"]
    cmd += args.pytest_args + targets
    env = {**os.environ, "MPLBACKEND": "Agg", **sb3_env}
    if args.extras:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.abspath(args.extras), env.get("PYTHONPATH")) if p)
    print(f"[{mode}] {' '.join(cmd)}  (in {root})", flush=True)
    with open(root / "pytest.log", "w") as log:
        return subprocess.run(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def node_id(root: Path, classname: str, name: str) -> str:
    """pytest's test id from JUnit's dotted ``classname`` (module path, then classes) and ``name``."""
    parts = classname.split(".") if classname else []
    for i in range(len(parts), 0, -1):
        if (root / ("/".join(parts[:i]) + ".py")).is_file():
            return "::".join(["/".join(parts[:i]) + ".py", *parts[i:], name])
    return "::".join([*parts, name]) if parts else name


def first_error_line(element: ET.Element) -> str:
    """The exception line of a failure (JUnit's message, else the report's first ``E`` line), and
    where the test raised it (the report's last ``path.py:line:``)."""
    text = element.text or ""
    message = (element.get("message") or "").strip()
    line = message.splitlines()[0] if message else ""
    if not line or line in ("collection failure", "failed on setup with", "failed on teardown with"):
        line = next((x[1:].strip() for x in text.splitlines() if x.startswith("E ")), line)
    places = re.findall(r"^(\S+\.py:\d+): ", text, flags=re.MULTILINE)
    return line[:300] + (f" ({places[-1]})" if places else "")


def read_results(root: Path) -> dict:
    """Counts and failures from ``junit.xml``; ``reach``: tests that reach DQN/PPO/SAC."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    failures: dict[str, str] = {}
    for case in ET.parse(root / "junit.xml").getroot().iter("testcase"):
        nid = node_id(root, case.get("classname", ""), case.get("name", ""))
        bad = [c for c in case if c.tag in ("failure", "error")]
        if bad:
            counts["failed" if bad[0].tag == "failure" else "error"] += 1
            failures.setdefault(nid, first_error_line(bad[0]))
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    reach = json.loads((root / "reach.json").read_text()) if (root / "reach.json").is_file() else {}
    return {"counts": counts, "failures": failures, "reaching_dqn_ppo_sac": sum(bool(v) for v in reach.values())}


def sb3_test_id(test_id: str) -> str:
    """The id the same test has in the baseline run: pytest names a class parameter by its
    ``__name__`` (``test_gae_computation[1-1.0-1.0-EntropyPPO]``)."""
    for sb3_name, ours in SUBSTITUTES.items():
        test_id = re.sub(rf"(?<=[\[-]){ours}(?=[\]-])", sb3_name, test_id)
    return test_id


def classify(test_id: str, baseline_failures: dict[str, str] | None) -> tuple[str, str]:
    """(class, reason) of a failure of the softopt run: ``CLASSIFIED``, else ``env`` when the same
    test fails in the baseline, else ``unclassified``."""
    for pattern, cls, reason in CLASSIFIED:
        if fnmatch.fnmatchcase(test_id, pattern):
            return cls, reason
    if baseline_failures is not None and sb3_test_id(test_id) in baseline_failures:
        return "env", "fails in the unmodified SB3 run too"
    return "unclassified", "not expected: a regression to look at"


# ---------------------------------------------------------------------------------- summary
def write_summary(out: Path, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    md = ["# SB3's own test suite with sb3_softopt's classes", ""]
    md += [f"SB3 tests at `{summary['sb3_rev']}` ({summary['sb3_commit'][:10]}); installed: {summary['versions']}.", ""]
    md += [f"Command: `{summary['command']}`", ""]
    for mode, res in summary["runs"].items():
        tested = f" (sb3_softopt at {res['sb3_softopt_commit']})" if mode == "softopt" else ""
        md.append(f"- {mode} run{tested}: `{res['command']}`")
    md += [""]
    md += ["| run | passed | failed | error | skipped | tests naming DQN/PPO/SAC (see below) |", "|---|---|---|---|---|---|"]
    for mode, res in summary["runs"].items():
        c = res["counts"]
        md.append(f"| {mode} | {c['passed']} | {c['failed']} | {c['error']} | {c['skipped']} | {res['reaching_dqn_ppo_sac']} |")
    counts = summary["runs"].get("softopt", {}).get("class_counts")
    if counts:
        md += ["", "Failures of the softopt run by class: " + ", ".join(f"{c}: {n}" for c, n in counts.items()) + "."]
    md += ["", "A test names DQN/PPO/SAC when one is among its parameters, or its function's code names one, or a"]
    md += ["module-level table that holds one (a static count: an upper bound of the tests that build one)."]
    for mode, res in summary["runs"].items():
        md += ["", f"## Failures: {mode}", ""]
        if not res["failures"]:
            md.append("None.")
        groups: dict[tuple[str, str], list[str]] = {}
        for test_id in res["failures"]:
            groups.setdefault(tuple(res.get("classes", {}).get(test_id, ("", ""))), []).append(test_id)
        for (cls, reason), test_ids in sorted(groups.items()):
            if cls:
                md += [f"**({cls})** {reason}:", ""]
            md += [f"- `{t}`: `{res['failures'][t]}`" for t in test_ids] + [""]
    md += ["", "## Substitutions (softopt run)", ""]
    md += [f"- `{e['file']}` after line {e['after_line']}: `{e['inserted']}`" for e in summary.get("substitutions", [])]
    (out / "summary.md").write_text("\n".join(md) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sb3-git", default=os.environ.get("SB3_GIT_DIR", DEFAULT_SB3_GIT), help="a git repository of SB3 (bare is fine)")
    parser.add_argument("--rev", default=None, help="default: tag v<installed version> if present, else HEAD")
    parser.add_argument("--runs", nargs="+", default=["sb3", "softopt"], choices=["sb3", "softopt"])
    parser.add_argument("--files", nargs="+", default=None, help="test files (names under SB3's tests/) to run instead of all")
    parser.add_argument("--expensive", action="store_true", help="also the tests SB3 marks expensive")
    parser.add_argument("--extras", default=None, help="folder prepended to PYTHONPATH (SB3's optional test deps)")
    parser.add_argument("--workdir", default=None, help="where to extract and run (default: a new temporary folder, kept)")
    parser.add_argument("--reuse", action="store_true", help="summarise the runs already in --workdir again (no pytest)")
    parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[], help="passed on to pytest (last option)")
    parser.add_argument("--out", default="benchmarks/results/sb3_suite")
    args = parser.parse_args()

    rev = sb3_rev(args.sb3_git, args.rev)
    commit = subprocess.run(["git", "--git-dir", args.sb3_git, "rev-parse", rev], capture_output=True, text=True, check=True).stdout.strip()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="sb3_suite_"))
    summary: dict = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "sb3_rev": rev,
        "sb3_commit": commit,
        "versions": {p: version(p) for p in ("stable_baselines3", "sb3_softopt", "gymnasium", "torch", "pytest")},
        "python": platform.python_version(),
        "workdir": str(workdir),
        "runs": {},
    }
    for mode in args.runs:
        root = workdir / mode
        if args.reuse:  # the runs of an earlier call with this --workdir, read again
            run = json.loads((root / "run.json").read_text())
        else:
            sb3_env = extract(args.sb3_git, commit, root)
            run = {"command": summary["command"], "sb3_softopt_commit": git_head(), "substitutions": []}
            if mode == "softopt":
                run["substitutions"] = substitute(root / "tests")
            run["pytest_exit_code"] = run_suite(root, mode, args, sb3_env)
            (root / "run.json").write_text(json.dumps(run))
        rc = run["pytest_exit_code"]
        if mode == "softopt":
            summary["substitutions"] = run["substitutions"]
        summary["runs"][mode] = {"command": run["command"], "sb3_softopt_commit": run.get("sb3_softopt_commit"), "pytest_exit_code": rc}
        summary["runs"][mode].update(read_results(root))
        print(f"[{mode}] exit {rc}: {summary['runs'][mode]['counts']}", flush=True)
    if "softopt" in summary["runs"]:
        baseline = summary["runs"].get("sb3", {}).get("failures")
        ours = summary["runs"]["softopt"]
        ours["classes"] = {t: classify(t, baseline) for t in ours["failures"]}
        ours["class_counts"] = {c: sum(v[0] == c for v in ours["classes"].values()) for c in ("a", "c", "env", "unclassified")}
    write_summary(Path(args.out), summary)
    print(f"wrote {args.out}/summary.json and summary.md (workdir {workdir})")


if __name__ == "__main__":
    main()
