""":class:`AutoEncoderTransformer`: the autoencoder as a transformer, a nonlinear PCA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ..evaluation.likelihood import sample_scores
from ..evaluation.metrics import feature_errors
from ..models.vae import VAE
from .base import AutoEncoderEstimator, FileFields
from .params import PARAMS, with_vae_params


class AutoEncoderTransformer(TransformerMixin, AutoEncoderEstimator):
    """An autoencoder as a scikit-learn transformer: ``transform`` gives the codes,
    ``inverse_transform`` decodes them, ``score`` is the negative squared error. With
    ``kind="vae"`` a variational autoencoder: the codes are its posterior means, and the
    score is the ELBO.

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

    _params = with_vae_params(PARAMS)  # kind="vae": its objective and decoder too

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
        feature dominates by its units); for ``kind="vae"``, each sample's ELBO in nats
        (:func:`aekit.evaluation.likelihood.sample_scores`)."""
        check_is_fitted(self)
        X = self._validated(X).astype(np.float32)
        if isinstance(self.model_, VAE):
            return -sample_scores(self.model_, self.model_.check_input(X))
        return -feature_errors(self.model_, X).sum(1)

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

    @classmethod
    def _check_fitted(cls, fitted: dict[str, Any], fields: FileFields) -> int:
        n = super()._check_fitted(fitted, fields)
        fields.count(fitted, "_n_features_out")
        return n

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        self._n_features_out = int(fitted["_n_features_out"])
