"""The run layer: one schema behind Python, config files and flags; the Python functions
behind the commands; model families; the seeding rule; the package's import graph."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import aekit
from aekit.cli import main
from aekit.cli.parser import build_parser as _parser
from aekit.core.config import _Config

SRC = Path(aekit.__file__).parent


def _config_json(run: Path) -> dict:
    saved = json.loads((run / "config.json").read_text())
    saved.pop("result")
    return saved


def test_cli_config_file_and_python_write_the_same_config_json(tmp_path, capsys):
    settings = {
        "model": {"kind": "sparse", "hidden": [32], "code_dim": 16, "penalties": ["l1:lam=0.01"]},
        "training": {"epochs": 2, "lr": 0.01, "schedule": "cosine", "warmup_epochs": 1},
        "data": {"source": "digits", "limit": 500},
        "pretrain": {"epochs": 1},
        "output": {"report": False},
    }
    flags = [
        "--kind", "sparse", "--hidden", "32", "--code-dim", "16", "--penalty", "l1:lam=0.01",
        "--epochs", "2", "--lr", "0.01", "--schedule", "cosine", "--warmup-epochs", "1",
        "--data", "digits", "--limit", "500", "--pretrain-epochs", "1", "--no-report",
    ]  # fmt: skip
    assert main(["train", *flags, "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    (tmp_path / "cfg.json").write_text(json.dumps(settings))
    argv = ["train", "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "file")]
    assert main([*argv, "--no-progress"]) == 0
    run = aekit.train(aekit.RunConfig.from_dict(settings), out=tmp_path / "py", progress=False)
    cli, file, py = (_config_json(tmp_path / n) for n in ("cli", "file", "py"))
    assert cli == file == py
    assert cli["family"] == "autoencoder" and [p["name"] for p in cli["model"]["penalties"]] == [
        "l1"
    ]
    # and the three runs are the same run
    weights = [aekit.load(tmp_path / n).state_dict() for n in ("cli", "file")]
    for k, v in run.model.state_dict().items():
        assert torch.equal(v, weights[0][k]) and torch.equal(v, weights[1][k])


def test_every_setting_has_a_flag_with_its_default_in_the_help():
    help_text = " ".join(
        _parser()._subparsers._group_actions[0].choices["train"].format_help().split()
    )
    sections = [aekit.ModelConfig, aekit.TrainConfig, aekit.DataConfig, aekit.OutputConfig]
    flags = {a.dest for a in _parser()._subparsers._group_actions[0].choices["train"]._actions}
    for cls in sections:
        section = {
            aekit.ModelConfig: "model",
            aekit.TrainConfig: "training",
            aekit.DataConfig: "data",
            aekit.OutputConfig: "output",
        }[cls]
        for f in dataclasses.fields(cls):
            assert f"{section}.{f.name}" in flags, f.name
    for f in dataclasses.fields(aekit.PretrainConfig):
        assert f"pretrain.{f.name}" in flags
    assert (
        "--epochs EPOCHS passes over the training data (default: chosen from the data" in help_text
    )
    assert "--lr LR learning rate (default: the kind's, 3e-3;" in help_text
    assert "(default: 8 for inputs of at most 100 features, else 30," in help_text


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: aekit.TrainConfig(optimizer="lbfgs"), "unknown optimizer 'lbfgs'"),
        (lambda: aekit.TrainConfig(schedule="cosin"), "unknown schedule 'cosin'"),
        (lambda: aekit.TrainConfig(epochs=2.5), "TrainConfig.epochs: expected int"),
        (lambda: aekit.TrainConfig(weight_decay=float("inf")), "must be a finite number"),
        (lambda: aekit.TrainConfig(seed=-1), "seed must be in"),
        (lambda: aekit.ModelConfig(input_dim=4, code_dim=2, architecture="cnn"), "not one of"),
        (lambda: aekit.ModelConfig(input_dim=4, code_dim=2, activation="swish"), "activation"),
        (lambda: aekit.RunConfig(model={"kind": "sparce"}), "unknown kind 'sparce'"),
        (lambda: aekit.RunConfig(model={"widht": 3}), "unknown setting(s) 'widht'"),
        (lambda: aekit.TrainConfig(epoch=3), "TrainConfig: unknown setting(s) 'epoch'; known: b"),
        (lambda: aekit.DataConfig().replace(sorce="x"), "unknown setting(s) 'sorce'; known: d"),
        (
            lambda: aekit.fit(aekit.AutoEncoder.build(input_dim=4), np.ones((8, 4)), epoch=3),
            "TrainConfig: unknown setting(s) 'epoch'; known: b",
        ),
        (lambda: aekit.PretrainConfig(method="layerwise"), "not one of"),
    ],
)
def test_configs_made_in_python_validate_themselves(make, message):
    with pytest.raises(aekit.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_one_rule_for_presets_and_explicit_parts(tmp_path, capsys):
    """A field given replaces the preset's value, whole: in Python and on the command line."""
    built = aekit.AutoEncoder.build(
        "sparse", input_dim=64, image_shape=(1, 8, 8), penalty=aekit.L1Sparsity(0.01)
    )
    assert [p.name for p in built.config.penalties] == ["l1"]
    out = tmp_path / "r"
    argv = ["train", "--kind", "sparse", "--penalty", "l1:lam=0.01", "--epochs", "1"]
    assert main([*argv, "--out", str(out), "--no-progress", "--no-report"]) == 0
    assert aekit.load(out).config == built.config
    # and "none" removes a preset's part
    out2 = tmp_path / "r2"
    argv = ["train", "--kind", "denoising", "--corruption", "none", "--epochs", "1"]
    assert main([*argv, "--out", str(out2), "--no-progress", "--no-report"]) == 0
    assert aekit.load(out2).config.corruption is None


