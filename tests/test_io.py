"""Run folders: a save/load round trip rebuilds the exact model; missing or corrupt
folders are clear errors; nothing is unpickled."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

import aekit
from aekit.models.families import CONFIG_FILE, WEIGHTS_FILE

MODELS = {
    "undercomplete": dict(hidden=[32]),
    "sparse": dict(hidden=[32]),
    "topk": dict(top_k=3),
    "contractive": dict(),
    "denoising": dict(corruption=aekit.GaussianNoise(0.2)),
    "tied": dict(hidden=[32], tied=True),
    "conv": dict(architecture="conv", image_shape=(1, 8, 8), conv_channels=[4, 8], tied=True),
    "bce": dict(loss="bce"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_round_trip_gives_equal_outputs(name, X, tmp_path):
    kind = name if name in aekit.KINDS else "undercomplete"
    model = aekit.AutoEncoder.build(kind, input_dim=64, code_dim=8, **MODELS[name])
    aekit.fit(model, X, epochs=2, progress=False)
    model.cpu()  # fit leaves it on the training device; compare on one device
    model.save(tmp_path / "run")
    loaded = aekit.load(tmp_path / "run")
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.encode(X), model.encode(X))
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))
    for (k, a), (k2, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)


def test_config_json_is_readable(X, tmp_path):
    model = aekit.AutoEncoder.build("sparse", input_dim=64, code_dim=8)
    model.save(tmp_path / "run")
    config = json.loads((tmp_path / "run" / CONFIG_FILE).read_text())
    assert config["aekit_version"] == aekit.__version__
    assert config["model"]["kind"] == "sparse"
    assert config["model"]["penalties"] == [{"name": "kl_sparsity", "rho": 0.05, "beta": 3.0}]


@pytest.fixture
def saved(tmp_path):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=8)
    return model.save(tmp_path / "run")


def _edit_config(run, edit):
    path = run / CONFIG_FILE
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda run: (run / WEIGHTS_FILE).unlink(), "missing"),
        (lambda run: (run / CONFIG_FILE).unlink(), "missing"),
        (
            lambda run: (run / WEIGHTS_FILE).write_bytes((run / WEIGHTS_FILE).read_bytes()[:100]),
            "not a valid safetensors",
        ),
        (
            lambda run: (run / WEIGHTS_FILE).write_bytes(np.random.default_rng(0).bytes(5000)),
            "not a valid safetensors",
        ),
        (lambda run: (run / WEIGHTS_FILE).write_bytes(b""), "not a valid safetensors"),
        (lambda run: (run / CONFIG_FILE).write_text("{not json"), "not valid JSON"),
        (lambda run: _edit_config(run, lambda c: c.update(colour="red")), "unknown setting"),
        (
            lambda run: _edit_config(run, lambda c: c["model"].update(colour="red")),
            "unknown setting",
        ),
        (lambda run: _edit_config(run, lambda c: c["model"].update(code_dim="8")), "expected int"),
        (
            lambda run: _edit_config(run, lambda c: c["model"].update(hidden=[20])),
            "does not match the architecture",
        ),
        (
            lambda run: _edit_config(run, lambda c: c["model"].update(tied=True)),
            "does not match the architecture",
        ),
        (
            lambda run: _edit_config(run, lambda c: c.update(aekit_version="99.0.0")),
            "newer than this aekit",
        ),
        (lambda run: _edit_config(run, lambda c: c.pop("model")), "no 'model' section"),
    ],
)
def test_damaged_run_folders_are_clear_errors(saved, damage, message):
    damage(saved)
    with pytest.raises(aekit.CheckpointError, match=message):
        aekit.load(saved)


def test_missing_run_folder(tmp_path):
    with pytest.raises(aekit.CheckpointError, match="run folder not found"):
        aekit.load(tmp_path / "nope")


def test_a_pickle_in_place_of_the_weights_is_rejected_without_running_it(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (saved / WEIGHTS_FILE).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(aekit.CheckpointError):
        aekit.load(saved)
    assert not marker.exists()
    torch.save({"weight": torch.zeros(3), "evil": Exploit()}, saved / WEIGHTS_FILE)
    with pytest.raises(aekit.CheckpointError):
        aekit.load(saved)
    assert not marker.exists()


def test_custom_models_cannot_be_saved(tmp_path):
    model = aekit.AutoEncoder(torch.nn.Linear(4, 2), torch.nn.Linear(2, 4))
    with pytest.raises(aekit.AekitError, match="config"):
        model.save(tmp_path / "x")


_REWRITER = """
import sys, torch
from aekit.core.checkpoint import save_checkpoint
step = 0
while True:  # rewrite the checkpoint with new content until killed, as training does
    save_checkpoint(sys.argv[1], {"w": torch.full((20000,), float(step)), "global_step": step})
    step += 1
