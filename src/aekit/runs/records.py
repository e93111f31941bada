"""What a run folder records about its training, read back checked: the metrics of its
evaluation (metrics.json), its history an epoch a row (metrics.csv), and the samples it
trained, validated and was tested on (config.json's ``result``). What the report and
``aekit info`` show; anything that is not what aekit writes is refused, or said as such.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from ..core.errors import CheckpointError
from ..core.io import MAX_TABLE_BYTES, read_checked, read_json
from ..training.fallback import recorded_comparison, why_pca

METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
TEXT_METRICS = ("split", "evaluation_error")  # the entries of metrics.json that are words
# The entries of metrics.json that are lists: the numbers of the dead code units (an
# autoencoder's) and of the inactive ones (a VAE's: under 0.01 nats of KL each).
LIST_METRICS = ("dead_unit_numbers", "inactive_unit_numbers")


def read_metrics(run: str | Path) -> dict[str, Any]:
    """A run folder's metrics.json, checked: an object of numbers (null where a metric
    was NaN or infinite), true/false flags, the split's name and the dead or inactive code
    units' numbers (lists); {} where there is none.
    Anything else is a :class:`CheckpointError` naming the file and the entry."""
    path = Path(run) / METRICS_JSON
    if not os.path.lexists(path):
        return {}
    metrics = read_json(path, "metrics file", CheckpointError)
    if not isinstance(metrics, dict):
        raise CheckpointError(
            f"metrics file {path} must hold a JSON object, got {type(metrics).__name__}; "
            "remove the file (aekit train --resume RUN evaluates the run and writes it again)"
        )
    for key, value in metrics.items():
        if key in TEXT_METRICS:
            fine, wanted = isinstance(value, str), "a text"
        elif key in LIST_METRICS:
            fine = isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
            )
            wanted = "a list of unit numbers"
        else:
            fine = value is None or isinstance(value, bool | int | float)
            wanted = "a number or null"
        if not fine:
            raise CheckpointError(
                f"metrics file {path}: {key!r} must be {wanted}, got {json.dumps(value)[:40]}; "
                "remove the file (aekit train --resume RUN evaluates the run and writes it again)"
            )
    return metrics


def read_history(run: str | Path) -> list[dict[str, float]]:
    """A run folder's metrics.csv, checked: a header naming the columns (``epoch`` among
    them), then one row of numbers an epoch (empty where a column did not apply); [] where
    there is none. Anything else is a :class:`CheckpointError` naming the line."""
    path = Path(run) / METRICS_CSV
    if not os.path.lexists(path):
        return []
    raw = read_checked(path, "metrics file", CheckpointError, MAX_TABLE_BYTES)
    fix = "remove the file, or train the run again"
    try:
        text = raw.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CheckpointError(f"metrics file {path} is not a readable CSV ({exc}); {fix}") from None
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if "epoch" not in header or any(not h for h in header) or len(set(header)) < len(header):
        raise CheckpointError(
            f"metrics file {path}: its first line must name the columns, 'epoch' among "
            f"them, each once; got {','.join(rows[0])[:80]!r}; {fix}"
        )
    history = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise CheckpointError(
                f"metrics file {path}: line {number} has {len(row)} field(s) where the "
                f"header names {len(header)}; {fix}"
            )
        values: dict[str, float] = {}
        for name, cell in zip(header, row, strict=True):
            if cell.strip() == "":
                continue
            try:
                values[name] = float(cell)
            except ValueError:
                raise CheckpointError(
                    f"metrics file {path}: line {number}, column {name!r} holds "
                    f"{cell[:40]!r}, not a number; {fix}"
                ) from None
        epoch = values.get("epoch")
        if epoch is None or not math.isfinite(epoch) or epoch != int(epoch) or epoch < 0:
            raise CheckpointError(
                f"metrics file {path}: line {number} has no whole epoch number; {fix}"
            )
        history.append(values)
    return history


SAMPLES = {"train": "training", "validation": "validation", "test": "test"}


def describe_samples(config: dict[str, Any]) -> str:
    """The rows a run trained on, validated on and was tested on, as its config.json's
    ``result`` records them ("1150 training, 287 validation, 360 test"); "not recorded in
    the run folder" for a folder that records none (one written before aekit recorded
    them, or a run not finished), and said as such where they are not counts."""
    result = config.get("result")
    samples = result.get("samples") if isinstance(result, dict) else None
    if samples is None:
        return "not recorded in the run folder"
    counts = [samples.get(k) for k in SAMPLES] if isinstance(samples, dict) else []
    if not counts or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts
    ):
        return "not readable: config.json's result.samples is not a count per split"
    return ", ".join(f"{n} {word}" for n, word in zip(counts, SAMPLES.values(), strict=True))


def fallback_reason(config: dict[str, Any]) -> str:
    """Why a run's model fell back to PCA, in words, from its config.json's
    ``result.pca_comparison`` (:func:`~aekit.training.fallback.why_pca`: both validation
    errors and which rule applied); for a folder that records none (written before aekit
    recorded it), what holds under every version of the rule."""
    result = config.get("result")
    comparison = recorded_comparison(
        result.get("pca_comparison") if isinstance(result, dict) else None
    )
    if comparison is None:
        return (
            "the trained layers did not clearly beat PCA on the validation data (this run "
            "folder does not record the two errors)"
        )
    return why_pca(comparison)
