"""Sphinx extension of the sb3_softopt docs.

* ``{softopt-envs}`` (a directive): the table of the registered environments, built from
  Gymnasium's registry (id, class, spaces, ``max_episode_steps``), then one section per
  environment with its class docstring (Gymnasium-style Markdown).
* Parameter check: a public class documented by autodoc whose constructor has an argument
  without a ``:param name:`` entry (in the class or ``__init__`` docstring) is a warning, so
  ``-W`` fails the build; so is a name of a documented module's ``__all__`` without a docstring
  (classes and functions) or missing from the API pages.
* Links to repository files outside ``docs/`` (``../benchmarks/x.py``) become links to the
  repository (``softopt_repo_url``) instead of broken cross-references.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PARAM_RE = re.compile(r":param\s+(?:[\w\[\], .|]+\s+)?\*{0,2}(\w+)\s*:")
IVAR_RE = re.compile(r":(?:ivar|var)\s+(?:[\w\[\], .|]+\s+)?(\w+)\s*:")


# --------------------------------------------------------------------------- environments
def softopt_env_specs() -> list[Any]:
    """The Gymnasium specs this package registers, in registration order."""
    import gymnasium as gym

    import sb3_softopt  # noqa: F401  (registers)

    return [
        spec
        for spec in gym.registry.values()
        if isinstance(spec.entry_point, str) and spec.entry_point.startswith("sb3_softopt.")
    ]


def _env_class(spec: Any) -> type:
    module, name = spec.entry_point.split(":")
    return getattr(importlib.import_module(module), name)


def _public_path(cls: type) -> str:
    """``sb3_softopt.envs.X`` where the class is exported there, else its defining module."""
    import sb3_softopt.envs as envs

    if getattr(envs, cls.__name__, None) is cls:
        return f"sb3_softopt.envs.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def _first_sentence(doc: str) -> str:
    """The first paragraph of the ``## Description`` section (or of the docstring), one line."""
    text = inspect.cleandoc(doc or "")
    match = re.search(r"##\s*Description\s*\n+(.+?)(?:\n\s*\n|$)", text, flags=re.S)
    para = match.group(1) if match else text.split("\n\n")[0]
    para = " ".join(para.split())
    sentence = re.split(r"(?<=[.!?])\s", para, maxsplit=1)[0]
    return sentence.replace("|", "\\|")


def environments_markdown() -> str:
    """The Markdown of the environments table and one section per environment."""
    import gymnasium as gym

    rows = [
        "| id | class | observation space | action space | `max_episode_steps` | summary |",
        "|---|---|---|---|---|---|",
    ]
    sections = []
    for spec in softopt_env_specs():
        cls = _env_class(spec)
        env = gym.make(spec.id)
        try:
            obs_space, act_space = env.observation_space, env.action_space
        finally:
            env.close()
        anchor = spec.id.lower().replace(".", "-")
        path = _public_path(cls)
        rows.append(
            f"| [`{spec.id}`](#{anchor}) | {{py:class}}`~{path}` | `{obs_space}` | `{act_space}` "
            f"| {spec.max_episode_steps} | {_first_sentence(cls.__doc__)} |"
        )
        doc = inspect.cleandoc(cls.__doc__ or "")
        if is_markdown_env_doc(cls.__doc__):
            # the docstrings' `## Heading`s become sub-sections of the environment's section,
            # their reStructuredText roles MyST roles
            doc = re.sub(r"^(#{2,4})\s", lambda m: "#" * (len(m.group(1)) + 1) + " ", doc, flags=re.M)
            doc = re.sub(r":(func|meth|class|mod|attr):`", r"{py:\1}`", doc)
        else:
            doc = "```{eval-rst}\n" + doc + "\n```"
        sections.append(
            textwrap.dedent(
                f"""
                ({anchor})=
                ## `{spec.id}`

                `gym.make("{spec.id}")` (or `"sb3_softopt:{spec.id}"`) makes {{py:class}}`{path}`
                with `max_episode_steps={spec.max_episode_steps}`; observation space `{obs_space}`,
                action space `{act_space}`.

                """
            )
            + doc
            + "\n"
        )
    return "\n".join(rows) + "\n\n" + "\n".join(sections)


