"""scikit-learn estimators: an autoencoder where arrays go in and arrays come out.

- :class:`AutoEncoderTransformer`: a nonlinear PCA (fit, transform to codes,
  inverse_transform, score).
- :class:`AutoEncoderImputer`: learns from data with missing values (NaN) and fills them.
- :class:`AutoEncoderOutlierDetector`: scores samples by how badly they reconstruct.

Every setting is a constructor argument and means what the same field of
:class:`~aekit.ModelConfig` or :class:`~aekit.TrainConfig` means (None: the kind's or the
data's default), so a GridSearchCV searches the same schema ``aekit train`` uses. The
parameters are declared once, in :data:`PARAMS` (built from those fields, their help
included); each estimator's ``__init__`` and its Parameters section are made from it.
The estimators train through :func:`aekit.runs.fit_model`, as :func:`aekit.fit` does. They
scale their inputs (``scaling="auto"``: standardised unless the data lies in [0, 1]); the
scaling is part of the model, saved with it and undone on output. They clone, pickle, sit
in a Pipeline, and save to (and load from) aekit's safetensors folders with :meth:`save`
and :func:`load`.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
import secrets
import sys
import textwrap
import types
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import joblib
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .core.config import describe, field_help
from .core.errors import ConfigError
from .core.io import read_json, write_json
from .core.schema import Bounds, number
from .evaluation.metrics import feature_errors
from .models.autoencoder import AutoEncoder
from .models.config import ModelConfig, model_config
from .models.corruption import Masking, MissingPatterns
from .models.families import CONFIG_FILE, save_model
from .runs.api import fit_model
from .runs.saved import ESTIMATOR_FILE, IN_MEMORY
from .runs.saved import load as load_model
from .training.config import TrainConfig


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
    gives one. Annotated as the field, or None; those in ``spec`` (parts) also take the
    command line's "NAME[:key=value,...]"."""
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


def _with(params: tuple[Param, ...], *changes: Param) -> tuple[Param, ...]:
    """``params`` with ``changes``: one named as a parameter replaces it in place, a new
    one goes after ``kind`` (a subclass's own parameters)."""
    changed = {p.name: p for p in changes}
    new = tuple(p for p in changes if p.name not in {q.name for q in params})
    out = tuple(changed.get(p.name, p) for p in params)
    return out[:1] + new + out[1:]


def _constructor(params: tuple[Param, ...], owner: str) -> Callable[..., None]:
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


def _with_parameters(doc: str | None, params: tuple[Param, ...]) -> str | None:
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


# Where a frame is aekit's or scikit-learn's own code (fit_transform, a Pipeline or a
# search call fit): the warnings of a fit point past them, at the user's line.
_LIBRARY_FILES = tuple(
    str(Path(m.__file__).parent) + os.sep  # type: ignore[arg-type]
    for m in (sys.modules[__name__.split(".")[0]], sklearn, joblib)
)


