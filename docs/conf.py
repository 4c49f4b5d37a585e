"""Sphinx configuration of the sb3_softopt documentation.

Build (from the repository root, with the ``docs`` extra installed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The Markdown guides in this folder are read by MyST; the tutorials under ``tutorials/`` are
executed by MyST-NB during the build (an error in a cell fails it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
# the tutorials' kernels inherit this: their small networks run fastest on one thread, and
# OpenMP's spinning threads slow them down many times over on a loaded machine
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sb3_softopt  # noqa: E402

project = "sb3_softopt"
author = "sb3_softopt developers"
copyright = "2026, sb3_softopt developers"
try:  # the version being documented is the checkout's, not that of an older installed copy
    import tomllib

    release = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
except ImportError:  # Python 3.10
    release = sb3_softopt.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "myst_nb",  # MyST Markdown pages and executed notebooks
    "softopt_docs",  # docs/_ext: environments table, repository links, parameter checks
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    # machine-written run folders of the lecture report: only report.md is a page
    "lecture/*/runs", "lecture/*/curves", "lecture/*/pretrain",
]

# -- MyST ------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist", "html_image"]
# the guides link to each other's headings (`sac.md#benchmark-against-...`), GitHub-style
myst_heading_anchors = 4

# -- notebooks (docs/tutorials) --------------------------------------------------------------
nb_execution_mode = os.environ.get("SOFTOPT_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# -- autodoc ---------------------------------------------------------------------------------
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autoclass_content = "both"  # class docstring + __init__ docstring (where the :param: lists live)
autodoc_typehints = "none"  # signatures are long; the :param: lists say the types in words
autodoc_inherit_docstrings = False  # SB3's own docstrings are SB3's reference, not ours
napoleon_google_docstring = False
napoleon_numpy_docstring = True


# -- HTML ------------------------------------------------------------------------------------
html_theme = "sphinx_rtd_theme"
html_title = f"sb3_softopt {release}"
html_static_path: list[str] = []
html_theme_options = {"navigation_depth": 3, "collapse_navigation": False}

# repository the "source" links of guides point to (links to ../benchmarks/x.py and the like)
softopt_repo_url = "https://github.com/sb3-softopt/sb3_softopt/blob/main/"

# modules whose public names (``__all__``) must all appear, with docstrings, in the API pages
softopt_api_modules = [
    "sb3_softopt",
    "sb3_softopt.soft_dqn",
    "sb3_softopt.entropy_ppo",
    "sb3_softopt.sac",
    "sb3_softopt.sql",
    "sb3_softopt.inference",
    "sb3_softopt.composition",
    "sb3_softopt.common",
    "sb3_softopt.experiments.infra.atomic",
    "sb3_softopt.experiments.infra.executors",
    "sb3_softopt.experiments.infra.noise",
    "sb3_softopt.experiments.infra.plotting",
    "sb3_softopt.experiments.infra.run_state",
    "sb3_softopt.experiments.infra.stats",
    "sb3_softopt.envs",
    "sb3_softopt.zoo",
]
