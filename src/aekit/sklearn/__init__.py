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
The transformer and the outlier detector, which also fit ``kind="vae"``, take the VAE's
own settings too (:data:`VAE_PARAMS`: beta, the KL warm-up, free bits, the decoder and
its likelihood, binarisation), refused in ``fit`` for another kind.
The estimators train through :func:`aekit.runs.fitting.fit_model`, as :func:`aekit.fit` does. They
scale their inputs (``scaling="auto"``: standardised unless the data lies in [0, 1]); the
scaling is part of the model, saved with it and undone on output. They clone, pickle, sit
in a Pipeline, and save to (and load from) aekit's safetensors folders with :meth:`save`
and :func:`load`.

Where each part is: :mod:`~aekit.sklearn.params` declares the parameters and makes the
constructors; :mod:`~aekit.sklearn.base` is what the estimators share (the fit through
the run layer, the input checks, save); one module per estimator (``transformer``,
``imputer``, ``outliers``, the last with the threshold rule ``aekit score`` shares);
:mod:`~aekit.sklearn.estimator_file` reads a saved estimator back. A new estimator is a
subclass of :class:`AutoEncoderEstimator` in a module of its own, named in
``estimator_file.ESTIMATORS`` (so :func:`load` knows it) and exported here.
"""

from ..runs.saved import ESTIMATOR_FILE
from .base import AutoEncoderEstimator
from .estimator_file import ESTIMATORS, load, read_estimator_file
from .imputer import AutoEncoderImputer
from .outliers import CONTAMINATION, AutoEncoderOutlierDetector, contamination, threshold
from .params import MODEL_PARAMS, NAMED, NOT_TRAIN_PARAMS, PARAMS, TRAIN_PARAMS, VAE_PARAMS, Param
from .transformer import AutoEncoderTransformer

__all__ = [
    "CONTAMINATION",
    "ESTIMATORS",
    "ESTIMATOR_FILE",
    "MODEL_PARAMS",
    "NAMED",
    "NOT_TRAIN_PARAMS",
    "PARAMS",
    "TRAIN_PARAMS",
    "VAE_PARAMS",
    "AutoEncoderEstimator",
    "AutoEncoderImputer",
    "AutoEncoderOutlierDetector",
    "AutoEncoderTransformer",
    "Param",
    "contamination",
    "load",
    "read_estimator_file",
    "threshold",
]
