"""cli: the ``aekit`` command (``cli.commands``): flags parsed into a RunConfig, the
runs layer called, the result printed. ``entry`` is the console script, ``main`` runs
one command line in this process.

May import every layer, sklearn included (``aekit score`` reads the threshold an outlier
detector saved); nothing imports it but ``aekit.__main__``.
"""

from .commands import entry, main

__all__ = ["entry", "main"]
