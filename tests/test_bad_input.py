"""Every entry point against every kind of bad input, from one table.

Each case is tried through the Python API and, where the command line can express it,
through the ``aekit`` command. The Python API must raise an :class:`aekit.AekitError`
(a ValueError) whose message names the problem; the command must print exactly one line
``aekit: error: ...`` naming it, exit with status 2, and write nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import pickle
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aekit
import aekit.sklearn
from aekit.cli import main
from aekit.runs.config import PretrainConfig
from aekit.runs.report import write_report


@dataclasses.dataclass
class Case:
    name: str
    match: str
    python: Callable[[Path], Any] | None = None
    cli: list[str] | None = None  # "{d}" is the folder of prepared files, "{run}" a good run
    cli_match: str | None = None  # when the command words it differently
    add_out: bool = True  # give train an --out folder (off where the case is about --out)
    # Run settings (RunConfig sections; data paths relative to the prepared folder), tried
    # as Python keywords (aekit.train(RunConfig)), as a config file from Python
    # (aekit.train(path)) and as a config file on the command line (--config).
    settings: dict[str, Any] | None = None

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def _model() -> aekit.AutoEncoder:
    return aekit.AutoEncoder.build(input_dim=64, code_dim=8)


def _fit(data: Any, **settings: Any) -> Any:
    return aekit.fit(_model(), data, progress=False, **{"epochs": 1, **settings})


def _detector(**params: Any) -> Any:
    from aekit.sklearn import AutoEncoderOutlierDetector

    return AutoEncoderOutlierDetector(epochs=1, **params)


def _loader(x: np.ndarray) -> Any:
    import torch
    from torch.utils.data import DataLoader

    return DataLoader(torch.as_tensor(x, dtype=torch.float32), batch_size=16)


def _write_idx(path: Path, raw: bytes) -> None:
    path.write_bytes(gzip.compress(raw))


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """Files for every case: bad data files, bad IDX files, damaged run folders."""
    d = tmp_path_factory.mktemp("bad")
    good = aekit.load_digits().train.numpy()
    np.save(d / "nan.npy", np.where(np.arange(64) == 5, np.nan, good[:20]).astype(np.float32))
    np.save(d / "inf.npy", np.full((4, 64), np.inf, np.float32))
    np.save(d / "one_d.npy", good[0])
    np.save(d / "features.npy", good[:, :10])
    np.save(d / "empty.npy", np.zeros((0, 64), np.float32))
    np.save(d / "strings.npy", np.array([["a"] * 64, ["b"] * 64]))
    np.save(d / "objects.npy", np.array([[{}] * 64], dtype=object), allow_pickle=True)
    np.save(d / "range.npy", good * 16)
    (d / "text.csv").write_text("0.1,0.2\n0.3,abc\n")
    (d / "ragged.csv").write_text("0.1,0.2,0.3\n0.4\n")
    (d / "data.parquet").write_text("PAR1")
    mnist_bad = d / "mnist_magic"
    mnist_bad.mkdir()
    header = (2051).to_bytes(4, "big") + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        _write_idx(mnist_bad / f"{name}.gz", b"\x12\x34" + header[2:] + bytes(2 * 784))
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        _write_idx(
            mnist_bad / f"{name}.gz", (2049).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes(2)
        )
    mnist_short = d / "mnist_short"
    mnist_short.mkdir()
    for path in mnist_bad.iterdir():
        raw = gzip.decompress(path.read_bytes())
        if "images" in path.name:
            raw = b"\x00\x00" + raw[2:-100]  # right magic, body cut short
        _write_idx(mnist_short / path.name, raw)
    (d / "bad.idx").write_bytes(
        b"\x00\x00\x08\x02" + (5).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(20)
    )

    run = d / "run"
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=8)
    aekit.fit(model, good, epochs=1, progress=False, run_dir=run)
    weights = (run / "model.safetensors").read_bytes()
    config = json.loads((run / "config.json").read_text())

    def damaged(
        name: str,
        weights_bytes: bytes | None = None,
        config_obj: Any = None,
        text: str | None = None,
    ) -> None:
        folder = d / name
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(
            weights if weights_bytes is None else weights_bytes
        )
        if text is not None:
            (folder / "config.json").write_text(text)
        else:
            (folder / "config.json").write_text(
                json.dumps(config if config_obj is None else config_obj)
            )

    def edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        c = json.loads(json.dumps(config))
        change(c)
        return c

    class Exploit:
        def __reduce__(self):
            return (open, (str(d / "pwned"), "w"))

    damaged("truncated", weights_bytes=weights[: len(weights) // 2])
    damaged("random_bytes", weights_bytes=np.random.default_rng(0).bytes(len(weights)))
    damaged("pickled", weights_bytes=pickle.dumps({"encoder.0.weight": Exploit()}))
    damaged("not_json", text="{'model': ")
    damaged("unknown_key", config_obj=edited(lambda c: c["model"].update(dropout=0.5)))
    damaged("wrong_type", config_obj=edited(lambda c: c["model"].update(hidden="16")))
    damaged("other_arch", config_obj=edited(lambda c: c["model"].update(hidden=[32])))
    damaged("newer", config_obj=edited(lambda c: c.update(aekit_version="9.0.0")))
    damaged("dtype", weights_bytes=_float64_weights(run))
    (d / "not_a_folder").write_text("x")
    (d / "plain_folder").mkdir()
    (d / "cfg_bad.json").write_text("[1, 2")
    (d / "cfg_keys.json").write_text(json.dumps({"training": {"epoch": 3}}))
    (d / "cfg_types.json").write_text(json.dumps({"model": {"code_dim": "eight"}}))
    (d / "cfg_escape.json").write_text(json.dumps({"data": {"source": "../../etc/passwd.csv"}}))
    (d / "cfg_out.json").write_text(json.dumps({"output": {"out": "/tmp/elsewhere"}}))
    (d / "cfg_none.json").write_text("")
    # ---- hostile inputs (round two) ----
    (d / "cfg_nested.json").write_text("[" * 10_000 + "]" * 10_000)
    os.mkfifo(d / "cfg_fifo.json")
    os.mkfifo(d / "fifo.npy")
    (d / "folder.npy").mkdir()
    with (d / "huge_header.npy").open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 64)}
        )
        f.write(bytes(256))
    gz_bad = d / "mnist_deflate"
    gz_bad.mkdir()
    for name in MNIST_NAMES:
        (gz_bad / f"{name}.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(6) + b"garbage" * 20)
    damaged("huge_hidden", config_obj=edited(lambda c: c["model"].update(hidden=[2e9])))
    # ---- round three: a saved outlier detector whose threshold is NaN ----
    from aekit.sklearn import AutoEncoderOutlierDetector

    detector = AutoEncoderOutlierDetector(epochs=1).fit(good[:100]).save(d / "nan_threshold")
    saved = json.loads((detector / "estimator.json").read_text())
    saved["fitted"]["offset_"] = float("nan")
    (detector / "estimator.json").write_text(json.dumps(saved))
    damaged("data_not_object", config_obj=edited(lambda c: c.update(data=5)))
    # ---- round three (issue 25): guessing instead of reading, messages about data ----
    names = [f"f{i}" for i in range(64)]
    damaged("named", config_obj=edited(lambda c: c.update(columns=names)))
    rows = "\n".join(",".join(map(str, r)) for r in good[:20]) + "\n"
    (d / "named.csv").write_text(",".join(names) + "\n" + rows)
    (d / "other_columns.csv").write_text(",".join([*names[:63], "extra"]) + "\n" + rows)
    (d / "numbered.csv").write_text("0,1\n0.5,0.25\n0.1,0.2\n")
    (d / "short_header.csv").write_text("a,b,c\n0.1,0.2\n0.3,0.4\n")
    (d / "trailing.csv").write_text("".join(",".join(map(str, r)) + ",\n" for r in good[:20]))
    (d / "semicolons.csv").write_text("0.1;0.2\n0.3;0.4\n")
    (d / "mixed_first.csv").write_text("0.3,abc\n0.1,0.2\n")
    nan_inf = good[:20].copy()
    nan_inf[1, 2] = nan_inf[2, 0] = np.nan
    nan_inf[3, 1] = np.inf
    np.save(d / "nan_inf.npy", nan_inf)
    far = np.tile(good[:1], (20_000, 1))  # beyond one 4 MiB block of 64 float32 features
    far[17_000, 5] = np.nan
    np.save(d / "nan_far.npy", far)
    (d / "text.npy").write_text("not an array\n")
    (d / "pickle.npy").write_bytes(pickle.dumps({"x": Exploit()}))
    (d / "text.npz").write_text("not an archive\n")
    np.save(d / "complex.npy", good[:20].astype(np.complex64))
    np.save(d / "records.npy", np.zeros(20, dtype=[("a", "f4"), ("b", "f4")]))
    for kind in ("dangling", "folder", "device", "other"):
        shards = d / f"shards_{kind}"
        shards.mkdir()
        np.save(shards / "a.npy", good[:20])
    os.symlink(d / "nowhere.npy", d / "shards_dangling" / "b.npy")
    (d / "shards_folder" / "b.npy").mkdir()
    os.symlink("/dev/zero", d / "shards_device" / "b.npy")
    (d / "shards_other" / "notes.txt").write_text("x")
    mnist_link = d / "mnist_dangling"
    mnist_link.mkdir()
    for name in MNIST_NAMES:
        os.symlink(d / "nowhere", mnist_link / f"{name}.gz")

    (d / "existing").mkdir()
    (d / "existing" / "file").write_text("x")
    _round_three_folders(d, run)
    for case in CASES:
        if case.settings is not None:
            (d / f"cfg-{case.slug}.json").write_text(json.dumps(case.settings))
    return d


MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _float64_weights(run: Path) -> bytes:
    from safetensors.torch import load_file, save

    return save({k: v.double() for k, v in load_file(run / "model.safetensors").items()})


def _load(d: Path, name: str) -> Any:
    return aekit.load(d / name)


CASES = [
    # ---- data --------------------------------------------------------------------------
    Case(
        "nan data",
        "NaN",
        lambda d: _fit(np.load(d / "nan.npy")),
        ["train", "--data", "{d}/nan.npy"],
        settings={"data": {"source": "nan.npy"}},
    ),
    Case(
        "inf data",
        "infinite",
        lambda d: _fit(np.load(d / "inf.npy")),
        ["train", "--data", "{d}/inf.npy"],
        settings={"data": {"source": "inf.npy"}},
    ),
    Case(
        "1-D data",
        "2-D",
        lambda d: _fit(np.load(d / "one_d.npy")),
        ["train", "--data", "{d}/one_d.npy"],
        settings={"data": {"source": "one_d.npy"}},
    ),
    Case(
        "wrong feature count (fit)",
        "10 features but the model expects 64",
        lambda d: _fit(np.load(d / "features.npy")),
        None,
    ),
    Case(
        "wrong feature count (encode)",
        "10 features but the model expects 64",
        lambda d: _model().encode(np.load(d / "features.npy")),
        ["encode", "{run}", "{d}/features.npy", "-o", "{d}/out.npy"],
    ),
    Case(
        "nan data (encode)",
        "contains 20 NaN value",
        lambda d: _model().encode(np.load(d / "nan.npy")),
        ["encode", "{run}", "{d}/nan.npy", "-o", "{d}/out.npy"],
        cli_match="nan.npy contains 20 NaN value",  # the file, by its name
    ),
    Case(
        "wrong feature count (evaluate)",
        "10 features",
        lambda d: aekit.evaluate(_model(), np.load(d / "features.npy")),
        ["evaluate", "{run}", "--data", "{d}/features.npy"],
    ),
    Case(
        "wrong validation shape",
        "validation data has 10 features",
        lambda d: _fit(np.load(d / "range.npy") / 16, val=np.load(d / "features.npy")),
        None,
    ),
    Case(
        "empty data",
        "empty",
        lambda d: _fit(np.load(d / "empty.npy")),
        ["train", "--data", "{d}/empty.npy"],
        settings={"data": {"source": "empty.npy"}},
    ),
    Case("empty list", "2-D", lambda d: _fit([]), None),
    Case(
        "string array",
        "must be numeric",
        lambda d: _fit(np.load(d / "strings.npy")),
        ["train", "--data", "{d}/strings.npy"],
        settings={"data": {"source": "strings.npy"}},
    ),
    Case("object array", "must be numeric", lambda d: _fit(np.array([[object()] * 64])), None),
    Case(
        "pickled object .npy",
        "Object arrays cannot be loaded",
        lambda d: aekit.load_array(d / "objects.npy"),
        ["train", "--data", "{d}/objects.npy"],
        settings={"data": {"source": "objects.npy"}},
    ),
    Case(
        "non-numeric CSV",
        "not a numeric CSV",
        lambda d: aekit.load_array(d / "text.csv"),
        ["train", "--data", "{d}/text.csv"],
        settings={"data": {"source": "text.csv"}},
    ),
    Case(
        "ragged CSV",
        "not a numeric CSV",
        lambda d: aekit.load_array(d / "ragged.csv"),
        ["train", "--data", "{d}/ragged.csv"],
        settings={"data": {"source": "ragged.csv"}},
    ),
    Case(
        "unknown file type",
        "unsupported data file type",
        lambda d: aekit.load_array(d / "data.parquet"),
        ["train", "--data", "{d}/data.parquet"],
        settings={"data": {"source": "data.parquet"}},
    ),
    Case(
        "missing data file",
        "not found",
        lambda d: aekit.load_array(d / "none.npy"),
        ["train", "--data", "{d}/none.npy"],
        settings={"data": {"source": "none.npy"}},
    ),
    Case(
        "out of [0, 1] with sigmoid output",
        "outside [0, 1]",
        lambda d: _fit(np.load(d / "range.npy")),
        ["train", "--data", "{d}/range.npy", "--output-activation", "sigmoid"],
        settings={"data": {"source": "range.npy"}, "model": {"output_activation": "sigmoid"}},
    ),
    Case(
        "out of [0, 1] with BCE",
        "outside [0, 1]",
        lambda d: aekit.fit(
            aekit.AutoEncoder.build(input_dim=64, code_dim=8, loss="bce"),
            np.load(d / "range.npy"),
            epochs=1,
            progress=False,
        ),
        ["train", "--data", "{d}/range.npy", "--loss", "bce"],
        settings={"data": {"source": "range.npy"}, "model": {"loss": "bce"}},
    ),
    Case(
        "IDX bad magic",
        "bad magic number",
        lambda d: aekit.load_mnist(d / "mnist_magic", download=False),
        ["train", "--data", "mnist", "--data-dir", "{d}/mnist_magic"],
        settings={"data": {"source": "mnist", "data_dir": "mnist_magic"}},
    ),
    Case(
        "IDX truncated body",
        "truncated",
        lambda d: aekit.load_mnist(d / "mnist_short", download=False),
        ["train", "--data", "mnist", "--data-dir", "{d}/mnist_short"],
        settings={"data": {"source": "mnist", "data_dir": "mnist_short"}},
    ),
    Case("IDX body of wrong length", "truncated", lambda d: aekit.read_idx(d / "bad.idx"), None),
    # ---- run folders ---------------------------------------------------------------------
    Case(
        "missing run folder",
        "run folder not found",
        lambda d: _load(d, "nope"),
        ["evaluate", "{d}/nope"],
    ),
    Case(
        "run path is a file",
        "not a run folder",
        lambda d: _load(d, "not_a_folder"),
        ["info", "{d}/not_a_folder"],
    ),
    Case(
        "a folder that is no run",
        "not a run folder",
        lambda d: _load(d, "plain_folder"),
        ["info", "{d}/plain_folder"],
    ),
    Case(
        "truncated weights",
        "not a valid safetensors",
        lambda d: _load(d, "truncated"),
        ["evaluate", "{d}/truncated"],
    ),
    Case(
        "random-byte weights",
        "not a valid safetensors",
        lambda d: _load(d, "random_bytes"),
        ["encode", "{d}/random_bytes", "digits", "-o", "{d}/out.npy"],
    ),
    Case(
        "pickle as weights",
        "not a valid safetensors",
        lambda d: _load(d, "pickled"),
        ["reconstruct", "{d}/pickled", "digits", "-o", "{d}/out.png"],
    ),
    Case(
        "float64 weights",
        "expected float32",
        lambda d: _load(d, "dtype"),
        ["evaluate", "{d}/dtype"],
    ),
    Case(
        "config.json not JSON",
        "not valid JSON",
        lambda d: _load(d, "not_json"),
        ["info", "{d}/not_json"],
    ),
    Case(
        "config.json unknown key",
        "unknown setting(s) 'dropout'",
        lambda d: _load(d, "unknown_key"),
        ["evaluate", "{d}/unknown_key"],
    ),
    Case(
        "config.json wrong type",
        "model.hidden: expected a list",
        lambda d: _load(d, "wrong_type"),
        ["evaluate", "{d}/wrong_type"],
    ),
    Case(
        "config.json other architecture",
        "does not match the architecture",
        lambda d: _load(d, "other_arch"),
        ["evaluate", "{d}/other_arch"],
    ),
    Case(
        "run from a newer aekit",
        "newer than this aekit",
        lambda d: _load(d, "newer"),
        ["info", "{d}/newer"],
    ),
    Case(
        "resume without a run",
        "run folder not found",
        lambda d: aekit.resume(d / "nope", progress=False),
        ["train", "--resume", "{d}/nope"],
    ),
    Case(
        "resume a damaged run",
        "not valid JSON",
        lambda d: aekit.resume(d / "not_json", progress=False),
        ["train", "--resume", "{d}/not_json"],
    ),
    # ---- parameters and configs ------------------------------------------------------------
    Case(
        "negative epochs",
        "epochs must be in [1, 1,000,000]",
        lambda d: _fit(np.zeros((4, 64)), epochs=-3),
        ["train", "--epochs", "-3"],
        settings={"training": {"epochs": -3}},
    ),
    Case(
        "batch size 0",
        "batch_size must be in [1,",
        lambda d: _fit(np.zeros((4, 64)), batch_size=0),
        ["train", "--batch-size", "0"],
        settings={"training": {"batch_size": 0}},
    ),
    Case(
        "learning rate 0",
        "lr must be > 0",
        lambda d: _fit(np.zeros((4, 64)), lr=0.0),
        ["train", "--lr", "0"],
        settings={"training": {"lr": 0.0}},
    ),
    Case(
        "rho outside (0, 1)",
        "rho",
        lambda d: aekit.KLSparsity(rho=1.2),
        ["train", "--penalty", "kl_sparsity:rho=1.2"],
        settings={"model": {"penalties": ["kl_sparsity:rho=1.2"]}},
    ),
    Case(
        "rho = 0",
        "rho",
        lambda d: aekit.KLSparsity(rho=0.0),
        ["train", "--kind", "sparse", "--penalty", "kl_sparsity:rho=0"],
        settings={"model": {"kind": "sparse", "penalties": [{"name": "kl_sparsity", "rho": 0}]}},
    ),
    Case(
        "k larger than the code",
        "top_k must be between 1 and code_dim=8",
        lambda d: aekit.AutoEncoder.build(input_dim=64, code_dim=8, top_k=9),
        ["train", "--top-k", "9"],
        settings={"model": {"top_k": 9}},
    ),
    Case(
        "negative noise",
        "sigma",
        lambda d: aekit.GaussianNoise(sigma=-0.1),
        ["train", "--corruption", "gaussian:sigma=-0.1"],
        settings={"model": {"corruption": "gaussian:sigma=-0.1"}},
    ),
    Case(
        "masking fraction > 1",
        "nu",
        lambda d: aekit.Masking(nu=1.5),
        ["train", "--corruption", "masking:nu=1.5"],
        settings={"model": {"corruption": {"name": "masking", "nu": 1.5}}},
    ),
    Case(
        "unknown kind",
        "unknown kind 'varational'",
        lambda d: aekit.AutoEncoder.build("varational", input_dim=4, code_dim=2),
        None,
        settings={"model": {"kind": "varational"}},
    ),
    Case(
        "unknown kind (CLI)",
        "invalid choice: 'varational'",
        None,
        ["train", "--kind", "varational"],
    ),
    Case(
        "unknown penalty",
        "unknown penalty 'l3'",
        lambda d: aekit.Penalty.parse("l3"),
        ["train", "--penalty", "l3"],
        settings={"model": {"penalties": ["l3"]}},
    ),
    Case(
        "unknown activation",
        "unknown activation 'swish2'",
        lambda d: aekit.AutoEncoder.build(input_dim=4, code_dim=2, activation="swish2"),
        None,
        settings={"model": {"activation": "swish2"}},
    ),
    Case(
        "zero code size",
        "code_dim must be >= 1",
        lambda d: aekit.AutoEncoder.build(input_dim=4, code_dim=0),
        ["train", "--arch", "64-0"],
        cli_match="--arch sizes must be positive",
        settings={"model": {"code_dim": 0}},
    ),
    Case(
        "wrong type in Python",
        "model.input_dim: expected int",
        lambda d: aekit.AutoEncoder.build(input_dim="64", code_dim=8),
        None,
        settings={"model": {"input_dim": "64"}},
    ),
    Case(
        "pretraining epochs 0",
        "pretraining epochs must be in [1,",
        lambda d: PretrainConfig(epochs=0),
        ["train", "--pretrain", "greedy", "--pretrain-epochs", "0"],
        settings={"pretrain": {"epochs": 0}},
    ),
    Case("config file not JSON", "not valid JSON", None, ["train", "--config", "{d}/cfg_bad.json"]),
    Case(
        "config file unknown key",
        "unknown setting(s) 'epoch'",
        lambda d: aekit.TrainConfig.from_dict({"epoch": 3}),
        ["train", "--config", "{d}/cfg_keys.json"],
    ),
    Case(
        "config file wrong type",
        "expected int",
        lambda d: aekit.ModelConfig.from_dict({"input_dim": 4, "code_dim": "eight"}),
        ["train", "--config", "{d}/cfg_types.json"],
    ),
    Case(
        "config path escaping its folder",
        "points outside the folder",
        None,
        ["train", "--config", "{d}/cfg_escape.json"],
    ),
    Case(
        "config output path escaping its folder",
        "points outside the folder",
        None,
        ["train", "--config", "{d}/cfg_out.json"],
        add_out=False,
    ),
    # ---- round three (issue 25): classes 4, 5, 9 (numbers, batches, predictable) ----
    Case(
        "a NaN outlier threshold",
        "--threshold must be a finite number, got nan",
        None,
        ["score", "{run}", "digits", "-o", "{d}/scores.csv", "--threshold", "nan"],
    ),
    Case(
        "an infinite outlier threshold",
        "--threshold must be a finite number, got inf",
        None,
        ["score", "{run}", "digits", "-o", "{d}/scores.csv", "--threshold", "inf"],
    ),
    Case(
        "an infinite contamination",
        "contamination must be a finite number in (0, 0.5], got inf",
        lambda d: _detector(contamination=float("inf")).fit(np.zeros((20, 4))),
        ["score", "{run}", "digits", "-o", "{d}/scores.csv", "--contamination", "inf"],
    ),
    Case(
        "a NaN contamination",
        "contamination must be a finite number in (0, 0.5], got nan",
        lambda d: _detector(contamination=np.float32("nan")).fit(np.zeros((20, 4))),
        ["score", "{run}", "digits", "-o", "{d}/scores.csv", "--contamination", "nan"],
    ),
    Case(
        "a saved detector whose threshold is NaN",
        "'fitted.offset_' must be a finite number (minus the error threshold), got NaN",
        lambda d: aekit.sklearn.load(d / "nan_threshold"),
        ["score", "{d}/nan_threshold", "digits", "-o", "{d}/scores.csv"],
    ),
    Case(
        "NaN noise in a corruption spec",
        "sigma (noise std) must be a finite number >= 0, got nan",
        lambda d: aekit.Corruption.parse("gaussian:sigma=nan"),
        ["train", "--corruption", "gaussian:sigma=nan"],
        settings={"model": {"corruption": "gaussian:sigma=nan"}},
    ),
    Case(
        "an infinite penalty weight",
        "lam (L1 weight) must be a finite number >= 0, got inf",
        lambda d: aekit.L1Sparsity(lam=np.float64("inf")),
        ["train", "--penalty", "l1:lam=inf"],
        settings={"model": {"penalties": [{"name": "l1", "lam": float("inf")}]}},
    ),
    Case(
        "a NaN target activation of a numpy type",
        "rho (target activation) must be a finite number in (0, 1), got nan",
        lambda d: aekit.KLSparsity(rho=np.float32("nan")),
        ["train", "--penalty", "kl_sparsity:rho=NaN"],
        settings={"model": {"penalties": [{"name": "kl_sparsity", "rho": float("nan")}]}},
    ),
    Case(
        "NaN momentum",
        "momentum must be a finite number in [0, 1), got nan",
        lambda d: _fit(np.zeros((4, 64)), momentum=float("nan")),
        ["train", "--momentum", "nan"],
        settings={"training": {"momentum": float("nan")}},
    ),
    Case(
        "an infinite validation share",
        "val_fraction must be a finite number in [0, 1), got inf",
        lambda d: _fit(np.zeros((4, 64)), val_fraction=float("inf")),
        ["train", "--val-fraction", "inf"],
        settings={"training": {"val_fraction": float("inf")}},
    ),
    Case(
        "minus infinite checkpoint interval",
        "checkpoint_seconds must be a finite number >= 0, got -inf",
        lambda d: aekit.TrainConfig(checkpoint_seconds=float("-inf")),
        ["train", "--checkpoint-seconds=-inf"],
        settings={"training": {"checkpoint_seconds": float("-inf")}},
    ),
    Case(
        "NaN pretraining learning rate",
        "lr must be a finite number > 0, got nan",
        lambda d: PretrainConfig(lr=float("nan")),
        ["train", "--pretrain", "greedy", "--pretrain-lr", "nan"],
        settings={"pretrain": {"lr": float("nan")}},
    ),
    Case(
        "NaN epochs",
        "epochs must be a finite whole number, got nan",
        lambda d: _fit(np.zeros((4, 64)), epochs=float("nan")),
        ["train", "--epochs", "nan"],
        cli_match="--epochs: expected a whole number, got 'nan'",
        settings={"training": {"epochs": float("nan")}},
    ),
    Case(
        "an infinite code size",
        "code_dim must be a finite whole number, got inf",
        lambda d: aekit.AutoEncoder.build(input_dim=64, code_dim=float("inf")),
        None,
        settings={"model": {"code_dim": float("inf")}},
    ),
    Case(
        "NaN seed of the weights",
        "seed must be a finite whole number, got nan",
        lambda d: aekit.AutoEncoder.build(input_dim=64, seed=float("nan")),
        ["train", "--seed", "nan"],
        cli_match="--seed: expected a whole number, got 'nan'",
        settings={"training": {"seed": float("nan")}},
    ),
    Case(
        "a random_state that is no seed",
        "random_state must be a seed",
        lambda d: aekit.sklearn.AutoEncoderTransformer(random_state=1.5).fit(np.zeros((20, 4))),
        None,
    ),
    # ---- from the command line's and the configs' own lists, merged here -------------------
    Case(
        "architecture input size differs from the data",
        "the model's input_dim is 10 but the data has 64 features",
        lambda d: aekit.train({"model": {"input_dim": 10}}, progress=False),
        ["train", "--arch", "10-5"],
        settings={"model": {"input_dim": 10}},
    ),
    Case("--arch not sizes", "--arch must be sizes", None, ["train", "--arch", "64-x"]),
    Case(
        "learning rate not a number",
        "--lr: expected a number",
        None,
        ["train", "--lr", "abc"],
    ),
    Case(
        "output folder exists",
        "already exists",
        lambda d: aekit.train(out=d / "existing", progress=False),
        ["train", "--out", "{d}/existing"],
        add_out=False,
    ),
    Case(
        "config file missing",
        "config file not found",
        lambda d: aekit.train(d / "cfg_missing.json"),
        ["train", "--config", "{d}/cfg_missing.json"],
    ),
    Case(
        "config file empty",
        "not valid JSON",
        lambda d: aekit.train(d / "cfg_none.json"),
        ["train", "--config", "{d}/cfg_none.json"],
    ),
    Case(
        "unknown model setting",
        "unknown setting(s) 'colour'",
        lambda d: aekit.RunConfig(model={"colour": "red"}),
        None,
        settings={"model": {"colour": "red"}},
    ),
    Case(
        "hidden sizes not a list",
        "hidden: expected a list",
        lambda d: aekit.ModelConfig(input_dim=64, code_dim=8, hidden="32"),
        ["train", "--hidden", "a,b"],
        cli_match="expected sizes like 32,16",
        settings={"model": {"hidden": "32"}},
    ),
    Case(
        "negative hidden size",
        "hidden sizes must be >= 1",
        lambda d: aekit.AutoEncoder.build(input_dim=64, hidden=[32, -1], code_dim=8),
        ["train", "--hidden", "32,0"],
        settings={"model": {"hidden": [32, -1]}},
    ),
    Case(
        "tied not a bool",
        "tied: expected bool",
        lambda d: aekit.ModelConfig(input_dim=64, code_dim=8, tied=1),
        None,
        settings={"model": {"tied": 1}},
    ),
    Case(
        "unknown architecture",
        "'rnn' is not one of",
        lambda d: aekit.ModelConfig(input_dim=64, code_dim=8, architecture="rnn"),
        ["train", "--architecture", "rnn"],
        cli_match="invalid choice: 'rnn'",
        settings={"model": {"architecture": "rnn"}},
    ),
    Case(
        "bce with a linear output",
        "loss 'bce' needs output_activation 'sigmoid'",
        lambda d: aekit.AutoEncoder.build(input_dim=64, loss="bce", output_activation="linear"),
        ["train", "--loss", "bce", "--output-activation", "linear"],
        settings={"model": {"loss": "bce", "output_activation": "linear"}},
    ),
    Case(
        "penalty without a name",
        "expected {'name': ..., <parameters>}",
        lambda d: aekit.RunConfig(model={"penalties": [{"rho": 0.1}]}),
        None,
        settings={"model": {"penalties": [{"rho": 0.1}]}},
    ),
    Case(
        "image shape of the wrong size",
        "has 81 values but input_dim is 64",
        lambda d: aekit.AutoEncoder.build(input_dim=64, image_shape=(1, 9, 9)),
        ["train", "--image-shape", "1,9,9"],
        settings={"model": {"image_shape": [1, 9, 9]}},
    ),
    Case(
        "unknown optimizer",
        "unknown optimizer 'lbfgs'",
        lambda d: aekit.TrainConfig(optimizer="lbfgs"),
        ["train", "--optimizer", "lbfgs"],
        cli_match="invalid choice: 'lbfgs'",
        settings={"training": {"optimizer": "lbfgs"}},
    ),
    Case(
        "misspelt schedule",
        "unknown schedule 'cosin'",
        lambda d: aekit.TrainConfig(schedule="cosin"),
        ["train", "--schedule", "cosin"],
        cli_match="invalid choice: 'cosin'",
        settings={"training": {"schedule": "cosin"}},
    ),
    Case(
        "fractional epochs",
        "epochs: expected int",
        lambda d: aekit.TrainConfig(epochs=2.5),
        ["train", "--epochs", "2.5"],
        cli_match="--epochs: expected a whole number",
        settings={"training": {"epochs": 2.5}},
    ),
    Case(
        "epochs 0",
        "epochs must be in [1, 1,000,000]",
        lambda d: _fit(np.zeros((4, 64)), epochs=0),
        ["train", "--epochs", "0"],
        settings={"training": {"epochs": 0}},
    ),
    Case(
        "NaN learning rate",
        "must be a finite number",
        lambda d: aekit.TrainConfig(lr=float("nan")),
        ["train", "--lr", "nan"],
        settings={"training": {"lr": float("nan")}},
    ),
    Case(
        "infinite weight decay",
        "must be a finite number",
        lambda d: aekit.TrainConfig(weight_decay=float("inf")),
        ["train", "--weight-decay", "inf"],
        settings={"training": {"weight_decay": float("inf")}},
    ),
    Case(
        "validation fraction 1",
        "val_fraction must be in [0, 1)",
        lambda d: aekit.TrainConfig(val_fraction=1.0),
        ["train", "--val-fraction", "1"],
        settings={"training": {"val_fraction": 1.0}},
    ),
    Case(
        "patience 0",
        "patience must be >= 1",
        lambda d: aekit.TrainConfig(patience=0),
        ["train", "--patience", "0"],
        settings={"training": {"patience": 0}},
    ),
    Case(
        "negative gradient clip",
        "grad_clip must be > 0",
        lambda d: aekit.TrainConfig(grad_clip=-1.0),
        ["train", "--grad-clip", "-1"],
        settings={"training": {"grad_clip": -1.0}},
    ),
    Case(
        "negative seed",
        "seed must be in [0, 2**63 - 1]",
        lambda d: aekit.TrainConfig(seed=-1),
        ["train", "--seed", "-1"],
        settings={"training": {"seed": -1}},
    ),
    Case(
        "seed too large",
        "seed must be in [0, 2**63 - 1]",
        lambda d: aekit.TrainConfig(seed=2**64 + 1),
        ["train", "--seed", str(2**64 + 1)],
        settings={"training": {"seed": 2**64 + 1}},
    ),
    Case(
        "meta device",
        "device 'meta' is not supported",
        lambda d: _fit(np.zeros((4, 64)), device="meta"),
        ["train", "--device", "meta"],
        settings={"training": {"device": "meta"}},
    ),
    Case(
        "limit 0",
        "limit must be >= 1",
        lambda d: aekit.DataConfig(limit=0),
        ["train", "--limit", "0"],
        settings={"data": {"limit": 0}},
    ),
    Case(
        "test file with a named data set",
        "has its own test split",
        lambda d: aekit.train({"data": {"test": str(d / "range.npy")}}, progress=False),
        ["train", "--test", "{d}/range.npy"],
        settings={"data": {"test": "range.npy"}},
    ),
    Case(
        "settings given with --resume",
        "--resume continues a run with its own settings",
        None,
        ["train", "--resume", "{run}", "--lr", "0.1"],
    ),
    Case(
        "evaluate data out of range",
        "outside [0, 1]",
        lambda d: aekit.evaluate(d / "run", d / "range.npy"),
        ["evaluate", "{run}", "--data", "{d}/range.npy"],
    ),
    Case(
        "codes to an unknown file type",
        ".npy or .csv",
        None,
        ["encode", "{run}", "digits", "-o", "{d}/codes.txt"],
    ),
    Case(
        "codes to a missing folder",
        "output folder does not exist",
        None,
        ["encode", "{run}", "digits", "-o", "{d}/no/such/codes.npy"],
    ),
    Case(
        "a picture of no samples",
        "-n must be >= 1",
        None,
        ["reconstruct", "{run}", "digits", "-o", "{d}/grid.png", "-n", "0"],
    ),
    # ---- round two: hostile inputs (issue 10), one or more per failure class -----------------
    Case(
        "batch size 2**63",
        "batch_size must be in [1, 2147483647]",
        lambda d: aekit.TrainConfig(batch_size=2**63),
        ["train", "--batch-size", str(2**63)],
        settings={"training": {"batch_size": 2**63}},
    ),
    Case(
        "gzip magic with corrupt deflate data",
        "not a readable gzip file",
        lambda d: aekit.load_mnist(d / "mnist_deflate", download=False),
        ["train", "--data", "mnist", "--data-dir", "{d}/mnist_deflate"],
    ),
    Case(
        ".npy header declaring 10**12 rows",
        "cannot read",
        lambda d: aekit.load_array(d / "huge_header.npy"),
        ["train", "--data", "{d}/huge_header.npy"],
    ),
    Case(
        "config file nested 10,000 lists deep",
        "nested too deeply",
        lambda d: aekit.train(d / "cfg_nested.json"),
        ["train", "--config", "{d}/cfg_nested.json"],
    ),
    Case(
        "config.json data section of the wrong type",
        "'data' must be an object",
        lambda d: aekit.evaluate(d / "data_not_object"),
        ["evaluate", "{d}/data_not_object"],
    ),
    Case(
        "a hidden layer of two billion units",
        "the model would have",
        lambda d: aekit.AutoEncoder.build(input_dim=64, hidden=[10**9]),
        ["train", "--arch", "64-2000000000-8"],
        settings={"model": {"hidden": [2_000_000_000]}},
    ),
    Case(
        "a kernel of a million pixels",
        "the model would have",
        lambda d: aekit.AutoEncoder.build(
            input_dim=64, architecture="conv", image_shape=(1, 8, 8), kernel_size=1_000_001
        ),
        ["train", "--architecture", "conv", "--kernel-size", "1000001"],
    ),
    Case(
        "two billion convolution channels",
        "the model would have",
        None,
        ["train", "--architecture", "conv", "--conv-channels", "16,2000000000"],
    ),
    Case(
        "a stored config with two billion hidden units",
        "the model would have",
        lambda d: _load(d, "huge_hidden"),
        ["evaluate", "{d}/huge_hidden"],
    ),
    Case(
        "a batch whose activations cannot fit",
        "needs about",
        lambda d: aekit.train(
            {"model": {"hidden": [4096] * 8}, "training": {"batch_size": 2**31 - 1}},
            progress=False,
        ),
        ["train", "--hidden", "4096,4096,4096,4096", "--batch-size", str(2**31 - 1)],
        settings={"model": {"hidden": [4096] * 8}, "training": {"batch_size": 2**31 - 1}},
    ),
    Case(
        "a billion random projections",
        "projections must be in [1, 1000]",
        lambda d: aekit.Contractive(method="estimate", projections=10**9),
        ["train", "--penalty", "contractive:method=estimate,projections=1e9"],
    ),
    Case(
        "config file is a pipe",
        "not a regular file",
        lambda d: aekit.train(d / "cfg_fifo.json"),
        ["train", "--config", "{d}/cfg_fifo.json"],
    ),
    Case(
        "config file is /dev/zero",
        "not a regular file",
        lambda d: aekit.train("/dev/zero"),
        ["train", "--config", "/dev/zero"],
    ),
    Case(
        "data is a folder",
        "is a folder, not a file",
        lambda d: aekit.load_array(d / "folder.npy"),
        ["train", "--data", "{d}/folder.npy"],
    ),
    Case(
        "data is a pipe",
        "not a regular file",
        lambda d: aekit.load_array(d / "fifo.npy"),
        ["train", "--data", "{d}/fifo.npy"],
    ),
    Case(
        "data is a device",
        "not a regular file",
        lambda d: aekit.load_array("/dev/zero"),
        ["encode", "{run}", "/dev/zero", "-o", "{d}/c.npy"],
    ),
    Case(
        "a part's name given as a parameter",
        "the name comes before the ':'",
        lambda d: aekit.Penalty.parse("l1:name=kl_sparsity"),
        ["train", "--penalty", "l1:name=kl_sparsity"],
    ),
    Case(
        "a one-shot generator",
        "gave no batches",
        lambda d: _fit((b for b in [np.zeros((8, 64), np.float32)]), epochs=2, val_fraction=0),
        None,
    ),
    Case(
        "an empty DataLoader",
        "gave no batches",
        lambda d: _fit(_loader(np.zeros((0, 64), np.float32)), epochs=1),
        None,
    ),
    Case(
        "a DataLoader of values in [0, 255] with cross-entropy",
        "outside [0, 1]",
        lambda d: aekit.fit(
            aekit.AutoEncoder.build(input_dim=64, code_dim=8, loss="bce"),
            _loader(np.load(d / "range.npy")),
            epochs=1,
            progress=False,
        ),
        None,
    ),
    Case(
        "a DataLoader with the wrong feature count",
        "batch has 10 features but the model expects 64",
        lambda d: _fit(_loader(np.load(d / "features.npy")), epochs=1),
        None,
    ),
    # ---- round three (issue 25): classes 1, 3, 8 (data) ----
    # class 3: where aekit cannot tell, it refuses and says how to state it; it never
    # drops or invents a row, skips a file it was given, or reads named columns by position
    Case(
        "a CSV whose first line is pandas' column numbers 0,1",
        "say whether the first line is a header: --header yes or --header no",
        lambda d: aekit.load_array(d / "numbered.csv"),
        ["train", "--data", "{d}/numbered.csv"],
        settings={"data": {"source": "numbered.csv"}},
    ),
    Case(
        "a CSV of pandas' column numbers scored",
        "--header yes or --header no",
        lambda d: aekit.score(d / "run", d / "numbered.csv"),
        ["score", "{run}", "{d}/numbered.csv", "-o", "{d}/s.csv"],
    ),
    Case(
        "a header naming more columns than the lines hold",
        "names 3 column(s) but its lines hold 2",
        lambda d: aekit.load_array(d / "short_header.csv"),
        ["train", "--data", "{d}/short_header.csv"],
    ),
    Case(
        "a header stated that is none of yes, no, auto",
        "header must be one of auto, yes, no",
        lambda d: aekit.load_array(d / "numbered.csv", header="maybe"),
        ["encode", "{run}", "{d}/numbered.csv", "-o", "{d}/c.csv", "--header", "maybe"],
        cli_match="invalid choice: 'maybe'",
    ),
    Case(
        "a table whose columns are not the run's (score)",
        "it lacks 'f63'; 'extra' is not among them",
        lambda d: aekit.score(d / "named", d / "other_columns.csv"),
        ["score", "{d}/named", "{d}/other_columns.csv", "-o", "{d}/s.csv"],
    ),
    Case(
        "a table whose columns are not the run's (reconstruct in Python, impute on the command line)",
        "it lacks 'f63'",
        lambda d: aekit.reconstruct(d / "named", d / "other_columns.csv"),
        ["impute", "{d}/named", "{d}/other_columns.csv", "-o", "{d}/f.csv"],
    ),
    Case(
        "a table whose columns are not the run's (encode)",
        "it lacks 'f63'",
        lambda d: aekit.encode(d / "named", d / "other_columns.csv"),
        ["encode", "{d}/named", "{d}/other_columns.csv", "-o", "{d}/c.csv"],
    ),
    Case(
        "a table whose columns are not the run's (evaluate)",
        "it lacks 'f63'",
        lambda d: aekit.evaluate(d / "named", d / "other_columns.csv"),
        ["evaluate", "{d}/named", "--data", "{d}/other_columns.csv"],
    ),
    Case(
        "a DataFrame whose columns are not the model's",
        "it lacks 'f63'",
        lambda d: aekit.load(d / "named").encode(_frame(d / "other_columns.csv")),
        None,
    ),
    Case(
        "a test table whose columns are not the training table's",
        "other_columns.csv names other columns than",
        lambda d: aekit.train(
            {"data": {"source": str(d / "named.csv"), "test": str(d / "other_columns.csv")}},
            progress=False,
        ),
        ["train", "--data", "{d}/named.csv", "--test", "{d}/other_columns.csv"],
        settings={"data": {"source": "named.csv", "test": "other_columns.csv"}},
    ),
    Case(
        "a shard folder holding a dangling link",
        "b.npy (a link to nothing)",
        lambda d: aekit.load_array(d / "shards_dangling"),
        ["train", "--data", "{d}/shards_dangling"],
    ),
    Case(
        "a shard folder holding a folder named b.npy",
        "b.npy (a folder)",
        lambda d: aekit.load_array(d / "shards_folder"),
        ["encode", "{run}", "{d}/shards_folder", "-o", "{d}/c.npy"],
    ),
    Case(
        "a shard folder holding a link to /dev/zero",
        "b.npy (not a regular file",
        lambda d: aekit.encode(d / "run", d / "shards_device", stream=True),
        ["train", "--data", "{d}/shards_device", "--stream"],
    ),
    Case(
        "a shard folder holding a file that is not a shard",
        "notes.txt, which is not a shard",
        lambda d: aekit.load_array(d / "shards_other"),
        ["score", "{run}", "{d}/shards_other", "-o", "{d}/s.csv"],
    ),
    Case(
        "an MNIST folder of dangling links",
        "is a link to nothing",
        lambda d: aekit.load_mnist(d / "mnist_dangling", download=False),
        ["train", "--data", "mnist", "--data-dir", "{d}/mnist_dangling"],
    ),
    # class 8: each message states the true fact and the fix
    Case(
        "an infinity among missing values is counted as one",
        "contains 1 infinite value(s) (first in sample 3); an infinity is not a missing value",
        lambda d: aekit.train(
            {"model": {"missing": True}}, data=np.load(d / "nan_inf.npy"), progress=False
        ),
        ["train", "--data", "{d}/nan_inf.npy", "--missing"],
        settings={"data": {"source": "nan_inf.npy"}, "model": {"missing": True}},
    ),
    Case(
        "NaN far into streamed data is named by its file and row",
        "nan_far.npy contains 1 NaN value(s) (first in sample 17000)",
        lambda d: aekit.encode(d / "run", d / "nan_far.npy", stream=True),
        ["encode", "{run}", "{d}/nan_far.npy", "-o", "{d}/c.npy", "--stream"],
    ),
    Case(
        "NaN far into streamed data is named by its file and row (score)",
        "nan_far.npy contains 1 NaN value(s) (first in sample 17000)",
        lambda d: aekit.score(d / "run", d / "nan_far.npy", stream=True),
        ["score", "{run}", "{d}/nan_far.npy", "-o", "{d}/s.csv", "--stream"],
    ),
    Case(
        "NaN far into streamed training data is named by its file and row",
        "nan_far.npy (training data) contains 1 NaN value(s) (first in sample 17000)",
        lambda d: aekit.train({"data": {"source": str(d / "nan_far.npy"), "stream": True}}),
        ["train", "--data", "{d}/nan_far.npy", "--stream"],
    ),
    Case(
        "a text file named .npy",
        "text.npy is not a .npy file (it starts with b'not an a')",
        lambda d: aekit.load_array(d / "text.npy"),
        ["train", "--data", "{d}/text.npy"],
        settings={"data": {"source": "text.npy"}},
    ),
    Case(
        "a pickle named .npy",
        "holds a Python pickle, which aekit never loads",
        lambda d: aekit.load_array(d / "pickle.npy"),
        ["encode", "{run}", "{d}/pickle.npy", "-o", "{d}/c.npy"],
    ),
    Case(
        "a pickle named .npy, streamed",
        "holds a Python pickle, which aekit never loads",
        lambda d: aekit.encode(d / "run", d / "pickle.npy", stream=True),
        ["train", "--data", "{d}/pickle.npy", "--stream"],
    ),
    Case(
        "a text file named .npz",
        "text.npz is not a .npz file",
        lambda d: aekit.load_array(d / "text.npz"),
        ["train", "--data", "{d}/text.npz"],
    ),
    Case(
        "complex data",
        "holds complex numbers (dtype complex64); aekit takes real numbers",
        lambda d: _fit(np.load(d / "complex.npy")),
        ["train", "--data", "{d}/complex.npy"],
        settings={"data": {"source": "complex.npy"}},
    ),
    Case(
        "complex data, streamed",
        "holds complex numbers (dtype complex64)",
        lambda d: aekit.encode(d / "run", d / "complex.npy", stream=True),
        ["encode", "{run}", "{d}/complex.npy", "-o", "{d}/c.npy", "--stream"],
    ),
    Case(
        "records with named fields",
        "records with named fields",
        lambda d: aekit.encode(d / "run", d / "records.npy"),
        ["train", "--data", "{d}/records.npy"],
    ),
    Case(
        "a trailing comma on every line of a CSV",
        "every line ends with a comma",
        lambda d: aekit.load_array(d / "trailing.csv"),
        ["train", "--data", "{d}/trailing.csv", "--missing"],
        settings={"data": {"source": "trailing.csv"}, "model": {"missing": True}},
    ),
    Case(
        "a CSV separated by semicolons",
        "separated by ';', and aekit reads comma-separated values",
        lambda d: aekit.load_array(d / "semicolons.csv"),
        ["train", "--data", "{d}/semicolons.csv"],
    ),
    Case(
        "a first line of a name and a number",
        "line 1, column 2 holds 'abc', not a number (if line 1 is a header, say so: --header yes",
        lambda d: aekit.load_array(d / "mixed_first.csv"),
        ["train", "--data", "{d}/mixed_first.csv"],
    ),
    # ---- round three (issue 25): classes 2, 6, 7, 8 (run folders) ----
    # class 2: no command falls back to a default data set for a folder that did not
    # train on it (a folder of aekit.fit's, of a scikit-learn estimator, of no data)
    Case(
        "a run of an array from Python evaluated without data",
        "was trained on an in-memory array from Python",
        lambda d: aekit.evaluate(d / "run"),
        ["evaluate", "{run}"],
    ),
    Case(
        "a run of an array from Python encoded without data",
        "was trained on an in-memory array from Python",
        lambda d: aekit.encode(d / "run"),
        None,
    ),
    Case(
        "a run of an array from Python resumed without data",
        "was trained on an in-memory array from Python",
        lambda d: aekit.resume(d / "run", progress=False),
        ["train", "--resume", "{run}"],
    ),
    Case(
        "an estimator's folder evaluated without data",
        "was saved by a scikit-learn estimator",
        lambda d: aekit.evaluate(d / "est"),
        ["evaluate", "{d}/est"],
    ),
    Case(
        "an estimator's folder reconstructed without data",
        "was saved by a scikit-learn estimator",
        lambda d: aekit.reconstruct(d / "est"),
        None,
    ),
    Case(
        "an estimator's folder resumed",
        "was saved by a scikit-learn estimator (estimator.json): it is a finished model",
        lambda d: aekit.resume(d / "est", data=np.load(d / "x64.npy"), progress=False),
        ["train", "--resume", "{d}/est", "--data", "{d}/x64.npy"],
    ),
    Case(
        "an estimator's folder of an older aekit (no data section) resumed",
        "was saved by a scikit-learn estimator (estimator.json)",
        lambda d: aekit.resume(d / "est_nodata", progress=False),
        ["train", "--resume", "{d}/est_nodata"],
    ),
    Case(
        "an estimator's folder of an older aekit (no data section) evaluated",
        "was saved by a scikit-learn estimator",
        lambda d: aekit.evaluate(d / "est_nodata"),
        ["evaluate", "{d}/est_nodata"],
    ),
    Case(
        "a run folder that records no data evaluated",
        "records no training data (its config.json has no 'data' section)",
        lambda d: aekit.evaluate(d / "nodata"),
        ["evaluate", "{d}/nodata"],
    ),
    Case(
        "a run folder that records no data resumed",
        "was trained on an in-memory array from Python",
        lambda d: aekit.resume(d / "nodata", progress=False),
        ["train", "--resume", "{d}/nodata"],
    ),
    # class 6: every file of a run folder read by one checked, capped reader (a case that
    # blocks fails at the module's deadline instead of hanging)
    Case(
        "a figure that is a pipe",
        "figures/curves.png is not a regular file (a pipe (FIFO))",
        lambda d: write_report(d / "rep_fig_fifo"),
        ["report", "{d}/rep_fig_fifo"],
    ),
    Case(
        "a figure linked to /dev/zero",
        "figures/curves.png is not a regular file (a device)",
        lambda d: write_report(d / "rep_fig_zero"),
        ["report", "{d}/rep_fig_zero"],
    ),
    Case(
        "a figure that is a folder",
        "figures/curves.png is a folder, not a file",
        lambda d: write_report(d / "rep_fig_dir"),
        ["report", "{d}/rep_fig_dir"],
    ),
    Case(
        "a figure that is no PNG",
        "figures/curves.png is not a PNG image",
        lambda d: write_report(d / "rep_fig_text"),
        ["report", "{d}/rep_fig_text"],
    ),
    Case(
        "metrics.json a pipe (report)",
        "metrics.json is not a regular file (a pipe (FIFO))",
        lambda d: write_report(d / "rep_metrics_fifo"),
        ["report", "{d}/rep_metrics_fifo"],
    ),
    Case(
        "metrics.json of 17 MiB",
        "metrics.json is over 16,777,216 bytes",
        lambda d: write_report(d / "rep_metrics_big"),
        ["report", "{d}/rep_metrics_big"],
    ),
    Case(
        "metrics.csv a pipe",
        "metrics.csv is not a regular file (a pipe (FIFO))",
        lambda d: write_report(d / "rep_csv_fifo"),
        ["report", "{d}/rep_csv_fifo"],
    ),
    Case(
        "config.json a pipe",
        "config.json is not a regular file (a pipe (FIFO))",
        lambda d: _load(d, "cfg_fifo_run"),
        ["info", "{d}/cfg_fifo_run"],
    ),
    Case(
        "config.json linked to /dev/zero",
        "config.json is not a regular file (a device)",
        lambda d: aekit.evaluate(d / "cfg_zero_run", np.load(d / "x64.npy")),
        ["report", "{d}/cfg_zero_run"],
    ),
    Case(
        "weights that are a pipe",
        "model.safetensors is not a regular file (a pipe (FIFO))",
        lambda d: _load(d, "weights_fifo"),
        ["evaluate", "{d}/weights_fifo", "--data", "{d}/x64.npy"],
    ),
    Case(
        "weights linked to /dev/zero",
        "model.safetensors is not a regular file (a device)",
        lambda d: _load(d, "weights_zero"),
        ["encode", "{d}/weights_zero", "{d}/x64.npy", "-o", "{d}/c.npy"],
    ),
    Case(
        "weights that are a folder",
        "model.safetensors is a folder, not a file",
        lambda d: _load(d, "weights_dir"),
        ["info", "{d}/weights_dir"],
    ),
    Case(
        "a checkpoint that is a pipe",
        "checkpoint.safetensors is not a regular file (a pipe (FIFO))",
        lambda d: aekit.resume(d / "ckpt_fifo", data=np.load(d / "x64.npy"), progress=False),
        ["train", "--resume", "{d}/ckpt_fifo", "--data", "{d}/x64.npy"],
    ),
    Case(
        "estimator.json a pipe",
        "estimator.json is not a regular file (a pipe (FIFO))",
        lambda d: aekit.sklearn.load(d / "est_fifo"),
        ["score", "{d}/est_fifo", "{d}/x64.npy", "-o", "{d}/s.csv"],
    ),
    Case(
        "MNIST files that are pipes",
        "is not a regular file (a pipe (FIFO))",
        lambda d: aekit.load_mnist(d / "mnist_fifo", download=False),
        ["train", "--data", "mnist", "--data-dir", "{d}/mnist_fifo"],
    ),
    # class 7: what aekit writes is read, what it does not is refused in one line
    Case(
        "a metric that is a list",
        "'squared_error' must be a number or null",
        lambda d: write_report(d / "rep_metrics_list"),
        ["report", "{d}/rep_metrics_list"],
    ),
    Case(
        "metrics.json not an object",
        "must hold a JSON object, got list",
        lambda d: write_report(d / "rep_metrics_array"),
        ["report", "{d}/rep_metrics_array"],
    ),
    Case(
        "a metrics.csv with a word for a number",
        "line 2, column 'train_loss' holds 'abc', not a number",
        lambda d: write_report(d / "rep_csv_bad"),
        ["report", "{d}/rep_csv_bad"],
    ),
    Case(
        "a metrics.csv with a line longer than its header",
        "line 2 has 3 field(s) where the header names 2",
        lambda d: write_report(d / "rep_csv_ragged"),
        ["report", "{d}/rep_csv_ragged"],
    ),
    Case(
        "a metrics.csv without an epoch column",
        "'epoch' among them",
        lambda d: write_report(d / "rep_csv_noepoch"),
        ["report", "{d}/rep_csv_noepoch"],
    ),
    Case(
        "hidden null in config.json",
        "model.hidden: expected a list",
        lambda d: write_report(d / "hidden_null"),
        ["report", "{d}/hidden_null"],
    ),
    Case(
        "a result that is not an object",
        "'result' must be an object, got str",
        lambda d: aekit.evaluate(d / "result_str", np.load(d / "x64.npy")),
        ["info", "{d}/result_str"],
    ),
    Case(
        "a training section that is a list",
        "'training' must be an object, got list",
        lambda d: write_report(d / "training_list"),
        ["evaluate", "{d}/training_list", "--data", "{d}/x64.npy"],
    ),
    Case(
        "a training setting of the wrong type",
        "training.epochs: expected int",
        lambda d: aekit.resume(d / "epochs_text", data=np.load(d / "x64.npy"), progress=False),
        ["report", "{d}/epochs_text"],
    ),
    Case(
        "an IDX header cut short in a dimension",
        "is truncated: its header needs 12 bytes (2 dimensions), the file has 10",
        lambda d: aekit.read_idx(d / "short_header.idx"),
        ["train", "--data", "{d}/short_header.idx"],
    ),
    Case(
        "a gzipped IDX header cut short in a dimension",
        "is truncated: its header needs 12 bytes (2 dimensions), the file has 10",
        lambda d: aekit.read_idx(d / "short_header.idx.gz"),
        None,
    ),
    # class 8: messages state the true fact and the fix
    Case(
        "--out naming a plain file",
        "already exists and is a file: choose another output folder",
        lambda d: aekit.train(out=d / "not_a_folder", progress=False),
        ["train", "--out", "{d}/not_a_folder"],
        add_out=False,
    ),
    Case(
        "--out naming a folder that holds no run",
        "already exists and is not empty (it holds no run to continue)",
        lambda d: aekit.train(out=d / "existing", progress=False),
        ["train", "--out", "{d}/existing"],
        add_out=False,
    ),
    Case(
        "estimator.json whose 'fitted' is a list",
        "estimator.json: 'fitted' must be an object, got [1]",
        lambda d: aekit.sklearn.load(d / "est_fitted_list"),
        ["score", "{d}/est_fitted_list", "{d}/x64.npy", "-o", "{d}/s.csv"],
    ),
    Case(
        "estimator.json without n_features_in_",
        "estimator.json: 'fitted.n_features_in_' must be a whole number >= 1, missing",
        lambda d: aekit.sklearn.load(d / "est_no_n"),
        ["score", "{d}/est_no_n", "{d}/x64.npy", "-o", "{d}/s.csv"],
    ),
    Case(
        "estimator.json with a null threshold",
        "estimator.json: 'fitted.offset_' must be a finite number",
        lambda d: aekit.sklearn.load(d / "est_offset_null"),
        ["score", "{d}/est_offset_null", "{d}/x64.npy", "-o", "{d}/s.csv"],
    ),
    Case(
        "estimator.json with an unknown parameter",
        "estimator.json: 'params' has unknown parameter(s) 'colour'",
        lambda d: aekit.sklearn.load(d / "est_params_unknown"),
        ["score", "{d}/est_params_unknown", "{d}/x64.npy", "-o", "{d}/s.csv"],
    ),
    Case(
        "estimator.json naming no estimator",
        "estimator.json: 'estimator' must be one of AutoEncoderTransformer",
        lambda d: aekit.sklearn.load(d / "est_unnamed"),
        ["score", "{d}/est_unnamed", "{d}/x64.npy", "-o", "{d}/s.csv"],
    ),
]


def _frame(path: Path) -> Any:
    return pytest.importorskip("pandas").read_csv(path)


@pytest.mark.parametrize("case", [c for c in CASES if c.python], ids=lambda c: c.name)
def test_python_api(case, d, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(aekit.AekitError) as info:
        case.python(d)
    assert isinstance(info.value, ValueError)
    assert case.match in str(info.value), str(info.value)
    assert not (d / "pwned").exists()
    assert list(tmp_path.iterdir()) == []  # no run folder


def _mtimes(d: Path) -> dict[str, int]:
    """Every path under ``d`` (links not followed, as ``d.rglob("*")`` lists them) with its
    modification time; os.walk, a fifth of the time of pathlib's rglob over these folders."""
    found = {}
    for root, folders, files in os.walk(d):
        for name in folders + files:
            path = os.path.join(root, name)
            found[path] = os.lstat(path).st_mtime_ns
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=lambda c: c.name)
def test_command_line(case, d, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")
    argv = [a.format(d=d, run=d / "run") for a in case.cli]
    if argv[0] == "train" and "--resume" not in argv and case.add_out:
        argv += ["--out", str(tmp_path / "new-run")]
    if argv[0] == "train":
        argv.append("--no-progress")
    before = _mtimes(d)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aekit"), err
    assert (case.cli_match or case.match) in err and "Traceback" not in err
    assert _mtimes(d) == before  # nothing written or touched
    assert list(tmp_path.iterdir()) == []  # and no run folder
    assert not (d / "pwned").exists()


def _absolute(settings: dict[str, Any], d: Path) -> dict[str, Any]:
    """The settings with their data paths made absolute (as a Python caller gives them)."""
    out = json.loads(json.dumps(settings))
    data = out.get("data", {})
    for key in ("source", "data_dir", "test"):
        if key in data and data[key] not in ("digits", "mnist"):
            data[key] = str(d / data[key])
    return out


@pytest.mark.parametrize("case", [c for c in CASES if c.settings], ids=lambda c: c.name)
def test_settings_as_python_keywords_and_config_files(case, d, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")
    for attempt in ("keywords", "file"):
        with pytest.raises(aekit.AekitError) as info:
            if attempt == "keywords":
                config = aekit.RunConfig.from_dict(_absolute(case.settings, d))
            else:
                config = d / f"cfg-{case.slug}.json"
            aekit.train(config, out=tmp_path / "new-run", progress=False)
        assert case.match in str(info.value), f"{attempt}: {info.value}"
    argv = ["train", "--config", str(d / f"cfg-{case.slug}.json"), "--out", str(tmp_path / "r")]
    code = main([*argv, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert case.match in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_the_table_covers_every_entry_point():
    commands = {c.cli[0] for c in CASES if c.cli}
    assert commands >= {
        "train",
        "evaluate",
        "encode",
        "reconstruct",
        "info",
        "report",
        "score",
        "impute",
    }
    assert sum(1 for c in CASES if c.python) >= 40 and sum(1 for c in CASES if c.cli) >= 40


def test_a_run_refused_by_the_trainer_leaves_no_run_folder(tmp_path):
    """Refusals that only the trainer can make (early stopping without validation data,
    data a hand-built model cannot reproduce) come after the folder is made: what it wrote
    goes with them, and a folder the caller made stays, with its own files."""
    out = tmp_path / "r"
    refused = ["train", "--patience", "5", "--val-fraction", "0", "--no-progress"]
    assert main([*refused, "--out", str(out)]) == 2
    assert not out.exists()
    # with the parents it made and its TensorBoard log; a folder that was there stays
    assert main([*refused, "--out", str(tmp_path / "a" / "b" / "r"), "--tensorboard"]) == 2
    assert not (tmp_path / "a").exists()
    (tmp_path / "kept").mkdir()
    assert main([*refused, "--out", str(tmp_path / "kept")]) == 2
    assert list((tmp_path / "kept").iterdir()) == []
    model = aekit.AutoEncoder.build(input_dim=13)
    with pytest.raises(aekit.DataError, match="outside"):
        aekit.fit(model, np.full((20, 13), 5.0, np.float32), run_dir=tmp_path / "f")
    assert not (tmp_path / "f").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(aekit.DataError, match="outside"):
        aekit.fit(model, np.full((20, 13), 5.0, np.float32), run_dir=mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


# ---- round three (issue 25): the run folders of classes 2, 6, 7, 8 ----

DEADLINE = 300  # seconds: a case that blocks on a pipe or reads a device fails, not hangs


@pytest.fixture(autouse=True)
def _deadline():
    """Every test of this module runs under a deadline: a read that blocks (a pipe) or
    never ends (/dev/zero) raises TimeoutError (signals interrupt blocking reads and
    opens), so a regression fails instead of hanging the suite."""

    def expired(signum, frame):
        raise TimeoutError(f"past the {DEADLINE} s deadline: a blocked or endless read?")

    before = signal.signal(signal.SIGALRM, expired)
    signal.alarm(DEADLINE)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


def _copy(d: Path, source: str, name: str) -> Path:
    folder = d / name
    shutil.copytree(d / source, folder, symlinks=True)
    return folder


def _replace(path: Path, kind: str) -> None:
    """Put a pipe, a link to /dev/zero or a folder where a file was."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()


def _edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    obj = json.loads(path.read_text())
    change(obj)  # in place
    path.write_text(json.dumps(obj))


def _round_three_folders(d: Path, run: Path) -> None:
    """The damaged run folders, estimator folders and files of the round-three cases."""
    from PIL import Image

    from aekit.sklearn import AutoEncoderOutlierDetector

    x = np.random.default_rng(0).random((60, 64))
    np.save(d / "x64.npy", x[:20].astype(np.float32))
    AutoEncoderOutlierDetector(epochs=1, random_state=0).fit(x).save(d / "est")
    _edit_json(_copy(d, "est", "est_nodata") / "config.json", lambda c: c.pop("data"))
    _edit_json(_copy(d, "run", "nodata") / "config.json", lambda c: c.pop("data"))
    _replace(_copy(d, "est", "est_fifo") / "estimator.json", "fifo")
    for name, change in {
        "est_fitted_list": lambda e: e.update(fitted=[1]),
        "est_no_n": lambda e: e["fitted"].pop("n_features_in_"),
        "est_offset_null": lambda e: e["fitted"].update(offset_=None),
        "est_params_unknown": lambda e: e["params"].update(colour="red"),
        "est_unnamed": lambda e: e.pop("estimator"),
    }.items():
        _edit_json(_copy(d, "est", name) / "estimator.json", change)
    # A finished run's files beside the weights: metrics.json, metrics.csv, a figure.
    rep = _copy(d, "run", "rep")
    (rep / "metrics.json").write_text(json.dumps({"split": "validation", "squared_error": 1.0}))
    (rep / "figures").mkdir()
    Image.new("L", (4, 4)).save(rep / "figures" / "curves.png")
    _replace(_copy(d, "rep", "rep_fig_fifo") / "figures" / "curves.png", "fifo")
    _replace(_copy(d, "rep", "rep_fig_zero") / "figures" / "curves.png", "zero")
    _replace(_copy(d, "rep", "rep_fig_dir") / "figures" / "curves.png", "dir")
    (_copy(d, "rep", "rep_fig_text") / "figures" / "curves.png").write_text("not a png")
    _replace(_copy(d, "rep", "rep_metrics_fifo") / "metrics.json", "fifo")
    _replace(_copy(d, "rep", "rep_csv_fifo") / "metrics.csv", "fifo")
    with (_copy(d, "rep", "rep_metrics_big") / "metrics.json").open("r+b") as f:
        f.truncate(17 * 2**20)  # sparse: 17 MiB that take no disk
    (_copy(d, "rep", "rep_metrics_list") / "metrics.json").write_text('{"squared_error": [1]}')
    (_copy(d, "rep", "rep_metrics_array") / "metrics.json").write_text("[1, 2]")
    (_copy(d, "rep", "rep_csv_bad") / "metrics.csv").write_text("epoch,train_loss\n1,abc\n")
    (_copy(d, "rep", "rep_csv_ragged") / "metrics.csv").write_text("epoch,train_loss\n1,2,3\n")
    (_copy(d, "rep", "rep_csv_noepoch") / "metrics.csv").write_text("a,b\n1,2\n")
    _edit_json(
        _copy(d, "rep", "hidden_null") / "config.json", lambda c: c["model"].update(hidden=None)
    )
    _edit_json(_copy(d, "rep", "result_str") / "config.json", lambda c: c.update(result="done"))
    _edit_json(_copy(d, "rep", "training_list") / "config.json", lambda c: c.update(training=[1]))
    _edit_json(
        _copy(d, "rep", "epochs_text") / "config.json", lambda c: c["training"].update(epochs="x")
    )
    _replace(_copy(d, "run", "cfg_fifo_run") / "config.json", "fifo")
    _replace(_copy(d, "run", "cfg_zero_run") / "config.json", "zero")
    _replace(_copy(d, "run", "weights_fifo") / "model.safetensors", "fifo")
    _replace(_copy(d, "run", "weights_zero") / "model.safetensors", "zero")
    _replace(_copy(d, "run", "weights_dir") / "model.safetensors", "dir")
    _replace(_copy(d, "run", "ckpt_fifo") / "checkpoint.safetensors", "fifo")
    (d / "mnist_fifo").mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        os.mkfifo(d / "mnist_fifo" / f"{stem}.gz")
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        os.mkfifo(d / "mnist_fifo" / stem)
    short = b"\x00\x00\x08\x02" + (5).to_bytes(4, "big") + b"\x00\x05"  # 2nd size cut
    (d / "short_header.idx").write_bytes(short)
    (d / "short_header.idx.gz").write_bytes(gzip.compress(short))