def test_training_stops_and_interruptions_are_not_value_errors():
    for bad_input in (aekit.DataError, aekit.ConfigError, aekit.CheckpointError):
        assert issubclass(bad_input, ValueError) and issubclass(bad_input, aekit.AekitError)
    for stop in (aekit.TrainingError, aekit.TrainingInterrupted):
        assert not issubclass(stop, ValueError) and issubclass(stop, aekit.AekitError)


def test_your_own_encoder_and_decoder_train_evaluate_and_encode(X, tmp_path):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
    decoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 64))
    model = aekit.AutoEncoder(encoder, decoder)
    before = aekit.evaluate(model, X)["squared_error"]
    result = aekit.fit(model, X, epochs=5, progress=False)
    assert len(result.history) == 5
    assert aekit.evaluate(model, X)["squared_error"] < before
    assert model.encode(X).shape == (len(X), 4) and model.reconstruct(X).shape == X.shape
    with pytest.raises(aekit.DataError, match="10 features but the model expects 64"):
        model.encode(X[:, :10])
    with pytest.raises(aekit.AekitError, match="register a model family"):
        model.save(tmp_path / "mine")
    with pytest.raises(aekit.AekitError, match="register a model family"):
        aekit.fit(model, X, epochs=1, progress=False, run_dir=tmp_path / "run")
    assert not (tmp_path / "mine").exists() and not (tmp_path / "run").exists()


@dataclasses.dataclass
class _MeanConfig(_Config):
    input_dim: int


class _MeanModel(nn.Module):
    """A toy family: reconstructs every input as the learned mean."""

    config_class = _MeanConfig

    def __init__(self, config: _MeanConfig) -> None:
        super().__init__()
        self.config = config
        self.mean = nn.Parameter(torch.zeros(config.input_dim))

    @classmethod
    def from_config(cls, config: _MeanConfig) -> _MeanModel:
        return cls(config)

    def check_input(self, x, name="data", *, targets=False):
        return torch.as_tensor(np.asarray(x), dtype=torch.float32)

    def forward(self, x):
        error = (x - self.mean).pow(2).sum(1).mean()
        return error, {"reconstruction": error}


def test_a_new_model_family_is_one_registered_class(X, tmp_path):
    if "test-mean" not in aekit.FAMILIES:
        aekit.register_family("test-mean")(_MeanModel)
    model = _MeanModel(_MeanConfig(input_dim=64))
    aekit.fit(model, X, epochs=20, lr=0.05, progress=False, run_dir=tmp_path / "run")
    torch.testing.assert_close(model.mean.detach(), torch.as_tensor(X).mean(0), atol=0.05, rtol=0)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["family"] == "test-mean"
    loaded = aekit.load(tmp_path / "run")
    assert isinstance(loaded, _MeanModel) and torch.equal(loaded.mean, model.mean.detach())


def test_run_folders_of_the_previous_layout_still_load(X, tmp_path):
    """config.json written before families were named (no "family" key) loads as an
    autoencoder."""
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    model.save(tmp_path / "old")
    saved = json.loads((tmp_path / "old" / "config.json").read_text())
    del saved["family"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(saved))
    np.testing.assert_array_equal(aekit.load(tmp_path / "old").encode(X), model.encode(X))


