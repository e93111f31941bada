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
All figures are in nats per example, of the data in the model's units (standardised,
where the model scales its inputs). :func:`evaluate_vae` gathers them for a run
(``aekit.evaluate``, ``aekit train``'s end); :func:`sample_scores` gives each sample's
negative bound, the anomaly score of ``aekit score`` and the outlier detector.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.streaming import DiskArray, iter_rows
from ..models.vae import VAE, binarize, gaussian_kl
from .metrics import _psnr

LOG_2PI = math.log(2 * math.pi)
MEMORY = 2**28  # bytes of activations a chunk of decoded samples may take (256 MiB)
K_REPORTED = 5_000  # samples of the bound papers report (Burda et al. 2016)
IWAE_K = 100  # the samples where time counts: aekit train's end, aekit evaluate and score
COLLAPSED = 0.01  # nats: a unit whose KL on held-out data is below this carries nothing
DATA_SEED = 0  # the binary draw of held-out data for a dynamically binarised model


def judged_data(model: VAE, x: Tensor, data_seed: int = DATA_SEED) -> Tensor:
    """``x`` as the model is judged on it: a seeded binary draw where the model is
    dynamically binarised, else itself in the model's units (float32, on the CPU)."""
    x = model.scale(x.float().cpu())
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


def _log_weights(
    model: VAE, x: Tensor, k: int, samples: int, generator: Any, shared: Tensor | None = None
) -> Tensor:
    """log p(x, z_i) - log q(z_i | x) for ``k`` draws z_i of each row of ``x``, (rows, k)
    in float64, ``samples`` draws per row at a time; ``shared``: the k standard normal
    draws (k, code) every row uses, else drawn for each row from ``generator``."""
    mean, logvar = model.posterior(x)
    std = torch.exp(0.5 * logvar)
    # log q(z | x) - log p(z) = sum over units of (z^2 - eps^2 - logvar) / 2, z = mean + std eps
    chunks = []
    for start in range(0, k, samples):
        n = min(samples, k - start)
        if shared is not None:
            eps = shared[start : start + n].to(x.device).expand(len(x), n, mean.shape[1])
        else:
            eps = torch.randn((len(x), n, mean.shape[1]), generator=generator, device=x.device)
        z = mean[:, None] + std[:, None] * eps
        log_q_over_p = 0.5 * (z.pow(2) - eps.pow(2) - logvar[:, None]).sum(-1)
        out = model.decoder(z.reshape(-1, z.shape[-1]).to(x.dtype)).reshape(len(x), n, -1)
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
    """The units that carry under ``threshold`` nats each on held-out data (KL per unit),
    in words (None where none do): :func:`code_note`, with the units named."""
    units = collapsed_units(kl, threshold)
    if not units:
        return None
    return code_note(len(kl) - len(units), len(kl), threshold, units)


def code_note(
    active: int, units: int, threshold: float = COLLAPSED, inactive: list[int] | None = None
) -> str:
    """How much of its code a VAE uses, in words: all of it; some units inactive, which
    is normal (a VAE leaves the units the data does not need at the prior); or posterior
    collapse, where no unit carries anything and the decoder models the data alone.
    ``active`` of ``units`` carry at least ``threshold`` nats each on held-out data;
    ``inactive``: the others' numbers, where known."""
    if active >= units:
        return f"all {units} code units in use (each carries {threshold:g} nats or more)"
    shown = ""
    if inactive:
        shown = ", ".join(map(str, inactive[:10])) + (" ..." if len(inactive) > 10 else "")
    which = f" (units {shown})" if shown else ""
    if active == 0:
        return (
            f"posterior collapse: every code unit carries under {threshold:g} nats of KL on "
            f"held-out data{which}: the decoder models the data without the "
            "code, whose codes say nothing of their samples. To use the code: a KL "
            "warm-up (kl_warmup_epochs), free bits, a smaller beta or a weaker decoder"
        )
    numbered = f"units {shown}: " if shown else ""  # in the one parenthesis, not a second
    return (
        f"{units - active} of {units} code units inactive ({numbered}each carries under "
        f"{threshold:g} nats of KL on held-out data), {active} in use: normal for a VAE, "
        "which leaves at the prior the units the data does not need (not posterior "
        "collapse, where every unit is inactive)"
    )


def likelihood_words(config: Any, metrics: dict[str, Any], split: str) -> list[str]:
    """A VAE's likelihood and the use of its code, in words, from its metrics
    (:func:`evaluate_vae`) and its config (a :class:`~aekit.VAEConfig`): what ``aekit
    train`` and ``aekit evaluate`` print and the run's report says; none without them
    (an autoencoder's metrics)."""
    if "iwae_nll" not in metrics:
        return []
    k = metrics.get("iwae_k")
    k = k if isinstance(k, int) else "?"  # a hand-edited metrics.json is read, not trusted
    units = " nats"
    if getattr(config, "binarize", False):
        units += " (of one seeded binary draw of the data: the model is dynamically binarised)"
    elif getattr(config, "scaling", "none") != "none":
        units += f" (of the data in the model's units: scaled, {config.scaling})"
    if getattr(config, "decoder", None) == "gaussian":
        # A density, not a probability: -107 nats is no error, and no figure for MNIST's.
        units += (
            "; a Gaussian decoder's likelihood is a density of continuous data: it can be "
            "negative, and compares only between models of the same data in the same units"
        )
    paper = (
        f"; --iwae-k {K_REPORTED} gives the figure papers report"
        if isinstance(k, int) and k < K_REPORTED
        else ""
    )
    numbers = metrics.get("inactive_unit_numbers")  # absent from runs of older versions
    code = (
        code_note(
            metrics["active_units"],
            config.code_dim,
            inactive=numbers if isinstance(numbers, list) else None,
        )
        if isinstance(metrics.get("active_units"), int)
        else "not measured"
    )
    return [
        f"likelihood: {split} negative log-likelihood at most {_num(metrics['iwae_nll'])} nats "
        f"a sample (the importance-weighted bound, k={k}{paper}); ELBO "
        f"{_num(metrics.get('elbo'))} = -(reconstruction {_num(metrics.get('reconstruction_nll'))}"
        f" + KL {_num(metrics.get('kl'))}){units}",
        f"code: {code}",
    ]


def _num(value: Any) -> str:
    """A figure as the words print it: 4 significant digits; n/a where it is missing (a
    NaN or infinity, null in metrics.json)."""
    return f"{value:.4g}" if isinstance(value, int | float) else "n/a"


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


# ---- a VAE judged: the metrics of a run, the score of each sample ------------------------------

BLOCK_ROWS = 65_536  # rows of data on disk judged at a time


def evaluate_vae(
    model: VAE, X: Any, *, iwae_k: int = IWAE_K, seed: int = 0, batch_size: int = 1000
) -> dict[str, Any]:
    """The metrics of a VAE on data ``X`` (an array, a tensor, or data on disk, judged a
    block at a time), what ``aekit.evaluate`` and a run give for one; nats per example:

    ``elbo`` and its terms ``reconstruction_nll`` (E_q[-log p(x | z)]) and ``kl``;
    ``iwae_nll``: minus the importance-weighted bound with ``iwae_k`` samples, an upper
    bound on the negative log-likelihood (in expectation), the test figure papers report
    (with k = 5,000); ``active_units``: the code units carrying 0.01 nats or more each
    (:func:`code_note` says what the rest mean), and ``inactive_unit_numbers`` the others'
    numbers (a list); and the reconstruction's
    ``squared_error`` (per sample, summed over features), ``mse``, ``psnr`` and
    ``explained_variance``, of the decoder's mean at the posterior mean against the data
    in the model's units, as the autoencoders' are measured.
    """
    if iwae_k < 1:
        raise ValueError(f"iwae_k must be >= 1, got {iwae_k}")
    if isinstance(X, DiskArray):
        model.check_disk_input(X, str(X.path), targets=True)
        blocks: Any = iter_rows(X, BLOCK_ROWS)
    else:
        blocks = [model.check_input(X, targets=True)]
    n, sums, kl_units = 0, dict.fromkeys(("elbo", "reconstruction_nll", "kl", "iwae"), 0.0), 0.0
    fit = _Fit()
    for block in blocks:
        rows = len(block)
        bound = elbo(model, block, seed=seed, batch_size=batch_size)
        sums["elbo"] += bound.elbo * rows
        sums["reconstruction_nll"] += bound.reconstruction * rows
        sums["kl"] += bound.kl * rows
        sums["iwae"] += float(log_likelihood(model, block, iwae_k, seed=seed).sum())
        kl_units = kl_units + kl_per_unit(model, block) * rows
        fit.add(model, block)
        n += rows
    n = max(n, 1)
    kl_mean = np.asarray(kl_units) / n
    active = int((kl_mean >= COLLAPSED).sum())
    return {
        "elbo": sums["elbo"] / n,
        "reconstruction_nll": sums["reconstruction_nll"] / n,
        "kl": sums["kl"] / n,
        "iwae_nll": -sums["iwae"] / n,
        "iwae_k": iwae_k,
        "active_units": active,
        "inactive_unit_numbers": collapsed_units(kl_mean),  # which, for the words to name
        **fit.metrics(n),
    }


class _Fit:
    """The reconstruction's errors summed over blocks: squared error, the data's range and
    its sums for the explained variance, in the model's units (float64)."""

    def __init__(self) -> None:
        self.sse, self.low, self.high = 0.0, math.inf, -math.inf
        self.sum_x: Any = 0.0
        self.sum_x2: Any = 0.0
        self.features = 1

    def add(self, model: VAE, block: Tensor) -> None:
        recon = torch.from_numpy(np.asarray(model.reconstruct(block.cpu().numpy())))
        x = model.scale(block.double().cpu())
        self.sse += float((model.scale(recon.double()) - x).pow(2).sum())
        if x.numel():
            self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
        self.sum_x = self.sum_x + x.sum(0)
        self.sum_x2 = self.sum_x2 + x.pow(2).sum(0)
        self.features = x.shape[1]

    def metrics(self, n: int) -> dict[str, float]:
        total_ss = float((self.sum_x2 - torch.as_tensor(self.sum_x).pow(2) / n).sum())
        mse = self.sse / (n * self.features)
        return {
            "squared_error": self.sse / n,
            "mse": mse,
            "psnr": _psnr(mse, (self.high - self.low) or 1.0),
            "explained_variance": 1.0 - self.sse / total_ss if total_ss > 0 else math.nan,
        }


def sample_scores(
    model: VAE, x: Tensor, k: int = 1, *, seed: int = 0, memory: int = MEMORY
) -> np.ndarray:
    """Each row's negative bound in nats (float64), an anomaly score (higher: less
    likely under the model): minus the ELBO (``k`` = 1: one draw of z, the KL in closed
    form), or minus the importance-weighted bound with ``k`` samples.

    A row's score depends on that row alone, as a score must (the same alone, in a
    batch, or in another order): the draws of z are the same ``k`` standard normal draws
    for every row (seeded by ``seed``), and a dynamically binarised model scores the
    data as given (the Bernoulli cross-entropy of grey values: the expected negative
    log-likelihood of their binary draws), not one random draw. The networks run in
    float64 (rounded to float32 where the model's own steps do), as
    :meth:`aekit.AutoEncoder.reconstruct` does: float32 matrix products sum in an order
    that depends on how many rows share them."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    x = model.scale(x.float().cpu()).double()
    model = copy.deepcopy(model).double()
    generator = torch.Generator().manual_seed(seed)
    eps = torch.randn((k, model.code_dim), generator=generator)
    samples = min(k, max(1, memory // _bytes_per_code(model)))
    rows = max(1, memory // _bytes_per_code(model) // samples)
    out = []
    with _evaluating(model):
        for block in x.split(rows):
            block = block.to(model.device)
            if k == 1:
                mean, logvar = model.posterior(block)
                z = mean + torch.exp(0.5 * logvar) * eps[0].to(block.device)
                nll = model.reconstruction_nll(model.decoder(z.double()), block).double()
                out.append(nll + gaussian_kl(mean, logvar).double().sum(1))
                continue
            log_w = _log_weights(model, block, k, samples, None, shared=eps)
            out.append(math.log(k) - torch.logsumexp(log_w, dim=1))
    return torch.cat(out).cpu().numpy() if out else np.zeros(0)
