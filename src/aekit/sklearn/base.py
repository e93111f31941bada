"""What the estimators share: :class:`AutoEncoderEstimator` builds the model from its
parameters, trains it through :func:`aekit.runs.fitting.fit_model` (the one training path,
as :func:`aekit.fit`'s), checks the inputs as scikit-learn does, and saves itself to a
folder in aekit's format. An estimator is a subclass: its parameters (``_params``, made
with :func:`~aekit.sklearn.params.with_params`), its ``fit`` and its methods, and the
fitted attributes it keeps in estimator.json (``_fitted_json``, ``_check_fitted``,
``_load_fitted``); see :mod:`aekit.sklearn.estimator_file` for the file."""

from __future__ import annotations

import json
import os
import secrets
import sys
import typing
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core.config import describe
from ..core.errors import ConfigError
from ..core.io import write_json
from ..core.schema import from_text, means_none
from ..models.autoencoder import AutoEncoder
from ..models.config import ModelConfig
from ..models.families import save_model
from ..models.kinds import model_class_of
from ..models.vae import VAEConfig
from ..runs.config import RunConfig, is_vae_kind
from ..runs.fitting import fit_model, fitted_sections
from ..runs.inputs import in_unit_range, is_nearly_binary
from ..runs.saved import ESTIMATOR_FILE
from ..training.config import TrainConfig
from .params import (
    MODEL_PARAMS,
    PARAMS,
    TRAIN_PARAMS,
    VAE_PARAMS,
    Param,
    constructor,
    with_parameters_doc,
)

# Where a frame is aekit's or scikit-learn's own code (fit_transform, a Pipeline or a
# search call fit): the warnings of a fit point past them, at the user's line.
_LIBRARY_FILES = tuple(
    str(Path(m.__file__).parent) + os.sep  # type: ignore[arg-type]
    for m in (sys.modules[__name__.split(".")[0]], sklearn, joblib)
)


