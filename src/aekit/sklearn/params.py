"""The estimators' parameters, declared once: :data:`PARAMS`, made from the fields of
:class:`~aekit.ModelConfig` and :class:`~aekit.TrainConfig` (their help included), and
what is made from it: each estimator's ``__init__`` (:func:`constructor`) and the
Parameters section of its docstring (:func:`with_parameters_doc`). An estimator with
parameters of its own declares them with :func:`with_params`."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import textwrap
import types
import typing
from collections.abc import Callable
from typing import Any, NamedTuple

from ..core.config import describe, field_help
from ..models.config import ModelConfig
from ..models.vae import VAEConfig
from ..training.config import TrainConfig


class Param(NamedTuple):
    """One constructor parameter of the estimators."""

    name: str
    default: Any
    annotation: Any
    doc: str


# ModelConfig fields the estimators take under the same name.
MODEL_PARAMS = (
    "code_dim",
    "hidden",
    "activation",
    "code_activation",
    "output_activation",
    "loss",
    "corruption",
    "top_k",
    "pca_fallback",
)
# The VAE's own settings (VAEConfig fields no autoencoder has: its objective and its
# decoder): parameters of the estimators that fit kind="vae" (the transformer and the
# outlier detector), refused in fit for another kind.
VAE_PARAMS = tuple(
    f.name
    for f in dataclasses.fields(VAEConfig)
    if f.name not in {g.name for g in dataclasses.fields(ModelConfig)}
)
# TrainConfig fields they do not take: ``random_state`` is the seed, and an estimator
# trains in memory, with no run folder to checkpoint into.
NOT_TRAIN_PARAMS = ("seed", "checkpoint_seconds", "checkpoint_every", "checkpoint_every_steps")
# TrainConfig fields they take under the same name: all the others.
TRAIN_PARAMS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in NOT_TRAIN_PARAMS
)


def _fields(
    cls: type, names: tuple[str, ...], defaults: dict[str, Any], spec: tuple[str, ...] = ()
) -> list[Param]:
    """Parameters for fields ``names`` of config class ``cls``, documented by the field's
    help; each defaults to None, the config's (or the kind's) default, unless ``defaults``
    gives one. Annotated as the field, or None; those in ``spec`` also take the command
    line's text (a part's "NAME[:key=value,...]", sizes' "32,16")."""
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = []
    for name in names:
        default = defaults.get(name)
        hint = hints[name] | str if name in spec else hints[name]
        doc = helps[name]
        if default is None:
            hint = typing.Optional[hint]  # noqa: UP045 (a list[int] has no | None)
            field = fields[name]
            if cls is ModelConfig:
                doc += " None: the kind's."
            elif cls is VAEConfig:
                doc = f'kind="vae" only: {doc} None: the vae kind\'s.'
            elif field.default is not None and field.default is not dataclasses.MISSING:
                doc += f" None: {describe(field.default)}."
        out.append(Param(name, default, hint, doc))
    return out


PARAMS: tuple[Param, ...] = (
    Param("kind", "undercomplete", str, field_help(ModelConfig)["kind"]),
    *_fields(ModelConfig, MODEL_PARAMS, {}, spec=("corruption",)),
    Param(
        "penalty",
        None,
        Any,
        'a code penalty (a Penalty, or "NAME[:key=value,...]" as the command line writes '
        'it), a list of them, or "none": ModelConfig.penalties, added to the loss. None: '
        "the kind's.",
    ),
    Param(
        "scaling",
        "auto",
        str,
        '"auto" (standardise unless the data lies in [0, 1]), "standard", "minmax" or '
        '"none"; fitted on the training data and undone on output.',
    ),
    *_fields(TrainConfig, TRAIN_PARAMS, {"device": "auto"}),
    Param(
        "random_state",
        0,
        Any,
        "seed of the weights, the data order and the noise: 0 by default, so two fits give "
        "the same model, as everywhere in aekit; None: a fresh seed from the operating "
        "system each fit; a numpy RandomState or Generator: a seed drawn from it. numpy's "
        "global random state is never read or changed. The seed used is ``seed_``.",
    ),
    Param("verbose", False, bool, "show a progress bar."),
)


