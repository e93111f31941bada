"""Greedy layer-wise pretraining (Hinton & Salakhutdinov 2006; Bengio et al. 2007;
Vincent et al. 2010): train a stack of shallow autoencoders, each on the clean codes of
the one below, then unroll them into one deep autoencoder to fine-tune end to end.

Each layer may be any kind: give the layers a corruption for a stacked denoising
autoencoder, or penalties for stacked sparse or contractive ones.
"""

from __future__ import annotations

import dataclasses
import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..core.errors import ConfigError
from ..core.io import write_json
from ..models.autoencoder import AutoEncoder
from ..models.config import ModelConfig
from ..models.nets import TiedLinear, linear_layers
from ..training import distributed
from ..training.config import TrainConfig
from ..training.trainer import FitResult, Trainer
from .config import PretrainConfig
from .folder import RunFolder, fit_in_folder
from .saved import load


@dataclasses.dataclass
class LayerResult:
    """One pretrained layer: its sizes, reconstruction error of its own input before and
    after training (squared error per sample), its training history and the model."""

    index: int
    sizes: tuple[int, int]
    error_before: float
    error_after: float
    fit: FitResult
    model: AutoEncoder

    def summary(self) -> dict[str, Any]:
        return {
            "layer": self.index,
            "sizes": list(self.sizes),
            "error_before": self.error_before,
            "error_after": self.error_after,
            "epochs": len(self.fit.history),
            "seconds": self.fit.seconds,
        }


def layer_configs(config: ModelConfig, pretrain: PretrainConfig) -> list[ModelConfig]:
    """The shallow autoencoder of each layer of ``config``, bottom to top.

    Layer k maps the codes of layer k-1 (the input for k = 1) to its own code. Its output
    activation is what the deep decoder applies at that point, so the unrolled model is
    exactly the composition of the stack: the model's output activation for layer 1, the
    hidden activation above it.
    """
    if config.architecture != "mlp":
        raise ConfigError("greedy pretraining supports MLP architectures (architecture='mlp')")
    sizes = [config.input_dim, *config.hidden, config.code_dim]
    layers = []
    for k, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
        top = k == len(sizes) - 1
        output_activation = config.output_activation if k == 1 else config.activation
        loss = config.loss if k == 1 else ("bce" if output_activation == "sigmoid" else "mse")
        layers.append(
            ModelConfig(
                input_dim=n_in,
                code_dim=n_out,
                code_activation=config.code_activation if top else config.activation,
                output_activation=output_activation,
                loss=loss,
                tied=config.tied,
                top_k=config.top_k if top else None,
                penalties=list(pretrain.penalties),
                corruption=pretrain.corruption,
                kind=f"layer-{k}",
            )
        )
    return layers


def pretrain_greedy(
    config: ModelConfig,
    X: Any,
    pretrain: PretrainConfig | None = None,
    training: TrainConfig | None = None,
    *,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
) -> tuple[AutoEncoder, list[LayerResult]]:
    """Pretrain the layers of ``config`` greedily on ``X`` and unroll them.

    Returns the deep model (ready to fine-tune with :func:`aekit.fit`) and one
    :class:`LayerResult` per layer. With ``run_dir``, layer k trains in
    ``run_dir/pretrain/layer-k`` (its own metrics.csv and checkpoints) and
    ``run_dir/pretrain/layers.json`` sums them up; finished layers are reused and an
    interrupted one resumes, so calling again continues where it stopped.

    Examples
    --------
    >>> import aekit
    >>> from aekit.models.config import model_config
    >>> data = aekit.load_digits()
    >>> cfg = model_config("deep", input_dim=64, hidden=[32, 16], code_dim=8)
    >>> model, layers = aekit.pretrain_greedy(cfg, data.train, PretrainConfig(epochs=2), progress=False)
    >>> [layer.sizes for layer in layers]
    [(64, 32), (32, 16), (16, 8)]
    >>> result = aekit.fit(model, data.train, epochs=2, progress=False)  # fine-tune
    """
    pretrain = pretrain or PretrainConfig()
    training = training or TrainConfig()
    layer_training = _layer_training(pretrain, training)
    deep = AutoEncoder.from_config(config, seed=training.seed)
    codes = deep.check_input(X, "training data", targets=True)
    results: list[LayerResult] = []
    stack = layer_configs(config, pretrain)
    for k, layer_config in enumerate(stack, start=1):
        layer_cfg = layer_training.replace(seed=training.seed + k)
        folder = RunFolder(Path(run_dir) / "pretrain" / f"layer-{k}") if run_dir else None
        desc = f"layer {k}/{len(stack)} {layer_config.input_dim}-{layer_config.code_dim}"
        layer = _pretrained_layer(k, layer_config, layer_cfg, codes, folder, progress, desc)
        results.append(layer)
        codes = _encode(layer.model.encoder, codes, training.eval_batch_size)
    unroll(deep, [layer.model for layer in results])
    if run_dir is not None and distributed.is_main():
        write_json(Path(run_dir) / "pretrain" / "layers.json", [r.summary() for r in results])
    return deep, results


