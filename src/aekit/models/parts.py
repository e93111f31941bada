"""Named, parameterised parts of an autoencoder: the common base of penalties and corruptions.

A part is a frozen dataclass registered under a name. It serialises to
``{"name": "masking", "nu": 0.25}`` and parses from that dict or from the CLI spec
``"masking:nu=0.25"``, so every registered part works in Python, configs and the CLI.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

from ..core.errors import ConfigError
from ..core.registry import Registry
from ..core.schema import Bounds, coerce, from_dict, number, type_hints


@dataclasses.dataclass(frozen=True)
class Part:
    """Base class of penalties and corruptions; subclasses set ``registry``."""

    name: ClassVar[str] = ""
    registry: ClassVar[Registry[type[Part]]]

    def __post_init__(self) -> None:
        # As the configs do: each parameter checked against its annotation (numpy's
        # numbers are numbers), every float finite and within its declared range.
        hints = type_hints(type(self))
        for f in dataclasses.fields(self):
            where = f"{self.name} {f.name}"
            value = coerce(getattr(self, f.name), hints[f.name], where)
            if isinstance(value, float):
                value = number(value, where, f.metadata.get("bounds"))
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` if a parameter is out of range."""

    def to_json(self) -> dict[str, Any]:
        params = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"name": self.name, **params}

    @classmethod
    def from_json(cls, value: Any, where: str = "part") -> Part:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if not isinstance(value, dict) or "name" not in value:
            raise ConfigError(f"{where}: expected {{'name': ..., <parameters>}}, got {value!r}")
        params = dict(value)
        part_cls = cls.registry.get(params.pop("name"))
        return from_dict(part_cls, params, where)

    @classmethod
    def parse(cls, spec: str) -> Part:
        """Parse ``"name"`` or ``"name:key=value,key=value"`` (the CLI form).

        Examples
        --------
        >>> from aekit.models.corruption import Corruption
        >>> Corruption.parse("masking:nu=0.25")
        Masking(nu=0.25)
        """
        name, _, rest = spec.partition(":")
        params: dict[str, Any] = {"name": name.strip()}
        for item in filter(None, (s.strip() for s in rest.split(","))):
            key, eq, text = item.partition("=")
            if not eq:
                raise ConfigError(
                    f"bad {cls.registry.family} spec {spec!r}: expected key=value, got {item!r}"
                )
            if key.strip() == "name":
                raise ConfigError(
                    f"bad {cls.registry.family} spec {spec!r}: the name comes before the ':', "
                    "not as a parameter"
                )
            params[key.strip()] = _parse_value(text.strip())
        return cls.from_json(params, where=f"{cls.registry.family} {spec!r}")


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return float(text)  # nan, inf, infinity: numbers, refused as such
    except ValueError:
        return text


def within(low: float | None = None, high: float | None = None, **more: Any) -> dict[str, Any]:
    """Field metadata: the allowed range of a numeric parameter (see
    :class:`~aekit.core.schema.Bounds`)."""
    return {"bounds": Bounds(low, high, **more)}
