"""Sphinx configuration of aekit's documentation site (`sphinx-build -W docs docs/_build`).

The pages are Markdown (MyST); the API reference is generated from the docstrings
(autodoc), the command-line reference from the ``aekit`` parser itself (sphinx-argparse),
and the gallery by running the tutorial scripts in ``examples/`` (sphinx-gallery): a
tutorial that fails fails the build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import aekit  # noqa: E402

project = "aekit"
author = "the aekit developers"
copyright = "2026, the aekit developers"
release = aekit.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "sphinxarg.ext",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "gallery/*.ipynb", "gallery/*.py", "gallery/*.zip", "**/*.md5"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header"]  # the included README/BENCHMARKS start below level 1

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
}
# The site builds with nothing downloaded (CI machines may be offline): intersphinx reads
# no inventory unless AEKIT_DOCS_ONLINE is set.
if not os.environ.get("AEKIT_DOCS_ONLINE"):
    intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": r"/tutorial_",  # every tutorial runs when the site builds
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "show_memory": False,
}

html_theme = "furo"
html_title = f"aekit {release}"
html_static_path: list[str] = []