def users_level() -> int:
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
    __init__ = constructor(PARAMS, "AutoEncoderEstimator")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass with parameters of its own (_params) gets an __init__ with them; each
        # estimator's docstring gets the Parameters section of its own.
        if "_params" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = constructor(cls._params, cls.__name__)  # type: ignore[method-assign]
        super().__init_subclass__(**kwargs)
        cls.__doc__ = with_parameters_doc(cls.__doc__, cls._params)

    # ---- fitting ----------------------------------------------------------------------

    def _model_settings(self) -> dict[str, Any]:
        """The ModelConfig fields these parameters set (None: the kind's or the data's
        default); text is read as the command line reads it ("32,16", "none")."""
        hints = typing.get_type_hints(ModelConfig)
        settings = {k: getattr(self, k) for k in MODEL_PARAMS if getattr(self, k) is not None}
        for name in ("hidden", "corruption"):
            if isinstance(settings.get(name), str):
                settings[name] = from_text(settings[name], hints[name], f"model.{name}")
        if "hidden" in settings:
            settings["hidden"] = list(settings["hidden"])
        if self.penalty is not None:
            penalty = self.penalty
            settings["penalties"] = (
                []
                if isinstance(penalty, str) and means_none(penalty)
                else list(penalty if isinstance(penalty, list | tuple) else [penalty])
            )
        if self.scaling != "auto":  # "auto": the run's rule, by the data's range
            settings["scaling"] = self.scaling
        settings.update(self._vae_settings())
        # A model for missing values is an autoencoder's setting (the vae kind has none).
        missing = {"missing": True} if self._missing else {}
        return {"kind": self.kind, **missing, **settings}

    def _vae_settings(self) -> dict[str, Any]:
        """The VAE's own settings these parameters set (an estimator that fits
        ``kind="vae"`` has them: :data:`~aekit.sklearn.params.VAE_PARAMS`), refused for
        a kind that is not a VAE, where they would do nothing."""
        given = {k: getattr(self, k) for k in VAE_PARAMS if getattr(self, k, None) is not None}
        if given and not is_vae_kind(self.kind):
            names = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ConfigError(
                f"{names}: the VAE's own setting{'s' if len(given) > 1 else ''}, and kind="
                f"{self.kind!r} is an autoencoder: leave {'them' if len(given) > 1 else 'it'} "
                'as None, or set kind="vae"'
            )
        if isinstance(given.get("decoder_hidden"), str):  # "32,16", as the flag takes it
            hint = typing.get_type_hints(VAEConfig)["decoder_hidden"]
            given["decoder_hidden"] = from_text(given["decoder_hidden"], hint, "decoder_hidden")
        if given.get("decoder_hidden") is not None:
            given["decoder_hidden"] = list(given["decoder_hidden"])
        return given

    def _fit_model(self, X: np.ndarray) -> AutoEncoder:
        """Build, scale and train the model on validated ``X``; set the fitted attributes."""
        data = X.astype(np.float32)
        run = RunConfig(model=self._extra_model_settings(self._model_settings(), X))
        # As aekit train builds the model: the kind's preset, the data's range and size.
        unit_range = in_unit_range(torch.from_numpy(data), self._missing)
        binary = unit_range and is_nearly_binary(torch.from_numpy(data))
        cfg = run.model_config(X.shape[1], unit_range=unit_range, binary=binary)
        seed = self.seed_ = self._seed()
        training = TrainConfig(
            **{k: getattr(self, k) for k in TRAIN_PARAMS if getattr(self, k) is not None},
            seed=seed,
        )
        model = model_class_of(cfg).from_config(cfg, seed=seed)  # the kind's family
        # As aekit.fit trains: the kind's settings, the warnings, the scaling fitted.
        trainer, result = fit_model(
            model,
            data,
            training,
            progress=self.verbose,
            desc=type(self).__name__,
            stacklevel=users_level(),  # the user's line calling fit (or fit_transform...)
        )
        # What save() records in config.json, as a run folder does (aekit info reads it).
        names = getattr(self, "feature_names_in_", None)
        columns = None if names is None else [str(n) for n in names]
        self._run_sections = fitted_sections(trainer, result, columns)
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
        # What the fit (or the file it was loaded from) records, as a run folder does: the
        # data, its columns' names (the CLI matches a table's columns by them), the
        # training and its result (none in an estimator pickled by an older aekit).
        save_model(self.model_, path, getattr(self, "_run_sections", None))
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

    # ---- the fitted attributes in estimator.json: each estimator adds its own ------------

    def _fitted_json(self) -> dict[str, Any]:
        """This estimator's own fitted attributes, as estimator.json keeps them."""
        return {}

    @classmethod
    def _check_fitted(cls, fitted: dict[str, Any], fields: FileFields) -> int:
        """Check the ``fitted`` object of an estimator.json of this class, raising
        ``fields.bad(...)`` for a field missing or of the wrong type; returns
        n_features_in_. An estimator with attributes of its own checks them after these."""
        n = fields.count(fitted, "n_features_in_")
        fields.count(fitted, "n_iter_", 1)
        names = fitted.get("feature_names_in_", ABSENT)
        if names is not ABSENT and not (
            isinstance(names, list) and len(names) == n and all(isinstance(x, str) for x in names)
        ):
            raise fields.bad("fitted.feature_names_in_", f"a list of {n} names", names)
        return n

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        """Set this estimator's own fitted attributes from checked ``fitted``."""


def is_images(X: Any) -> bool:
    """Whether ``X`` is an array (or nested lists) of more than two dimensions: images."""
    return getattr(X, "ndim", 0) > 2 or (
        isinstance(X, list | tuple) and len(X) > 0 and np.ndim(X) > 2
    )


def _rows(X: Any) -> Any:
    """Arrays of more than two dimensions (images) as (samples, features); anything else
    as it is (scikit-learn refuses 1-D data with its own advice)."""
    if is_images(X):
        X = np.asarray(X)
        if X.shape[0] and all(X.shape[1:]):
            return X.reshape(X.shape[0], -1)
    return X


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return describe(value)
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):  # np.float32(0.1), np.int64(8): JSON numbers
        return _jsonable(value.item()) if not isinstance(value, np.floating) else float(str(value))
    return value


ABSENT = object()  # a field not in the file


class FileFields:
    """The checks of one estimator.json's fields: a field missing or of the wrong type is
    a :class:`ConfigError` naming the file and the field (never a bare KeyError or
    TypeError), saying how to mend it."""

    again = "save the estimator again (estimator.save(path)) or restore the file"

    def __init__(self, file: Path) -> None:
        self.file = file

    def bad(self, field: str, wanted: str, value: Any) -> ConfigError:
        """The error for ``field`` holding ``value`` (ABSENT: missing) where ``wanted``."""
        got = "missing" if value is ABSENT else f"got {json.dumps(value)[:60]}"
        return ConfigError(f"{self.file}: {field!r} must be {wanted}, {got}; {self.again}")

    def count(self, fitted: dict[str, Any], key: str, default: Any = ABSENT) -> int:
        """``fitted[key]`` (``default`` where missing), a whole number >= 1."""
        value = fitted.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.bad(f"fitted.{key}", "a whole number >= 1", value)
        return value
