"""The file formats data comes in, one module a format: ``npy`` (.npy, .npz), ``csv``
(.csv, .txt), ``idx`` (MNIST's IDX files), ``images`` (folders of image files).

A format's module reads a file and refuses what it cannot read, saying why; it knows
nothing of where its reader is called from. A new format goes here as a module of its
own, and is dispatched by its suffix in :func:`aekit.data.files.read_table` (and, if it
can be read a block at a time, in :func:`aekit.data.streaming.open_disk_array`).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Table:
    """An array read from a file, with the names of its columns where the file names them
    (a CSV's header line; pandas' row index, an unnamed first column, is left out) and
    what was done beyond reading it (``notes``)."""

    array: np.ndarray
    columns: list[str] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
