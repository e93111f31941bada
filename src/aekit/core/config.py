"""The configs' shared machinery: typed dataclasses that validate themselves.

Each config (:class:`~aekit.ModelConfig`, :class:`~aekit.TrainConfig`,
:class:`~aekit.DataConfig`, :class:`~aekit.RunConfig` and its other sections, each in the
layer that owns it) is a dataclass deriving from :class:`_Config`, whose annotations are
the schema. It validates itself however it was made (Python keywords, JSON, command-line
flags): wrong types, unknown choices and out-of-range values raise
:class:`~aekit.ConfigError`. Field metadata (:func:`choices`, :func:`within`,
:func:`flag`) names a field's registry, range and flag; the CLI's options are generated
from the fields (see :mod:`aekit.cli`), with the help text taken from each class's
Parameters section (:func:`field_help`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import re
from typing import Any

from .errors import ConfigError
from .registry import Registry
from .schema import Bounds, check_known, coerce, from_dict, number, to_dict, type_hints


def choices(registry: Registry[Any], flag: str | None = None) -> dict[str, Any]:
    """Field metadata: the value is a name in ``registry`` (checked, and the CLI's choices)."""
    return {"registry": registry, **({"flag": flag} if flag else {})}


def within(low: float | None = None, high: float | None = None, **more: Any) -> dict[str, Any]:
    """Field metadata: the allowed range of a numeric field (see
    :class:`~aekit.core.schema.Bounds`), checked with NaN and infinities refused."""
    return {"bounds": Bounds(low, high, **more)}


def flag(name: str, **more: Any) -> dict[str, Any]:
    """Field metadata: the command-line flag of a field, when not ``--field-name``."""
    return {"flag": name, **more}


@functools.cache
def _keywords(cls: type) -> tuple[str, ...] | None:
    """The keywords ``cls(...)`` takes (None: any, a subclass's ``**kwargs``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL)


class _Config:
    """Validation and the JSON round trip shared by the configs.

    After construction every field is checked against its annotation (and converted where
    JSON, Python and numpy differ: int to float, np.float32 to float, list to tuple, a
    part's spec to the part); every float must be a finite number within the range its
    field declares (``within``), registry-backed names must be registered; then
    :meth:`validate` checks the other ranges and the relations between fields.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Before __init__, whose TypeError would not list the known ones.
        known = _keywords(cls)
        if known is not None:
            check_known(kwargs, known, cls.__name__)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        hints = type_hints(type(self))
        name = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            where = f"{name}.{f.name}"
            value = coerce(getattr(self, f.name), hints[f.name], where)
            if isinstance(value, float):
                value = number(value, where, f.metadata.get("bounds"))
            elif isinstance(value, int) and not isinstance(value, bool):
                number(value, where, f.metadata.get("bounds"))  # an int's range too, kept an int
            registry = f.metadata.get("registry")
            if registry is not None and value is not None and value not in registry:
                raise ConfigError(
                    f"{where}: unknown {registry.family} {value!r}; known: {', '.join(registry)}"
                )
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` if a value is out of range."""

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> Any:
        return from_dict(cls, data, where or cls.__name__)

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def require(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def field_help(cls: type) -> dict[str, str]:
    """Each field's help text, from the Parameters section of ``cls``'s docstring."""
    doc = inspect.getdoc(cls) or ""
    section = doc.split("----------", 1)[1] if "----------" in doc else ""
    helps: dict[str, str] = {}
    current: list[str] = []
    for line in section.splitlines():
        match = re.match(r"^(\w+(?:, \w+)*) : (.*)$", line)
        if match:
            current = match.group(1).split(", ")
            for name in current:
                helps[name] = match.group(2)
        elif line.startswith("    ") and current:
            for name in current:
                helps[name] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            current = []
            if helps:
                break
    return helps


def describe(value: Any) -> str:
    """A setting as the command line writes it (for help texts and summaries)."""
    if isinstance(value, list | tuple):
        return ",".join(describe(v) for v in value) or "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        params = {k: v for k, v in to_json().items() if k != "name"}
        return f"{value.name}:" + ",".join(f"{k}={json.dumps(v)}" for k, v in params.items())
    return str(value)