class EnvironmentsDirective(SphinxDirective):
    """``{softopt-envs}``: the generated environments table and per-environment sections."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        text = environments_markdown()
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(text.splitlines(), source="<softopt-envs>"), 0, container, match_titles=True)
        return container.children


# --------------------------------------------------------------------------- parameter checks
def constructor_parameters(cls: type) -> list[str]:
    """Names of the arguments of ``cls.__init__`` a user passes (not ``self``, not ``*args``)."""
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not p.name.startswith("_")
    ]


def _own_docs(cls: type) -> str:
    init = cls.__dict__.get("__init__")
    return (cls.__dict__.get("__doc__") or "") + "\n" + ((init.__doc__ or "") if init is not None else "")


def documented_parameters(cls: type) -> set[str]:
    """Names with a ``:param name:`` entry in the class's or its ``__init__``'s docstring.

    For a dataclass the fields are the constructor's arguments, and ``:ivar name:`` documents them.
    """
    text = _own_docs(cls)
    names = set(PARAM_RE.findall(text))
    if dataclasses.is_dataclass(cls):
        names |= set(IVAR_RE.findall(text))
    return names


def _param_blocks(doc: str) -> dict[str, list[str]]:
    """``{name: lines}`` of the ``:param name: ...`` entries of a (Stable-Baselines3) docstring."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(doc or "").splitlines():
        match = PARAM_RE.match(line.strip()) if line.startswith(":param") else None
        if match:
            current = blocks.setdefault(match.group(1), [line])
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line)
        else:
            current = None
    return blocks


def inherited_parameters(cls: type) -> dict[str, tuple[type, list[str]]]:
    """Constructor arguments ``cls`` does not document but a base class outside this package does.

    sb3_softopt's algorithms document what they add or change; the arguments they pass through to
    SB3 (``learning_rate``, ``buffer_size``, ...) are documented by the SB3 class, whose entries
    the API reference then shows (marked as SB3's).
    """
    own = documented_parameters(cls)
    found: dict[str, tuple[type, list[str]]] = {}
    for name in constructor_parameters(cls):
        if name in own:
            continue
        for base in cls.__mro__[1:]:
            if base.__module__.startswith("sb3_softopt"):
                continue
            block = _param_blocks(base.__dict__.get("__doc__") or "").get(name)
            if block:
                found[name] = (base, block)
                break
    return found


def missing_parameters(cls: type) -> list[str]:
    """Constructor arguments of ``cls`` documented neither by it nor by an SB3 base class.

    Only a constructor the class defines itself is checked (an inherited one is documented where
    it is defined).
    """
    if "__init__" not in cls.__dict__ and not dataclasses.is_dataclass(cls):
        return []
    documented = documented_parameters(cls) | set(inherited_parameters(cls))
    return [name for name in constructor_parameters(cls) if name not in documented]


def is_markdown_env_doc(doc: str | None) -> bool:
    """A Gymnasium-style Markdown docstring (``## Description`` ...), rendered on the env page."""
    return bool(doc) and re.search(r"^\s*##\s+Description\s*$", doc, flags=re.M) is not None


def _process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if what != "class" or not inspect.isclass(obj) or not name.startswith("sb3_softopt"):
        return
    if is_markdown_env_doc(obj.__dict__.get("__doc__")):
        # The Markdown docstring is rendered (as Markdown) on the environments page; here, in
        # reStructuredText, a pointer to it and the constructor's own docstring.
        # (autodoc hands over the class docstring and the ``__init__`` one together or one by one)
        if any(re.match(r"\s*##\s+Description\s*$", line) for line in lines):
            spec_ids = [s.id for s in softopt_env_specs() if _env_class(s) is obj]
            init = obj.__dict__.get("__init__")
            init_lines = inspect.cleandoc((init.__doc__ or "") if init is not None else "").splitlines()
            rest: list[str] = []
            if init_lines:
                starts = [i for i, line in enumerate(lines) if line.strip() == init_lines[0].strip()]
                rest = lines[starts[-1]:] if starts else []
            lines[:] = [_first_sentence(obj.__doc__).replace("\\|", "|"), ""]
            for env_id in spec_ids:
                lines += [f"Registered as ``{env_id}``: see :ref:`{env_id} <{env_id.lower()}>` on the environments page"
                          " for its spaces, rewards and episode end.", ""]
            lines += [*rest, ""]
    inherited = inherited_parameters(obj)
    if inherited:
        lines.append("")
        for _name, (base, block) in inherited.items():
            # SB3's entries may refer to labels of SB3's own site (:ref:`ppo_policies`)
            block = [re.sub(r":ref:`([^`<]+?)(?:\s*<[^>]+>)?`", r"*\1* (SB3's documentation)", line) for line in block]
            block[-1] = block[-1] + f" (from Stable-Baselines3's ``{base.__name__}``)"
            lines.extend(block)
        lines.append("")
    missing = missing_parameters(obj)
    if missing:
        logger.warning(
            "%s: constructor arguments without a :param: entry: %s", name, ", ".join(missing),
            type="softopt", subtype="param", location=inspect.getsourcefile(obj),
        )


def _defined_here(obj: Any) -> bool:
    return (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "").startswith("sb3_softopt")


