"""Comma-separated text files (.csv, .txt): numbers, one sample a line, with or without a
header line naming the columns. Empty fields, ``NA``, ``nan`` and ``null`` are missing
values (read as NaN). A line numpy cannot read is named as an editor shows it.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import DataError
from . import Table

HEADERS = ("auto", "yes", "no")  # whether a CSV's first line names its columns
HEADER_HOW = "--header yes or --header no (header='yes' or 'no' in Python and config files)"
HEADER_YES = "--header yes, or header='yes' in Python and config files"
HEADER_NO = "--header no, or header='no' in Python and config files"


@dataclasses.dataclass
class CsvHeader:
    """A CSV's header line: the names of its columns (None: it has no header) and whether
    its first column is the rows' labels (pandas' index: an empty first cell)."""

    names: list[str] | None
    index: bool = False
    fields: int = 0  # cells in the header line


def csv_header(path: str | Path, header: str = "auto") -> list[str] | None:
    """The column names of a CSV file's header line (without pandas' index column), or
    None when it has none; see :func:`read_table` for ``header``."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt"):
        return None
    return _csv_header(path, header).names


def _first_line(path: Path) -> str:
    with path.open(newline="") as f:
        return f.readline()


def _csv_header(path: Path, header: str) -> CsvHeader:
    first = _first_line(path)
    if header == "no" or not first.strip():
        return CsvHeader(None)
    tokens = [t.strip() for t in next(csv.reader([first.rstrip("\r\n")]), [])]
    index = len(tokens) > 1 and tokens[0] == "" and all(tokens[1:])
    named = tokens[1:] if index else tokens
    if header == "yes":
        return CsvHeader(named, index, len(tokens))
    numbered = named == [str(i) for i in range(len(named))]
    if numbered:
        shown = first.strip()
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise DataError(
            f"{path}: line 1 ({shown}) could be a header of column numbers (as pandas "
            "writes for unnamed columns) or a sample: aekit cannot tell which; say "
            f"whether the first line is a header: {HEADER_HOW}"
        )
    numbers = [t for t in tokens if _is_number(t)]
    names = [t for t in tokens if not _is_number(t) and t.lower() not in MISSING_TOKENS]
    if names and not numbers:
        return CsvHeader(named, index, len(tokens))
    return CsvHeader(None)


def read_csv(path: Path, header: str = "auto") -> Table:
    """A CSV file as a :class:`Table`: its numbers (float64, NaN where missing), the
    names its header line gives, and a note where its first column is pandas' index;
    ``header`` as in :func:`aekit.data.files.read_table`."""
    head = _csv_header(path, header)
    has_header = head.names is not None or (header == "yes" and bool(_first_line(path).strip()))
    read: dict[str, Any] = dict(delimiter=",", skiprows=int(has_header), dtype=np.float64, ndmin=2)
    if head.index:
        read["usecols"] = range(1, head.fields)
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "empty input file": refused below, once
                arr = np.loadtxt(path, **read)  # type: ignore[call-overload]
        except ValueError:  # empty fields or NA: missing values, read the slow way
            arr = np.loadtxt(path, **read, converters=_csv_number)  # type: ignore[call-overload]
    except ValueError as exc:
        raise DataError(
            f"{path} is not a numeric CSV: {_csv_problem(path, str(exc), head, has_header)}"
        ) from None
    # A header that names every column, the last one too, says an empty last column is a
    # column of missing values (pandas writes an all-NaN column so), not trailing commas.
    named = head.names is not None and len(head.names) == arr.shape[1] and head.names[-1] != ""
    if (
        arr.size
        and arr.shape[1] > 1
        and not named
        and np.isnan(arr[:, -1]).all()
        and _trailing_commas(path, has_header)
    ):
        lines = "every line" if not has_header else "every line after the header"
        raise DataError(
            f"{path}: {lines} ends with a comma, which makes an empty last column "
            "(no values, not missing ones); remove the trailing commas, or, if that column "
            "holds only missing values, give the file a header line that names it"
        )
    notes = []
    if head.names is not None:
        if arr.size and len(head.names) != arr.shape[1]:
            raise DataError(
                f"{path}: its header (line 1) names {len(head.names)} column(s) but its "
                f"lines hold {arr.shape[1]}: give each column one name (or, if line 1 is "
                f"not a header, say so: {HEADER_NO})"
            )
        if head.index:
            notes.append(
                "the first column, unnamed in the header, holds the rows' labels (pandas' "
                "index): left out, not a feature"
            )
    return Table(arr, head.names, notes)


def _trailing_commas(path: Path, header: bool) -> bool:
    """Whether every data line of a CSV ends with a comma (an empty last field)."""
    with path.open() as f:
        lines = [
            line.split("#", 1)[0].strip()
            for number, line in enumerate(f)
            if not (header and number == 0)
        ]
    lines = [line for line in lines if line]
    return bool(lines) and all(line.endswith(",") for line in lines)


MISSING_TOKENS = ("", "na", "nan", "null")  # a missing value in a CSV (read as NaN)


def _csv_problem(path: Path, message: str, head: CsvHeader, header: bool) -> str:
    """numpy's complaint about a CSV, with the place named as an editor shows it: the
    file's line (numpy counts data rows, past blank and comment lines) and the column
    counted from 1, with its name."""
    cell = re.search(
        r"could not convert string (.*) to float\d* at row (\d+), column (\d+)", message
    )
    if cell is not None:
        # numpy counts the file's columns from 1, pandas' index column among them.
        text, column = cell.group(1), int(cell.group(3))
        line = _csv_line(path, int(cell.group(2)), header)  # rows from 0
        named = head.names
        first = int(head.index)
        name = (
            f" ({named[column - 1 - first]!r})"
            if named is not None and 0 <= column - 1 - first < len(named)
            else ""
        )
        hint = f" (if line 1 is a header, say so: {HEADER_YES})" if line == 1 else ""
        separator = next((c for c in (";", "\t", "|") if c in text), None)
        if separator is not None:
            return (
                f"line {line} holds {text}: its values are separated by {separator!r}, and "
                "aekit reads comma-separated values; write the file with commas"
            )
        return f"line {line}, column {column}{name} holds {text}, not a number{hint}"
    ragged = re.search(r"number of columns changed from (\d+) to (\d+) at row (\d+)", message)
    if ragged is not None:
        before, now, row = (int(g) for g in ragged.groups())
        line = _csv_line(path, row - 1, header)  # rows from 1
        return f"line {line} has {now} column(s) where the lines before it have {before}"
    return message


def _csv_line(path: Path, row: int, header: bool) -> int | str:
    """The line number (from 1) of data row ``row`` (from 0) of a CSV, as numpy's
    loadtxt counts rows: past the header, blank lines and ``#`` comments."""
    with path.open() as f:
        seen = -1
        for number, line in enumerate(f, start=1):
            if (header and number == 1) or not line.split("#", 1)[0].strip():
                continue
            seen += 1
            if seen == row:
                return number
    return "?"


def _csv_number(token: str) -> float:
    token = token.strip()
    return math.nan if token.lower() in MISSING_TOKENS else float(token)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