def _users_level() -> int:
    """The stacklevel, counted from the function calling this one (1: its line), of the
    first frame outside aekit, scikit-learn and joblib: the line of the user's code that
    fits, whether it calls fit, fit_transform, a Pipeline's fit or a search's."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_FILES):
        frame, level = frame.f_back, level + 1
    return level


class AutoEncoderEstimator(BaseEstimator):
    """What the three estimators share: building, scaling and training the model."""

    _missing = False  # whether the model learns from data with missing values

    _params: ClassVar[tuple[Param, ...]] = PARAMS
    __init__ = _constructor(PARAMS, "AutoEncoderEstimator")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass with parameters of its own (_params) gets an __init__ with them; each
        # estimator's docstring gets the Parameters section of its own.
        if "_params" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = _constructor(cls._params, cls.__name__)  # type: ignore[method-assign]
        super().__init_subclass__(**kwargs)
        cls.__doc__ = _with_parameters(cls.__doc__, cls._params)

    # ---- fitting ----------------------------------------------------------------------

    def _model_settings(self, X: np.ndarray) -> dict[str, Any]:
        """The ModelConfig fields these parameters set (None: the kind's default)."""
        settings = {k: getattr(self, k) for k in MODEL_PARAMS if getattr(self, k) is not None}
        if isinstance(settings.get("corruption"), str) and settings["corruption"] == "none":
            settings["corruption"] = None
        if self.penalty is not None:
            penalty = self.penalty
            settings["penalties"] = (
                []
                if penalty == "none"
                else list(penalty if isinstance(penalty, list | tuple) else [penalty])
            )
        hidden = settings.get("hidden")
        if isinstance(hidden, str):  # "32,16", as on the command line
            try:
                settings["hidden"] = [int(n) for n in hidden.split(",") if n.strip()]
            except ValueError:
                raise ConfigError(
                    f"hidden must be layer sizes like [32, 16], got {hidden!r}"
                ) from None
        elif hidden is not None:
            settings["hidden"] = list(hidden)
        return settings

    def _fit_model(self, X: np.ndarray) -> AutoEncoder:
        """Build, scale and train the model on validated ``X``; set the fitted attributes."""
        if self.scaling not in ("auto", "none", "standard", "minmax"):
            raise ConfigError(
                f"scaling must be 'auto', 'none', 'standard' or 'minmax', got {self.scaling!r}"
            )
        observed = X[~np.isnan(X)]
        unit_range = bool(observed.size and observed.min() >= 0 and observed.max() <= 1)
        scaling = self.scaling
        if scaling == "auto":
            scaling = "none" if unit_range else "standard"
        settings = self._model_settings(X)
        cfg = model_config(
            self.kind,
            unit_range=unit_range and scaling == "none",
            input_dim=X.shape[1],
            scaling=scaling,
            missing=self._missing,
            **self._extra_model_settings(settings, X),
        )
        seed = self.seed_ = self._seed()
        training = TrainConfig(
            **{k: getattr(self, k) for k in TRAIN_PARAMS if getattr(self, k) is not None},
            seed=seed,
        )
        model = AutoEncoder.from_config(cfg, seed=seed)
        # As aekit.fit trains: the kind's settings, the warnings, the scaling fitted.
        trainer, result = fit_model(
            model,
            X.astype(np.float32),
            training,
            progress=self.verbose,
            desc=type(self).__name__,
            stacklevel=_users_level(),  # the user's line calling fit (or fit_transform...)
        )
        # What save() records in config.json, as a run folder does (aekit info reads it).
        self._run_sections = {
            "data": {"source": IN_MEMORY},  # an array in memory: no command may assume one
            "training": trainer.config.to_dict(),
            "result": {
                "epochs_trained": len(result.history),
                "steps": result.steps,
                "seconds": round(result.seconds, 3),
                **({"machine": result.machine} if result.machine else {}),
            },
        }
        self.model_ = model.cpu().eval()
        self.history_ = result.history
        self.n_iter_ = max(1, len(result.history))
        return self.model_

    def _extra_model_settings(self, settings: dict[str, Any], X: np.ndarray) -> dict[str, Any]:
        return settings

    def _seed(self) -> int:
        """The seed of this fit (kept as ``seed_``): ``random_state`` itself (0 by default,
        as everywhere in aekit); for None a fresh one from the operating system; for a
        numpy RandomState or Generator, one drawn from it. numpy's global random state is
        never read or changed."""
        state = self.random_state
        if state is None:
            return secrets.randbits(63)
        if isinstance(state, np.random.RandomState):
            return int(state.randint(0, 2**31 - 1))
        if isinstance(state, np.random.Generator):
            return int(state.integers(0, 2**63 - 1))
        if isinstance(state, bool) or not isinstance(state, int | np.integer):
            raise ConfigError(
                "random_state must be a seed (a whole number in [0, 2**63 - 1]), None (a "
                f"fresh seed) or a numpy RandomState or Generator, got {state!r}"
            )
        return int(state)

    # ---- using the model -------------------------------------------------------------------

    def _validated(self, X: Any, *, reset: bool = False) -> np.ndarray:
        """``X`` checked (scikit-learn's rules: the feature count and names of the fit) as
        a 2-D array. Images, (samples, H, W) or (samples, C, H, W), are one row of
        features each, as ``aekit.fit`` and ``aekit train`` take them."""
        X = _rows(X)
        try:
            return validate_data(
                self,
                X,
                reset=reset,
                dtype=[np.float64, np.float32],
                ensure_all_finite="allow-nan" if self._missing else True,
            )
        except ValueError as exc:
            if "NaN" not in str(exc) or self._missing:
                raise
            # scikit-learn's text points elsewhere; aekit has its own estimator for it.
            raise ValueError(
                f"Input X contains NaN. {type(self).__name__} needs complete data; "
                "aekit.sklearn.AutoEncoderImputer learns from data with missing values and "
                "fills them in (put it first in a pipeline)"
            ) from None

    def _reconstruct(self, X: np.ndarray) -> np.ndarray:
        """Reconstructions in the data's units (float64)."""
        return np.asarray(self.model_.reconstruct(X.astype(np.float32)), dtype=np.float64)

    def save(self, path: str | Path) -> Path:
        """Write the estimator into folder ``path`` in aekit's format: config.json and
        model.safetensors (the model, its scaling included; ``aekit evaluate``, ``encode``,
        ``score`` and ``impute`` read it) and estimator.json (the parameters and fitted
        attributes). No pickle: :func:`load` reads it back."""
        check_is_fitted(self)
        path = Path(path)
        estimator_folder = path.is_dir() and (path / ESTIMATOR_FILE).exists()
        if path.exists() and not estimator_folder and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(
                f"{path} exists and is not a saved estimator: save into a new folder "
                "(a saved estimator's folder is overwritten)"
            )
        sections = dict(getattr(self, "_run_sections", None) or {})
        if hasattr(self, "feature_names_in_"):
            # As a run folder keeps them: the CLI matches a table's columns by these names.
            sections["columns"] = [str(n) for n in self.feature_names_in_]
        save_model(self.model_, path, sections)
        params = {k: _jsonable(v) for k, v in self.get_params().items()}
        fitted = {
            "n_features_in_": self.n_features_in_,
            "n_iter_": self.n_iter_,
            "seed_": getattr(self, "seed_", None),
            **self._fitted_json(),
        }
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        write_json(
            path / ESTIMATOR_FILE,
            {"estimator": type(self).__name__, "params": params, "fitted": fitted},
        )
        return path

    def _fitted_json(self) -> dict[str, Any]:
        return {}

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        pass


def _images(X: Any) -> bool:
    """Whether ``X`` is an array (or nested lists) of more than two dimensions: images."""
    return getattr(X, "ndim", 0) > 2 or (
        isinstance(X, list | tuple) and len(X) > 0 and np.ndim(X) > 2
    )


def _rows(X: Any) -> Any:
    """Arrays of more than two dimensions (images) as (samples, features); anything else
    as it is (scikit-learn refuses 1-D data with its own advice)."""
    if _images(X):
        X = np.asarray(X)
        if X.shape[0] and all(X.shape[1:]):
            return X.reshape(X.shape[0], -1)
    return X


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_json"):
        from .core.config import describe

        return describe(value)
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):  # np.float32(0.1), np.int64(8): JSON numbers
        return _jsonable(value.item()) if not isinstance(value, np.floating) else float(str(value))
    return value


