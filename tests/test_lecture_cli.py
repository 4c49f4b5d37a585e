"""One command line per lecture claim (#30, part 4).

``python -m sb3_softopt.lecture NAME`` and ``python -m sb3_softopt.experiments.NAME`` are built from
the claim's one ``add_arguments``; every claim's ``run`` takes ``(out_dir, quick, seed)`` and the
options' ``dest`` names; every documented command line of a claim parses.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sb3_softopt.lecture import cli, registry
from sb3_softopt.lecture.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[1]
NAMES = registry.names()


def _subparser(name: str):
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[name]


def _dests(parser) -> dict[str, object]:
    return {a.dest: a.default for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("name", NAMES)
def test_run_takes_the_shared_arguments_and_every_option(name):
    module = registry.get(name)
    params = inspect.signature(module.run).parameters
    assert list(params)[:3] == ["out_dir", "quick", "seed"], name
    assert params["quick"].default is False and params["seed"].default == 0, name
    options = set(_dests(cli.claim_parser(module))) - set(cli.COMMON_OPTIONS)
    assert options <= set(params), f"{name}: options {sorted(options - set(params))} are not keyword arguments of run"


@pytest.mark.parametrize("name", NAMES)
def test_both_commands_have_the_same_options(name):
    module = registry.get(name)
    lecture, own = _dests(_subparser(name)), _dests(cli.claim_parser(module))
    assert lecture.keys() == own.keys(), name
    # Same defaults, except mutable ones compared by value.
    assert {k: repr(v) for k, v in lecture.items()} == {k: repr(v) for k, v in own.items()}, name


def _documented_commands() -> list[tuple[str, str, list[str]]]:
    """(claim, where, argv) for each ``python -m sb3_softopt.lecture|experiments.<claim> ...`` in the docs."""
    # An inline code span that the prose wraps onto a second line is one command line.
    joined = re.compile(r"(?<!`)`[^`\n]+\n[^`\n]+`(?!`)")
    texts = {
        p: joined.sub(lambda m: m.group(0).replace("\n", " "), p.read_text())
        for p in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    }
    for name in NAMES:
        mod = sys.modules[registry.get(name).__name__]
        texts[Path(mod.__file__ or name)] = mod.__doc__ or ""
    pattern = re.compile(r"python -m sb3_softopt\.(?:lecture (\w+)|experiments\.(\w+))((?:[^`\n#(\\]|\\\n)*)")
    found = []
    for path, text in texts.items():
        for match in pattern.finditer(text.replace("\\\\\n", "\\\n")):
            name = match.group(1) or match.group(2)
            if name not in NAMES:
                continue
            rest = match.group(3).replace("\\\n", " ").replace("[", " ").replace("]", " ").replace("|", " ")
            found.append((name, f"{path.name}: {match.group(0).strip()}", rest.split()))
    return found


DOCUMENTED = _documented_commands()


def test_the_docs_show_commands_of_every_kind():
    assert {name for name, _, _ in DOCUMENTED} >= {"finetune", "robustness", "composition", "equivalence", "two_peaks"}
    assert any("--umaze-replication" in argv for _, _, argv in DOCUMENTED)


@pytest.mark.parametrize(("name", "where", "argv"), DOCUMENTED, ids=[w for _, w, _ in DOCUMENTED])
def test_documented_command_parses(name, where, argv):
    if "--out" not in argv:  # prose naming the command only
        argv = [*argv, "--out", "x"]
    argv = ["x" if a in ("DIR", "...") else a for a in argv]
    module = registry.get(name)
    lecture = build_parser().parse_args([name, *argv])
    own = cli.claim_parser(module).parse_args(argv)
    assert {k: v for k, v in vars(lecture).items() if k != "command"} == vars(own), where


def test_module_commands_list_the_lecture_commands_options():
    """``python -m sb3_softopt.experiments.X --help`` and ``python -m sb3_softopt.lecture X --help``: one interpreter."""
    script = f"""
import contextlib, io, json, runpy, sys
out = {{}}
for name in {NAMES!r}:
    for key, module, argv in (("own", "sb3_softopt.experiments." + name, ["--help"]), ("lecture", "sb3_softopt.lecture", [name, "--help"])):
        sys.argv = [module, *argv]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            except SystemExit:
                pass
        out[name + " " + key] = buf.getvalue()
print(json.dumps(out))
"""
    env = {**os.environ, "COLUMNS": "100", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, check=True)
    helps = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in NAMES:
        own, lecture = helps[f"{name} own"], helps[f"{name} lecture"]
        assert own.startswith(f"usage: python -m sb3_softopt.experiments.{name} "), own[:100]
        assert lecture.startswith(f"usage: python -m sb3_softopt.lecture {name} "), lecture[:100]
        options = re.compile(r"(?<![\w-])--[a-z][\w-]*")
        assert set(options.findall(own)) == set(options.findall(lecture)), name
        # The same text apart from the program name (and where usage wraps because of it).
        normalise = lambda text, prog: " ".join(text.replace(prog, "PROG").split())  # noqa: E731
        assert normalise(own, f"python -m sb3_softopt.experiments.{name}") == normalise(lecture, f"python -m sb3_softopt.lecture {name}")


def test_finetune_tasks_option_builds_the_run_keyword():
    module = registry.get("finetune")
    args = cli.claim_parser(module).parse_args(
        ["--out", "x", "--finetune-env", "A-v0:50", "--finetune-env", "B-v0:0.9", "--no-progress", "--env-module", "m"]
    )
    assert args.tasks == {"A-v0": 50.0, "B-v0": 0.9} and args.progress is False and args.env_modules == ["m"]


def test_seed_offsets_a_claims_seed_count(tmp_out):
    from sb3_softopt.experiments import two_peaks

    result = two_peaks.main(["--out", str(tmp_out), "--seed", "3", "--seeds", "2", "--steps", "20", "--n-samples", "50", "--arms", "ddpg"])
    assert result["seeds"] == [3, 4]
