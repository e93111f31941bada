"""A saved estimator's folder: an aekit model folder (config.json, model.safetensors)
plus estimator.json, which :meth:`AutoEncoderEstimator.save` writes: the estimator's
name, its parameters and its fitted attributes. :func:`read_estimator_file` checks it
field by field (each estimator checks its own fitted attributes, ``_check_fitted``) and
:func:`load` builds the estimator back from it. No pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.io import read_json
from ..models.families import CONFIG_FILE
from ..runs.saved import ESTIMATOR_FILE, read_run
from .base import ABSENT, AutoEncoderEstimator, FileFields
from .imputer import AutoEncoderImputer
from .outliers import AutoEncoderOutlierDetector
from .transformer import AutoEncoderTransformer

# The estimators a folder may hold, by the name estimator.json gives.
ESTIMATORS = {
    cls.__name__: cls
    for cls in (AutoEncoderTransformer, AutoEncoderImputer, AutoEncoderOutlierDetector)
}
# The sections of config.json a loaded estimator writes again when it is saved.
RUN_SECTIONS = ("data", "columns", "training", "result")


def read_estimator_file(path: str | Path) -> dict[str, Any]:
    """The estimator.json of a folder :meth:`~AutoEncoderEstimator.save` wrote, checked
    field by field: any field missing or of the wrong type is a :class:`ConfigError`
    naming the file and the field (never a bare KeyError or TypeError)."""
    file = Path(path) / ESTIMATOR_FILE
    info = read_json(file, what="estimator file", error=ConfigError)
    fields = FileFields(file)
    if not isinstance(info, dict):
        raise ConfigError(f"{file} must hold a JSON object; {fields.again}")
    name = info.get("estimator", ABSENT)
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise fields.bad("estimator", f"one of {', '.join(ESTIMATORS)}", name)
    cls = ESTIMATORS[name]
    params = info.get("params", {})
    if not isinstance(params, dict):
        raise fields.bad("params", "an object", params)
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ConfigError(
            f"{file}: 'params' has unknown parameter(s) {', '.join(map(repr, unknown))} for "
            f"{name}; {fields.again}"
        )
    fitted = info.get("fitted", ABSENT)
    if not isinstance(fitted, dict):
        raise fields.bad("fitted", "an object", fitted)
    cls._check_fitted(fitted, fields)
    return info


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
    model, saved = read_run(path)
    estimator.model_ = model.eval()
    input_dim = getattr(estimator.model_.config, "input_dim", fitted["n_features_in_"])
    if input_dim != fitted["n_features_in_"]:
        raise ConfigError(
            f"{path / ESTIMATOR_FILE}: 'fitted.n_features_in_' is {fitted['n_features_in_']} "
            f"but the model in {CONFIG_FILE} takes {input_dim} features; save the estimator "
            "again (estimator.save(path))"
        )
    estimator._run_sections = {k: saved[k] for k in RUN_SECTIONS if k in saved}
    estimator.n_features_in_ = int(fitted["n_features_in_"])
    estimator.n_iter_ = int(fitted.get("n_iter_", 1))
    if fitted.get("seed_") is not None:
        estimator.seed_ = int(fitted["seed_"])
    estimator.history_ = []
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    estimator._load_fitted(fitted, path)
    return estimator
