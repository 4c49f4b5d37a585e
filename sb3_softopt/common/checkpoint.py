"""Clear errors for damaged model files.

SB3 reports a truncated or partly overwritten ``.zip`` as ``AssertionError: No data found in the
saved file`` or a bare ``JSONDecodeError``, naming neither the file nor what is wrong with it.
:class:`CheckpointLoadMixin` re-raises such failures as :class:`CheckpointError` with both, after
the load has failed (a good file pays nothing).
"""

from __future__ import annotations

import io
import json
import pathlib
import zipfile
from typing import Any

import torch as th

#: What SB3 writes into every model file (``BaseAlgorithm.save``).
REQUIRED_MEMBERS = ("data", "policy.pth")


class CheckpointError(ValueError):
    """A model file is damaged (truncated, overwritten, not an SB3 archive)."""


def _damaged_type(sb3_type: type[BaseException]) -> type[CheckpointError]:
    # SB3's own error type stays catchable as such: code written against SB3 behaves the same.
    if issubclass(CheckpointError, sb3_type):
        return CheckpointError
    return type(f"Checkpoint{sb3_type.__name__}", (CheckpointError, sb3_type), {"__module__": __name__})


#: what SB3 raises for a damaged file -> the error raised instead (both types, SB3's text first)
_DAMAGED_TYPES = {t: _damaged_type(t) for t in (ValueError, AssertionError, KeyError, EOFError, RuntimeError, zipfile.BadZipFile)}


def _resolve(path: str | pathlib.Path) -> pathlib.Path | None:
    """The file SB3's ``open_path(..., suffix="zip")`` opens, or ``None`` when there is none."""
    candidate = pathlib.Path(path)
    if candidate.is_file():
        return candidate
    with_suffix = candidate.with_name(candidate.name + ".zip")
    return with_suffix if with_suffix.is_file() else None


def _ends_with_directory(file: pathlib.Path) -> bool:
    """Whether the file ends with a zip end-of-central-directory record (SB3 writes no comment)."""
    with open(file, "rb") as handle:
        handle.seek(max(file.stat().st_size - 22, 0))
        return handle.read(4) == b"PK\x05\x06"


def describe_damage(path: str | pathlib.Path | io.BufferedIOBase) -> str | None:
    """What is wrong with an SB3 model file, or ``None`` when nothing is found.

    Checks, in order: a readable zip archive; every member's CRC (a partly overwritten file);
    the members SB3 writes (:data:`REQUIRED_MEMBERS`); ``data`` as JSON; each ``.pth`` as a
    torch archive.

    :param path: the file given to ``load`` (file objects are not inspected)
    """
    if not isinstance(path, (str, pathlib.Path)):
        return None
    file = _resolve(path)
    if file is None:
        return None
    size = file.stat().st_size
    if not zipfile.is_zipfile(file):
        return f"{file} ({size} bytes) is not a zip archive: truncated, overwritten, or not a model file"
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            try:
                bad_member = archive.testzip()
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
                return f"{file} ({size} bytes) is a damaged zip archive: {exc}"
            if bad_member is not None:
                return f"member {bad_member!r} of {file} is corrupt (its CRC does not match): the file was partly overwritten"
            missing = [m for m in REQUIRED_MEMBERS if m not in names]
            if missing and not _ends_with_directory(file):
                # The torch archives inside are zips too: a truncated model file can still open,
                # as the last inner archive whose end record survived.
                return f"{file} ({size} bytes) is truncated: the end of the zip archive is missing"
            if missing:
                return f"{file} has no {' / '.join(repr(m) for m in missing)} member: not a model saved by SB3's save() (members: {names})"
            try:
                json.loads(archive.read("data").decode())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return f"member 'data' of {file} is not valid JSON ({exc})"
            for name in names:
                if name.endswith(".pth"):
                    try:
                        with archive.open(name) as member:
                            th.load(member, map_location="cpu", weights_only=True)
                    except Exception as exc:
                        return f"member {name!r} of {file} is not a readable torch archive ({type(exc).__name__}: {exc})"
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        return f"{file} ({size} bytes) is a damaged zip archive: {exc}"
    return None


class CheckpointLoadMixin:
    """Gives ``load`` an error naming the file and the damage when a model file is broken.

    Put it before the SB3 base class: ``class SoftDQN(CheckpointLoadMixin, DQN)``. The error
    keeps SB3's type and text (e.g. ``ValueError: ... wasn't a zip-file``) and adds the diagnosis
    after it; it is also a :class:`CheckpointError`. Errors of a sound file (a wrong env, missing
    custom objects) are raised unchanged.
    """

    @classmethod
    def load(cls, path: str | pathlib.Path | io.BufferedIOBase, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().load(path, *args, **kwargs)  # type: ignore[misc]
        except (AssertionError, ValueError, KeyError, EOFError, RuntimeError, zipfile.BadZipFile) as exc:
            problem = describe_damage(path)
            if problem is None:
                raise
            error_type = next(v for k, v in _DAMAGED_TYPES.items() if isinstance(exc, k))
            raise error_type(f"{exc} ({cls.__name__}.load: {problem})") from exc
