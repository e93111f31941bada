"""Using a model or a run folder's model on data: :func:`evaluate`, :func:`encode`,
:func:`reconstruct`, :func:`score` and :func:`impute` (the commands of the same names),
the data they are given read and checked for the model (:func:`load_model_and_data`), and
data on disk taken a block at a time, results written block by block where asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import ConfigError, DataError
from ..core.io import write_npy_blocks
from ..core.schema import whole
from ..core.seeding import MAX_SEED
from ..data.columns import frame_columns, match_columns, say_order
from ..data.config import NAMED_SOURCES
from ..data.files import read_table
from ..data.formats.images import Images, is_image_folder, not_streamed
from ..data.sources import load_source, streams
from ..data.streaming import DiskArray, open_disk_array
from ..data.validation import to_tensor
from ..evaluation.likelihood import IWAE_K, evaluate_vae, sample_scores
from ..evaluation.metrics import evaluate as evaluate_model
from ..evaluation.metrics import feature_errors
from ..models.autoencoder import AutoEncoder
from ..models.pca import pca_baseline
from ..models.vae import VAE
from .config import iwae_k_checked, iwae_k_refused
from .folder import RunFolder
from .inputs import check_images, load_dataset, read_images, stored_data
from .result import scaled_blocks, warn_denoising
from .saved import load, unnamed_data


def load_model_and_data(
    model: AutoEncoder | str | Path,
    data: Any,
    split: str | None = None,
    data_dir: str | None = None,
    stream: bool | None = None,
    check: bool = True,
    header: str = "auto",
) -> tuple[AutoEncoder, Any]:
    """A model (loaded from a run folder if a path) and the data to run it on, in the
    shape the caller gave (images stay images); a data file that streams (``stream``,
    by default files above 1 GiB) as a :class:`~aekit.data.streaming.DiskArray`. A data file
    read whole is checked for the model (``check``), so a problem names the file. A
    folder of images is read as the run read its training images (its ``image_size``
    and ``image_mode``; see :func:`read_images`). A table whose columns are named (a CSV's
    header line, see ``header`` in :func:`aekit.data.sources.read_table`; a DataFrame) is matched
    by name to the columns the model was trained on, where they were named: reordered,
    or refused naming the differences."""
    named_split = split or "test"
    if named_split not in ("test", "train"):
        raise ConfigError(f"split must be 'test' or 'train', got {split!r}")
    run = None
    if isinstance(model, str | Path):
        run = RunFolder(model)
        model = load(run.path)
    if data is None:
        data = _recorded_source(run)
    if isinstance(data, str | Path) and str(data) not in NAMED_SOURCES and is_image_folder(data):
        if stream:
            raise not_streamed(data)
        data = read_images(run.path if run is not None else model, data)
    if isinstance(data, Images):
        return model, _images_array(model, data, split, check)
    if not isinstance(data, str | Path):
        trained = getattr(model, "feature_names", None)
        return model, match_columns(data, frame_columns(data), trained, "data")
    source = str(data)
    if source in ("digits", "mnist"):
        # The MNIST folder is searched in data_dir, $AEKIT_DATA and the cache; a
        # folder named in a run's config.json is never used (nor created).
        named = load_source(source, data_dir)
        x = named.test if named_split == "test" and named.test is not None else named.train
        return model, x.numpy()
    if split is not None:
        raise ConfigError(f"a split applies to digits and mnist, not to the file {source}")
    if streams(source, stream):
        return model, open_disk_array(source)
    table = read_table(source, header=header)
    trained = getattr(model, "feature_names", None)
    if run is not None or trained is not None:  # a bare model says nothing of names
        say_order(source, table.columns, trained)
    array = match_columns(table.array, table.columns, trained, source)
    if check:
        model.check_input(array, source)  # refused by the file's name, not as "data"
    return model, array


def _recorded_source(run: RunFolder | None) -> str:
    """The data set a run folder was trained on, where it names one (digits, mnist)."""
    if run is None:
        raise ConfigError("data is required when a model (not a run folder) is given")
    stored = stored_data(run)
    if stored is None or not stored.named:
        raise ConfigError(unnamed_data(run.path, run.read_config(), "to use"))
    return stored.source


def _images_array(model: AutoEncoder, images: Images, split: str | None, check: bool) -> Any:
    """The array of ``images``, refused where they are not of the model's size and kind
    (and, with ``check``, where the model cannot take their values)."""
    if split is not None:
        raise ConfigError(f"a split applies to digits and mnist, not to {images.folder}")
    check_images(model, images)
    if check:
        model.check_input(images.array, images.folder)
    return images.array


def evaluate(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    split: str | None = None,
    data_dir: str | None = None,
    baseline: bool = True,
    **options: Any,
) -> dict[str, float]:
    """Metrics of a model, or of the model in a run folder, on ``data`` (an array, a
    tensor, "digits", "mnist", a data file, a folder of images or the
    :class:`~aekit.Images` read from one; default: the run's own data set if it was
    digits or mnist). ``split`` ("test", the default, or "train") picks the split of digits
    or mnist. ``baseline``: for a run on digits or mnist evaluated on its own data set,
    also ``pca_squared_error``, PCA's error with as many components as the code, fitted on
    the training split (as ``aekit evaluate`` prints it). ``options`` are those of
    :func:`aekit.evaluation.metrics.evaluate` (batch_size, sparsity, jacobian, denoising, seed).

    A VAE (the vae kind) is judged by its likelihood beside its reconstruction
    (:func:`aekit.evaluation.likelihood.evaluate_vae`): the ELBO and its terms, and
    ``iwae_nll``, minus the importance-weighted bound with ``iwae_k`` samples (an option;
    default 100, and 5,000 for the figure papers report), in nats per sample.

    Examples
    --------
    >>> import aekit
    >>> data = aekit.load_digits()
    >>> model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    >>> sorted(aekit.evaluate(model, data.test))
    ['explained_variance', 'mse', 'psnr', 'squared_error']
    """
    stream = options.pop("stream", None)
    header = options.pop("header", "auto")
    iwae_k = options.pop("iwae_k", None)
    if iwae_k is not None:  # before the model and data are read
        iwae_k = iwae_k_checked(iwae_k)
    run = model if isinstance(model, str | Path) else None
    model, x = load_model_and_data(model, data, split, data_dir, stream, header=header)
    if isinstance(model, VAE):
        metrics = evaluate_vae(model, x, iwae_k=IWAE_K if iwae_k is None else iwae_k, **options)
    else:
        if iwae_k is not None:
            raise iwae_k_refused(_kind_of(model))
        metrics = evaluate_model(model, x, **options)
    if run is not None and not isinstance(model, VAE):
        # As after training; a model in hand is the caller's to judge.
        warn_denoising(model, metrics, stacklevel=3)
    if baseline and run is not None and model.config is not None:
        # PCA needs training data: the run's own data set's training split, when it was
        # digits or mnist (a file named in a run folder is never read).
        source = stored_data(RunFolder(run))
        if source is not None and source.named and (data is None or str(data) == source.source):
            train = load_dataset(source.replace(data_dir=data_dir)).train  # its limit too
            test = scaled_blocks(model, x if isinstance(x, DiskArray) else model.check_input(x))
            pca = pca_baseline(model.scale(train), test, model.config.code_dim)
            if pca is not None:
                metrics["pca_squared_error"] = pca
    return metrics


def encode(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """Codes of ``data`` (as in :func:`evaluate`) under a model or a run folder's model.

    A folder of images is read as the run read its training images (see
    :func:`read_images`); its rows are in the order of ``aekit.load_images(folder).files``.

    Data on disk (``stream``; default: files above 1 GiB) is encoded a block at a time;
    with ``out`` (a .npy path) the result is written there block by block and returned
    as a read-only memory map, for results larger than memory."""
    return _apply(model, data, lambda m: m.encode, out, data_dir, stream, header)


def reconstruct(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """Reconstructions of ``data`` (as in :func:`encode`), in the shape of the data
    (images come back as images; data on disk as rows of features)."""
    return _apply(model, data, lambda m: m.reconstruct, out, data_dir, stream, header, shaped=True)


def score(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
    iwae_k: int | None = None,
) -> np.ndarray:
    """Squared reconstruction error of each feature of each sample of ``data`` (as in
    :func:`encode`), ``(samples, features)``, in the model's units; a row's sum is the
    sample's anomaly score (see :func:`aekit.evaluation.metrics.feature_errors`).

    A VAE scores each sample as a whole, ``(samples,)``: its negative ELBO in nats, or
    with ``iwae_k`` its negative importance-weighted bound with that many samples
    (higher: less likely; see :func:`aekit.evaluation.likelihood.sample_scores`)."""
    if iwae_k is not None:  # before the model and data are read
        iwae_k = iwae_k_checked(iwae_k)

    def scorer(model: Any) -> Any:
        if isinstance(model, VAE):
            k = 1 if iwae_k is None else iwae_k
            return lambda b: sample_scores(model, model.check_input(b), k)
        if iwae_k is not None:
            raise iwae_k_refused(_kind_of(model))
        return lambda b: feature_errors(model, b)

    return _apply(model, data, scorer, out, data_dir, stream, header)


def sample(model: Any, n: int = 64, *, seed: int = 0, mean: bool = True) -> np.ndarray:
    """``n`` samples from a VAE (a model, or a run folder's; the vae kind), float32
    ``(n, features)`` in the data's units: codes drawn from the prior N(0, I), decoded to
    the decoder's mean (``mean=True``: a Bernoulli decoder's probabilities, which draw
    as grey images) or to a draw from p(x | z). Seeded: the same ``seed`` gives the same
    samples, on every device, and the caller's random state is untouched.

    Examples
    --------
    >>> import aekit
    >>> model = aekit.VAE.from_config(aekit.VAEConfig(input_dim=64, code_dim=4), seed=0)
    >>> aekit.sample(model, 3, seed=1).shape
    (3, 64)
    """
    if isinstance(model, str | Path):
        model = load(RunFolder(model).path)
    if not isinstance(model, VAE):
        raise ConfigError(
            _NOT_A_VAE.format(what="samples are drawn from a VAE's prior, of which it has none")
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the number of samples must be a whole number >= 1, got {n!r}")
    seed = whole(seed, "seed", 0, MAX_SEED, "2**63 - 1")
    return model.sample(int(n), generator=seed, mean=mean).numpy()


def _kind_of(model: Any) -> str:
    """The kind a model was built as, for messages ("undercomplete"; "given" for a model
    built outside the kinds)."""
    return str(getattr(getattr(model, "config", None), "kind", None) or "given")


_NOT_A_VAE = (
    "{what}; this model is an autoencoder, not a VAE (train one with --kind vae; kind='vae')"
)


def impute(
    model: AutoEncoder | str | Path,
    data: Any = None,
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    stream: bool | None = None,
    header: str = "auto",
) -> np.ndarray:
    """``data`` with its missing values (NaN) filled in by a model trained for missing
    values (``missing=True``, ``aekit train --missing``); observed values are kept."""
    if isinstance(data, Images) or (
        isinstance(data, str | Path) and str(data) not in NAMED_SOURCES and is_image_folder(data)
    ):
        folder = data.folder if isinstance(data, Images) else data
        raise ConfigError(
            f"{folder} is a folder of images, which have no missing values to fill: impute "
            "fills the NaN entries of arrays (.npy, .npz, .csv)"
        )
    # Whether the model is one for missing values comes first (the data, read unchecked,
    # has them); a block is checked as it is filled.
    how = dict(check=False, shaped=True, stored=True, checked=True)
    return _apply(model, data, _filler, out, data_dir, stream, header, **how)


def _filler(model: AutoEncoder) -> Any:
    """What :func:`impute` applies to a block: its missing values filled in by ``model``
    (refused where the model was not trained for missing values)."""
    if not model.missing:
        raise ConfigError(
            "this model was not trained for missing values; train one with missing=True "
            "(aekit train --missing) on the incomplete data, or use "
            "aekit.sklearn.AutoEncoderImputer"
        )

    def fill(block: Any) -> np.ndarray:
        # The values given stay as given, in their own dtype: only the missing entries
        # take the model's reconstructions (computed in float32).
        kept = _stored(block)
        missing = np.isnan(kept) if kept.dtype.kind == "f" else None
        if missing is None or not missing.any():
            return kept
        recon = np.asarray(model.reconstruct(kept)).reshape(kept.shape)
        kept[missing] = recon[missing]
        return kept

    return fill


def _apply(
    model: AutoEncoder | str | Path,
    data: Any,
    how: Any,
    out: str | Path | None,
    data_dir: str | None,
    stream: bool | None,
    header: str,
    check: bool = True,
    **by_rows: Any,
) -> np.ndarray:
    """What :func:`encode`, :func:`reconstruct`, :func:`score` and :func:`impute` share:
    the model and the data read and checked for it (:func:`load_model_and_data`; data
    read whole is checked unless ``check`` is off), then ``how(model)``, the function it
    applies to rows (refusing a model it cannot use), applied to the data by
    :func:`_by_rows` (``by_rows``: its options)."""
    model, x = load_model_and_data(
        model, data, data_dir=data_dir, stream=stream, check=check, header=header
    )
    return _by_rows(model, x, how(model), out, **by_rows)


def _stored(block: Any) -> np.ndarray:
    """A copy of ``block`` as numbers in the dtype it holds them in (a DataFrame's
    nullable numbers as float64, NA as NaN; a tensor as its numpy twin)."""
    if isinstance(block, torch.Tensor):
        return block.detach().cpu().numpy().copy()
    arr = np.asarray(block)
    if arr.dtype == object and hasattr(block, "to_numpy"):
        arr = block.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.array(arr, copy=True)


def result_dtype(x: Any) -> np.dtype:
    """The dtype results of data ``x`` come back in: float64 for data held in float64
    (aekit computes in float32; what it gives back is not made coarser than what came),
    else float32."""
    if isinstance(x, DiskArray):
        dtype = x.dtype
    elif isinstance(x, torch.Tensor):
        dtype = np.dtype(np.float64) if x.dtype == torch.float64 else np.dtype(np.float32)
    elif hasattr(getattr(x, "dtypes", None), "items"):  # a DataFrame
        wide = any(
            getattr(d, "kind", "") == "f" and getattr(d, "itemsize", 0) == 8
            for _, d in x.dtypes.items()
        )
        dtype = np.dtype(np.float64 if wide else np.float32)
    elif isinstance(x, np.ndarray):
        dtype = x.dtype
    else:
        try:
            dtype = np.asarray(x).dtype
        except (ValueError, TypeError):
            dtype = np.dtype(np.float32)
    wide = np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize == 8  # either byte order
    return np.dtype(np.float64) if wide else np.dtype(np.float32)


def checked_blocks(
    model: AutoEncoder, x: DiskArray, *, stored: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """The blocks of data on disk, each checked for ``model`` as data in memory is, a
    problem named by the file (a shard folder: the folder and the shard) and the true
    sample number, not the block's."""
    name = str(x.path)
    if model.input_dim is not None and x.features != model.input_dim:
        raise DataError(f"{name} has {x.features} features but the model expects {model.input_dim}")
    for start, block in x.chunks(stored=stored):
        try:
            to_tensor(block, name, allow_missing=model.missing, first_row=start)
        except DataError as exc:
            text = str(exc)
            first = re.search(r"\(first in sample (\d+)\)", text)
            if first is not None and x.sharded:
                where = x.where(int(first.group(1)))
                text = text.replace(first.group(0), first.group(0)[:-1] + where + ")")
            raise DataError(text) from None
        yield start, block


