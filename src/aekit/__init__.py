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

from .core.errors import (
    AekitError,
    CheckpointError,
    ConfigError,
    DataError,
    EvaluationError,
    TrainingError,
    TrainingInterrupted,
)
from .core.version import __version__ as __version__
from .data.builtin import load_digits, load_mnist
from .data.config import DataConfig
from .data.dataset import Dataset
from .data.files import load_array
from .data.formats.idx import read_idx
from .data.formats.images import Images, load_images
from .models.autoencoder import AutoEncoder
from .models.config import ModelConfig, model_config
from .models.corruption import (
    CORRUPTIONS,
    Corruption,
    GaussianNoise,
    Masking,
    MissingPatterns,
    SaltAndPepper,
)
from .models.families import FAMILIES, register_family
from .models.penalties import PENALTIES, Contractive, KLSparsity, L1Sparsity, Penalty
from .models.presets import KINDS
from .models.vae import VAE, VAEConfig
from .runs.api import (
    Run,
    encode,
    evaluate,
    fit,
    impute,
    reconstruct,
    resume,
    sample,
    score,
    train,
)
from .runs.config import OutputConfig, PretrainConfig, RunConfig
from .runs.folder import RunFolder
from .runs.pretrain import pretrain_greedy
from .runs.saved import load
from .training.config import TrainConfig
from .training.optim import OPTIMIZERS, SCHEDULES
from .training.tensorboard import TensorBoardLogger
from .training.trainer import FitResult, Trainer

__all__ = [
    "CORRUPTIONS",
    "FAMILIES",
    "KINDS",
    "OPTIMIZERS",
    "PENALTIES",
    "SCHEDULES",
    "VAE",
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
    "VAEConfig",
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
    "sample",
    "score",
    "train",
]
