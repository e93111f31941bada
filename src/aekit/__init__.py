"""aekit: autoencoders that work.

An autoencoder is an encoder, a decoder, an optional input corruption, optional code
penalties and a reconstruction loss; every kind in the family is a preset of those parts.

>>> import aekit
>>> data = aekit.load_digits()
>>> model = aekit.AutoEncoder.build("sparse", input_dim=64, hidden=[32], code_dim=8)
>>> result = aekit.fit(model, data.train, epochs=2, progress=False)
>>> aekit.evaluate(model, data.test)["squared_error"] > 0
True
"""

__version__ = "0.1.0"

from .config import DataConfig, ModelConfig, TrainConfig
from .corruption import CORRUPTIONS, Corruption, GaussianNoise, Masking, SaltAndPepper
from .data import Dataset, load_array, load_digits, load_mnist, read_idx
from .errors import AekitError, CheckpointError, ConfigError, DataError, TrainingError
from .io import load
from .metrics import evaluate
from .model import AutoEncoder
from .penalties import PENALTIES, Contractive, KLSparsity, L1Sparsity, Penalty
from .presets import KINDS
from .pretrain import PretrainConfig, pretrain_greedy
from .train import FitResult, Trainer, TrainingInterrupted, fit

__all__ = [
    "CORRUPTIONS",
    "KINDS",
    "PENALTIES",
    "AekitError",
    "AutoEncoder",
    "CheckpointError",
    "ConfigError",
    "Contractive",
    "Corruption",
    "DataConfig",
    "DataError",
    "Dataset",
    "FitResult",
    "GaussianNoise",
    "KLSparsity",
    "L1Sparsity",
    "Masking",
    "ModelConfig",
    "Penalty",
    "PretrainConfig",
    "SaltAndPepper",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "TrainingInterrupted",
    "evaluate",
    "fit",
    "load",
    "load_array",
    "load_digits",
    "load_mnist",
    "pretrain_greedy",
    "read_idx",
]
