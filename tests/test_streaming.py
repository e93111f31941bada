"""Data larger than memory: files read a block at a time (.npy, shard folders, IDX), the
shuffled block order, exact resume, and every command on streamed data."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aekit
from aekit.cli import main
from aekit.core.checkpoint import load_checkpoint
from aekit.core.errors import DataError
from aekit.data.batches import DiskBatches
from aekit.data.formats.idx import read_idx
from aekit.data.sources import streams
from aekit.data.streaming import DiskArray, open_disk_array

BLOCK = 100  # rows per block in the order tests: many blocks and buffers from little data


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, Path]:
    """20,000 rows of 40 features in [0, 1] with structure (a low-rank mix), as .npy."""
    rng = np.random.default_rng(0)
    x = 1 / (1 + np.exp(-(rng.normal(size=(20_000, 5)) @ rng.normal(size=(5, 40)))))
    x = x.astype(np.float32)
    path = tmp_path_factory.mktemp("table") / "x.npy"
    np.save(path, x)
    return x, path


# ---- reading files -------------------------------------------------------------------------


def test_a_npy_file_reads_like_the_array(table, tmp_path):
    x, path = table
    data = open_disk_array(path)
    assert data.shape == x.shape and len(data) == 20_000
    np.testing.assert_array_equal(data.read(123, 4567), x[123:4567])
    rows = np.array([19_999, 5, 6, 7, 300, 5])
    np.testing.assert_array_equal(data.take(rows), x[rows])
    stats = data.stats()
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, x.std(0), rtol=1e-4)
    assert data.range() == (float(x.min()), float(x.max()))


@pytest.mark.parametrize("dtype", ["<f8", ">f4", "|u1", "<i2"])
def test_any_numeric_dtype_and_byte_order_reads_as_float32(tmp_path, dtype):
    x = (np.arange(60).reshape(6, 10) % 7).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(open_disk_array(tmp_path / "x.npy").read(0, 6), x.astype("f4"))


def test_channels_last_images_are_read_channels_first(tmp_path):
    x = np.random.default_rng(1).random((5, 8, 6, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    data = open_disk_array(tmp_path / "x.npy")
    assert data.image_shape == (3, 8, 6)
    expected = x.transpose(0, 3, 1, 2).reshape(5, -1)
    np.testing.assert_array_equal(data.read(0, 5), expected)
    np.testing.assert_array_equal(
        data.read(0, 5), aekit.data.sources.load_array(tmp_path / "x.npy").reshape(5, -1)
    )


def test_a_folder_of_shards_is_one_array(table, tmp_path):
    x, _ = table
    for i, (a, b) in enumerate([(0, 7000), (7000, 7001), (7001, 20_000)]):
        np.save(tmp_path / f"part-{i}.npy", x[a:b])
    data = open_disk_array(tmp_path)
    assert data.shape == x.shape
    np.testing.assert_array_equal(data.read(6990, 7010), x[6990:7010])
    assert [b - a for a, b in data.blocks(5000)] == [5000, 2000, 1, 5000, 5000, 2999]


def test_an_uncompressed_idx_file_streams_and_a_gzipped_one_is_refused(mnist_dir, tmp_path):
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes()))
    data = open_disk_array(raw)
    assert data.shape == (10_000, 784) and data.image_shape == (1, 28, 28)
    expected = read_idx(raw)[:50].reshape(50, -1) / np.float32(255)
    np.testing.assert_allclose(data.read(0, 50), expected, rtol=1e-6)
    with pytest.raises(DataError, match=r"compressed.*gunzip"):
        open_disk_array(mnist_dir / "t10k-images-idx3-ubyte.gz")


def test_bad_files_are_refused_with_the_reason(tmp_path, table):
    x, path = table
    truncated = tmp_path / "cut.npy"
    truncated.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        open_disk_array(truncated)
    np.save(tmp_path / "f.npy", np.asfortranarray(x[:10]))
    with pytest.raises(DataError, match="Fortran"):
        open_disk_array(tmp_path / "f.npy")
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "a.npy", x[:10])
    np.save(shards / "b.npy", x[:10, :5])
    with pytest.raises(DataError, match="differ in shape"):
        open_disk_array(shards)
    np.save(tmp_path / "nan.npy", np.where(np.eye(10, 40) > 0, np.nan, x[:10]))
    with pytest.raises(DataError, match=r"10 NaN value.*first in sample 0.*--missing"):
        open_disk_array(tmp_path / "nan.npy").check("training data")
    os.mkfifo(tmp_path / "pipe.npy")  # would block a reader forever
    with pytest.raises(DataError, match="not a regular file"):
        open_disk_array(tmp_path / "pipe.npy")
    np.save(shards / "b.npy", x[:10])
    assert open_disk_array(shards).shape == (20, 40) and not streams(tmp_path / "pipe.npy", None)
    os.mkfifo(shards / "c.npy")  # a FIFO among shards is refused by name, never skipped
    with pytest.raises(DataError, match=r"c\.npy \(not a regular file"):
        open_disk_array(shards)
    (tmp_path / "not.npy").write_bytes(b"hello")
    with pytest.raises(
        DataError, match=r"not\.npy is not a \.npy file \(it starts with b'hello'\)"
    ):
        open_disk_array(tmp_path / "not.npy")


# ---- the order of an epoch -----------------------------------------------------------------


def batches(data: DiskArray, seed: int = 0, **kw) -> DiskBatches:
    gen = torch.Generator().manual_seed(seed)
    kw.setdefault("buffer_bytes", 1000 * 40 * 4)  # 10 blocks of 100 rows per buffer
    return DiskBatches(data, 64, gen, torch.device("cpu"), block_rows=BLOCK, **kw)


def test_an_epoch_gives_every_training_row_once_shuffled_across_blocks(table):
    x, path = table
    held = np.arange(0, 20_000, 7)
    b = batches(open_disk_array(path), exclude=held)
    epoch = list(b.epoch())
    assert len(epoch) == len(b) == -(-(20_000 - len(held)) // 64)
    rows = torch.cat(epoch).numpy()
    kept = np.delete(x, held, axis=0)
    # Each row once: compare as sorted byte strings.
    assert sorted(map(bytes, rows)) == sorted(map(bytes, kept))
    # Shuffled beyond a block: a batch mixes rows from several blocks of the file.
    index = {bytes(r): i for i, r in enumerate(x)}
    first = [index[bytes(r)] // BLOCK for r in epoch[0].numpy()]
    assert len(set(first)) >= 5
    # And the next epoch has another order.
    second = next(iter(b.epoch()))
    assert not torch.equal(second, epoch[0])


def test_an_epoch_resumed_at_any_step_continues_the_same_order(table):
    _, path = table
    data = open_disk_array(path)
    b = batches(data)
    start = b.generator.get_state()
    whole = list(b.epoch())
    for step in (0, 1, 37, 155, len(whole) - 1):
        b.generator.set_state(start)
        rest = list(b.epoch(start_step=step))
        assert len(rest) == len(whole) - step
        assert all(torch.equal(r, w) for r, w in zip(rest, whole[step:], strict=True))


def test_each_rank_reads_its_own_share_and_takes_the_same_steps(table):
    _, path = table
    data = open_disk_array(path)
    per_rank = [batches(data, seed=4, rank=r, world=3) for r in range(3)]
    plans = [b._plan(123) for b in per_rank]
    blocks = [{piece[0] for buf, _ in plan for piece in buf} for plan in plans]
    # Each rank reads blocks of its own (but for the block its share ends in).
    assert all(len(blocks[i] & blocks[j]) <= 1 for i in range(3) for j in range(i + 1, 3))
    epochs = [torch.cat(list(b.epoch())).numpy() for b in per_rank]
    assert len({len(e) for e in epochs}) == 1 and len(per_rank[0]) == 20_000 // 3 // 21
    seen = [set(map(bytes, e)) for e in epochs]
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2])


def test_auto_streaming_is_by_size(table, monkeypatch, tmp_path):
    _, path = table
    assert not streams(path, None)
    monkeypatch.setattr(aekit.data.sources, "STREAM_ABOVE", 1000)
    assert streams(path, None)
    assert not streams(path, False)
    (tmp_path / "s").mkdir()
    np.save(tmp_path / "s" / "a.npy", np.zeros((2, 2)))
    assert streams(tmp_path / "s", None)  # a folder of shards always streams


# ---- training and the commands -------------------------------------------------------------


def train(path: Path, out: Path, stream: bool, report: bool = True, **training) -> aekit.Run:
    cfg = {
        "model": {"kind": "undercomplete", "code_dim": 5},
        "data": {"source": str(path), "stream": stream},
        "training": {"epochs": 3, "seed": 1, **training},
        "output": {"report": report},
    }
    return aekit.train(cfg, out=out, progress=False)


def test_training_from_disk_learns_as_well_as_from_memory(table, tmp_path):
    _, path = table
    on_disk = train(path, tmp_path / "disk", True)
    in_memory = train(path, tmp_path / "memory", False, report=False)  # the disk run's report
    assert isinstance(on_disk.data.train, DiskArray)
    assert on_disk.split == "validation"
    assert on_disk.fit.steps == in_memory.fit.steps
    # Other orders, the same data, steps and model: errors within 10%.
    assert on_disk.metrics["squared_error"] == pytest.approx(
        in_memory.metrics["squared_error"], rel=0.1
    )
    assert (tmp_path / "disk" / "report.html").is_file()
    saved = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert saved["data"]["stream"] is True


def test_evaluate_encode_reconstruct_score_stream_to_the_same_results(table, tmp_path, capsys):
    x, path = table
    run = train(path, tmp_path / "run", True, report=False, epochs=1)
    kw = {"stream": True}
    np.testing.assert_allclose(
        aekit.encode(run.path, str(path), **kw), aekit.encode(run.path, x), rtol=1e-5, atol=1e-6
    )
    out = aekit.reconstruct(run.path, str(path), out=tmp_path / "r.npy", **kw)
    assert isinstance(out, np.memmap)
    np.testing.assert_allclose(out, aekit.reconstruct(run.path, x), rtol=1e-5, atol=1e-6)
    a = aekit.evaluate(run.path, str(path), **kw)
    b = aekit.evaluate(run.path, x)
    assert a["squared_error"] == pytest.approx(b["squared_error"], rel=1e-5)
    assert a["psnr"] == pytest.approx(b["psnr"], rel=1e-6)
    code = main(["score", str(run.path), str(path), "-o", str(tmp_path / "s.csv"), "--stream"])
    assert code == 0, capsys.readouterr().err
    scores = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(scores, aekit.score(run.path, x).sum(1), rtol=1e-4)
    code = main(["encode", str(run.path), str(path), "-o", str(tmp_path / "c.csv"), "--stream"])
    assert code == 2 and "write it to a .npy file" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()


@pytest.mark.slow
def test_a_streamed_run_killed_mid_epoch_resumes_bitwise(table, tmp_path):
    _, path = table
    args = [
        "train", "--data", str(path), "--stream", "--kind", "denoising", "--code-dim", "5",
        "--epochs", "4", "--batch-size", "32", "--checkpoint-every-steps", "50",
        "--shuffle-buffer-mb", "1", "--seed", "2", "--no-progress", "--no-report",
    ]  # fmt: skip
    cli = [sys.executable, "-m", "aekit"]
    whole = subprocess.run(
        [*cli, *args, "--out", str(tmp_path / "whole")], capture_output=True, text=True
    )
    assert whole.returncode == 0, whole.stderr
    proc = subprocess.Popen(
        [*cli, *args, "--out", str(tmp_path / "cut")], stderr=subprocess.PIPE, text=True
    )
    checkpoint = tmp_path / "cut" / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists() and load_checkpoint(checkpoint)["global_step"] >= 700:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = load_checkpoint(checkpoint)
    assert state["step_in_epoch"] > 0, "killed at an epoch's end: choose another step"
    assert state["epoch"] < 4
    resumed = subprocess.run(
        [*cli, "train", "--resume", str(tmp_path / "cut"), "--data", str(path), "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    a, b = (
        load_file(tmp_path / "whole" / "model.safetensors"),
        load_file(tmp_path / "cut" / "model.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    # Resuming with other data is refused.
    other = tmp_path / "other.npy"
    changed = np.load(path)
    changed[1234, 5] += 0.01
    np.save(other, changed)
    proc = subprocess.Popen(
        [*cli, *args, "--out", str(tmp_path / "again")], stderr=subprocess.PIPE, text=True
    )
    while not (tmp_path / "again" / "checkpoint.safetensors").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    refused = subprocess.run(
        [*cli, "train", "--resume", str(tmp_path / "again"), "--data", str(other)],
        capture_output=True,
        text=True,
    )
    assert (
        refused.returncode == 2
        and "differs from the data this run was started with" in refused.stderr
    )


@pytest.mark.slow
def test_streaming_under_torchrun_each_rank_streams_its_shards(table, tmp_path):
    x, _ = table
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(4):
        np.save(shards / f"part-{i}.npy", x[i * 5000 : (i + 1) * 5000])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "aekit", "train", "--data", str(shards), "--kind", "undercomplete",
        "--code-dim", "5", "--epochs", "2", "--no-report", "--no-progress", "--out", "run",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["world_size"] == 2
    # 18,000 training rows (2,000 validation) shared by 2 ranks, 128 (2 x 64) per step.
    assert config["result"]["steps"] == 2 * (18_000 // 2 // 64)
    two = json.loads((tmp_path / "run" / "metrics.json").read_text())["squared_error"]
    one = subprocess.run(
        [sys.executable, *cmd[cmd.index("aekit") - 1 : -1], "one"], cwd=tmp_path, env=env
    )
    assert one.returncode == 0
    # Each rank's share is shuffled on its own: not one process's order, a model as good.
    single = json.loads((tmp_path / "one" / "metrics.json").read_text())["squared_error"]
    assert two == pytest.approx(single, rel=0.15)


def test_shards_and_idx_files_also_load_whole_and_results_keep_the_data_shape(tmp_path):
    images = np.random.default_rng(3).random((300, 6, 5), dtype=np.float32)
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "a.npy", images[:100])
    np.save(shards / "b.npy", images[100:])
    np.testing.assert_array_equal(aekit.data.sources.load_array(shards), images)
    idx = tmp_path / "images-idx3-ubyte"
    pixels = (images * 255).astype(np.uint8)
    idx.write_bytes(b"\0\0\x08\x03" + np.array(pixels.shape, ">u4").tobytes() + pixels.tobytes())
    np.testing.assert_allclose(
        aekit.data.sources.load_array(idx), pixels / np.float32(255), rtol=1e-6
    )
    cfg = {"model": {"code_dim": 4}, "training": {"epochs": 1}, "output": {"report": False}}
    run = aekit.train(cfg, data=str(shards), out=tmp_path / "run", progress=False)
    assert run.config.data.stream is True  # a shard folder streams by default: recorded
    streamed = aekit.reconstruct(run.path, str(shards), stream=True)
    loaded = aekit.reconstruct(run.path, str(shards), stream=False)
    assert streamed.shape == loaded.shape == (300, 6, 5)
    np.testing.assert_allclose(streamed, loaded, rtol=1e-5, atol=1e-6)
    with pytest.raises(aekit.ConfigError, match="loaded in memory"):
        aekit.train({"data": {"source": "digits", "stream": True}}, out=tmp_path / "d")
    np.savez(tmp_path / "x.npz", X=images)
    with pytest.raises(DataError, match=r"np\.save"):
        open_disk_array(tmp_path / "x.npz")


def test_a_wide_code_kind_on_streamed_data_gets_both_pca_baselines(table, tmp_path):
    x, path = table
    np.save(tmp_path / "test.npy", x[:3000])
    cfg = {
        "model": {"kind": "sparse"},
        "data": {"source": str(path), "test": str(tmp_path / "test.npy"), "stream": True},
        "training": {"epochs": 1},
        "output": {"report": False},
    }
    run = aekit.train(cfg, out=tmp_path / "run", progress=False)
    assert isinstance(run.data.test, DiskArray)
    plain = [k for k in run.metrics if k.startswith("pca") and k != "pca_squared_error"]
    assert plain and run.metrics[plain[0]] > run.metrics["pca_squared_error"] > 0
