"""Encoder and decoder builders: MLP (any depth, linear when the activation is "linear"),
convolutional for C x H x W images, optional tied weights and a top-k code.

Both nets take and return flat ``(batch, features)`` tensors: a convolutional encoder
unflattens its input itself, so data, losses and metrics are the same for every architecture.
The decoder returns pre-activation outputs ("logits"); the model applies the output
activation, which lets the binary cross-entropy loss work on logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.registry import Registry

ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation")
ACTIVATIONS.register("linear")(nn.Identity)
ACTIVATIONS.register("relu")(nn.ReLU)
ACTIVATIONS.register("sigmoid")(nn.Sigmoid)
ACTIVATIONS.register("tanh")(nn.Tanh)
ACTIVATIONS.register("elu")(nn.ELU)
ACTIVATIONS.register("gelu")(nn.GELU)
ACTIVATIONS.register("silu")(nn.SiLU)
ACTIVATIONS.register("leaky_relu")(nn.LeakyReLU)
ACTIVATIONS.register("softplus")(nn.Softplus)


def activation(name: str) -> nn.Module:
    return ACTIVATIONS.get(name)()


class TopK(nn.Module):
    """Keeps the ``k`` largest units of each code vector and zeroes the rest
    (k-sparse autoencoder, Makhzani & Frey 2013); gradients flow through the kept units."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, h: Tensor) -> Tensor:
        values, indices = h.topk(self.k, dim=1)
        return torch.zeros_like(h).scatter(1, indices, values)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class TiedLinear(nn.Module):
    """A decoder layer that reuses an encoder layer's weight, transposed: ``y = x W + b``.

    The source layer is held outside the module tree so its weight is stored once in
    ``state_dict`` (safetensors refuses shared tensors) and trained by both uses.
    """

    def __init__(self, source: nn.Linear) -> None:
        super().__init__()
        self.__dict__["source"] = source
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.source.weight.t(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.source.out_features}, out_features={self.source.in_features}, tied"
        )


class TiedConvTranspose2d(nn.Module):
    """The transpose of an encoder convolution, sharing its kernel (see :class:`TiedLinear`)."""

    def __init__(self, source: nn.Conv2d, output_padding: tuple[int, int]) -> None:
        super().__init__()
        self.__dict__["source"] = source
        self.output_padding = output_padding
        self.bias = nn.Parameter(torch.zeros(source.in_channels))

    def forward(self, x: Tensor) -> Tensor:
        s = self.source
        return F.conv_transpose2d(x, s.weight, self.bias, s.stride, s.padding, self.output_padding)


def linear_layers(net: nn.Module) -> list[nn.Module]:
    """The dense layers of a net, in order (``nn.Linear`` and :class:`TiedLinear`)."""
    return [m for m in net.modules() if isinstance(m, nn.Linear | TiedLinear)]


def mlp_encoder(
    sizes: Sequence[int], activation_name: str, code_activation: str, top_k: int | None = None
) -> nn.Sequential:
    """``sizes = [input, hidden..., code]``; hidden layers use ``activation_name``."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        last = i == len(sizes) - 2
        layers += [nn.Linear(n_in, n_out), activation(code_activation if last else activation_name)]
    if top_k is not None:
        layers.append(TopK(top_k))
    return nn.Sequential(*layers)


def mlp_decoder(
    sizes: Sequence[int], activation_name: str, tied_to: nn.Sequential | None = None
) -> nn.Sequential:
    """``sizes = [code, hidden..., output]``; the last layer has no activation (logits).

    With ``tied_to`` (the encoder), layer i reuses the transposed weight of the encoder's
    mirror layer.
    """
    sources = linear_layers(tied_to)[::-1] if tied_to is not None else None
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(TiedLinear(sources[i]) if sources else nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation(activation_name))
    return nn.Sequential(*layers)


def conv_shapes(image_shape: Sequence[int], channels: Sequence[int]) -> list[tuple[int, int, int]]:
    """Shapes (C, H, W) of the input and after each stride-2 convolution (odd kernel,
    'same' padding): each halves H and W, rounding up."""
    shapes = [tuple(image_shape)]
    for c in channels:
        _, h, w = shapes[-1]
        shapes.append((c, (h + 1) // 2, (w + 1) // 2))
    return shapes  # type: ignore[return-value]


def conv_encoder(
    image_shape: Sequence[int],
    channels: Sequence[int],
    kernel_size: int,
    hidden: Sequence[int],
    code_dim: int,
    activation_name: str,
    code_activation: str,
    top_k: int | None = None,
) -> nn.Sequential:
    shapes = conv_shapes(image_shape, channels)
    layers: list[nn.Module] = [nn.Unflatten(1, tuple(image_shape))]
    for (c_in, _, _), (c_out, _, _) in pairwise(shapes):
        layers += [
            nn.Conv2d(c_in, c_out, kernel_size, stride=2, padding=kernel_size // 2),
            activation(activation_name),
        ]
    c, h, w = shapes[-1]
    layers.append(nn.Flatten())
    layers += mlp_encoder([c * h * w, *hidden, code_dim], activation_name, code_activation, top_k)
    return nn.Sequential(*layers)


def conv_decoder(
    image_shape: Sequence[int],
    channels: Sequence[int],
    kernel_size: int,
    hidden: Sequence[int],
    code_dim: int,
    activation_name: str,
    tied_to: nn.Sequential | None = None,
) -> nn.Sequential:
    shapes = conv_shapes(image_shape, channels)
    c, h, w = shapes[-1]
    dense = mlp_decoder([code_dim, *hidden[::-1], c * h * w], activation_name, tied_to)
    layers: list[nn.Module] = [*dense, activation(activation_name), nn.Unflatten(1, (c, h, w))]
    convs = [m for m in tied_to.modules() if isinstance(m, nn.Conv2d)][::-1] if tied_to else None
    pairs = list(pairwise(shapes[::-1]))
    for i, ((c_in, h_in, w_in), (c_out, h_out, w_out)) in enumerate(pairs):
        # A stride-2 transpose gives 2*h_in - 1 + output_padding rows; pad to the target.
        output_padding = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))
        if convs:
            layers.append(TiedConvTranspose2d(convs[i], output_padding))
        else:
            layers.append(
                nn.ConvTranspose2d(
                    c_in,
                    c_out,
                    kernel_size,
                    stride=2,
                    padding=kernel_size // 2,
                    output_padding=output_padding,
                )
            )
        if i < len(pairs) - 1:
            layers.append(activation(activation_name))
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)
