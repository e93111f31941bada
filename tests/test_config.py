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
