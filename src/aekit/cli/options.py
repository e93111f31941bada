"""The options of ``aekit train`` generated from the fields of :class:`~aekit.RunConfig`'s
sections (name, type, choices, default and help), so every setting has a flag and a new
field needs no edit here; the model settings of every kind's family (the autoencoder's
:class:`~aekit.ModelConfig`, then a group for the fields of each other family's config:
the vae kind's :class:`~aekit.VAEConfig`, see :mod:`aekit.models.kinds`); and the
settings read back from the parsed flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Literal

from ..core.config import describe, field_help
from ..core.errors import ConfigError
from ..core.schema import from_text, type_hints
from ..data.config import DataConfig
from ..models.config import ModelConfig
from ..models.kinds import family_configs, get_kind, kind_names
from ..models.parts import Part
from ..models.presets import KINDS
from ..runs.config import OutputConfig, PretrainConfig
from ..training.config import TrainConfig

# The sections of RunConfig and the prefix of their flags.
SECTIONS: tuple[tuple[str, type, str, str], ...] = (
    ("data", DataConfig, "", "data"),
    ("model", ModelConfig, "", "model (defaults: the kind's preset, then these)"),
    ("training", TrainConfig, "", "training"),
    (
        "pretrain",
        PretrainConfig,
        "pretrain-",
        "greedy layer-wise pretraining (MLP); any of these turns it on",
    ),
    ("output", OutputConfig, "", "output"),
)
_NONE = object()  # "none" given for an optional setting


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type inside ``X | None``, whether None is allowed)."""
    args = typing.get_args(tp)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _converter(tp: Any, optional: bool, name: str) -> Any:
    """A flag's text read for its field as every text setting is read (core.schema)."""
    field_type = typing.Optional[tp] if optional else tp  # noqa: UP045 (a type object)

    def convert(text: str) -> Any:
        try:
            value = from_text(text, field_type)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return _NONE if value is None else value

    convert.__name__ = name
    return convert


def _set_by_kinds() -> frozenset[str]:
    """The model settings some kind's preset chooses, for any data."""
    return frozenset(
        name
        for kind in KINDS
        for unit_range in (True, False)
        for name in KINDS.get(kind)(64, 8, unit_range)
    )


def _default_text(section: str, f: dataclasses.Field[Any], by_kinds: frozenset[str]) -> str:
    if section == "model":
        if f.name in ("input_dim", "image_shape"):
            return "from the data"
        if f.name == "code_dim":
            return ""  # the help text states the rule
        if f.name == "kind":
            return "undercomplete"
        if f.name == "scaling":
            return "none for data in [0, 1], else standard"
        if f.name == "output_activation":
            return "sigmoid for data in [0, 1], else linear, unless the kind chooses"
    if section == "pretrain" and f.name == "method":
        return "off"
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return ""
    if section == "model" and f.name in by_kinds:
        return f"the kind's, else {describe(value)}"
    return describe(value)


def _option(section: str, f: dataclasses.Field[Any], tp: Any, text: str) -> dict[str, Any]:
    """The keyword arguments of ``add_argument`` for the field ``f`` of type ``tp`` (its
    ``X | None`` unwrapped) with the help ``text``."""
    kwargs: dict[str, Any] = {"dest": f"{section}.{f.name}", "default": None, "help": text}
    tp, optional = _unwrap(tp)
    if tp is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        return kwargs
    kwargs["type"] = _converter(tp, optional, f.name)
    kwargs["metavar"] = f.name.upper()
    registry = f.metadata.get("registry")
    if typing.get_origin(tp) is Literal:
        kwargs["choices"] = list(typing.get_args(tp))
        kwargs["metavar"] = "{" + ",".join(map(str, typing.get_args(tp))) + "}"
    elif registry is not None or (section == "model" and f.name == "kind"):
        names = registry.names() if registry is not None else kind_names()
        kwargs["choices"] = names
        kwargs["metavar"] = "{" + ",".join(names) + "}"
    if f.metadata.get("append"):
        kwargs["action"] = "append"
        kwargs["metavar"] = "SPEC"
    elif isinstance(tp, type) and issubclass(tp, Part):
        kwargs["metavar"] = "SPEC"
    return kwargs


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of each RunConfig section; after the model's, the settings
    of the other families' kinds."""
    by_kinds = _set_by_kinds()  # once: it builds every kind's preset
    for section, cls, prefix, title in SECTIONS:
        group = parser.add_argument_group(title)
        _add_fields(group, section, cls, prefix, dataclasses.fields(cls), by_kinds)
        if section == "model":
            _add_family_options(parser, by_kinds)


def _add_fields(
    group: Any,
    section: str,
    cls: type,
    prefix: str,
    fields: Any,
    by_kinds: frozenset[str],
    defaults: dict[str, str] | None = None,
) -> None:
    """An option for each of ``fields`` of ``cls`` (``defaults``: a kind's defaults in
    words, by field, where it chooses them; ``by_kinds``: the settings some kind's preset
    chooses)."""
    helps = field_help(cls)
    hints = type_hints(cls)
    # The kind first: its preset is what the other model options change.
    for f in sorted(fields, key=lambda f: f.name != "kind"):
        flag = f.metadata.get("flag") or f"--{prefix}{f.name.replace('_', '-')}"
        default = (defaults or {}).get(f.name) or _default_text(section, f, by_kinds)
        text = helps.get(f.name, "").rstrip(".")
        if default and "(default:" not in text:
            text = f"{text} (default: {default})"
        group.add_argument(flag, **_option(section, f, hints[f.name], text.replace("%", "%%")))


# Settings a model takes from its data, never named in a group's title.
FROM_DATA = ("kind", "input_dim", "image_shape")


def _add_family_options(parser: argparse.ArgumentParser, by_kinds: frozenset[str]) -> None:
    """A group for each family besides the autoencoder (the vae kind's): the fields of
    its config that ModelConfig lacks, each a model setting; its title names the kinds
    and the model options above that they take too."""
    shared = {f.name for f in dataclasses.fields(ModelConfig)}
    for cls in family_configs()[1:]:
        kinds = [get_kind(k) for k in kind_names() if get_kind(k).config_class is cls]
        fields = dataclasses.fields(cls)
        also = [f"--{f.name.replace('_', '-')}" for f in fields if f.name in shared]
        also = [flag for flag in also if flag[2:].replace("-", "_") not in FROM_DATA]
        defaults = {k: v for kind in kinds for k, v in kind.defaults.items()}
        title = (
            f"--kind {', '.join(k.name for k in kinds)}: its own model settings (it also "
            f"takes {', '.join(also)} and --arch)"
        )
        own = [f for f in fields if f.name not in shared]
        _add_fields(parser.add_argument_group(title), "model", cls, "", own, by_kinds, defaults)


def given_settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The settings the user gave on the command line, by section."""
    out: dict[str, dict[str, Any]] = {section: {} for section, *_ in SECTIONS}
    for key, value in vars(args).items():
        section, _, name = key.partition(".")
        if section in out and value is not None:
            out[section][name] = None if value is _NONE else value
    return out
