"""The autoencoder: encoder + decoder + optional corruption + optional code penalties +
a reconstruction loss. Every kind in the family is this one class with different parts."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..core.errors import ConfigError, DataError
from ..core.seeding import seeded
from ..data.validation import ArrayLike, to_tensor
from .config import ModelConfig, model_config
from .corruption import Corruption
from .families import register_family, save_model
from .inference import infer
from .inputs import ModelInputs
from .losses import LOSSES
from .nets import activation, conv_decoder, conv_encoder, mlp_decoder, mlp_encoder
from .pca import PCA_SAMPLES, Projection, Reconstruction, principal_subspace
from .penalties import Penalty


@register_family("autoencoder")
class AutoEncoder(ModelInputs, nn.Module):
    """An autoencoder ``r = g(f(x))`` trained to reconstruct ``x``.

    Build one from a preset with :meth:`build`, from a :class:`ModelConfig` with
    :meth:`from_config`, or from your own encoder and decoder modules (they train,
    evaluate and encode like built-in ones; saving them needs a registered family, see
    :func:`aekit.register_family`).

    ``model(x)`` is the training objective: it returns the total loss and its named terms,
    so ``torch.compile`` and ``DistributedDataParallel`` wrap the standard entry point.

    Parameters
    ----------
    encoder, decoder : modules on flat ``(batch, features)`` tensors; the decoder returns
        pre-activation outputs (logits).
    output_activation : name of the activation that maps logits to reconstructions.
    loss : ``"mse"`` or ``"bce"`` (see :mod:`aekit.models.losses`).
    corruption : applied to the input in training mode only (denoising).
    penalties : code penalties added to the loss.
    missing : inputs may have missing entries (NaN); they enter the encoder as 0 and the
        loss counts only observed entries.
    config : the config the parts were built from (needed to save the model).

    Examples
    --------
    >>> import aekit, numpy as np
    >>> model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8,
    ...                                 penalty=aekit.KLSparsity(rho=0.05, beta=3.0))
    >>> X = np.random.default_rng(0).random((10, 64), dtype=np.float32)
    >>> model.encode(X).shape, model.reconstruct(X).shape
    ((10, 8), (10, 64))
    >>> loss, terms = model(torch.as_tensor(X))
    >>> sorted(terms)
    ['kl_sparsity', 'reconstruction']
    """

    config_class = ModelConfig

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        output_activation: str = "sigmoid",
        loss: str = "mse",
        corruption: Corruption | None = None,
        penalties: Sequence[Penalty] = (),
        missing: bool = False,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.output_activation = activation(output_activation)
        self.output_activation_name = output_activation
        self.reconstruction_loss = LOSSES.get(loss)
        self.corruption = corruption
        self.penalties = tuple(penalties)
        self.missing = missing
        # The names of the columns it was trained on, where its data named them (a CSV's
        # header, a DataFrame): a table given later is matched by them (run folders keep
        # them in config.json, as "columns").
        self.feature_names: list[str] | None = None
        self.config = config
        # Input scaling (ModelConfig.scaling): x -> (x - shift) / scale before encoding,
        # undone after decoding. Buffers, so they are saved and loaded with the weights
        # (only where there is scaling: unscaled models keep the weights they always had).
        self.scaling = config.scaling if config is not None else "none"
        if self.scaling != "none":
            assert config is not None
            self.register_buffer("input_shift", torch.zeros(config.input_dim))
            self.register_buffer("input_scale", torch.ones(config.input_dim))
        # PCA of the training data, for a model that falls back to it (config.pca_fallback),
        # saved with the weights; pca_state: 0 not fitted, 1 fitted, 2 the model is PCA.
        if config is not None and config.pca_fallback:
            self.register_buffer("pca_mean", torch.zeros(config.input_dim))
            self.register_buffer("pca_components", torch.zeros(config.input_dim, config.code_dim))
            self.register_buffer("pca_state", torch.zeros(()))

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: ModelConfig, seed: int | None = None) -> AutoEncoder:
        """Build the model a config describes. With ``seed`` the weights are drawn from a
        generator seeded by it (the caller's random state is untouched); without, from
        torch's global generator."""
        if seed is not None:
            with seeded(seed):
                return cls.from_config(config)
        c = config
        if c.architecture == "conv":
            assert c.image_shape is not None
            args = (c.image_shape, c.conv_channels, c.kernel_size, c.hidden, c.code_dim)
            encoder = conv_encoder(*args, c.activation, c.code_activation, c.top_k)
            decoder = conv_decoder(*args, c.activation, encoder if c.tied else None)
        else:
            sizes = [c.input_dim, *c.hidden, c.code_dim]
            encoder = mlp_encoder(sizes, c.activation, c.code_activation, c.top_k)
            decoder = mlp_decoder(sizes[::-1], c.activation, encoder if c.tied else None)
        for penalty in c.penalties:
            penalty.check_model(c.code_activation, encoder)
        if c.code_dim >= c.input_dim and not c.regularized:
            warnings.warn(
                f"the code ({c.code_dim} units) is as large as the input ({c.input_dim} "
                "features) and nothing regularizes it: the model can learn the identity. "
                "Add a penalty, a corruption or top_k, or make the code smaller.",
                UserWarning,
                stacklevel=3,
            )
        return cls(
            encoder,
            decoder,
            output_activation=c.output_activation,
            loss=c.loss,
            corruption=c.corruption,
            penalties=c.penalties,
            missing=c.missing,
            config=c,
        )

    @classmethod
    def build(
        cls,
        kind: str = "undercomplete",
        *,
        penalty: Penalty | None = None,
        seed: int = 0,
        **settings: Any,
    ) -> AutoEncoder:
        """Build a model of preset ``kind`` ("undercomplete", "linear", "sparse",
        "sparse_l1", "topk", "contractive", "denoising", "deep") with weights drawn from
        ``seed``. Any :class:`ModelConfig` field given in ``settings`` replaces the
        preset's value (``penalties`` too: the list given is the list used), and
        ``penalty`` is shorthand for ``penalties=[penalty]``."""
        if penalty is not None:
            settings["penalties"] = [*settings.get("penalties", []), penalty]
        return cls.from_config(model_config(kind, **settings), seed=seed)

    # ---- the data flow --------------------------------------------------------------------

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Total training loss of a batch and its named terms.

        corrupt (training only) -> encode -> penalise the code -> decode -> compare with
        the clean input (its observed entries, for a model of data with missing values).
        """
        x = self.scale(x)
        observed = ~torch.isnan(x) if self.missing else None
        inputs = self.corruption(x) if self.training and self.corruption is not None else x
        # Missing entries (and those a corruption hid as NaN) enter as 0.
        inputs, x = self.fill_missing(inputs), self.fill_missing(x)
        encoder, decoder, output_activation = self.parts
        code = encoder(inputs)
        logits = decoder(code)
        if self.is_pca:  # PCA's reconstruction is judged by its own measure
            recon = LOSSES.get("mse")(logits, x, output_activation, observed)
        else:
            recon = self.reconstruction_loss(logits, x, output_activation, observed)
        terms = {"reconstruction": recon}
        for penalty in self.penalties:
            terms[penalty.name] = penalty(code, inputs, encoder)
        total = terms["reconstruction"]
        for penalty in self.penalties:
            total = total + terms[penalty.name]
        return total, terms

    def encode(self, x: Tensor | ArrayLike) -> Any:
        """Codes ``f(x)``: a tensor for a tensor (with autograd), an array for an array
        (validated, computed in inference mode in large batches)."""
        if isinstance(x, Tensor):
            return self._encode(x)
        return self._infer("_encode", self.check_input(x))

    def decode(self, h: Tensor | ArrayLike) -> Any:
        """Reconstructions ``g(h)`` from codes; tensor or array like :meth:`encode`."""
        if isinstance(h, Tensor):
            return self._decode(h)
        codes = to_tensor(h, "codes")
        if self.code_dim is not None and codes.shape[1] != self.code_dim:
            raise DataError(
                f"codes have {codes.shape[1]} units but the model's code has {self.code_dim}"
            )
        return self._infer("_decode", codes)

    def reconstruct(self, x: Tensor | ArrayLike) -> Any:
        """Reconstructions ``g(f(x))``, in the shape of ``x``; tensor or array like
        :meth:`encode`."""
        if isinstance(x, Tensor):
            return self._reconstruct(x)
        out = self._infer("_reconstruct", self.check_input(x))
        shape = np.shape(x)
        # Shapes in, shapes out: images (N, H, W) or (N, C, H, W) come back as images.
        return out.reshape(shape) if len(shape) > 2 else out

    def _encode(self, x: Tensor) -> Tensor:
        return self.parts[0](self.fill_missing(self.scale(x)))

    def _decode(self, h: Tensor) -> Tensor:
        _, decoder, output_activation = self.parts
        return self.unscale(output_activation(decoder(h)))

    def code_and_reconstruction(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """The code of ``inputs`` in the model's units (scaled, missing entries filled: as
        :meth:`forward` hands them to the encoder) and their reconstruction in those units:
        forward's encode -> decode, through the output activation, for measuring the model
        (:meth:`sample_errors`, :func:`aekit.evaluate`)."""
        encoder, decoder, output_activation = self.parts
        code = encoder(inputs)
        return code, output_activation(decoder(code))

    # ---- the PCA fallback (config.pca_fallback) ---------------------------------------------

    @property
    def is_pca(self) -> bool:
        """Whether the model fell back to PCA (see ``ModelConfig.pca_fallback``)."""
        state = getattr(self, "pca_state", None)
        return state is not None and int(state) == 2

    @property
    def parts(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """The encoder, decoder and output activation the model computes with, on scaled
        inputs: its own, or PCA's where it fell back to PCA."""
        if self.is_pca:
            return (
                Projection(self.pca_mean, self.pca_components),
                Reconstruction(self.pca_mean, self.pca_components),
                nn.Identity(),
            )
        return self.encoder, self.decoder, self.output_activation

    def fit_pca(self, x: Tensor | ArrayLike) -> AutoEncoder:
        """Fit the PCA a ``pca_fallback`` model falls back to on training data ``x`` (in the
        model's units, missing entries as 0, as they enter the model). Directions beyond
        the data's rank are left at zero."""
        if getattr(self, "pca_state", None) is None:
            raise ConfigError("this model has no PCA to fall back to (pca_fallback is off)")
        t = x if isinstance(x, Tensor) else self.check_input(x, "training data")
        if len(t) > PCA_SAMPLES:
            pick = torch.randperm(len(t), generator=torch.Generator().manual_seed(0))
            t = t[pick[:PCA_SAMPLES].sort().values]
        t = self.fill_missing(self.scale(t.float().cpu()))
        fitted = principal_subspace(t, min(self.pca_components.shape[1], *t.shape))
        if fitted is None:
            return self
        mean, components = (torch.from_numpy(a.copy()).float() for a in fitted)
        with torch.no_grad():
            self.pca_mean.copy_(mean)
            self.pca_components.zero_()
            self.pca_components[:, : components.shape[1]].copy_(components)
            self.pca_state.fill_(1)
        return self

    def squared_error(self, x: Tensor) -> float:
        """Squared reconstruction error per sample of ``x`` (a tensor in the data's units)
        in the model's units, over observed entries: what PCA and the model are compared
        by. A denoising model (one with a corruption) is judged by what it is for: its
        reconstruction of ``x`` corrupted by it (seeded noise, the same for every call)
        against the clean ``x``."""
        return float(self.sample_errors(x).mean()) if len(x) else 0.0

    def sample_errors(self, x: Tensor) -> Tensor:
        """Each sample's squared error, as :meth:`squared_error` averages them (float64)."""
        was_training = self.training
        self.eval()
        errors = []
        with seeded(0), torch.inference_mode():
            for batch in x.split(4096):
                b = self.scale(batch.to(self.device))
                observed = ~torch.isnan(b)
                inputs = self.corruption(b) if self.corruption is not None else b
                b, inputs = torch.nan_to_num(b, nan=0.0), torch.nan_to_num(inputs, nan=0.0)
                _, recon = self.code_and_reconstruction(inputs)
                errors.append(((recon - b).pow(2) * observed).flatten(1).double().sum(1).cpu())
        self.train(was_training)
        return torch.cat(errors) if errors else torch.zeros(0, dtype=torch.float64)

    def _reconstruct(self, x: Tensor) -> Tensor:
        return self._decode(self._encode(x))

    def extra_repr(self) -> str:
        return "fell back to PCA: encodes and decodes as PCA" if self.is_pca else ""

    def fill_missing(self, x: Tensor) -> Tensor:
        """``x`` with its missing entries (NaN) set to 0, for a model of data with missing
        values (0 is the mean of standardised data, and masking noise's value)."""
        return torch.nan_to_num(x, nan=0.0) if self.missing else x

    # ---- helpers --------------------------------------------------------------------------

    @property
    def input_dim(self) -> int | None:
        """Input features: the config's, or the first dense layer's for your own modules
        (None when it cannot be told; then inputs are not checked against it)."""
        if self.config is not None:
            return self.config.input_dim
        first = next((m for m in self.encoder.modules() if hasattr(m, "in_features")), None)
        return int(first.in_features) if first is not None else None

    @property
    def code_dim(self) -> int | None:
        """Code units: the config's, or the encoder's last dense layer's for your own modules."""
        if self.config is not None:
            return self.config.code_dim
        dense = [m for m in self.encoder.modules() if hasattr(m, "out_features")]
        return int(dense[-1].out_features) if dense else None

    @property
    def needs_autograd(self) -> bool:
        """Whether the loss differentiates the encoder itself (the exact or estimated
        contractive penalty): then it is evaluated without a graph, not in inference mode."""
        return any(p.needs_autograd(self.encoder) for p in self.penalties)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def _checks_range(self) -> bool:
        """Whether data must lie in the sigmoid output's [0, 1]: minmax scaling puts the
        training data there, and held-out data beyond its range is scored as it is."""
        return self.output_activation_name == "sigmoid" and self.scaling != "minmax"

    def _infer(self, method: str, x: Tensor, batch_size: int = 4096) -> np.ndarray:
        """``method`` ("_encode", "_decode", "_reconstruct") of ``x`` in inference mode, a
        block of rows at a time, as a float32 array, each row's result the same bit for bit
        whatever rows share its batch (:func:`~aekit.models.inference.infer`)."""
        return infer(self, method, x, batch_size)

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into folder ``path``."""
        return save_model(self, path)
