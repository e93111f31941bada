"""PCA, exactly and in blocks: the baseline every compressing model is judged against, and
the solution such a model falls back to where it does not beat it
(``ModelConfig.pca_fallback``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


def pca_baseline(train: Any, test: Any, code_dim: int) -> float | None:
    """Squared error per sample of PCA with ``code_dim`` components fitted on ``train``,
    on ``test`` (None where PCA cannot have that many components, or where it would have
    as many as the data has features: that PCA is the identity, not a baseline)."""
    if code_dim >= _features(train):
        return None
    fitted = principal_subspace(train, code_dim)
    if fitted is None:
        return None
    mean, components = fitted
    # The test data in memory, or blocks of it (data on disk).
    sse, n = 0.0, 0
    for block in row_blocks(test):
        if np.isnan(block).any():
            return None
        centred = block - mean
        recon = centred @ components @ components.T
        sse += float(((recon - centred) ** 2).sum())
        n += len(block)
    if n == 0:
        return None
    error = sse / n
    return error if math.isfinite(error) else None


def _features(data: Any) -> float:
    """The number of features of ``data`` (an array, a tensor or an array on disk; one
    without a shape counts as unbounded, and ``principal_subspace`` checks it)."""
    shape = getattr(data, "shape", None)
    return math.prod(shape[1:]) if shape is not None and len(shape) >= 2 else math.inf


def principal_subspace(train: Any, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The mean and the top ``k`` principal directions (columns) of ``train`` (an array or
    a tensor), exactly, in float64 and without a copy of the whole: from the d x d
    covariance built a block at a time (a full SVD of MNIST held three float64 copies of
    the data, 1.1 GB), or, with fewer samples than features, from the n x n Gram matrix of
    the centred samples, so wide data costs n x n, not d x d."""
    n = len(train)
    if n == 0:
        return None
    total = None
    for block in row_blocks(train):
        if np.isnan(block).any():
            return None  # PCA has no missing values
        part = block.sum(axis=0)
        total = part if total is None else total + part
    assert total is not None
    d = len(total)
    if k > min(n, d):
        return None
    mean = total / n
    if d <= n:
        scatter = np.zeros((d, d))
        for block in row_blocks(train):
            centred = block - mean
            scatter += centred.T @ centred
        _, vectors = np.linalg.eigh(scatter)  # ascending eigenvalues
        return mean, vectors[:, ::-1][:, :k]
    centred = np.concatenate([block - mean for block in row_blocks(train)])  # n x d, n < d
    values, vectors = np.linalg.eigh(centred @ centred.T)
    values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
    # Directions without variance (k at or above the centred data's rank) carry nothing
    # on the training data and are not determined by it: left out.
    kept = values > max(values[0], 0.0) * 1e-12
    return mean, centred.T @ vectors[:, kept] / np.sqrt(values[kept])


PCA_SAMPLES = 20_000  # rows PCA is fitted on, at most: a seeded sample of larger data


def sample_rows(rows: np.ndarray, limit: int = PCA_SAMPLES) -> np.ndarray:
    """``rows`` (indices of data on disk) sorted, or a seeded sample of ``limit`` of them
    where there are more (the same rows on every call)."""
    if len(rows) > limit:
        rows = np.random.default_rng(0).choice(rows, limit, replace=False)
    return np.sort(rows)


def row_blocks(data: Any, rows: int = 4096) -> Any:
    """``data`` (an array, a tensor, or an iterable of either) as float64 row blocks."""
    parts = [data] if isinstance(data, np.ndarray | torch.Tensor) else data
    for part in parts:
        for start in range(0, len(part), rows):
            block = part[start : start + rows]
            if isinstance(block, torch.Tensor):
                block = block.numpy(force=True)
            yield np.asarray(block, dtype=np.float64).reshape(len(block), -1)


class Projection(nn.Module):
    """PCA's encoder: ``(x - mean) @ components``."""

    def __init__(self, mean: Tensor, components: Tensor) -> None:
        super().__init__()
        self.mean, self.components = mean, components

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) @ self.components


class Reconstruction(nn.Module):
    """PCA's decoder: ``mean + h @ components.T``."""

    def __init__(self, mean: Tensor, components: Tensor) -> None:
        super().__init__()
        self.mean, self.components = mean, components

    def forward(self, h: Tensor) -> Tensor:
        return self.mean + h @ self.components.T
