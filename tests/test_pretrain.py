"""Greedy layer-wise pretraining: each layer learns, the unrolled model is exactly the
stack, and it works from Python and the command line, resumably."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.models.config import model_config
from aekit.runs.config import PretrainConfig
from aekit.runs.pretrain import layer_configs


@pytest.mark.parametrize(
    "settings, pretrain",
    [
        (dict(activation="relu"), PretrainConfig(epochs=5)),
        (
            dict(activation="sigmoid", loss="bce"),
            PretrainConfig(epochs=5, corruption=aekit.Masking(0.25)),
        ),
        (
            dict(activation="sigmoid", tied=True),
            PretrainConfig(epochs=5, penalties=[aekit.Contractive(lam=0.01)]),
        ),
        (
            dict(activation="sigmoid", code_activation="sigmoid"),
            PretrainConfig(epochs=5, penalties=[aekit.KLSparsity(rho=0.1, beta=1.0)]),
        ),
    ],
    ids=["plain-relu", "stacked-denoising-bce", "contractive-tied", "sparse"],
)
def test_each_layer_learns_and_the_unrolled_model_is_the_stack(settings, pretrain, X):
    config = model_config("deep", input_dim=64, hidden=[48, 24], code_dim=8, **settings)
    deep, layers = aekit.pretrain_greedy(config, X, pretrain, progress=False)
    assert [layer.sizes for layer in layers] == [(64, 48), (48, 24), (24, 8)]
    for layer in layers:
        assert layer.error_after < layer.error_before, (
            layer.index,
            layer.error_before,
            layer.error_after,
        )
        assert len(layer.fit.history) == 5
    # The unrolled model, before fine-tuning, is the composition of the stack.
    x = torch.as_tensor(X[:50])
    with torch.no_grad():
        h = x
        for layer in layers:
            h = layer.model.encoder(h)
        codes = h
        for layer in reversed(layers):
            h = layer.model.decode(h)
    np.testing.assert_allclose(deep.encode(X[:50]), codes.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(deep.reconstruct(X[:50]), h.numpy(), rtol=1e-5, atol=1e-6)
    assert deep.config == config


@pytest.mark.slow
def test_pretraining_helps_a_deep_sigmoid_network_at_equal_fine_tuning(X, digits):
    config = model_config(
        "deep", input_dim=64, hidden=[48, 32, 16], code_dim=4, activation="sigmoid"
    )
    torch.manual_seed(0)
    scratch = aekit.AutoEncoder.from_config(config)
    aekit.fit(scratch, X, epochs=10, progress=False)
    pretrained, _ = aekit.pretrain_greedy(config, X, PretrainConfig(epochs=20), progress=False)
    aekit.fit(pretrained, X, epochs=10, progress=False)
    test = digits.test.numpy()
    assert (
        aekit.evaluate(pretrained, test)["squared_error"]
        < aekit.evaluate(scratch, test)["squared_error"]
    )


def test_layer_configs_chain_the_activations():
    config = model_config(
        "deep",
        input_dim=64,
        hidden=[32],
        code_dim=8,
        activation="tanh",
        output_activation="sigmoid",
        loss="bce",
        top_k=2,
    )
    first, top = layer_configs(config, PretrainConfig())
    assert (first.output_activation, first.loss, first.code_activation, first.top_k) == (
        "sigmoid",
        "bce",
        "tanh",
        None,
    )
    assert (top.output_activation, top.loss, top.code_activation, top.top_k) == (
        "tanh",
        "mse",
        "linear",
        2,
    )


def test_conv_models_cannot_be_pretrained_greedily():
    config = model_config(input_dim=64, code_dim=8, architecture="conv", image_shape=(1, 8, 8))
    with pytest.raises(aekit.ConfigError, match="MLP"):
        layer_configs(config, PretrainConfig())


def test_pretraining_from_the_cli_and_resume_of_an_interrupted_pretraining(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "--arch",
        "64-32-16-8",
        "--pretrain",
        "greedy",
        "--pretrain-epochs",
        "3",
        "--pretrain-corruption",
        "masking:nu=0.2",
        "--epochs",
        "2",
        "--out",
        str(out),
        "--no-progress",
        "--no-report",  # a pretrained run's report: test_any_pretraining_flag_turns_pretraining_on
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pretrained layer 1 64-32" in printed and "pretrained layer 3 16-8" in printed
    layers = json.loads((out / "pretrain" / "layers.json").read_text())
    assert [row["sizes"] for row in layers] == [[64, 32], [32, 16], [16, 8]]
    assert all(row["error_after"] < row["error_before"] for row in layers)
    for k in (1, 2, 3):
        rows = (out / "pretrain" / f"layer-{k}" / "metrics.csv").read_text().splitlines()
        assert len(rows) == 4
    config = json.loads((out / "config.json").read_text())
    assert (
        config["pretrain"]["epochs"] == 3 and config["pretrain"]["corruption"]["name"] == "masking"
    )
    final = aekit.load(out)

    # Simulate a stop after layer 1: remove what came later; --resume redoes the rest.
    import shutil

    for name in ("checkpoint.safetensors", "model.safetensors"):
        (out / name).unlink()
    shutil.rmtree(out / "pretrain" / "layer-2")
    shutil.rmtree(out / "pretrain" / "layer-3")
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert "resuming the pretraining" in capsys.readouterr().err
    resumed = aekit.load(out)
    for a, b in zip(final.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_any_pretraining_flag_turns_pretraining_on(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["train", "--pretrain-epochs", "2", "--epochs", "1", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert "pretrained layer 1 64-32" in capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    assert saved["pretrain"] == {**aekit.PretrainConfig(epochs=2).to_dict()}
    assert (out / "pretrain" / "layers.json").exists()
    assert (out / "figures" / "pretraining.png").exists() and (out / "report.html").exists()


def test_a_warning_about_a_pretraining_layer_names_the_layer(X):
    config = model_config("deep", input_dim=64, hidden=[80], code_dim=8)
    with pytest.warns(UserWarning) as said:
        aekit.pretrain_greedy(config, X[:200], PretrainConfig(epochs=1), progress=False)
    messages = [str(w.message) for w in said]
    assert any(m.startswith("pretraining layer 1 (64-80): the code (80 units)") for m in messages)
    assert all("--pretrain-corruption" in m for m in messages if "the code" in m)
