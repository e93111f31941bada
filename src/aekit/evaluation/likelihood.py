"""What a variational autoencoder's likelihood is: the evidence lower bound (ELBO), the
importance-weighted bound (IWAE, Burda et al. 2016) papers report as the test
negative log-likelihood, and the KL divergence of each code unit, with posterior collapse
said where units carry (almost) nothing.

The importance-weighted bound with ``k`` samples from the posterior,

    log p(x) >= E[log (1/k) sum_i p(x, z_i) / q(z_i | x)],

rises with ``k`` towards log p(x) and equals the ELBO at ``k = 1`` (in expectation).
It is computed in chunks of rows and samples that fit a memory budget, the log-weights
summed over samples in float64; every draw comes from generators seeded here (the
caller's random state is untouched), so the same call gives the same figure. A
dynamically binarised model (``binarize``) is judged on one seeded binary draw of the
data (the same draw for every function here): its likelihood is that of binary x.
All figures are in nats per example.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..models.vae import VAE, binarize, gaussian_kl

LOG_2PI = math.log(2 * math.pi)
MEMORY = 2**28  # bytes of activations a chunk of decoded samples may take (256 MiB)
K_REPORTED = 5_000  # samples of the bound papers report (Burda et al. 2016)
COLLAPSED = 0.01  # nats: a unit whose KL on held-out data is below this carries nothing
DATA_SEED = 0  # the binary draw of held-out data for a dynamically binarised model


def judged_data(model: VAE, x: Tensor, data_seed: int = DATA_SEED) -> Tensor:
    """``x`` as the model is judged on it: a seeded binary draw where the model is
    dynamically binarised, else itself (float32, on the CPU)."""
    x = x.float().cpu()
    return binarize(x, data_seed) if model.config.binarize else x


def log_likelihood(
    model: VAE,
    x: Tensor,
    k: int = K_REPORTED,
    *,
    seed: int = 0,
    memory: int = MEMORY,
    data_seed: int = DATA_SEED,
) -> Tensor:
    """Each row's importance-weighted estimate of log p(x) with ``k`` samples (float64,
    nats): a lower bound in expectation, tighter as ``k`` grows. Rows and samples are
    decoded in chunks of at most ``memory`` bytes of activations."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    x = judged_data(model, x, data_seed)
    per_code = _bytes_per_code(model)
    codes = max(1, memory // per_code)  # codes decoded at once
    samples = min(k, codes)  # samples per row per chunk
    rows = max(1, codes // samples)
    generator = torch.Generator(model.device).manual_seed(seed)
    out = []
    with _evaluating(model):
        for block in x.split(rows):
            out.append(_log_weights(model, block.to(model.device), k, samples, generator))
    if not out:
        return torch.zeros(0, dtype=torch.float64)
    log_w = torch.cat(out)
    return torch.logsumexp(log_w, dim=1) - math.log(k)


def iwae_nll(model: VAE, x: Tensor, k: int = K_REPORTED, **settings: Any) -> float:
    """The test negative log-likelihood papers report: minus the mean importance-weighted
    bound with ``k`` samples (nats per example); ``settings`` as :func:`log_likelihood`."""
    return -float(log_likelihood(model, x, k, **settings).mean())


def _log_weights(model: VAE, x: Tensor, k: int, samples: int, generator: Any) -> Tensor:
    """log p(x, z_i) - log q(z_i | x) for ``k`` draws z_i of each row of ``x``, (rows, k)
    in float64, ``samples`` draws per row at a time."""
    mean, logvar = model.posterior(x)
    std = torch.exp(0.5 * logvar)
    # log q(z | x) - log p(z) = sum over units of (z^2 - eps^2 - logvar) / 2, z = mean + std eps
    chunks = []
    for start in range(0, k, samples):
        n = min(samples, k - start)
        eps = torch.randn((len(x), n, mean.shape[1]), generator=generator, device=x.device)
        z = mean[:, None] + std[:, None] * eps
        log_q_over_p = 0.5 * (z.pow(2) - eps.pow(2) - logvar[:, None]).sum(-1)
        out = model.decoder(z.reshape(-1, z.shape[-1])).reshape(len(x), n, -1)
        log_px = -model.reconstruction_nll(out, x[:, None])
        chunks.append((log_px - log_q_over_p).double())
    return torch.cat(chunks, dim=1)


def _bytes_per_code(model: VAE) -> int:
    """Bytes one decoded code takes at once: every layer's output of the decoder, and
    the log-likelihood's temporaries of the output's size."""
    widths = [m.out_features for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
    return 4 * (2 * sum(widths) + 3 * model.input_dim + 3 * model.code_dim)


@dataclasses.dataclass
class ELBO:
    """The evidence lower bound's mean and its terms, nats per example."""

    elbo: float
    reconstruction: float  # E_q[-log p(x | z)], one sample of z per row
    kl: float  # KL(q(z | x) || p(z)), in closed form


def elbo(
    model: VAE,
    x: Tensor,
    *,
    seed: int = 0,
    batch_size: int = 1000,
    data_seed: int = DATA_SEED,
) -> ELBO:
    """The ELBO of ``x`` (one seeded sample of z per row, the KL in closed form)."""
    x = judged_data(model, x, data_seed)
    generator = torch.Generator(model.device).manual_seed(seed)
    nll = kl = 0.0
    with _evaluating(model):
        for block in x.split(batch_size):
            block = block.to(model.device)
            mean, logvar = model.posterior(block)
            eps = torch.randn(mean.shape, generator=generator, device=block.device)
            z = mean + torch.exp(0.5 * logvar) * eps
            nll += float(model.reconstruction_nll(model.decoder(z), block).double().sum())
            kl += float(gaussian_kl(mean, logvar).double().sum())
    n = max(len(x), 1)
    return ELBO(elbo=-(nll + kl) / n, reconstruction=nll / n, kl=kl / n)


def kl_per_unit(
    model: VAE, x: Tensor, *, batch_size: int = 4096, data_seed: int = DATA_SEED
) -> np.ndarray:
    """Each code unit's KL(q(z_j | x) || N(0, 1)) averaged over the rows of ``x`` (nats,
    float64): how much the unit carries about the data; near 0, it is unused."""
    x = judged_data(model, x, data_seed)
    total = torch.zeros(model.code_dim, dtype=torch.float64)
    with _evaluating(model):
        for block in x.split(batch_size):
            mean, logvar = model.posterior(block.to(model.device))
            total += gaussian_kl(mean, logvar).double().sum(0).cpu()
    return (total / max(len(x), 1)).numpy()


def collapsed_units(kl: np.ndarray, threshold: float = COLLAPSED) -> list[int]:
    """The code units whose KL (:func:`kl_per_unit`) is below ``threshold`` nats."""
    return [int(j) for j in np.flatnonzero(np.asarray(kl) < threshold)]


def collapse_note(kl: np.ndarray, threshold: float = COLLAPSED) -> str | None:
    """Posterior collapse in words, where units carry under ``threshold`` nats each on
    held-out data (None where none do)."""
    units = collapsed_units(kl, threshold)
    if not units:
        return None
    n = len(kl)
    shown = ", ".join(map(str, units[:10])) + (" ..." if len(units) > 10 else "")
    what = "every code unit carries" if len(units) == n else f"{len(units)} of {n} code units carry"
    return (
        f"posterior collapse: {what} under {threshold:g} nats on held-out data (KL per "
        f"unit; units {shown}): the decoder models the data without them. To use more of "
        "the code: a KL warm-up (kl_warmup_epochs), free bits, a smaller beta or decoder, "
        "or a smaller code"
    )


@contextmanager
def _evaluating(model: VAE) -> Iterator[None]:
    """The model in evaluation and inference mode inside; in its mode as it was after."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)
