"""Configs round-trip through JSON and reject bad keys, types and values with clear errors."""

from __future__ import annotations

import json

import pytest

import aekit
from aekit.config import DataConfig, ModelConfig, TrainConfig, model_config


def test_model_config_round_trips_through_json_with_parts():
    cfg = model_config(
        "sparse",
        input_dim=64,
        hidden=[32],
        code_dim=8,
        tied=True,
        corruption=aekit.SaltAndPepper(nu=0.1),
        top_k=None,
        image_shape=(1, 8, 8),
    )
    text = json.dumps(cfg.to_dict())
    back = ModelConfig.from_dict(json.loads(text))
    assert back == cfg
    assert back.penalties == [aekit.KLSparsity(rho=0.05, beta=3.0)]
    assert back.image_shape == (1, 8, 8)


def test_train_config_round_trips():
    cfg = TrainConfig(epochs=3, schedule="cosine", patience=2)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize(
    "data, message",
    [
        ({"input_dim": 64, "code_dim": 8, "colour": "red"}, "unknown key"),
        ({"input_dim": "64", "code_dim": 8}, "model.input_dim: expected int"),
        ({"input_dim": 64}, "missing required key 'code_dim'"),
        ({"input_dim": 64, "code_dim": 8, "hidden": "32"}, "expected a list"),
        ({"input_dim": 64, "code_dim": 8, "tied": 1}, "expected bool"),
        ({"input_dim": 64, "code_dim": 8, "architecture": "rnn"}, "not one of"),
        ({"input_dim": 64, "code_dim": 8, "activation": "swishy"}, "unknown activation"),
        ({"input_dim": 64, "code_dim": 8, "loss": "bce", "output_activation": "linear"}, "bce"),
        ({"input_dim": 64, "code_dim": 8, "penalties": [{"name": "l2"}]}, "unknown penalty"),
        ({"input_dim": 64, "code_dim": 8, "penalties": [{"rho": 0.1}]}, "expected"),
        ({"input_dim": 64, "code_dim": 8, "architecture": "conv"}, "needs image_shape"),
        ({"input_dim": 64, "code_dim": 8, "image_shape": [1, 9, 9]}, "81 values"),
        ({"input_dim": 0, "code_dim": 8}, "input_dim must be >= 1"),
        ({"input_dim": 64, "code_dim": 8, "hidden": [32, -1]}, "hidden sizes"),
        ([1, 2], "expected an object"),
    ],
)
def test_bad_model_configs(data, message):
    with pytest.raises(aekit.ConfigError, match=message):
        ModelConfig.from_dict(data, "model")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": -1}, "epochs"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"patience": 0}, "patience"),
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
        ({"epochs": 2.5}, "expected int"),
        ({"grad_clip": -1.0}, "grad_clip"),
    ],
)
def test_bad_training_settings(settings, message):
    with pytest.raises(aekit.ConfigError, match=message):
        TrainConfig.from_dict(settings)


def test_fit_rejects_unknown_settings(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    with pytest.raises(aekit.ConfigError, match="epoch"):
        aekit.fit(model, X, epoch=3)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(aekit.ConfigError, match="unknown kind 'sparce'; known: contractive"):
        aekit.AutoEncoder.build("sparce", input_dim=64, code_dim=8)


def test_unknown_model_setting_is_a_clear_error():
    with pytest.raises(aekit.ConfigError, match="unknown model setting"):
        aekit.AutoEncoder.build(input_dim=64, code_dim=8, hiden=[3])


def test_data_config_validation():
    assert DataConfig.from_dict({"source": "digits"}).source == "digits"
    with pytest.raises(aekit.ConfigError, match="limit"):
        DataConfig(limit=0)


def test_errors_are_value_errors():
    assert issubclass(aekit.ConfigError, ValueError)
    assert issubclass(aekit.DataError, aekit.AekitError)
