"""Crash-safe result files for resumable experiments and benchmarks.

A resumable command skips the work whose result file exists, so a file left half-written by a
killed process (SIGKILL, power loss, out-of-memory killer) must never look finished:

* :func:`atomic_path` / :func:`atomic_write_text` / :func:`atomic_write_json` write into a
  temporary file next to the target and ``os.replace`` it into place, so the target is either
  absent, the previous version, or complete. Temporary names start with ``.`` and end in
  ``.tmp`` (never in the target's suffix), so a glob for ``*.csv`` or ``*.png`` does not pick up
  a leftover of a killed writer, and two writers of the same target never share one.
* :func:`load_json` rejects, with a reason, a file that does not parse or lacks what the caller
  needs (e.g. one planted by hand, or written by another version or configuration).
* :func:`exit_with_parent` stops a worker process whose parent died, so that a killed run leaves
  no orphan that keeps training and writing results while the resumed run redoes the same work.

fsync is not called: the guarantee is against killed processes, not against a crash of the OS.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "InvalidResult",
    "atomic_path",
    "atomic_write_json",
    "atomic_write_text",
    "check_zip",
    "exit_with_parent",
    "is_trusted",
    "load_curve",
    "load_json",
]


class InvalidResult(ValueError):
    """A result file exists but cannot be trusted (unreadable, truncated, another configuration)."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; it replaces ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was. Writers that
    infer the format from the file name (``savefig``, ``to_csv`` compression) must be given the
    format explicitly, since the temporary name ends in ``.tmp``.

    :param path: the final file (its folder is created if needed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: a unique name per writer, so a concurrent writer of the same target (e.g. an
    # orphaned worker of a killed run) cannot interleave its bytes with ours.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`).

    :param path: the final file.
    :param text: its whole content.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | Path, obj: Any, **dump_kwargs: Any) -> None:
    """Serialise ``obj`` to JSON and write it to ``path`` atomically.

    The text is built before anything is written, so an unserialisable ``obj`` raises and leaves
    ``path`` untouched.

    :param path: the final file.
    :param obj: the object to serialise.
    :param dump_kwargs: passed to ``json.dumps`` (``indent``, ``default``...).
    """
    atomic_write_text(path, json.dumps(obj, **dump_kwargs))


def load_json(path: str | Path, required: Sequence[str] = (), expect: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load a JSON object saved as a finished result, checking that it can be trusted.

    :param path: the file.
    :param required: keys the object must have.
    :param expect: ``{key: value}`` the object must hold (compared after a JSON round trip, so
        tuples match lists); a missing key counts as a mismatch.
    :returns: the object.
    :raises FileNotFoundError: if ``path`` does not exist.
    :raises InvalidResult: if it is unreadable, truncated, not a JSON object, lacks a required
        key or holds another value for a key of ``expect``; the message says which.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidResult(f"{path} is unreadable or truncated ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise InvalidResult(f"{path} holds a {type(data).__name__}, not a JSON object")
    missing = [k for k in required if k not in data]
    if missing:
        raise InvalidResult(f"{path} lacks {missing}")
    for key, value in (expect or {}).items():
        want = json.loads(json.dumps(value))
        if key not in data or data[key] != want:
            raise InvalidResult(f"{path} was made with {key}={data.get(key, '<missing>')!r}, not {want!r}")
    return data


def check_zip(path: str | Path) -> None:
    """Check that ``path`` is a whole zip archive (e.g. a saved SB3 model), every member's CRC included.

    :param path: the file.
    :raises InvalidResult: if it is missing, not a zip archive, or a member is corrupt.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidResult(f"{path} is missing or not a zip archive ({exc})") from exc
    if bad is not None:
        raise InvalidResult(f"{path}: member {bad} is corrupt")


def load_curve(
    path: str | Path, columns: Sequence[str], step_column: str, steps: Sequence[int], finite: Sequence[str] = ()
) -> list[dict[str, str]]:
    """Load a CSV learning curve saved as a finished result, checking that it is whole.

    :param path: the file.
    :param columns: its exact header.
    :param step_column: the column of the evaluation steps.
    :param steps: the steps a finished run evaluated at, in order (later rows may follow, e.g. when
        training overshoots its budget by part of a rollout).
    :param finite: columns that must hold finite numbers.
    :returns: the rows, as ``{column: text}``.
    :raises FileNotFoundError: if ``path`` does not exist.
    :raises InvalidResult: on a missing final newline, another header, a malformed row, a step
        sequence not starting with ``steps``, or a non-finite value.
    """
    path = Path(path)
    try:
        text = path.read_text()
        table = list(csv.reader(text.splitlines()))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidResult(f"{path} is unreadable ({type(exc).__name__}: {exc})") from exc
    # A file cut inside its last value may still parse ("3.25" -> "3.2"); one cut anywhere but
    # at a line end lacks the final newline that every CSV writer puts.
    if not text.endswith("\n"):
        raise InvalidResult(f"{path} does not end with a newline (truncated)")
    if not table or table[0] != list(columns):
        raise InvalidResult(f"{path} does not have the header {','.join(columns)}")
    if any(len(row) != len(columns) for row in table[1:]):
        raise InvalidResult(f"{path} has a row of the wrong length (truncated?)")
    rows = [dict(zip(columns, row, strict=True)) for row in table[1:]]
    try:
        got = [int(r[step_column]) for r in rows]
        ok = all(math.isfinite(float(r[c])) for r in rows for c in finite)
    except ValueError as exc:
        raise InvalidResult(f"{path} has a malformed value ({exc})") from exc
    if got[: len(steps)] != list(steps) or not ok:
        raise InvalidResult(f"{path} is not a whole curve (steps {list(steps)}, finite {list(finite)})")
    return rows


def is_trusted(check: Callable[..., Any], *args: Any, who: str = "resume") -> bool:
    """Whether the finished result that ``check(*args)`` validates can be reused.

    :param check: raises ``FileNotFoundError`` when there is no result (not finished: ``False``)
        and :class:`InvalidResult` when it cannot be trusted (``False``, and said on stderr: the
        caller reruns that work).
    :param args: passed to ``check``.
    :param who: prefix of the stderr message.
    """
    try:
        check(*args)
        return True
    except FileNotFoundError:
        return False
    except InvalidResult as exc:
        print(f"{who}: not trusting {exc}; rerunning it", file=sys.stderr, flush=True)
        return False


def exit_with_parent(parent_pid: int, poll_s: float = 0.2) -> None:
    """Make the calling worker process exit as soon as its parent ``parent_pid`` is gone.

    Meant as a process-pool ``initializer``: a SIGKILLed parent cannot stop its workers, which
    would otherwise finish (and write) their current job and then wait forever for the next.
    Polls ``os.getppid()`` (it changes when the orphan is re-parented) from a daemon thread,
    which works on every POSIX system and costs nothing while it sleeps.

    :param parent_pid: the pid of the process that started this worker (``os.getpid()`` there).
    :param poll_s: seconds between checks: at most this long an orphan keeps running.
    """

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)  # no cleanup: nothing of an orphan's unfinished job is worth keeping
            time.sleep(poll_s)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
