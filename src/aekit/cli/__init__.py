"""cli: the ``aekit`` command: flags parsed into a RunConfig, the runs layer called, the
result printed. ``entry`` is the console script, ``main`` runs one command line in this
process.

Where things are:

- ``program``: :func:`main` and :func:`entry`, the table ``COMMANDS`` (name -> function)
  and the error handling (one line ``aekit: error: ...``, the exit codes);
- ``parser``: the argument parser, one builder per command (``COMMAND_PARSERS``) and the
  flags several commands share; ``options``: the flags of ``aekit train`` generated from
  RunConfig's fields;
- the commands, each a function ``cmd_NAME`` that calls the function of the same name in
  :mod:`aekit.runs.api`: ``train`` (train, ``--resume``, ``--pretrain``), ``apply`` (what
  applies a run to data: evaluate, encode, reconstruct, score, impute), ``describe`` (what
  describes run folders: info, report);
- ``printing``: what the commands print (numbers, the comparison with PCA, the lines after
  training); ``files``: the files they write their results to.

A new command: its ``cmd_NAME`` in the module of its kind (or a new one), its subparser
builder in ``parser.COMMAND_PARSERS``, and its name in ``program.COMMANDS``.

May import every layer, sklearn included (``aekit score`` uses the outlier detector's
threshold rule and reads the threshold one saved); nothing imports it but
``aekit.__main__``.
"""

from .program import entry, main

__all__ = ["entry", "main"]
