"""Every Python code block of the docs marked runnable runs, so a guide cannot drift from the code.

A block is marked with the word ``runnable`` after the language of its fence::

    ```python runnable
    ...
    ```

(GitHub and Sphinx highlight it as Python; the second word is ignored by both). The blocks of one
page run in order in one fresh interpreter, sharing their names, from a temporary folder; the
traceback names the page and the line of the block. Budgets in runnable blocks must be tiny: the
whole collection is part of the default test run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n`]*)$")

RUNNER = r"""
import json, sys
blocks = json.loads(sys.argv[1])
namespace = {"__name__": "__main__"}
for block in blocks:
    code = compile("\n" * (block["line"]) + block["source"], block["page"], "exec")
    exec(code, namespace)
print("ran", len(blocks), "blocks")
"""


def runnable_blocks(text: str, page: str) -> list[dict]:
    """The ``python runnable`` fenced blocks of a Markdown text: source and first line (0-based)."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, words = match["fence"], match["info"].split()
        start, i = i + 1, i + 1
        while i < len(lines) and not (lines[i].strip().startswith(fence) and set(lines[i].strip()) == {fence[0]}):
            i += 1
        if words[:1] == ["python"] and "runnable" in words[1:]:
            blocks.append({"page": page, "line": start, "source": "\n".join(lines[start:i]) + "\n"})
        i += 1
    return blocks


def pages() -> dict[str, list[dict]]:
    found = {}
    for path in sorted(DOCS.rglob("*.md")):
        if "_build" in path.parts:
            continue
        rel = path.relative_to(ROOT).as_posix()
        blocks = runnable_blocks(path.read_text(encoding="utf-8"), rel)
        if blocks:
            found[rel] = blocks
    return found


PAGES = pages()


def test_the_collector_finds_the_marked_blocks():
    text = "a\n```python runnable\nx = 1\n```\n```python\nnot run\n```\n````md\n```python runnable\ninside\n```\n````\n"
    assert [b["source"] for b in runnable_blocks(text, "p.md")] == ["x = 1\n"]
    # the quickstart and the inference guide keep their runnable blocks
    assert {"docs/quickstart.md", "docs/inference.md"} <= set(PAGES)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_runnable_blocks_run(page, tmp_path):
    # one BLAS/OpenMP thread: on a loaded machine OpenMP's spinning threads make tiny trainings 10-30x slower
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(PAGES[page])],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )
    assert result.returncode == 0, f"a runnable block of {page} failed:\n{result.stderr[-4000:]}"
    assert f"ran {len(PAGES[page])} blocks" in result.stdout
