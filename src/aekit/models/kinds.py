"""Every kind of model by name, whatever its family: what ``aekit train --kind``, a run's
``model.kind`` and the estimators' ``kind`` name. The autoencoder's kinds are the presets
of :data:`~aekit.models.presets.KINDS`; the kinds of another family are registered in
:data:`FAMILY_KINDS` with the function that makes that family's config from a user's
settings and the data (the ``vae`` kind: :func:`~aekit.models.vae.vae_config`).

The run layer, the command line's flags and the estimators resolve a kind here
(:func:`get_kind`), so a new family's kind is one registration and no branch on kinds
anywhere else: its config's fields become model settings (flags, config keys), its
function resolves them, its family's class builds the model.

Examples
--------
>>> get_kind("sparse").model_class.__name__, get_kind("vae").model_class.__name__
('AutoEncoder', 'VAE')
>>> get_kind("vae").make_config("vae", input_dim=64).arch
'64-128-128-8'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ..core.errors import ConfigError
from ..core.registry import Registry
from ..core.schema import type_hints
from .autoencoder import AutoEncoder
from .config import ModelConfig, model_config
from .presets import KINDS, training_defaults
from .vae import KIND_DEFAULTS, VAE, vae_config


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of model: the family class that builds it, the function that makes its
    config (``make_config(kind, *, unit_range, binary, **settings)``, ``settings`` being
    fields of the family's config, ``unit_range`` whether the data lies in [0, 1],
    ``binary`` whether it is also nearly binary, as pen strokes are), and the
    training settings it chooses where the user leaves them open."""

    name: str
    model_class: type[Any]
    make_config: Callable[..., Any]
    training: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # The defaults it chooses, in words, by setting (the help of its flags).
    defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def config_class(self) -> type[Any]:
        return self.model_class.config_class  # type: ignore[no-any-return]

    def fields(self) -> set[str]:
        """The model settings this kind takes (its config's fields)."""
        return {f.name for f in dataclasses.fields(self.config_class)}


# The kinds of the families other than the autoencoder's (whose kinds are KINDS).
FAMILY_KINDS: Registry[Kind] = Registry("kind")
FAMILY_KINDS.register("vae")(Kind("vae", VAE, vae_config, defaults=KIND_DEFAULTS))


def _autoencoder_config(
    kind: str, *, unit_range: bool = True, binary: bool = True, **settings: Any
) -> ModelConfig:
    """An autoencoder kind's config for a run: its inputs standardised where the data
    lies outside [0, 1] and the settings leave the scaling open, then
    :func:`~aekit.models.config.model_config` (``binary``: unused, the autoencoders'
    output and loss follow the range alone)."""
    if "scaling" not in settings and not unit_range:
        settings["scaling"] = "standard"
    return model_config(kind, unit_range=unit_range, **settings)


def kind_names() -> list[str]:
    """Every kind, sorted."""
    return sorted([*KINDS.names(), *FAMILY_KINDS.names()])


def get_kind(name: str) -> Kind:
    """The kind ``name``; a :class:`ConfigError` naming the known ones for another."""
    if name in KINDS:
        return Kind(name, AutoEncoder, _autoencoder_config, training_defaults(name))
    if name in FAMILY_KINDS:
        return FAMILY_KINDS.get(name)
    raise ConfigError(f"unknown kind {name!r}; known: {', '.join(kind_names())}")


def kind_training(name: str | None) -> dict[str, Any]:
    """The training settings kind ``name`` chooses where the user does not (none for
    most kinds, for a model's own kind "custom", and for None)."""
    if name is None or (name not in KINDS and name not in FAMILY_KINDS):
        return {}
    return dict(get_kind(name).training)


def family_configs() -> list[type[Any]]:
    """The config classes of the families that have kinds, the autoencoder's first."""
    out: list[type[Any]] = [ModelConfig]
    for name in FAMILY_KINDS:
        cls = FAMILY_KINDS.get(name).config_class
        if cls not in out:
            out.append(cls)
    return out


def model_fields() -> dict[str, Any]:
    """Every model setting some kind takes, with its type (the autoencoder's where
    families share a field)."""
    hints: dict[str, Any] = {}
    for cls in family_configs():
        for name, tp in type_hints(cls).items():
            hints.setdefault(name, tp)
    return hints


def check_settings(name: str, settings: Mapping[str, Any], where: str = "model") -> None:
    """Refuse settings that kind ``name`` does not take, naming the kinds that do."""
    kind = get_kind(name)
    foreign = sorted(set(settings) - kind.fields())
    if not foreign:
        return
    field = foreign[0]
    takers = sorted({_family_words(k) for k in kind_names() if field in get_kind(k).fields()})
    more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
    raise ConfigError(
        f"{where}.{field}{more} is not a setting of the {name} kind; it belongs to "
        f"{' and '.join(takers) or 'no kind'}"
    )


def _family_words(name: str) -> str:
    """Kind ``name`` in words, the autoencoder's kinds as one: "the autoencoder kinds"."""
    return "the autoencoder kinds" if name in KINDS else f"the {name} kind"


def model_class_of(config: Any) -> type[Any]:
    """The family class that builds ``config`` (a ModelConfig, a VAEConfig...)."""
    for name in FAMILY_KINDS:
        kind = FAMILY_KINDS.get(name)
        if isinstance(config, kind.config_class):
            return kind.model_class
    return AutoEncoder