"""


def test_a_checkpoint_read_while_training_rewrites_it_is_always_one_whole_version(tmp_path):
    """Reading a checkpoint that another process keeps replacing sees the old file or the
    new one, never the header of one with the tensors of the other."""
    import subprocess
    import sys
    import time

    from aekit.core.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {"w": torch.full((20000,), -1.0), "global_step": -1})
    writer = subprocess.Popen([sys.executable, "-c", _REWRITER, str(path)])
    try:
        steps = set()
        deadline = time.monotonic() + 0.5  # and on until 20 versions were read
        while time.monotonic() < deadline or (len(steps) < 20 and time.monotonic() < deadline + 60):
            state = load_checkpoint(path)  # raises if it saw a mixed file
            assert torch.all(state["w"] == state["global_step"])
            steps.add(state["global_step"])
            assert writer.poll() is None
        assert len(steps) >= 20  # the reads really overlapped many rewrites
    finally:
        writer.kill()
        writer.wait()


def _safetensors_bytes(header: dict | bytes, body: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x01\x02", "only 2 bytes"),
        ((10**9).to_bytes(8, "little") + b"{}", "header claims"),
        (_safetensors_bytes(b'{"a": ' + b"1" * 5000 + b"}"), "unreadable header"),
        (_safetensors_bytes(b"\xff\xfe"), "unreadable header"),
        (_safetensors_bytes({"__metadata__": {"a": 1}}), "not a map of strings"),
        (_safetensors_bytes({"__metadata__": ["a"]}), "not a map of strings"),
        (
            _safetensors_bytes(
                {"w": {"dtype": "F8_E8M0", "shape": [2], "data_offsets": [0, 2]}}, b"ab"
            ),
            "not a valid safetensors",
        ),
        (
            _safetensors_bytes(
                {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"ab"
            ),
            "not a valid safetensors",
        ),
    ],
)
def test_hostile_safetensors_files_are_one_clear_error(tmp_path, content, message):
    from aekit.core.checkpoint import load_checkpoint
    from aekit.core.io import read_tensors

    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    with pytest.raises(aekit.CheckpointError, match=message):
        read_tensors(path)
    with pytest.raises(aekit.CheckpointError):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "skeleton",
    [
        '{"a": {"__int_keys__": [1]}}',
        '{"a": {"__tensor__": [1]}}',
        '{"a": {"__tuple__": 5}}',
        "[1]",
    ],
)
def test_a_checkpoint_of_valid_json_but_the_wrong_structure_is_refused(tmp_path, skeleton):
    """Even with a matching checksum (it is not a signature), a skeleton of the wrong shape
    is a CheckpointError, not a TypeError from deep inside."""
    from aekit.core.checkpoint import checksum, load_checkpoint
    from aekit.core.io import write_tensors

    path = tmp_path / "checkpoint.safetensors"
    tensors = {"t": torch.zeros(2)}
    metadata = {"aekit_state": skeleton, "aekit_checksum": checksum(tensors, skeleton)}
    write_tensors(path, tensors, metadata=metadata)
    with pytest.raises(aekit.CheckpointError, match="checkpoint"):
        load_checkpoint(path)


def test_an_oversized_config_file_is_refused_after_one_capped_read(tmp_path):
    from aekit.core.io import MAX_JSON_BYTES

    big = tmp_path / "big.json"
    big.write_text('{"training": {"epochs": 1}, "pad": "' + "x" * MAX_JSON_BYTES + '"}')
    with pytest.raises(aekit.ConfigError, match="over 16,777,216 bytes"):
        aekit.RunConfig.from_file(big)
    fine = tmp_path / "fine.json"
    fine.write_text('{"training": {"epochs": 1}}')
    assert aekit.RunConfig.from_file(fine).training.epochs == 1