class AutoEncoderTransformer(TransformerMixin, AutoEncoderEstimator):
    """An autoencoder as a scikit-learn transformer: ``transform`` gives the codes,
    ``inverse_transform`` decodes them, ``score`` is the negative squared error.

    Attributes
    ----------
    model_ : the trained :class:`~aekit.AutoEncoder`.
    seed_ : the seed the fit used (``random_state=seed_`` repeats it).
    history_ : per-epoch losses.
    n_features_in_, feature_names_in_ : as in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from aekit.sklearn import AutoEncoderTransformer
    >>> X = load_breast_cancer().data                    # 30 features, mixed ranges
    >>> ae = AutoEncoderTransformer(code_dim=4, epochs=20, random_state=0).fit(X)
    >>> ae.transform(X).shape, ae.inverse_transform(ae.transform(X)).shape
    ((569, 4), (569, 30))
    >>> ae.get_feature_names_out()[:2].tolist()
    ['autoencodertransformer0', 'autoencodertransformer1']
    """

    def fit(self, X: Any, y: Any = None) -> AutoEncoderTransformer:
        """Train on ``X`` (samples, features); ``y`` is ignored."""
        X = self._validated(X, reset=True)
        self._fit_model(X)
        self._n_features_out = int(self.model_.code_dim or 0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Codes of ``X``."""
        check_is_fitted(self)
        X = self._validated(X)
        return np.asarray(self.model_.encode(X.astype(np.float32)), dtype=np.float64)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Reconstructions, in the data's units, from codes."""
        check_is_fitted(self)
        codes = check_array(X, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise ValueError(
                f"codes must be shaped (samples, {self._n_features_out}), got {codes.shape}"
            )
        return np.asarray(self.model_.decode(codes.astype(np.float32)), dtype=np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the squared reconstruction error of each sample, summed over features, in
        the model's units (standardised features unless ``scaling`` is "none", so no
        feature dominates by its units)."""
        check_is_fitted(self)
        return -feature_errors(self.model_, self._validated(X).astype(np.float32)).sum(1)

    def score(self, X: Any, y: Any = None) -> float:
        """The mean of :meth:`score_samples`: minus the mean squared reconstruction error
        per sample (higher is better, as GridSearchCV expects)."""
        return float(self.score_samples(X).mean())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object)

    def _fitted_json(self) -> dict[str, Any]:
        return {"_n_features_out": self._n_features_out}

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        self._n_features_out = int(fitted["_n_features_out"])


class AutoEncoderImputer(TransformerMixin, AutoEncoderEstimator):
    """Fills missing values (NaN) with an autoencoder's reconstruction.

    Trained on the incomplete data itself as a masking denoising autoencoder: missing
    entries enter as 0 (the feature mean, once standardised); in each batch every sample
    also loses the entries missing in another sample (the ``missing_patterns``
    corruption: holes shaped like the data's own, patches as patches, feature groups as
    groups; 25% masking noise where the training data is complete); the loss counts only
    observed entries, so the model learns to predict entries from the others.
    ``transform`` keeps observed values and fills the missing ones.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from aekit.sklearn import AutoEncoderImputer
    >>> X = load_breast_cancer().data
    >>> holes = X.copy()
    >>> holes[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan   # 20% missing
    >>> filled = AutoEncoderImputer(epochs=30, random_state=0).fit_transform(holes)
    >>> bool(np.isnan(filled).any()), filled.shape
    (False, (569, 30))
    """

    _missing = True
    _params = _with(
        PARAMS,
        NAMED["kind"]._replace(
            default="deep",
            doc=NAMED["kind"].doc + " Deep by default: it imputed best of the kinds on digits "
            "(BENCHMARKS.md).",
        ),
        Param(
            "add_indicator",
            False,
            bool,
            "append scikit-learn's MissingIndicator columns (one per feature with missing "
            "values in the training data), as scikit-learn's imputers do.",
        ),
        NAMED["corruption"]._replace(
            doc='input corruption NAME[:key=value,...] applied in training; "none" for none. '
            "None: missing_patterns:p=1 where the training data has missing values, else "
            "masking:nu=0.25 (see above).",
        ),
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _extra_model_settings(self, settings: dict[str, Any], X: np.ndarray) -> dict[str, Any]:
        if self.corruption is None:
            has_holes = bool(np.isnan(X).any())
            settings["corruption"] = MissingPatterns(p=1.0) if has_holes else Masking(nu=0.25)
        return settings

    def fit(self, X: Any, y: Any = None) -> AutoEncoderImputer:
        """Train on ``X``, missing values (NaN) and all; ``y`` is ignored."""
        X = self._validated(X, reset=True)
        never = np.flatnonzero(np.isnan(X).all(0))
        if len(never):
            warnings.warn(
                f"feature(s) {never.tolist()} have no observed value: the model can only "
                "guess them (scikit-learn's imputers drop such features)",
                UserWarning,
                stacklevel=_users_level(),  # the user's line calling fit (or fit_transform)
            )
        self._fit_model(X)
        self.indicator_ = (
            MissingIndicator(error_on_new=False).fit(X) if self.add_indicator else None
        )
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``X`` with its missing values filled in (observed values are kept)."""
        check_is_fitted(self)
        shape = np.asarray(X).shape if _images(X) else None
        X = self._validated(X)
        missing = np.isnan(X)
        filled = np.where(missing, self._reconstruct(X), X).astype(np.float64)
        if self.indicator_ is not None:
            return np.hstack([filled, self.indicator_.transform(X).astype(np.float64)])
        return filled.reshape(shape) if shape is not None else filled  # images stay images

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        if self.indicator_ is not None:
            names = np.concatenate([names, self.indicator_.get_feature_names_out(names)])
        return np.asarray(names, dtype=object)

    def _fitted_json(self) -> dict[str, Any]:
        if self.indicator_ is None:
            return {"indicator_features": None}
        return {"indicator_features": [int(i) for i in self.indicator_.features_]}

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        features = fitted.get("indicator_features")
        self.indicator_ = None
        if features is not None:
            # Refit on a pattern with exactly those features missing: the same indicator.
            pattern = np.zeros((1, self.n_features_in_))
            pattern[0, features] = np.nan
            self.indicator_ = MissingIndicator(error_on_new=False).fit(pattern)


class AutoEncoderOutlierDetector(OutlierMixin, AutoEncoderEstimator):
    """Outliers are the samples the autoencoder reconstructs worst (in the style of
    scikit-learn's IsolationForest: higher scores are more normal).

    ``score_samples`` is minus the squared reconstruction error per sample, in the
    model's scaled units (standardised features by default, so each feature counts by
    its spread, not its units); ``decision_function`` is ``score_samples - offset_``;
    ``predict`` gives -1 for outliers (decision below 0) and +1 for inliers;
    :meth:`feature_errors` gives the per-feature errors that explain a score.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.sklearn import AutoEncoderOutlierDetector
    >>> rng = np.random.default_rng(0)
    >>> plane = rng.normal(size=(500, 2)) @ rng.normal(size=(2, 10))   # near a 2-D plane
    >>> inliers = plane + 0.1 * rng.normal(size=(500, 10))
    >>> outliers = rng.normal(size=(10, 10)) * 3
    >>> det = AutoEncoderOutlierDetector(code_dim=2, epochs=30, random_state=0).fit(inliers)
    >>> det.model_.is_pca  # data near a plane: PCA's solution reconstructs it best
    True
    >>> int((det.predict(outliers) == -1).sum()), float((det.predict(inliers) == -1).mean())
    (10, 0.052)
    >>> det.set_params(contamination=0.01).fit(inliers).predict(inliers).tolist().count(-1)
    5
    """

    _params = _with(
        PARAMS,
        Param(
            "contamination",
            "auto",
            float | str,
            "the share of outliers expected in the training data (a number in (0, 0.5]: the "
            'threshold is that quantile of the training scores), or "auto": the box-plot '
            "rule, which needs no guess: a sample is an outlier when its error lies above the "
            "upper Tukey fence of the training errors, Q3 + 1.5 x (Q3 - Q1) (0.7% of normally "
            "distributed errors, more for a heavier tail).",
        ),
    )

    def fit(self, X: Any, y: Any = None) -> AutoEncoderOutlierDetector:
        """Train on ``X`` (mostly inliers) and set the threshold; ``y`` is ignored."""
        c = contamination(self.contamination)
        X = self._validated(X, reset=True)
        self._fit_model(X)
        scores = self._scores(X)  # X validated already: not again, as unnamed data
        self.offset_ = threshold(scores, c)
        self._training_errors = -scores  # for the score histogram that save() draws
        return self

    def feature_errors(self, X: Any) -> np.ndarray:
        """Squared reconstruction error of each feature of each sample (samples,
        features), in the model's scaled units: which features make a sample an outlier."""
        check_is_fitted(self)
        return feature_errors(self.model_, self._validated(X).astype(np.float32))

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the squared reconstruction error of each sample (higher: more normal)."""
        return -self.feature_errors(X).sum(1)

    def _scores(self, X: np.ndarray) -> np.ndarray:
        """:meth:`score_samples` of validated ``X``."""
        return -feature_errors(self.model_, X.astype(np.float32)).sum(1)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """-1 for outliers, +1 for inliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _fitted_json(self) -> dict[str, Any]:
        return {"offset_": float(self.offset_)}

    def save(self, path: str | Path) -> Path:
        """As :meth:`AutoEncoderEstimator.save`, plus the training scores' histogram with
        the threshold (figures/scores.png) and the folder's report.html."""
        from .evaluation.plots import score_histogram
        from .runs.report import write_report

        path = super().save(path)
        errors = getattr(self, "_training_errors", None)
        if errors is not None:
            (path / "figures").mkdir(exist_ok=True)
            score_histogram(errors, -self.offset_, path / "figures" / "scores.png")
        write_report(path)
        return path

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        self.offset_ = number(fitted.get("offset_"), f"{path / ESTIMATOR_FILE}: offset_")


CONTAMINATION = Bounds(0, 0.5, low_open=True)


def contamination(value: Any) -> float | str:
    """A contamination setting checked: "auto", or a number (numpy's too) in (0, 0.5]."""
    if isinstance(value, str):
        if value != "auto":
            raise ConfigError(
                f"contamination must be 'auto' or a number in (0, 0.5], got {value!r}"
            )
        return value
    return number(value, "contamination", CONTAMINATION)


def threshold(scores: np.ndarray, contamination: float | str) -> float:
    """The offset below which a score (minus an error) marks an outlier: the
    ``contamination`` quantile of the training scores, or for "auto" the upper Tukey
    fence of the training errors, Q3 + 1.5 IQR."""
    if contamination != "auto":
        return float(np.percentile(scores, 100.0 * float(contamination)))
    q1, q3 = np.percentile(-scores, [25, 75])
    return -float(q3 + 1.5 * (q3 - q1))


ESTIMATORS = {
    cls.__name__: cls
    for cls in (AutoEncoderTransformer, AutoEncoderImputer, AutoEncoderOutlierDetector)
}


def read_estimator_file(path: str | Path) -> dict[str, Any]:
    """The estimator.json of a folder :meth:`~AutoEncoderEstimator.save` wrote, checked
    field by field: any field missing or of the wrong type is a :class:`ConfigError`
    naming the file and the field (never a bare KeyError or TypeError)."""
    file = Path(path) / ESTIMATOR_FILE
    info = read_json(file, what="estimator file", error=ConfigError)
    again = "save the estimator again (estimator.save(path)) or restore the file"

    def bad(field: str, wanted: str, value: Any) -> ConfigError:
        got = "missing" if value is _ABSENT else f"got {json.dumps(value)[:60]}"
        return ConfigError(f"{file}: {field!r} must be {wanted}, {got}; {again}")

    if not isinstance(info, dict):
        raise ConfigError(f"{file} must hold a JSON object; {again}")
    name = info.get("estimator", _ABSENT)
    if name not in ESTIMATORS:
        raise bad("estimator", f"one of {', '.join(ESTIMATORS)}", name)
    cls = ESTIMATORS[name]
    params = info.get("params", {})
    if not isinstance(params, dict):
        raise bad("params", "an object", params)
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ConfigError(
            f"{file}: 'params' has unknown parameter(s) {', '.join(map(repr, unknown))} for "
            f"{name}; {again}"
        )
    fitted = info.get("fitted", _ABSENT)
    if not isinstance(fitted, dict):
        raise bad("fitted", "an object", fitted)

    def count(key: str, default: Any = _ABSENT) -> int:
        value = fitted.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(f"fitted.{key}", "a whole number >= 1", value)
        return value

    n = count("n_features_in_")
    count("n_iter_", 1)
    names = fitted.get("feature_names_in_", _ABSENT)
    if names is not _ABSENT and not (
        isinstance(names, list) and len(names) == n and all(isinstance(x, str) for x in names)
    ):
        raise bad("fitted.feature_names_in_", f"a list of {n} names", names)
    if cls is AutoEncoderOutlierDetector:
        offset = fitted.get("offset_", _ABSENT)
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or not math.isfinite(offset)
        ):
            raise bad("fitted.offset_", "a finite number (minus the error threshold)", offset)
    if cls is AutoEncoderTransformer:
        count("_n_features_out")
    if cls is AutoEncoderImputer:
        features = fitted.get("indicator_features")
        if features is not None and not (
            isinstance(features, list)
            and all(isinstance(f, int) and not isinstance(f, bool) and 0 <= f < n for f in features)
        ):
            raise bad(
                "fitted.indicator_features", f"null or a list of features in [0, {n})", features
            )
    return info


_ABSENT = object()  # a field not in the file


def load(path: str | Path) -> AutoEncoderEstimator:
    """An estimator written by :meth:`save` (no pickle)."""
    path = Path(path)
    if path.is_dir() and not (path / ESTIMATOR_FILE).exists() and (path / CONFIG_FILE).exists():
        raise ConfigError(
            f"{path} is a run folder, not a saved estimator: load its model with aekit.load"
        )
    info = read_estimator_file(path)
    estimator = ESTIMATORS[info["estimator"]](**info.get("params", {}))
    fitted = info["fitted"]
    estimator.model_ = load_model(path).eval()
    input_dim = getattr(estimator.model_.config, "input_dim", fitted["n_features_in_"])
    if input_dim != fitted["n_features_in_"]:
        raise ConfigError(
            f"{path / ESTIMATOR_FILE}: 'fitted.n_features_in_' is {fitted['n_features_in_']} "
            f"but the model in {CONFIG_FILE} takes {input_dim} features; save the estimator "
            "again (estimator.save(path))"
        )
    saved = read_json(path / CONFIG_FILE)
    estimator._run_sections = {k: saved[k] for k in ("data", "training", "result") if k in saved}
    estimator.n_features_in_ = int(fitted["n_features_in_"])
    estimator.n_iter_ = int(fitted.get("n_iter_", 1))
    if fitted.get("seed_") is not None:
        estimator.seed_ = int(fitted["seed_"])
    estimator.history_ = []
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    estimator._load_fitted(fitted, path)
    return estimator
