""":class:`AutoEncoderImputer`: learns from data with missing values (NaN) and fills them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils.validation import check_is_fitted

from ..models.corruption import Masking, MissingPatterns
from .base import AutoEncoderEstimator, FileFields, is_images, users_level
from .params import NAMED, PARAMS, Param, with_params


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
    _params = with_params(
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
                stacklevel=users_level(),  # the user's line calling fit (or fit_transform)
            )
        self._fit_model(X)
        self.indicator_ = (
            MissingIndicator(error_on_new=False).fit(X) if self.add_indicator else None
        )
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``X`` with its missing values filled in (observed values are kept)."""
        check_is_fitted(self)
        shape = np.asarray(X).shape if is_images(X) else None
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

    @classmethod
    def _check_fitted(cls, fitted: dict[str, Any], fields: FileFields) -> int:
        n = super()._check_fitted(fitted, fields)
        features = fitted.get("indicator_features")
        if features is not None and not (
            isinstance(features, list)
            and all(isinstance(f, int) and not isinstance(f, bool) and 0 <= f < n for f in features)
        ):
            raise fields.bad(
                "fitted.indicator_features", f"null or a list of features in [0, {n})", features
            )
        return n

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        features = fitted.get("indicator_features")
        self.indicator_ = None
        if features is not None:
            # Refit on a pattern with exactly those features missing: the same indicator.
            pattern = np.zeros((1, self.n_features_in_))
            pattern[0, features] = np.nan
            self.indicator_ = MissingIndicator(error_on_new=False).fit(pattern)
