"""Data sources: digits, IDX/MNIST (local, downloaded, offline), array files, validation."""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import re
import shutil
import threading

import numpy as np
import pytest
import torch

import aekit
from aekit.data.builtin import MNIST_FILES, mnist_search_dirs
from aekit.data.sources import load_source
from aekit.data.validation import to_tensor


def test_digits_are_scaled_to_unit_interval(digits):
    assert digits.train.dtype == torch.float32
    assert digits.train.shape == (1437, 64) and digits.test.shape == (360, 64)
    assert digits.train.min() == 0.0 and digits.train.max() == 1.0
    assert digits.image_shape == (1, 8, 8)


def write_idx(path, array: np.ndarray, type_code: int = 0x08, compress: bool = False) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", arr, compress=compress)
    np.testing.assert_array_equal(aekit.read_idx(tmp_path / "a.idx"), arr)
    floats = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    write_idx(tmp_path / "f.idx", floats, type_code=0x0D)
    np.testing.assert_array_equal(aekit.read_idx(tmp_path / "f.idx"), floats)


def test_read_idx_rejects_bad_magic_and_truncated_bodies(tmp_path):
    arr = np.zeros((10, 4, 4), np.uint8)
    write_idx(tmp_path / "ok.idx", arr)
    raw = (tmp_path / "ok.idx").read_bytes()
    (tmp_path / "magic.idx").write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(aekit.DataError, match="bad magic number 1234"):
        aekit.read_idx(tmp_path / "magic.idx")
    (tmp_path / "type.idx").write_bytes(raw[:2] + b"\x07" + raw[3:])
    with pytest.raises(aekit.DataError, match="bad magic"):
        aekit.read_idx(tmp_path / "type.idx")
    (tmp_path / "short.idx").write_bytes(raw[:-5])
    with pytest.raises(aekit.DataError, match="truncated"):
        aekit.read_idx(tmp_path / "short.idx")
    (tmp_path / "long.idx").write_bytes(raw + b"\0")
    with pytest.raises(aekit.DataError, match="longer than its header"):
        aekit.read_idx(tmp_path / "long.idx")
    (tmp_path / "gz.idx").write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(aekit.DataError, match="gzip"):
        aekit.read_idx(tmp_path / "gz.idx")
    (tmp_path / "empty.idx").write_bytes(b"")
    with pytest.raises(aekit.DataError, match="empty"):
        aekit.read_idx(tmp_path / "empty.idx")


def test_mnist_loads_from_the_shared_folder(mnist_dir):
    data = aekit.load_mnist(mnist_dir, download=False)
    assert data.train.shape == (60000, 784) and data.test.shape == (10000, 784)
    assert data.train.dtype == torch.float32
    assert float(data.train.min()) == 0.0 and float(data.train.max()) == 1.0
    assert data.image_shape == (1, 28, 28)
    assert data.train_labels.shape == (60000,) and set(np.unique(data.test_labels)) == set(
        range(10)
    )


def test_mnist_is_found_through_aekit_data(mnist_dir, tmp_path, monkeypatch):
    shutil.copytree(mnist_dir, tmp_path / "mnist")
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    assert tmp_path / "mnist" in mnist_search_dirs()
    assert aekit.load_mnist(download=False).test.shape == (10000, 784)


def test_mnist_offline_without_files_names_files_and_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AEKIT_DATA", raising=False)
    with pytest.raises(aekit.DataError) as info:
        # Port 9 (discard) on localhost refuses connections: a real failed download.
        aekit.load_mnist(tmp_path / "empty", mirrors=["http://127.0.0.1:9/"])
    message = str(info.value)
    for stem in MNIST_FILES.values():
        assert stem in message
    assert str(tmp_path / "empty") in message and "download failed" in message
    # nothing is left behind: not even the folder the download would have filled
    assert not (tmp_path / "empty").exists()