def _by_rows(
    model: AutoEncoder,
    x: Any,
    fn: Any,
    out: str | Path | None,
    shaped: bool = False,
    stored: bool = False,
    checked: bool = False,
) -> np.ndarray:
    """``fn`` of data in memory, or of data on disk a block at a time; with ``out``, the
    result goes to that .npy file block by block and comes back memory-mapped. Results
    come back in :func:`result_dtype`; ``stored``: ``fn`` takes the values as stored
    (float64 stays float64) and gives its own dtype back. A block of data on disk is
    checked with its file's name and its true row numbers (``checked``: even where
    ``fn`` takes it unchecked)."""
    dtype = result_dtype(x)

    def typed(result: Any) -> np.ndarray:
        # Widened where the data is float64; never narrowed (scores come as float64).
        result = np.asarray(result)
        wider = result.dtype.kind == "f" and result.dtype.itemsize < dtype.itemsize
        return result.astype(dtype) if wider and not stored else result

    if isinstance(x, DiskArray):
        blocks: Any = (typed(fn(b)) for _, b in checked_blocks(model, x, stored=stored))
        if shaped:  # rows of features back in the shape of the data's samples
            blocks = (b.reshape(len(b), *x.item_shape) for b in blocks)
        rows = len(x)
    else:
        if checked:
            model.check_input(_stored(x) if stored else x)
        blocks, rows = [typed(fn(x))], len(x)
    if out is None:
        parts = list(blocks)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    out = Path(out)
    if out.suffix.lower() != ".npy":
        raise ConfigError(f"out must be a .npy file, got {out.name!r}")
    if not out.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {out.parent}")
    write_npy_blocks(out, rows, blocks)
    return np.load(out, mmap_mode="r")
