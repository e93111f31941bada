"""Exceptions raised by aekit.

Every problem caused by the user's input (data, parameters, config files, run folders)
raises a subclass of :class:`AekitError`, so callers can catch one type and the CLI can
print one line instead of a traceback. They subclass ``ValueError`` because each one means
"this value is not acceptable".
"""

from __future__ import annotations


class AekitError(ValueError):
    """Base class for every error aekit raises about its input."""


class DataError(AekitError):
    """The data is unusable: NaN/inf, wrong shape, empty, non-numeric, out of range."""


class ConfigError(AekitError):
    """A configuration or parameter value is invalid (unknown name, value out of range)."""


class CheckpointError(AekitError):
    """A run folder or checkpoint is missing, corrupt, or does not match its config."""


class TrainingError(AekitError):
    """Training cannot continue, e.g. the loss became NaN or infinite."""
