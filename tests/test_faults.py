"""Training survives faults: SIGKILL at random moments (also in the middle of a checkpoint
write) followed by --resume ends with weights bitwise identical to an uninterrupted run;
SIGTERM/SIGINT stop gracefully with a checkpoint; a malicious checkpoint is refused."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import aekit
from aekit.core.checkpoint import CHECKPOINT_FILE, load_checkpoint

# A denoising model (the corruption draws from the RNG, so its state must survive too),
# big enough that a checkpoint write takes a few milliseconds, checkpointed every 5 steps.
TRAIN = [
    "train",
    "--kind",
    "denoising",
    "--arch",
    "64-512-256-8",
    "--epochs",
    "6",
    "--batch-size",
    "32",
    "--checkpoint-every-steps",
    "5",
    "--seed",
    "3",
    "--no-progress",
]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def aekit_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aekit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def aekit_run(*args: str, preexec_fn=None) -> subprocess.CompletedProcess[str]:
    """Run ``aekit ARGS`` to completion in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "aekit", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        preexec_fn=preexec_fn,
    )


def checkpoint_step(run: Path) -> int:
    """Global step of the run's checkpoint (-1 if none), read from the header only,
    through one open of the file: the training replaces it meanwhile, and safetensors'
    safe_open opens the path twice (a header of one version, the size of the next)."""
    try:
        with open(run / CHECKPOINT_FILE, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
    except (FileNotFoundError, OSError):
        return -1
    return json.loads(header["__metadata__"]["aekit_state"])["global_step"]


def wait_for(condition, timeout: float = 60.0, interval: float = 0.0005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(interval)
    return False


def temp_checkpoints(run: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(run) if e.name.startswith(".checkpoint.safetensors.")]
    except FileNotFoundError:
        return []


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


@pytest.mark.slow
def test_killed_and_resumed_training_ends_bitwise_identical(tmp_path):
    reference = tmp_path / "reference"
    done = aekit_run(*TRAIN, "--out", str(reference))
    assert done.returncode == 0, done.stderr

    run = tmp_path / "run"
    rng = random.Random(1)
    proc = aekit_process(*TRAIN, "--out", str(run))
    kills = during_write = 0
    last_step = -1
    for attempt in range(6):
        running = proc
        # Let training make progress past the previous kill before killing again.
        progressed = wait_for(
            lambda s=last_step, p=running: checkpoint_step(run) > s or p.poll() is not None
        )
        assert progressed, "no progress"
        if proc.poll() is not None:
            break
        if attempt % 2 == 0:
            # Kill in the middle of a checkpoint write: as soon as its temporary file exists.
            writing = wait_for(
                lambda p=running: bool(temp_checkpoints(run)) or p.poll() is not None, interval=0
            )
            if not writing:
                pytest.fail("no checkpoint write seen")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            during_write += bool(temp_checkpoints(run))  # the write really was cut short
        else:
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        # What survived is a complete, loadable checkpoint.
        state = load_checkpoint(run / CHECKPOINT_FILE)
        last_step = state["global_step"]
        proc = aekit_process("train", "--resume", str(run), "--no-progress")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    print(f"\nSIGKILLed {kills} times, {during_write} of them in the middle of a checkpoint write")
    assert kills >= 4 and during_write >= 1, (kills, during_write)
    assert not temp_checkpoints(run)  # leftovers of cut writes are cleaned up on resume

    expected, got = final_weights(reference), final_weights(run)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    assert (run / "metrics.csv").read_text().count("\n") == 7  # header + 6 epochs, no duplicates


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_gracefully_with_a_checkpoint(tmp_path, signum):
    run = tmp_path / "run"
    proc = aekit_process(
        *TRAIN[: TRAIN.index("--epochs")],
        "--epochs",
        "200",
        "--batch-size",
        "32",
        "--checkpoint-every-steps",
        "5",  # a sign that training is under way
        "--out",
        str(run),
        "--no-progress",
    )
    assert wait_for(lambda: checkpoint_step(run) >= 5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert f"training stopped by {name}" in err and f"aekit train --resume {run}" in err
    assert "Traceback" not in err
    state = load_checkpoint(run / CHECKPOINT_FILE)
    assert state["epoch"] < 200
    # And it resumes (two epochs on: the rest of 200 would only take time).
    resumed = aekit.resume(run, epochs=state["epoch"] + 2, progress=False)
    assert resumed.fit.steps > state["global_step"]


def test_a_pickle_in_place_of_a_checkpoint_is_refused_unexecuted(tmp_path, X):
    run = tmp_path / "run"
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    aekit.fit(model, X, epochs=1, progress=False, run_dir=run)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for payload in (pickle.dumps(Exploit()), None):
        if payload is None:
            torch.save({"model": Exploit()}, run / CHECKPOINT_FILE)
        else:
            (run / CHECKPOINT_FILE).write_bytes(payload)
        with pytest.raises(aekit.CheckpointError):
            aekit.resume(run, data=X, progress=False)
        assert not marker.exists()


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, X):
    run, other = tmp_path / "run", tmp_path / "other"
    aekit.fit(
        aekit.AutoEncoder.build(input_dim=64, code_dim=8), X, epochs=1, progress=False, run_dir=run
    )
    aekit.fit(
        aekit.AutoEncoder.build(input_dim=64, code_dim=4),
        X,
        epochs=1,
        progress=False,
        run_dir=other,
    )
    (run / CHECKPOINT_FILE).write_bytes((other / CHECKPOINT_FILE).read_bytes())
    with pytest.raises(aekit.CheckpointError, match="does not match"):
        aekit.resume(run, data=X, progress=False)


def test_resume_with_other_data_is_refused(tmp_path, X):
    run = tmp_path / "run"
    aekit.fit(
        aekit.AutoEncoder.build(input_dim=64, code_dim=8), X, epochs=1, progress=False, run_dir=run
    )
    with pytest.raises(aekit.DataError, match="differs from the data this run was started with"):
        aekit.resume(run, data=X[::-1].copy(), epochs=2, progress=False)


def test_a_crash_mid_write_keeps_the_previous_file(tmp_path):
    """atomic_write: if writing fails half-way, the old file is intact and no temporary
    file is left behind."""
    from aekit.core.io import atomic_write

    target = tmp_path / "file"
    target.write_text("old")

    def half_write(tmp: str) -> None:
        Path(tmp).write_text("new but incompl")
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, half_write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def _limit_file_size(limit: int):
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_full_disk_fails_cleanly_and_keeps_the_last_checkpoint(tmp_path):
    """The kernel refuses writes past 1 MB (RLIMIT_FSIZE), as a full disk would: the
    checkpoint write fails, the error is one line, the previous checkpoint survives and
    training later resumes from it."""
    run = tmp_path / "run"
    first = aekit_run(*TRAIN, "--epochs", "1", "--out", str(run))
    assert first.returncode == 0, first.stderr
    before = (run / CHECKPOINT_FILE).read_bytes()
    resume = ("train", "--resume", str(run), "--epochs", "3", "--no-progress")
    full = aekit_run(*resume, preexec_fn=_limit_file_size(1 << 20))
    assert full.returncode == 1
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("aekit: error: cannot write") and "File too large" in last, full.stderr
    assert "Traceback" not in full.stderr
    assert (run / CHECKPOINT_FILE).read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    again = aekit_run(*resume)
    assert again.returncode == 0, again.stderr
    assert aekit.load(run) is not None


# ---- round two: locks, checksums, resumed loaders, file modes (issue 10) ------------------


@pytest.mark.slow
def test_a_run_folder_is_locked_while_a_process_writes_it(tmp_path):
    run = tmp_path / "run"
    first = aekit_process(
        "train",
        "--epochs",
        "300",
        "--checkpoint-every-steps",
        "5",
        "--out",
        str(run),
        "--no-progress",
    )
    try:
        assert wait_for(lambda: checkpoint_step(run) >= 5)
        for argv in (["train", "--out", str(run)], ["train", "--resume", str(run)]):
            second = aekit_run(*argv, "--no-progress")
            assert second.returncode == 2, second.stderr
            assert f"{run} is being written by another process (pid {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed process's lock is gone with it: the run resumes
    resumed = aekit_run("train", "--resume", str(run), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


def test_two_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    from aekit.runs.folder import RunFolder

    folders = {RunFolder.new("undercomplete", tmp_path).path for _ in range(5)}
    assert len(folders) == 5


def _checkpointed_run(tmp_path, X):
    run = tmp_path / "run"
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    aekit.fit(model, X, epochs=2, progress=False, run_dir=run, checkpoint_every=1)
    return run


@pytest.mark.parametrize("where", ["tensors", "metadata"])
def test_a_checkpoint_with_a_flipped_bit_is_refused(tmp_path, X, where):
    run = _checkpointed_run(tmp_path, X)
    raw = bytearray((run / CHECKPOINT_FILE).read_bytes())
    header = int.from_bytes(raw[:8], "little")
    if where == "tensors":
        raw[8 + header + 100] ^= 0x04  # a bit of a weight
    else:
        key = b'\\"global_step\\": '  # JSON inside the header's JSON: quotes escaped
        position = raw.index(key, 8) + len(key)  # the step counter's first digit
        raw[position] = ord("7") if raw[position] != ord("7") else ord("8")
    (run / CHECKPOINT_FILE).write_bytes(bytes(raw))
    with pytest.raises(aekit.CheckpointError, match="checksum does not match"):
        aekit.resume(run, data=X, progress=False)


def test_checkpoint_metadata_nested_900_deep_is_refused(tmp_path):
    from safetensors.torch import save_file

    nested = "{}"
    for _ in range(900):
        nested = '{"a": ' + nested + "}"
    path = tmp_path / CHECKPOINT_FILE
    save_file({"x": torch.zeros(1)}, str(path), metadata={"aekit_state": nested})
    with pytest.raises(aekit.CheckpointError):
        load_checkpoint(path)


def test_a_trainer_resumed_on_a_shuffled_dataloader_is_bit_identical(tmp_path, X):
    from torch.utils.data import DataLoader

    data = torch.as_tensor(X)

    class Crash(RuntimeError):
        pass

    class CrashAfter:
        """The same DataLoader, dying after n batches in all (a kill mid-epoch)."""

        def __init__(self, loader, n):
            self.loader, self.n, self.seen = loader, n, 0

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            for batch in self.loader:
                if self.seen == self.n:
                    raise Crash
                self.seen += 1
                yield batch

    def loader():
        return DataLoader(data, batch_size=64, shuffle=True)

    def model():
        return aekit.AutoEncoder.build("denoising", input_dim=64, code_dim=8, seed=3)

    settings = dict(epochs=3, seed=3, progress=False, checkpoint_every_steps=4)
    whole = model()
    aekit.fit(whole, loader(), run_dir=tmp_path / "whole", **settings)
    with pytest.raises(Crash):
        aekit.fit(model(), CrashAfter(loader(), 30), run_dir=tmp_path / "cut", **settings)
    assert checkpoint_step(tmp_path / "cut") == 28  # mid-epoch 2 (21 steps an epoch)
    resumed = model()
    aekit.fit(resumed, loader(), run_dir=tmp_path / "cut", **settings)
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_written_files_get_the_mode_of_the_umask(tmp_path, X):
    old = os.umask(0o022)
    try:
        run = _checkpointed_run(tmp_path, X)
    finally:
        os.umask(old)
    for name in ("config.json", "model.safetensors", CHECKPOINT_FILE, "metrics.csv"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name


def test_pretraining_resumed_reports_the_same_layer_errors(tmp_path, X):
    config = aekit.model_config("deep", input_dim=64, hidden=[32, 16], code_dim=8)
    pretrain = aekit.PretrainConfig(epochs=2)
    _, first = aekit.pretrain_greedy(config, X, pretrain, run_dir=tmp_path, progress=False)
    # a second call reuses every finished layer: the report must not change
    _, again = aekit.pretrain_greedy(config, X, pretrain, run_dir=tmp_path, progress=False)
    for a, b in zip(first, again, strict=True):
        assert (a.error_before, a.error_after) == pytest.approx((b.error_before, b.error_after))
    saved = json.loads((tmp_path / "pretrain" / "layers.json").read_text())
    assert [row["error_before"] for row in saved] == pytest.approx([r.error_before for r in first])


def test_resuming_with_two_rows_swapped_is_refused(tmp_path, X):
    run = _checkpointed_run(tmp_path, X)
    swapped = X.copy()
    swapped[[100, 1000]] = swapped[[1000, 100]]  # rows a sampled fingerprint could miss
    with pytest.raises(aekit.DataError, match="differs from the data this run was started with"):
        aekit.resume(run, data=swapped, epochs=3, progress=False)


def test_resuming_from_a_dataloader_over_other_data_is_refused(tmp_path, X):
    """A loader's data is checked by its size and an evenly spaced sample of it."""
    from torch.utils.data import DataLoader

    data = torch.as_tensor(X)
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8, seed=0)
    aekit.fit(model, DataLoader(data, batch_size=64), run_dir=tmp_path, epochs=1, progress=False)
    changed = data.clone()
    changed[len(X) - 1, 3] = 0.123  # the last sample: one of those checked
    for other in (changed, data[:-1]):
        with pytest.raises(aekit.DataError, match="differs from the data this run was started"):
            aekit.fit(
                model, DataLoader(other, batch_size=64), run_dir=tmp_path, epochs=2, progress=False
            )
    aekit.fit(model, DataLoader(data, batch_size=64), run_dir=tmp_path, epochs=2, progress=False)