NAMED = {p.name: p for p in PARAMS}


def with_vae_params(params: tuple[Param, ...]) -> tuple[Param, ...]:
    """``params`` with the VAE's own settings (:data:`VAE_PARAMS`) after ``scaling``, the
    last of the model's settings: the parameters of an estimator that fits
    ``kind="vae"``."""
    at = [p.name for p in params].index("scaling") + 1
    vae = _fields(VAEConfig, VAE_PARAMS, {}, spec=("decoder_hidden",))
    return params[:at] + tuple(vae) + params[at:]


def with_params(params: tuple[Param, ...], *changes: Param) -> tuple[Param, ...]:
    """``params`` with ``changes``: one named as a parameter replaces it in place, a new
    one goes after ``kind`` (a subclass's own parameters)."""
    changed = {p.name: p for p in changes}
    new = tuple(p for p in changes if p.name not in {q.name for q in params})
    out = tuple(changed.get(p.name, p) for p in params)
    return out[:1] + new + out[1:]


def constructor(params: tuple[Param, ...], owner: str) -> Callable[..., None]:
    """An ``__init__`` with ``params`` as its explicit parameters (its ``__signature__``,
    which scikit-learn's get_params, set_params and clone read): the first (``kind``) by
    position or keyword, the rest by keyword. Each is kept as given in the attribute of
    its name, as scikit-learn asks; :meth:`fit` checks them."""
    signature = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(
                inspect.Parameter(
                    p.name,
                    inspect.Parameter.KEYWORD_ONLY
                    if i
                    else inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=p.default,
                    annotation=p.annotation,
                )
                for i, p in enumerate(params)
            ),
        ],
        return_annotation=None,
    )

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:  # as Python says it of a written __init__
            raise TypeError(f"{owner}.__init__() {exc}") from None
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{owner}.__init__"
    __init__.__annotations__ = {**{p.name: p.annotation for p in params}, "return": None}
    return __init__


def _type_text(annotation: Any) -> str:
    """An annotation as numpydoc writes a type: ``int or None``, ``{"best", "last"}``."""
    if annotation is Any:
        return "object"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        named = " or ".join(_type_text(a) for a in args if a is not type(None))
        return named + (" or None" if type(None) in args else "")
    if origin is typing.Literal:
        return "{" + ", ".join(json.dumps(a) for a in args) + "}"
    if origin is list:
        return f"list of {_type_text(args[0])}"
    return getattr(annotation, "__name__", str(annotation))


def with_parameters_doc(doc: str | None, params: tuple[Param, ...]) -> str | None:
    """Class docstring ``doc`` with a numpydoc Parameters section for ``params`` put
    before its Attributes or Examples section (else at its end)."""
    if not doc:
        return doc
    found = re.search(r"^( *)(Attributes|Examples)\n\1-+\n", doc, flags=re.M)
    indent = found.group(1) if found else " " * 4
    lines = textwrap.wrap(
        "A parameter named as a field of ModelConfig or TrainConfig means what the field "
        "means (its help below is the field's), and None leaves it to the kind or to the "
        "data, as ``aekit train`` does.",
        88,
        initial_indent=indent,
        subsequent_indent=indent,
    )
    lines += ["", f"{indent}Parameters", f"{indent}----------"]
    for p in params:
        default = json.dumps(p.default) if isinstance(p.default, str) else repr(p.default)
        lines.append(f"{indent}{p.name} : {_type_text(p.annotation)}, default={default}")
        lines += textwrap.wrap(
            p.doc, 88, initial_indent=indent + " " * 4, subsequent_indent=indent + " " * 4
        )
    section = "\n".join(lines) + "\n\n"
    if found is None:
        return f"{doc.rstrip()}\n\n{section}"
    return doc[: found.start()] + section + doc[found.start() :]
