"""Typed dataclasses <-> plain JSON values, with one clear error per bad field.

Configs are dataclasses whose annotations are the schema: ``from_dict`` checks every key
and type (unknown keys, wrong types and missing fields are errors naming the field), and
``to_dict`` produces JSON-ready values. Field values are validated by the dataclass itself
(``__post_init__``), so a config is valid however it was made.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import types
import typing
from typing import Any, Literal, Union

from .errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The allowed range of a numeric setting, declared once (a field's ``bounds``
    metadata) and checked by :func:`number`, which also refuses NaN and infinities.

    ``what`` describes the setting after its name ("nu (the corrupted fraction)"), and
    ``note`` follows the range in messages.

    Examples
    --------
    >>> str(Bounds(0, 1, high_open=True)), str(Bounds(0, low_open=True)), str(Bounds())
    ('in [0, 1)', '> 0', '')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    what: str = ""
    note: str = ""

    def __str__(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{low:g}, {high:g}{right}"
        if low is not None:
            return f"{'>' if self.low_open else '>='} {low:g}"
        if high is not None:
            return f"{'<' if self.high_open else '<='} {high:g}"
        return ""

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number: Python's or numpy's (np.float32, np.int64...),
    not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number(value: Any, where: str, bounds: Bounds | None = None) -> float:
    """The one rule for numeric settings: ``value`` as a Python float, refused (with
    :class:`ConfigError` naming ``where`` and the allowed range) if it is not a number,
    is NaN or infinite, or lies outside ``bounds``. numpy's number types are numbers.

    Examples
    --------
    >>> number(0.5, "nu", Bounds(0, 1, high_open=True))
    0.5
    >>> number(float("nan"), "contamination", Bounds(0, 0.5, low_open=True))
    Traceback (most recent call last):
    ...
    aekit.core.errors.ConfigError: contamination must be a finite number in (0, 0.5], got nan
    """
    bounds = bounds or Bounds()
    name = f"{where} ({bounds.what})" if bounds.what else where
    if not is_number(value):
        raise ConfigError(f"{name} must be a number{_range(bounds)}, got {_describe(value)}")
    v = to_float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number{_range(bounds)}, got {v}")
    if v not in bounds:
        note = f" ({bounds.note})" if bounds.note else ""
        raise ConfigError(f"{name} must be {bounds}{note}, got {_plain(value)}")
    return v


def whole(value: Any, where: str, low: int, high: int, high_text: str | None = None) -> int:
    """``value`` as a Python int (numpy's integers, and floats such as 3.0, are accepted),
    refused unless a whole number in [low, high] (``high_text``: how to write ``high``)."""
    n = coerce(value, int, where)
    if not low <= n <= high:
        raise ConfigError(f"{where} must be in [{low}, {high_text or high}], got {n}")
    return n


def to_float(value: Any) -> float:
    """A number as a Python float; a numpy float of lower precision by the decimal it
    prints as (np.float32(0.1) is 0.1, not 0.10000000149011612: the value written)."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype.kind == "f" and dtype.itemsize < 8:
        return float(str(value))
    return float(value)


def _range(bounds: Bounds) -> str:
    return f" {bounds}" if str(bounds) else ""


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (for messages)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def to_dict(obj: Any) -> Any:
    """Convert a (nested) dataclass to JSON-ready values (tuples become lists)."""
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def check_known(given: typing.Iterable[str], known: typing.Iterable[str], where: str) -> None:
    """Refuse settings not in ``known``, naming them and listing the known ones."""
    known = sorted(known)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(
            f"{where or 'settings'}: unknown setting(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known)}"
        )


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, evaluated once per class (read it, never change it):
    every config and part checks its values against its annotations when built, and the
    command line builds hundreds of them (the kinds' presets) for its help texts."""
    return typing.get_type_hints(cls)


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from ``data``, checking keys and types.

    ``where`` names the place in the config for error messages, e.g. ``"model"``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'settings'}: expected an object, got {_describe(data)}")
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    check_known(data, fields, where)
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = coerce(data[name], hints[name], f"{where}.{name}" if where else name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where or 'settings'}: missing required key {name!r}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        # A config's own checks name it by class ("TrainConfig.lr ..."); here the place in
        # the file or flags is known, so name that instead ("training.lr ...").
        message = str(exc)
        own = f"{cls.__name__}."
        if message.startswith(own):
            message = f"{where}.{message[len(own) :]}" if where else message[len(own) :]
        elif where and message.partition(" ")[0] in hints:
            message = f"{where}.{message}"  # "lr must be > 0" names its field: training.lr
        elif where:
            message = f"{where}: {message}"
        raise ConfigError(message) from None


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against type ``tp`` and convert JSON forms (list -> tuple, int -> float)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return _coerce_union(value, tp, args, where)
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
    if origin in (list, tuple):
        return _coerce_sequence(value, origin, args, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object, got {_describe(value)}")
        return dict(value)
    from_json = getattr(tp, "from_json", None)
    if callable(from_json):
        return from_json(value, where)
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else from_dict(tp, value, where)
    return _coerce_plain(value, tp, where)


def _coerce_union(value: Any, tp: Any, args: tuple[Any, ...], where: str) -> Any:
    """``value`` as the first of the union's types it fits (None where the union allows it)."""
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(value, arg, where)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(
        errors[0] if len(errors) == 1 else f"{where}: {_describe(value)} fits none of {tp}"
    )


def _coerce_sequence(value: Any, origin: Any, args: tuple[Any, ...], where: str) -> Any:
    """``value`` as a list, or a tuple (of fixed length, or ``tuple[X, ...]``), item by item."""
    if getattr(value, "ndim", None) == 1 and callable(getattr(value, "tolist", None)):
        value = value.tolist()  # a 1-D numpy array (or tensor) of sizes is a list
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {_describe(value)}")
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(
            coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    item = args[0] if args else Any
    items = [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _coerce_plain(value: Any, tp: Any, where: str) -> Any:
    """``value`` as a number, string, bool or instance of class ``tp``: numpy's numbers
    are numbers, and a whole float (3.0) is an int."""
    if tp is float:
        if is_number(value):  # numpy's too: np.float32(0.1) is a number
            return to_float(value)
    elif tp is int:
        if is_number(value) and isinstance(value, numbers.Integral):
            return int(value)
        if is_number(value):
            v = float(value)
            if not math.isfinite(v):
                raise ConfigError(f"{where} must be a finite whole number, got {v}")
            if v.is_integer():
                return int(v)
    elif tp in (str, bool):
        if isinstance(value, tp):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {_describe(value)}")


def _describe(value: Any) -> str:
    return (
        f"{type(value).__name__} {value!r}"
        if not isinstance(value, dict | list)
        else type(value).__name__
    )


def means_none(text: str) -> bool:
    """Whether a setting written as text says "none" (any case, spaces aside): no value."""
    return text.strip().lower() == "none"


def from_text(text: str, tp: Any, where: str = "") -> Any:
    """A setting written as text, as the command line writes it, read for a field of type
    ``tp``: "none" (:func:`means_none`) is None where the field allows None; sizes (a
    list of whole numbers) are written "32,16" or "32-16"; a whole number or a number is
    read as one; anything else (a name, a part's "NAME[:key=value,...]") stays text, for
    :func:`coerce` to read. A text that is none of what the field takes is a
    :class:`ConfigError` saying what was expected (after ``where``, the setting's name,
    where given).

    Examples
    --------
    >>> from_text("32,16", list[int]), from_text("none", int | None), from_text("0.5", float)
    ([32, 16], None, 0.5)
    """
    named = f"{where}: " if where else ""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        if means_none(text):
            return None
        tp = next(a for a in args if a is not type(None))
    items = [a for a in typing.get_args(tp) if a is not Ellipsis]
    if typing.get_origin(tp) in (list, tuple) and items and all(a is int for a in items):
        try:
            return [int(s) for s in text.replace("-", ",").split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"{named}expected sizes like 32,16, got {text!r}") from None
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{named}expected a whole number, got {text!r}") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{named}expected a number, got {text!r}") from None
    return text
