"""aekit's version: written into every run folder's config.json, and compared with the
version a folder was written by (a newer one is refused). Kept equal to ``version`` in
pyproject.toml."""

__version__ = "0.2.0"