def test_mnist_downloads_from_a_mirror(mnist_dir, tmp_path):
    """The real download code against a local HTTP server serving the MNIST files."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mnist_dir))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}/"
        data = aekit.load_mnist(tmp_path / "dl", mirrors=["http://127.0.0.1:9/", mirror])
    finally:
        server.shutdown()
    assert data.test.shape == (10000, 784)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == sorted(
        s + ".gz" for s in MNIST_FILES.values()
    )


def test_array_files(tmp_path, X):
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", X=X, y=np.zeros(len(X)))
    np.savetxt(tmp_path / "x.csv", X[:20], delimiter=",")
    (tmp_path / "h.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(aekit.load_array(tmp_path / "x.npy"), X)
    np.testing.assert_array_equal(aekit.load_array(tmp_path / "x.npz"), X)
    np.testing.assert_allclose(aekit.load_array(tmp_path / "x.csv"), X[:20], rtol=1e-6)
    np.testing.assert_array_equal(aekit.load_array(tmp_path / "h.csv"), [[1, 2, 3], [4, 5, 6]])
    images = np.zeros((5, 6, 7), np.float32)
    np.save(tmp_path / "img.npy", images)
    data = load_source(str(tmp_path / "img.npy"))
    assert data.train.shape == (5, 42) and data.image_shape == (1, 6, 7)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.csv", "1,2,3\n4,five,6\n", "not a numeric CSV: line 2, column 2 holds 'five'"),
        ("named.csv", "a,b,c\n1,2,3\n4,5,x\n", "line 3, column 3 \\('c'\\) holds 'x', not a"),
        ("holes.csv", "a,b\n1,\n,x\n", "line 3, column 2 \\('b'\\) holds 'x'"),
        ("gaps.csv", "a,b\n1,2\n\n# note\n3,4\n5,x\n", "line 6, column 2 \\('b'\\) holds 'x'"),
        (
            "short.csv",
            "a,b\n1,2\n\n3\n",
            "line 4 has 1 column\\(s\\) where the lines before it have 2",
        ),
        ("ragged.csv", "1,2,3\n4,5\n", "not a numeric CSV"),
        ("x.parquet", "", "unsupported data file type"),
        ("obj.npy", None, "cannot read"),
        ("two.npz", None, "choose the array"),
    ],
)
def test_bad_array_files(tmp_path, name, content, message):
    path = tmp_path / name
    if name == "obj.npy":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif name == "two.npz":
        np.savez(path, a=np.zeros(3), b=np.zeros(3))
    else:
        path.write_text(content)
    with pytest.raises(aekit.DataError, match=message):
        aekit.load_array(path)


def test_missing_data_file(tmp_path):
    with pytest.raises(aekit.DataError, match="not found"):
        aekit.load_array(tmp_path / "none.npy")


def test_to_tensor_reports_counts_and_position():
    x = np.ones((5, 3), np.float32)
    x[3, 1] = np.nan
    x[4, 0] = np.inf
    with pytest.raises(
        aekit.DataError, match=r"1 NaN and 1 infinite value\(s\) \(first in sample 3\)"
    ):
        to_tensor(x)
    with pytest.raises(aekit.DataError, match="no features"):
        to_tensor(np.zeros((3, 0)))
    with pytest.raises(aekit.DataError, match="holds complex numbers") as info:
        to_tensor(np.array([[1 + 2j]]))
    assert "strings or Python objects" not in str(info.value)
    with pytest.raises(aekit.DataError, match="cannot be read"):
        to_tensor([[1, 2], [3]])


@pytest.mark.parametrize("layout", ["NHWC3", "NHWC1", "NCHW2"])
def test_image_layouts_train_and_draw(tmp_path, layout, capsys):
    from aekit.cli import main

    rng = np.random.default_rng(0)
    shape = {"NHWC3": (60, 6, 5, 3), "NHWC1": (60, 6, 5, 1), "NCHW2": (60, 2, 6, 5)}[layout]
    x = rng.random(shape, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    loaded = aekit.load_array(tmp_path / "x.npy")
    channels = shape[3] if layout.startswith("NHWC") else shape[1]
    assert loaded.shape == (60, channels, 6, 5)  # channels first, whichever way they came
    if layout.startswith("NHWC"):
        np.testing.assert_array_equal(loaded, x.transpose(0, 3, 1, 2))
    out = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "x.npy"), "--epochs", "2", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    assert aekit.load(out).config.image_shape == (channels, 6, 5)
    assert (out / "figures" / "reconstructions.png").stat().st_size > 1000 and (
        out / "metrics.json"
    ).exists()


@pytest.mark.parametrize("first", ["0,1", "0,1,2,3"])
def test_a_csv_first_line_of_column_numbers_is_stated_not_guessed(tmp_path, first):
    """pandas writes 0,1,... as the header of unnamed columns, and 0,1 is a sample too:
    aekit refuses to guess, and reads it as stated (never losing or inventing a row)."""
    path = tmp_path / "pandas.csv"
    rows = [
        [0.5, 0.25, 1.0, 0.0][: first.count(",") + 1],
        [0.1, 0.2, 0.3, 0.4][: first.count(",") + 1],
    ]
    path.write_text(first + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    with pytest.raises(aekit.DataError, match="--header yes or --header no"):
        aekit.load_array(path)
    np.testing.assert_array_equal(aekit.load_array(path, header="yes"), rows)
    as_rows = aekit.load_array(path, header="no")
    assert len(as_rows) == 3 and as_rows[0].tolist() == [float(t) for t in first.split(",")]


def test_a_training_split_is_indexed_through_not_copied():
    """The trainer trains on x[rows] without making that copy: the batches and the data's
    fingerprint (which a resume checks) are those of the copy."""
    from aekit.data.batches import InMemoryBatches, validation_split
    from aekit.data.fingerprints import fingerprint

    x = torch.rand(1000, 5)
    rows, _ = validation_split(len(x), 0.1, seed=0)
    assert fingerprint(x, rows) == fingerprint(x[rows])
    assert fingerprint(x, rows) != fingerprint(x)
    through = InMemoryBatches(x, 64, torch.Generator().manual_seed(3), rows=rows)
    copied = InMemoryBatches(x[rows], 64, torch.Generator().manual_seed(3))
    assert len(through) == len(copied) == 15
    for a, b in zip(through.epoch(start_step=2), copied.epoch(start_step=2), strict=True):
        assert torch.equal(a, b)


def test_text_in_a_data_frame_is_named_by_column():
    frame = pytest.importorskip("pandas").DataFrame({"a": [0.1, 0.2], "colour": ["red", "blue"]})
    with pytest.raises(
        aekit.DataError, match="strings or Python objects in column\\(s\\) 'colour'"
    ):
        to_tensor(frame, "training data")


def test_pandas_nullable_numbers_are_numbers_and_na_is_missing():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [0.1, 0.2], "n": pd.array([1, None], dtype="Int64")})
    t = to_tensor(frame, allow_missing=True)
    assert t.dtype == torch.float32 and t[0, 1] == 1 and torch.isnan(t[1, 1])


# ---- round three (issue 25): a CSV is read as it is, never guessed at


def test_a_first_row_of_missing_values_is_a_row_not_a_header(tmp_path, capsys):
    from aekit.cli import main

    path = tmp_path / "holes.csv"
    rows = np.random.default_rng(0).random((40, 3))
    path.write_text("NA,NA,\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    x = aekit.load_array(path)
    assert x.shape == (41, 3) and np.isnan(x[0]).all()
    np.testing.assert_array_equal(x[1:], rows)
    run = tmp_path / "r"
    argv = ["train", "--data", str(path), "--missing", "--epochs", "1", "--out", str(run)]
    assert main([*argv, "--no-progress", "--no-report"]) == 0
    assert main(["impute", str(run), str(path), "-o", str(tmp_path / "f.csv")]) == 0
    filled = aekit.load_array(tmp_path / "f.csv")
    assert filled.shape == (41, 3) and not np.isnan(filled).any()  # the first row filled too


def test_a_header_is_stated_alike_in_python_config_files_and_flags(tmp_path, capsys):
    from aekit.cli import main

    path = tmp_path / "t.csv"
    path.write_text("0,1\n" + "".join(f"{i / 50},{1 - i / 50}\n" for i in range(40)))
    assert aekit.load_array(path, header="no").shape == (41, 2)
    assert aekit.load_array(path, header="yes").shape == (40, 2)
    assert aekit.RunConfig.from_dict({"data": {"header": "yes"}}).data.header == "yes"
    for how, rows in (("yes", 40), ("no", 41)):
        out = tmp_path / how
        argv = ["train", "--data", str(path), "--header", how, "--epochs", "1", "--out", str(out)]
        assert main([*argv, "--no-progress", "--no-report"]) == 0
        assert f"({rows} samples" in capsys.readouterr().out
        assert json.loads((out / "config.json").read_text())["data"]["header"] == how
        assert ("columns" in json.loads((out / "config.json").read_text())) == (how == "yes")
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--header yes or --header no" in capsys.readouterr().err
    with pytest.raises(aekit.ConfigError, match="header must be one of"):
        aekit.load_array(path, header="maybe")


def test_pandas_index_column_is_left_out_and_said(tmp_path, capsys):
    from aekit.cli import main

    path = tmp_path / "indexed.csv"
    path.write_text(",a,b\nfirst,0.5,0.25\nsecond,0.1,0.2\nthird,0.3,0.4\n")
    table = aekit.data.sources.read_table(path)
    assert table.columns == ["a", "b"] and "pandas' index" in table.notes[0]
    np.testing.assert_array_equal(table.array, [[0.5, 0.25], [0.1, 0.2], [0.3, 0.4]])
    argv = ["train", "--data", str(path), "--epochs", "1", "--val-fraction", "0"]
    assert main([*argv, "--out", str(tmp_path / "r"), "--no-progress", "--no-report"]) == 0
    assert "holds the rows' labels (pandas' index): left out" in capsys.readouterr().out


def test_an_empty_last_column_named_by_the_header_is_missing_values_not_trailing_commas(
    tmp_path,
):
    # pandas writes a column of NaN as empty last fields: the header names that column.
    import pandas as pd

    frame = pd.DataFrame({"a": [1.5, 2.5], "b": [3.0, 4.0], "c": [np.nan, np.nan]})
    frame.to_csv(tmp_path / "last.csv", index=False)
    x = aekit.load_array(tmp_path / "last.csv")
    assert x.shape == (2, 3) and np.isnan(x[:, 2]).all() and x[1, 0] == 2.5
    # without a header naming it, every line ending in a comma is refused, with both fixes
    (tmp_path / "bare.csv").write_text("1.5,3.0,\n2.5,4.0,\n")
    with pytest.raises(aekit.DataError, match=r"every line ends with a comma.*header line"):
        aekit.load_array(tmp_path / "bare.csv")


@pytest.mark.parametrize(
    "text, where",
    [
        (",a,b,c\n0,1,2,3\n1,4,x,6\n", "line 3, column 3 ('b') holds 'x'"),  # pandas' index
        ("a,b,c\n1,2,3\n4,x,6\n", "line 3, column 2 ('b') holds 'x'"),
        ("1,2,3\n4,x,6\n", "line 2, column 2 holds 'x'"),
        (",a,b,c\n0,1,2,y\n", "line 2, column 4 ('c') holds 'y'"),
    ],
)
def test_a_bad_cell_is_named_by_its_column_in_the_file(tmp_path, text, where):
    path = tmp_path / "table.csv"
    path.write_text(text)
    with pytest.raises(aekit.DataError, match=re.escape(where)):
        aekit.load_array(path)