def test_train_returns_the_run_and_resume_continues_it(tmp_path):
    cfg = aekit.RunConfig(
        model={"pca_fallback": False},  # 2 epochs lose to PCA; 4 must beat 2
        training=aekit.TrainConfig(epochs=2, checkpoint_every=1),
    )
    run = aekit.train(cfg, out=tmp_path / "run", progress=False)
    assert run.path == tmp_path / "run" and run.split == "test" and run.epochs == 2
    assert run.metrics["pca_squared_error"] == pytest.approx(1.577, abs=0.01)
    files = {p.name for p in run.path.iterdir()}
    assert {"config.json", "model.safetensors", "checkpoint.safetensors", "metrics.csv"} <= files
    assert {"metrics.json", "report.html", "figures"} <= files
    assert (run.path / "figures" / "curves.png").exists()
    more = aekit.resume(run.path, epochs=4, progress=False)
    assert more.epochs == 4 and more.metrics["squared_error"] < run.metrics["squared_error"]
    extra = ("probe_accuracy",)  # the PCA baseline is given again, the same
    assert aekit.evaluate(run.path) == pytest.approx(
        {k: v for k, v in more.metrics.items() if k not in extra}
    )


def test_same_seed_same_weights_and_the_callers_generator_is_untouched(X):
    def once():
        model = aekit.AutoEncoder.build("denoising", input_dim=64, code_dim=8, seed=1)
        aekit.fit(model, X, epochs=2, seed=1, progress=False)
        return model.state_dict()

    torch.manual_seed(123)
    a = once()
    after = torch.rand(3)
    torch.manual_seed(123)
    expected = torch.rand(3)
    b = once()
    assert torch.equal(after, expected)  # fit and build left the caller's generator alone
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("shape", [(20, 64), (20, 8, 8), (20, 1, 8, 8)])
def test_reconstruct_returns_the_shape_it_was_given(X, tmp_path, shape):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    x = X[:20].reshape(shape)
    assert model.reconstruct(x).shape == shape
    model.save(tmp_path / "run")
    np.save(tmp_path / "x.npy", x)
    argv = ["reconstruct", str(tmp_path / "run"), str(tmp_path / "x.npy"), "-o"]
    assert main([*argv, str(tmp_path / "r.npy")]) == 0
    assert np.load(tmp_path / "r.npy").shape == shape


