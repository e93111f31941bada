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

from .config import (
    DataConfig,
    ModelConfig,
    OutputConfig,
    PretrainConfig,
    RunConfig,
    TrainConfig,
    model_config,
)
from .corruption import (
    CORRUPTIONS,
    Corruption,
    GaussianNoise,
    Masking,
    MissingPatterns,
    SaltAndPepper,
)
from .data import Dataset, load_array, load_digits, load_mnist, read_idx
from .errors import (
    AekitError,
    CheckpointError,
    ConfigError,
    DataError,
    EvaluationError,
    TrainingError,
    TrainingInterrupted,
)
from .families import FAMILIES, load, register_family
from .images import Images, load_images
from .model import AutoEncoder
from .optim import OPTIMIZERS, SCHEDULES
from .penalties import PENALTIES, Contractive, KLSparsity, L1Sparsity, Penalty
from .presets import KINDS
from .pretrain import pretrain_greedy
from .runfolder import RunFolder
from .runs import Run, encode, evaluate, fit, impute, reconstruct, resume, score, train
from .tensorboard import TensorBoardLogger
from .trainer import FitResult, Trainer

__all__ = [
    "CORRUPTIONS",
    "FAMILIES",
    "KINDS",
    "OPTIMIZERS",
    "PENALTIES",
    "SCHEDULES",
    "AekitError",
    "AutoEncoder",
    "CheckpointError",
    "ConfigError",
    "Contractive",
    "Corruption",
    "DataConfig",
    "DataError",
    "Dataset",
    "EvaluationError",
    "FitResult",
    "GaussianNoise",
    "Images",
    "KLSparsity",
    "L1Sparsity",
    "Masking",
    "MissingPatterns",
    "ModelConfig",
    "OutputConfig",
    "Penalty",
    "PretrainConfig",
    "Run",
    "RunConfig",
    "RunFolder",
    "SaltAndPepper",
    "TensorBoardLogger",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "TrainingInterrupted",
    "encode",
    "evaluate",
    "fit",
    "impute",
    "load",
    "load_array",
    "load_digits",
    "load_images",
    "load_mnist",
    "model_config",
    "pretrain_greedy",
    "read_idx",
    "reconstruct",
    "register_family",
    "resume",
    "score",
    "train",
]