def undocumented_public_names(module_name: str) -> list[str]:
    """Classes and functions of this package in ``module.__all__`` that have no docstring of their own."""
    module = importlib.import_module(module_name)
    missing = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name, None)
        if name.startswith("_") or not _defined_here(obj):
            continue
        if not (obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__):
            missing.append(name)
    return missing


def _resolve(full_name: str) -> Any:
    parts = full_name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _check_api_coverage(app: Sphinx, env: Any) -> None:
    """Every public class and function of the API modules is documented on the API pages."""
    if not app.config.softopt_api_modules:
        return
    documented = {id(obj) for obj in map(_resolve, env.get_domain("py").objects) if obj is not None}
    for module_name in app.config.softopt_api_modules:
        for name in undocumented_public_names(module_name):
            logger.warning("%s.%s has no docstring", module_name, name, type="softopt", subtype="undocumented")
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if name.startswith("_") or not _defined_here(obj) or id(obj) in documented:
                continue
            logger.warning("%s.%s is public (in __all__) but not on the API pages", module_name, name,
                           type="softopt", subtype="undocumented")


# --------------------------------------------------------------------------- raw HTML anchors
ANCHOR_RE = re.compile(r'^\s*<a\s+(?:id|name)="([^"]+)"\s*>(?:\s*</a>)?\s*$')


def _html_anchors(app: Sphinx, doctree: nodes.document) -> None:
    """``<a id="x"></a>`` (written by the lecture report's generator) becomes a label ``x``.

    GitHub renders such anchors, and the HTML builder passes them through as raw HTML, but MyST
    cannot resolve the report's ``[claim](#x)`` links to them: each is registered as a label of
    its document (pointing at the raw anchor, which the page keeps), titled after the section
    that follows it.
    """
    std = app.env.get_domain("std")
    docname = app.env.docname
    anchors: set[str] = set()
    for raw in list(doctree.findall(nodes.raw)):
        match = ANCHOR_RE.match(raw.astext())
        if not match or raw.get("format") != "html":
            continue
        anchor = match.group(1)
        title = anchor
        following = raw.next_node(nodes.title, ascend=True)
        if following is not None:
            title = following.astext()
        std.anonlabels[anchor] = (docname, anchor)
        std.labels[anchor] = (docname, anchor, title)
        anchors.add(anchor)
    # ``[claim](#x)`` to such an anchor is a reference to this label only: left to MyST's search of
    # every domain, ``#composition`` would also match the module ``sb3_softopt.composition``.
    for xref in doctree.findall(addnodes.pending_xref):
        target = str(xref.get("reftarget", "")).lstrip("#")
        if xref.get("reftype") == "myst" and xref.get("refdomain") is None and target in anchors:
            xref["refdomain"], xref["reftype"], xref["reftarget"] = "std", "ref", target


def _orphan_run_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    """Pages written by the experiments into ``lecture/<claim>/`` are linked, not in a toctree.

    They are generated (so they carry no front matter and may lack a title): they are marked
    orphan, and get a title when they have none.
    """
    if not re.fullmatch(r"lecture/[^/]+/.+", docname):
        return
    if not source[0].lstrip().startswith("# "):
        source[0] = f"# {docname.split('/')[1]}: {Path(docname).name}\n\n" + source[0]


def _mark_orphans(app: Sphinx, doctree: nodes.document) -> None:
    if re.fullmatch(r"lecture/[^/]+/.+", app.env.docname):
        app.env.metadata[app.env.docname]["orphan"] = True


# --------------------------------------------------------------------------- repository links
def _repo_links(app: Sphinx, env: Any, node: nodes.Element, contnode: nodes.Node) -> nodes.Node | None:
    """``[x](../benchmarks/x.py)``: a link to the file in the repository, not a missing reference."""
    if node.get("refdomain") not in ("", None) and node.get("reftype") != "myst":
        return None
    target = node.get("reftarget", "")
    if not target or "://" in target or target.startswith("#"):
        return None
    docdir = Path(env.doc2path(node["refdoc"])).parent
    path = (docdir / target.split("#")[0]).resolve()
    root = Path(app.srcdir).resolve().parent
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if not path.exists() or (str(rel).startswith("docs/") and path.suffix in (".md", ".ipynb", ".rst")):
        return None
    ref = nodes.reference("", "", internal=False, refuri=app.config.softopt_repo_url + rel.as_posix())
    ref.append(contnode)
    return ref


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("softopt_repo_url", "https://github.com/sb3-softopt/sb3_softopt/blob/main/", "env")
    app.add_config_value("softopt_api_modules", [], "env")
    app.add_directive("softopt-envs", EnvironmentsDirective)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("doctree-read", _html_anchors)
    app.connect("doctree-read", _mark_orphans)
    app.connect("source-read", _orphan_run_pages)
    app.connect("env-check-consistency", _check_api_coverage)
    app.connect("missing-reference", _repo_links)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