def test_the_layers_import_only_downwards():
    """The import contracts in pyproject.toml hold (`lint-imports`, run here so that pytest
    alone catches a violation): each layer of docs/ARCHITECTURE.md imports only the ones
    below it, training and evaluation not each other, and no layer the package top. The
    import graph counts every import, relative ones and those inside functions included."""
    pytest.importorskip("importlinter", reason="import-linter comes with the test extra")
    lint = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    path = os.pathsep.join(filter(None, [str(SRC.parent), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", lint, "--no-cache"],
        cwd=Path(__file__).resolve().parents[1],  # its pyproject.toml
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.slow
def test_two_same_seed_commands_in_one_process_are_bit_identical(tmp_path, capsys):
    argv = ["train", "--kind", "denoising", "--epochs", "3", "--seed", "5", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    torch.rand(7)  # whatever the process did in between
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    a, b = aekit.load(tmp_path / "a").state_dict(), aekit.load(tmp_path / "b").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and Python with the same settings gives the same weights
    config = {"model": {"kind": "denoising"}, "training": {"epochs": 3, "seed": 5}}
    run = aekit.train(config, out=tmp_path / "py", progress=False)
    assert all(torch.equal(v, a[k]) for k, v in run.model.state_dict().items())


def test_the_kept_weights_are_the_best_validation_epochs(tmp_path, capsys):
    argv = [
        "train",
        "--epochs",
        "6",
        "--lr",
        "0.05",
        "--no-pca-fallback",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main([*argv, "--no-progress"]) == 0
    history = [
        {k: float(v) for k, v in row.items()}
        for row in __import__("csv").DictReader((tmp_path / "r" / "metrics.csv").open())
    ]
    best = min(history, key=lambda row: row["val_loss"])
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["weights_from_epoch"] == int(best["epoch"])
    out = capsys.readouterr().out
    assert f"kept the weights of epoch {int(best['epoch'])}" in out


def test_picture_grids_wrap(X, tmp_path):
    from PIL import Image

    from aekit.evaluation.plots import reconstruction_grid

    path = tmp_path / "g.png"
    reconstruction_grid(X[:45], X[:45], path, (1, 8, 8), n=45)
    width, height = Image.open(path).size
    assert width <= 1300 and height > width / 3  # 10 pairs a row, five pairs of rows


def test_resuming_with_fewer_epochs_than_trained_is_refused(tmp_path):
    cfg = {"training": {"epochs": 3}, "output": {"report": False}}
    run = aekit.train(cfg, out=tmp_path / "r", progress=False)
    with pytest.raises(aekit.ConfigError, match="has trained 3 epochs already"):
        aekit.resume(run.path, epochs=2, progress=False)


@pytest.mark.parametrize("k", [1, 8, 30])
def test_the_pca_baseline_is_scikit_learns_pca(k):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    from aekit.models.pca import pca_baseline

    x = load_digits().data.astype(np.float32) / 16
    train, test = x[:1000], x[1000:]
    pca = PCA(k, svd_solver="full").fit(train.astype(np.float64))
    recon = pca.inverse_transform(pca.transform(test.astype(np.float64)))
    expected = ((recon - test) ** 2).sum() / len(test)
    # Blocks of data (as read from disk) give the same figure as one tensor.
    ours = pca_baseline(torch.from_numpy(train), [test[:300], test[300:]], k)
    assert ours == pytest.approx(expected, rel=1e-9)
    assert pca_baseline(train[:5], test, 8) is None  # more components than samples
    train[3, 3] = np.nan
    assert pca_baseline(train, test, k) is None


def test_the_pca_baseline_of_wide_data_is_scikit_learns_too():
    """Fewer samples than features: fitted from the samples' Gram matrix, not d x d."""
    from sklearn.decomposition import PCA

    from aekit.models.pca import pca_baseline

    rng = np.random.default_rng(0)
    train = rng.random((40, 300)).astype(np.float32)
    test = rng.random((25, 300)).astype(np.float32)
    for k in (1, 8, 30):
        pca = PCA(k, svd_solver="full").fit(train.astype(np.float64))
        recon = pca.inverse_transform(pca.transform(test.astype(np.float64)))
        expected = ((recon - test) ** 2).sum() / len(test)
        assert pca_baseline(torch.from_numpy(train), test, k) == pytest.approx(expected, rel=1e-9)


def test_extending_a_cosine_run_stretches_the_cosine_to_the_new_length(tmp_path):
    cfg = {
        "training": {"epochs": 4, "schedule": "cosine", "warmup_epochs": 0, "lr": 1e-2},
        "output": {"report": False},
    }
    run = aekit.train(cfg, out=tmp_path / "r", progress=False)
    assert run.fit.history[-1]["lr"] == 0.0
    run = aekit.resume(run.path, epochs=8, progress=False)
    lrs = [row["lr"] for row in run.fit.history[4:]]
    # The rate at the end of epoch 5 is an 8-epoch cosine's there, not a restart from 0.
    assert lrs[0] == pytest.approx(0.5e-2 * (1 + math.cos(math.pi * 5 / 8)), rel=1e-6)
    assert all(a > b for a, b in itertools.pairwise(lrs)) and lrs[-1] == 0.0


def test_an_image_shape_that_rearranges_the_images_is_said(tmp_path):
    cfg = {"model": {"architecture": "conv", "image_shape": [1, 4, 16]}, "training": {"epochs": 1}}
    with pytest.warns(UserWarning, match=r"image_shape \(1, 4, 16\) differs from the data's"):
        aekit.train(cfg, out=tmp_path / "r", progress=False)


def test_one_run_does_each_piece_of_work_once(monkeypatch, tmp_path):
    """A run chooses its training settings and times a step once, draws its validation
    split once (the trainer and the evaluation share it), takes its folder's lock once,
    and a resume reads the checkpoint once."""
    import aekit.models.autoencoder
    import aekit.runs.budget
    import aekit.runs.folder
    import aekit.runs.result
    import aekit.training.feeding
    import aekit.training.trainer

    calls: dict[str, int] = {}

    def counted(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counted(aekit.runs.budget, "step_seconds")
    counted(aekit.training.trainer, "step_seconds")
    counted(aekit.runs.result, "validation_split")
    counted(aekit.training.feeding, "validation_split")
    counted(aekit.runs.folder.RunFolder, "_locked")
    counted(aekit.runs.folder.RunFolder, "load_checkpoint")
    checked = []
    real_check = aekit.models.autoencoder.AutoEncoder._check_input

    def check(self, x, name, targets):
        checked.append(len(x) if name == "training data" else None)
        return real_check(self, x, name, targets)

    monkeypatch.setattr(aekit.models.autoencoder.AutoEncoder, "_check_input", check)
    run = aekit.train({"training": {"sample_budget": 3000}}, out=tmp_path / "run", progress=True)
    assert run.fit.estimated_seconds is not None  # said with the bar, from the one timing
    assert calls == {"step_seconds": 1, "validation_split": 1, "_locked": 1}
    # The 1,437 training digits validated once (the rest: a batch timed, the test split).
    assert checked.count(len(run.data.train)) == 1
    calls.clear()
    aekit.resume(tmp_path / "run", epochs=run.epochs + 1, progress=False)
    assert calls == {"validation_split": 1, "_locked": 1, "load_checkpoint": 1}


def test_a_folders_lock_is_taken_once(tmp_path):
    folder = aekit.RunFolder(tmp_path / "run")
    held = pytest.raises(RuntimeError, match="already held by this process")
    with folder.locked(), held, folder.locked():
        pass
    with folder.locked():  # released: taken again
        pass
