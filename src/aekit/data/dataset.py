"""A data set as the rest of aekit takes it: :class:`Dataset`, what every source gives."""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import Tensor


@dataclasses.dataclass
class Dataset:
    """Training data, optional held-out test data, image shape and labels (when known);
    for folders of images, the file name of each row (``files``, ``test_files``); the
    names of the features where the data names them (``columns``: a CSV's header line);
    and what was done beyond reading the data (``notes``: images resized, converted)."""

    name: str
    train: Tensor
    test: Tensor | None = None
    image_shape: tuple[int, int, int] | None = None
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    files: list[str] | None = None
    test_files: list[str] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    # The names of the features, where the data names them (a CSV's header line).
    columns: list[str] | None = None

    @property
    def input_dim(self) -> int:
        return int(self.train.shape[1])
