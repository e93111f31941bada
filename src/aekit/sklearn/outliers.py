""":class:`AutoEncoderOutlierDetector`: outliers are the samples the autoencoder
reconstructs worst; and the threshold rule (:func:`contamination`, :func:`threshold`)
that ``aekit score`` shares."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

from ..core.errors import ConfigError
from ..core.schema import Bounds, number
from ..evaluation.likelihood import sample_scores
from ..evaluation.metrics import feature_errors
from ..models.vae import VAE
from ..runs.saved import ESTIMATOR_FILE
from .base import ABSENT, AutoEncoderEstimator, FileFields
from .params import PARAMS, Param, with_params, with_vae_params


class AutoEncoderOutlierDetector(OutlierMixin, AutoEncoderEstimator):
    """Outliers are the samples the autoencoder reconstructs worst (in the style of
    scikit-learn's IsolationForest: higher scores are more normal).

    ``score_samples`` is minus the squared reconstruction error per sample, in the
    model's scaled units (standardised features by default, so each feature counts by
    its spread, not its units); ``decision_function`` is ``score_samples - offset_``;
    ``predict`` gives -1 for outliers (decision below 0) and +1 for inliers;
    :meth:`feature_errors` gives the per-feature errors that explain a score. With
    ``kind="vae"`` (a variational autoencoder) a sample's score is its ELBO: the least
    likely samples are the outliers.

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

    _params = with_params(
        with_vae_params(PARAMS),  # kind="vae": its objective and decoder too
        Param(
            "contamination",
            "auto",
            float | str,
            "the share of outliers expected in the training data (a number in (0, 0.5]: the "
            'threshold is that quantile of the training scores), or "auto": the box-plot '
            "rule, which needs no guess: a sample is an outlier when its error lies above the "
            "upper Tukey fence of the training errors, Q3 + 1.5 x (Q3 - Q1) (0.35% of normally "
            'distributed errors, more for a heavier tail). For kind="vae", "auto" flags the '
            "1% least likely training samples (lowest ELBO): the negative ELBO has no tail "
            "that a fence can rely on (of grey values under a Bernoulli decoder it is bounded "
            "above by their entropy, so that the fence can lie beyond every sample).",
        ),
    )

    def fit(self, X: Any, y: Any = None) -> AutoEncoderOutlierDetector:
        """Train on ``X`` (mostly inliers) and set the threshold; ``y`` is ignored."""
        c = contamination(self.contamination)
        X = self._validated(X, reset=True)
        self._fit_model(X)
        scores = self._scores(X)  # X validated already: not again, as unnamed data
        self.offset_ = threshold(scores, c, likelihood=isinstance(self.model_, VAE))
        self._training_errors = -scores  # for the score histogram that save() draws
        return self

    def feature_errors(self, X: Any) -> np.ndarray:
        """Squared reconstruction error of each feature of each sample (samples,
        features), in the model's scaled units: which features make a sample an outlier."""
        check_is_fitted(self)
        if isinstance(self.model_, VAE):
            raise ConfigError(
                "kind='vae' scores each sample as a whole, by its ELBO: it has no "
                "per-feature errors"
            )
        return feature_errors(self.model_, self._validated(X).astype(np.float32))

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the squared reconstruction error of each sample (higher: more normal);
        for ``kind="vae"``, its ELBO (minus its negative ELBO, nats)."""
        check_is_fitted(self)
        return self._scores(self._validated(X))

    def _scores(self, X: np.ndarray) -> np.ndarray:
        """:meth:`score_samples` of validated ``X``."""
        if isinstance(self.model_, VAE):
            return -sample_scores(self.model_, self.model_.check_input(X.astype(np.float32)))
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
        from ..evaluation.plots import score_histogram
        from ..runs.report import write_report

        path = super().save(path)
        errors = getattr(self, "_training_errors", None)
        if errors is not None:
            (path / "figures").mkdir(exist_ok=True)
            score_histogram(errors, -self.offset_, path / "figures" / "scores.png")
        write_report(path)
        return path

    @classmethod
    def _check_fitted(cls, fitted: dict[str, Any], fields: FileFields) -> int:
        n = super()._check_fitted(fitted, fields)
        offset = fitted.get("offset_", ABSENT)
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or not math.isfinite(offset)
        ):
            raise fields.bad(
                "fitted.offset_", "a finite number (minus the error threshold)", offset
            )
        return n

    def _load_fitted(self, fitted: dict[str, Any], path: Path) -> None:
        self.offset_ = number(fitted.get("offset_"), f"{path / ESTIMATOR_FILE}: offset_")


CONTAMINATION = Bounds(0, 0.5, low_open=True)
# The share contamination="auto" flags of a VAE's training samples: a fixed share, as the
# negative ELBO's shape depends on the decoder and the data; within what the box-plot rule
# flags of reconstruction errors (0.35% of normal ones, a few % of the usual heavier tails).
AUTO_LIKELIHOOD_SHARE = 0.01


def contamination(value: Any) -> float | str:
    """A contamination setting checked: "auto", or a number (numpy's too) in (0, 0.5]."""
    if isinstance(value, str):
        if value != "auto":
            raise ConfigError(
                f"contamination must be 'auto' or a number in (0, 0.5], got {value!r}"
            )
        return value
    return number(value, "contamination", CONTAMINATION)


def threshold(scores: np.ndarray, contamination: float | str, *, likelihood: bool = False) -> float:
    """The offset below which a score (minus an error) marks an outlier: the
    ``contamination`` quantile of the training scores, or for "auto" the upper Tukey
    fence of the training errors, Q3 + 1.5 IQR. Where the scores are ``likelihood``s (a
    VAE's ELBO), "auto" is the :data:`AUTO_LIKELIHOOD_SHARE` quantile instead: the fence
    assumes errors with an upper tail, and the negative ELBO need not have one (of grey
    values under a Bernoulli decoder it piles up below their entropy, 64 log 2 nats for
    8x8 patches, and the fence lies beyond every sample: nothing is ever flagged)."""
    if contamination == "auto" and likelihood:
        contamination = AUTO_LIKELIHOOD_SHARE
    if contamination != "auto":
        return float(np.percentile(scores, 100.0 * float(contamination)))
    q1, q3 = np.percentile(-scores, [25, 75])
    return -float(q3 + 1.5 * (q3 - q1))
