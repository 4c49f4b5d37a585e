"""The documentation's checks without a Sphinx build (#31).

``docs/_ext/softopt_docs.py`` makes the build fail on a public constructor argument without a
``:param:`` entry and on a public class or function without a docstring; these tests run the
same checks in a second, so that a missing entry shows up in the test run too. The environments
page is generated from Gymnasium's registry: every registered id has its row and section.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")  # the docs extra; CI installs it

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
softopt_docs = importlib.import_module("softopt_docs")


def _api_modules() -> list[str]:
    namespace: dict = {}
    text = (DOCS / "conf.py").read_text()
    start = text.index("softopt_api_modules = [")
    exec(text[start:text.index("]", start) + 1], namespace)
    return [m for m in namespace["softopt_api_modules"] if not m.startswith("sb3_softopt.zoo") or _has_zoo()]


def _has_zoo() -> bool:
    return importlib.util.find_spec("rl_zoo3") is not None


def _public_classes(module_name: str) -> list[tuple[str, type]]:
    module = importlib.import_module(module_name)
    return [
        (f"{module_name}.{name}", obj)
        for name in getattr(module, "__all__", [])
        if inspect.isclass(obj := getattr(module, name)) and obj.__module__.startswith("sb3_softopt")
    ]


@pytest.mark.parametrize("module_name", _api_modules())
def test_every_constructor_argument_has_a_param_entry(module_name):
    missing = {name: softopt_docs.missing_parameters(cls) for name, cls in _public_classes(module_name)}
    assert {k: v for k, v in missing.items() if v} == {}


@pytest.mark.parametrize("module_name", _api_modules())
def test_every_public_class_and_function_has_a_docstring(module_name):
    assert softopt_docs.undocumented_public_names(module_name) == []


def test_the_check_sees_a_missing_entry():
    class Documented:
        """:param a: the first."""

        def __init__(self, a: int, b: int = 0, *args, **kwargs):
            pass

    assert softopt_docs.missing_parameters(Documented) == ["b"]


def test_environments_page_lists_every_registered_env():
    text = softopt_docs.environments_markdown()
    specs = softopt_docs.softopt_env_specs()
    assert len(specs) >= 9
    for spec in specs:
        assert f"| [`{spec.id}`](#{spec.id.lower()})" in text
        assert f"## `{spec.id}`" in text
