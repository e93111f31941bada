"""Input corruptions for denoising autoencoders (Vincent et al. 2008, 2010).

The model applies its corruption only in training mode, and the reconstruction loss
compares with the clean input. Adding a corruption is one registered class here.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from ..core.config import require
from ..core.registry import Registry
from .parts import Part, within

CORRUPTIONS: Registry[type[Corruption]] = Registry("corruption", name_attr="name")


@dataclasses.dataclass(frozen=True)
class Corruption(Part):
    """Maps a clean batch ``x`` to a randomly corrupted copy of the same shape."""

    registry = CORRUPTIONS

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def in_words(self) -> str:
        """What the corruption does, for people (what ``aekit train`` says a denoising model
        was trained to undo)."""
        params = ", ".join(f"{f.name} {getattr(self, f.name):g}" for f in dataclasses.fields(self))
        return f"{self.name} noise ({params})" if params else f"{self.name} noise"


FRACTION = within(0, 1, high_open=True, what="the corrupted fraction")


@CORRUPTIONS.register("gaussian")
@dataclasses.dataclass(frozen=True)
class GaussianNoise(Corruption):
    """Additive isotropic Gaussian noise: ``x + sigma * N(0, I)``.

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(1000, 50)
    >>> round(GaussianNoise(sigma=0.3)(x).std().item(), 1)
    0.3
    """

    sigma: float = dataclasses.field(default=0.3, metadata=within(0, what="noise std"))

    def __call__(self, x: Tensor) -> Tensor:
        return x + self.sigma * torch.randn_like(x)

    def in_words(self) -> str:
        return f"additive Gaussian noise (sigma {self.sigma:g})"


@CORRUPTIONS.register("masking")
@dataclasses.dataclass(frozen=True)
class Masking(Corruption):
    """Masking noise: each input component is set to 0 with probability ``nu``.

    Components are chosen independently, as in the reference Theano implementation of
    stacked denoising autoencoders; the corrupted fraction is ``nu`` on average.
    """

    nu: float = dataclasses.field(default=0.25, metadata=FRACTION)

    def __call__(self, x: Tensor) -> Tensor:
        keep = torch.rand_like(x) >= self.nu
        return x * keep

    def in_words(self) -> str:
        return f"masking noise ({self.nu * 100:g}% of inputs set to 0)"


@CORRUPTIONS.register("missing_patterns")
@dataclasses.dataclass(frozen=True)
class MissingPatterns(Corruption):
    """Hides, in a share ``p`` of the samples of a batch, the entries missing in another
    sample of the batch: a model of incomplete data (``missing=True``) learns to fill holes
    shaped like the data's own (image patches stay patches, feature groups stay groups).
    Complete data has no patterns to borrow, and is left as it is.

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(6, 3)
    >>> x[0, 1] = float("nan")                      # one sample lacks feature 1
    >>> hidden = MissingPatterns(p=1.0)(x).isnan()
    >>> hidden[:, 1].sum().item() >= 1, hidden[:, [0, 2]].any().item()   # only feature 1
    (True, False)
    >>> MissingPatterns()(torch.ones(6, 3)).isnan().any().item()  # complete: left as it is
    False
    """

    p: float = dataclasses.field(default=0.5, metadata=within(0, 1, what="the share of samples"))

    def __call__(self, x: Tensor) -> Tensor:
        missing = torch.isnan(x)
        donors = missing[torch.randperm(len(x), device=x.device)]
        chosen = torch.rand(len(x), 1, device=x.device) < self.p
        return x.masked_fill(donors & chosen, float("nan"))

    def in_words(self) -> str:
        return (
            f"missing entries (in {self.p * 100:g}% of the samples, those missing in another "
            "sample hidden)"
        )


@CORRUPTIONS.register("salt_and_pepper")
@dataclasses.dataclass(frozen=True)
class SaltAndPepper(Corruption):
    """Salt-and-pepper noise: a fraction ``nu`` of components is set to ``low`` or ``high``
    (by a fair coin flip each); the defaults are the range of data scaled to [0, 1]."""

    nu: float = dataclasses.field(default=0.25, metadata=FRACTION)
    low: float = 0.0
    high: float = 1.0

    def validate(self) -> None:
        require(self.low < self.high, f"low must be < high, got low={self.low}, high={self.high}")

    def __call__(self, x: Tensor) -> Tensor:
        u = torch.rand_like(x)
        # u < nu picks the corrupted components; within them, the lower half gets `low`.
        salt = torch.where(u < self.nu / 2, self.low, self.high).to(x.dtype)
        return torch.where(u < self.nu, salt, x)

    def in_words(self) -> str:
        return (
            f"salt-and-pepper noise ({self.nu * 100:g}% of inputs set to {self.low:g} or "
            f"{self.high:g})"
        )
