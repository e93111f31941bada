"""Exceptions raised by aekit.

Every problem aekit reports about its input or a run derives from :class:`AekitError`, so
callers can catch one type and the CLI can print one line instead of a traceback. Bad
input (data, settings, config files, run folders) is also a ``ValueError``; a training stop
and an interruption are not, so ``except ValueError`` never swallows a SIGTERM stop.
"""

from __future__ import annotations


class AekitError(Exception):
    """Base class of every error aekit raises about its input or a run."""


class DataError(AekitError, ValueError):
    """The data is unusable: NaN/inf, wrong shape, empty, non-numeric, out of range."""


class ConfigError(AekitError, ValueError):
    """A configuration or parameter value is invalid (unknown name, value out of range)."""


class CheckpointError(AekitError, ValueError):
    """A run folder or checkpoint is missing, corrupt, or does not match its config."""


class TrainingError(AekitError, RuntimeError):
    """Training cannot continue, e.g. the loss became NaN or infinite."""


class EvaluationError(AekitError, RuntimeError):
    """A model trained and was saved, but judging it afterwards failed; its run folder
    holds the weights, config.json and a metrics.json that says what failed."""


class TrainingInterrupted(AekitError):
    """Training was stopped by SIGINT/SIGTERM after writing a checkpoint (when it had a
    place to write one: ``checkpoint`` names it, else it is None)."""

    def __init__(self, message: str, signum: int, checkpoint: str | None = None) -> None:
        super().__init__(message)
        self.signum = signum
        self.checkpoint = checkpoint


def non_finite(
    name: str, n_nan: int, n_inf: int, first: int | None, allow_missing: bool, where: str = ""
) -> DataError:
    """The one message for NaN or infinite values in data (in memory or on disk). With
    ``allow_missing`` NaN marks a missing value and is not counted: only infinities are
    refused, and ``first`` is the first sample holding one. ``where`` locates that sample
    further (a shard of a folder: " (shard x.npy, its sample 12)")."""
    if allow_missing:
        n_nan = 0
    what = " and ".join(
        w for w in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if w
    )
    fix = (
        "an infinity is not a missing value (NaN is): replace them with numbers, or with "
        "NaN to mark them missing"
        if allow_missing
        else "remove or impute them, or train a model of incomplete data "
        "(missing=True; aekit train --missing)"
        if n_nan and not n_inf
        else "remove or impute them"
    )
    return DataError(f"{name} contains {what} value(s) (first in sample {first}{where}); {fix}")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (error output is one line per problem)."""
    return " ".join(str(exc).split())