def _layer_training(pretrain: PretrainConfig, training: TrainConfig) -> TrainConfig:
    """The training of each layer: the pretraining's epochs, rate and batch (the run's
    where it gives none), no early stopping, warm-up or plateau schedule."""
    return training.replace(
        epochs=pretrain.epochs,
        lr=pretrain.lr or training.lr,
        batch_size=pretrain.batch_size or training.batch_size,
        patience=None,
        schedule="constant" if training.schedule == "plateau" else training.schedule,
        warmup_epochs=0,
    )


def _pretrained_layer(
    k: int,
    config: ModelConfig,
    training: TrainConfig,
    codes: Tensor,
    folder: RunFolder | None,
    progress: bool | None,
    desc: str,
) -> LayerResult:
    """Layer ``k`` trained on ``codes``, the clean codes of the layer below: in ``folder``
    where given (reused where it holds the finished layer, resumed where interrupted),
    its error measured before and after."""
    # The error before training is that of the fresh layer, whatever state a resumed
    # layer's folder holds: the same seed builds the same fresh layer.
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model = AutoEncoder.from_config(config, seed=training.seed)
    for warning in said:  # about this layer, not the model the user described
        where = f"pretraining layer {k} ({config.input_dim}-{config.code_dim})"
        hint = " (for the layers: a pretraining corruption, --pretrain-corruption)"
        # At the line calling pretrain_greedy.
        warnings.warn(f"{where}: {warning.message}{hint}", warning.category, stacklevel=3)
    before = _error(model, codes, training.eval_batch_size)
    if folder is not None and folder.has_model:
        model = load(folder.path)
        fit_result = FitResult([], None, False, 0.0, 0)
    elif folder is not None:
        _, fit_result = fit_in_folder(model, training, codes, folder, progress=progress, desc=desc)
    else:
        fit_result = Trainer(model, training, progress=progress, desc=desc).fit(codes)
    model = model.cpu().eval()
    after = _error(model, codes, training.eval_batch_size)
    sizes = (config.input_dim, config.code_dim)
    return LayerResult(k, sizes, before, after, fit_result, model)


def unroll(deep: AutoEncoder, layers: list[AutoEncoder]) -> AutoEncoder:
    """Copy the weights of a stack of shallow autoencoders into ``deep``: encoders in
    order, decoders reversed. ``deep``'s output then equals the stack's composition."""
    enc, dec = linear_layers(deep.encoder), linear_layers(deep.decoder)[::-1]
    if len(enc) != len(layers) or len(dec) != len(layers):
        raise ConfigError(
            f"cannot unroll {len(layers)} layers into a model with {len(enc)} encoder layers"
        )
    with torch.no_grad():
        for target_enc, target_dec, layer in zip(enc, dec, layers, strict=True):
            (source_enc,) = linear_layers(layer.encoder)
            (source_dec,) = linear_layers(layer.decoder)
            _copy(target_enc, source_enc.weight, source_enc.bias)
            _copy(target_dec, _weight(source_dec), source_dec.bias)
    return deep


def _weight(layer: nn.Module) -> Tensor:
    return layer.source.weight.t() if isinstance(layer, TiedLinear) else layer.weight


def _copy(target: nn.Module, weight: Tensor, bias: Tensor) -> None:
    if isinstance(target, TiedLinear):
        # The weight is the (already copied) encoder's; only the bias is the decoder's own.
        target.bias.copy_(bias)
        return
    target.weight.copy_(weight)
    target.bias.copy_(bias)


def _encode(encoder: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    with torch.inference_mode():
        return torch.cat([encoder(b) for b in x.split(batch_size)])


def _error(model: AutoEncoder, x: Tensor, batch_size: int) -> float:
    """Squared error per sample, computed wherever the model is (it is not moved)."""
    device = model.device
    with torch.inference_mode():
        sse = sum(
            float((model.reconstruct(b) - b).pow(2).sum()) for b in x.to(device).split(batch_size)
        )
    return sse / len(x)
