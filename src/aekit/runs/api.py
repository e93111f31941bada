"""Runs: the Python functions behind every ``aekit`` command, taking the same config; one
import for the commands, :mod:`aekit` and the estimators, each function kept in the module
of its concept (see :mod:`aekit.runs`).

``aekit.train(config)`` does all that ``aekit train`` does (run folder, checkpoints,
metrics, figures, SIGINT/SIGTERM handling) and returns the :class:`Run`;
``aekit.resume(path)`` continues an interrupted one; ``evaluate``, ``encode`` and
``reconstruct`` take a model or a run folder. ``fit`` trains a model you built. The CLI
only parses flags into a :class:`~aekit.RunConfig` and prints what these return.

The path from ``aekit train`` to the loss::

    cli.program.main -> cli.train.cmd_train -> runs.run.train -> runs.run.execute
        -> runs.folder.train_in_folder -> Trainer.fit -> Trainer._train_epoch
        -> Trainer._loss -> Trainer._forward_once -> model(x) -> (loss, terms)
"""

from __future__ import annotations

from .fitting import fit, fit_model
from .inputs import load_dataset, read_images
from .result import Run
from .run import resume, resume_status, train
from .use import (
    checked_blocks,
    encode,
    evaluate,
    impute,
    load_model_and_data,
    reconstruct,
    result_dtype,
    sample,
    score,
)

__all__ = [
    "Run",
    "checked_blocks",
    "encode",
    "evaluate",
    "fit",
    "fit_model",
    "impute",
    "load_dataset",
    "load_model_and_data",
    "read_images",
    "reconstruct",
    "result_dtype",
    "resume",
    "resume_status",
    "sample",
    "score",
    "train",
]
