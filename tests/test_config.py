"""Configs round-trip through JSON and reject bad keys, types and values with clear errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.data.config import DataConfig
from aekit.models.config import ModelConfig, model_config
from aekit.training.config import TrainConfig


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
    with pytest.raises(
        aekit.ConfigError, match=r"model: unknown setting\(s\) .hiden.; known: activation"
    ):
        aekit.AutoEncoder.build(input_dim=64, code_dim=8, hiden=[3])


def test_data_config_validation():
    assert DataConfig.from_dict({"source": "digits"}).source == "digits"
    with pytest.raises(aekit.ConfigError, match="limit"):
        DataConfig(limit=0)


def test_errors_are_value_errors():
    assert issubclass(aekit.ConfigError, ValueError)
    assert issubclass(aekit.DataError, aekit.AekitError)


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"muon_lr": 0.05}, "muon_lr=0.05 does nothing with optimizer=adam"),
        ({"optimizer": "adamw", "momentum": 0.5}, "momentum=0.5 does nothing with optimizer=adamw"),
        ({"schedule": "constant", "warmup_epochs": 2}, "warmup_epochs=2 does nothing"),
        ({"max_rollbacks": 5}, "max_rollbacks=5 does nothing with on_nan=stop"),
    ],
)
def test_a_setting_the_rest_of_the_config_leaves_unused_is_said(settings, said):
    data = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    model = aekit.AutoEncoder.build(input_dim=6, code_dim=2, seed=0)
    with pytest.warns(UserWarning, match=said):
        aekit.fit(model, data, epochs=3, progress=False, **settings)


def test_settings_used_or_left_at_their_defaults_say_nothing():
    quiet = [
        aekit.TrainConfig(),
        aekit.TrainConfig(optimizer="muon", muon_lr=0.05),
        aekit.TrainConfig(optimizer="sgd", momentum=0.5),
        aekit.TrainConfig(on_nan="rollback", max_rollbacks=5),
        aekit.TrainConfig(min_delta=0.01),  # it also decides the best epoch, patience or not
        # a warm-up chosen from the data goes with the schedule that has one
        aekit.TrainConfig(schedule="plateau").resolved(1000),
        aekit.TrainConfig(schedule="constant").resolved(1000),
    ]
    assert [c.ignored() for c in quiet] == [[]] * len(quiet)


@pytest.mark.parametrize(
    ("data", "given", "said"),
    [
        ({"data_dir": "mnist-here"}, None, ["data_dir=mnist-here does nothing with source=digits"]),
        ({"shuffle_buffer_mb": 8, "read_workers": 4}, None,
         ["shuffle_buffer_mb=8 does nothing: the data is in memory",
          "read_workers=4 does nothing: the data is in memory"]),
        ({"test": "held.npy", "stream": True, "read_workers": 4}, "array",
         ["test=held.npy does nothing with data given in Python",
          "stream=True does nothing with data given in Python",
          "read_workers=4 does nothing with data given in Python"]),
        # the source used is the one passed to train, not the config's
        ({"source": "mnist", "data_dir": "mnist-here"}, "path",
         ["data_dir=mnist-here does nothing with source="]),
        ({"shuffle_buffer_mb": 8}, "npy", []),  # streamed: used
    ],
)  # fmt: skip
def test_a_data_setting_the_data_leaves_unused_is_said(data, given, said, tmp_path):
    import warnings

    x = np.random.default_rng(0).random((300, 6), dtype=np.float32)
    if given == "npy":
        np.save(tmp_path / "x.npy", x)
        data = {**data, "source": str(tmp_path / "x.npy"), "stream": True}
    if given == "path":
        np.save(tmp_path / "x.npy", x)
    cfg = aekit.RunConfig(training=aekit.TrainConfig(epochs=1), data=data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        array = {"array": x, "path": tmp_path / "x.npy"}.get(given)
        aekit.train(cfg, data=array, out=tmp_path / "run", progress=False)
    messages = [str(w.message) for w in caught if "does nothing" in str(w.message)]
    assert len(messages) == len(said)
    for message, start in zip(messages, said, strict=True):
        assert message.startswith(start)
    if said:  # at the line that called train
        assert {w.filename for w in caught if "does nothing" in str(w.message)} == {__file__}


def test_the_cli_says_an_unused_flag_once(tmp_path, capsys):
    code = main(["train", "--muon-lr", "0.05", "--epochs", "1", "--no-report",
                 "--no-progress", "--out", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    said = "aekit: warning: muon_lr=0.05 does nothing with optimizer=adam (needs optimizer muon)"
    assert err.count(said) == 1


def test_said_once_for_the_users_settings_not_for_derived_or_stored_ones(tmp_path):
    """Pretraining's layer configs and a resumed run's config.json are not the user's."""
    import warnings

    cfg = aekit.RunConfig(
        model={"kind": "deep"},
        training=aekit.TrainConfig(
            epochs=2, optimizer="adam", muon_lr=0.05, patience=3, min_delta=0.01
        ),
        pretrain={"epochs": 1},
        output={"report": False},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aekit.train(cfg, out=tmp_path / "run", progress=False)
    said = [str(w.message) for w in caught if "does nothing" in str(w.message)]
    assert said == ["muon_lr=0.05 does nothing with optimizer=adam (needs optimizer muon)"]
    assert caught[[str(w.message) for w in caught].index(said[0])].filename == __file__

    # A run folder written before the warm-up followed the schedule: warmup_epochs 1 with
    # plateau, read back on resume without a word.
    stored = tmp_path / "old"
    aekit.train(aekit.RunConfig(training=aekit.TrainConfig(epochs=2, schedule="plateau"),
                                output={"report": False}),
                out=stored, progress=False)  # fmt: skip
    config = json.loads((stored / "config.json").read_text())
    config["training"]["warmup_epochs"] = 1
    config["training"]["epochs"] = 2
    (stored / "config.json").write_text(json.dumps(config))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aekit.resume(stored, epochs=3, progress=False)
    assert not [w for w in caught if "does nothing" in str(w.message)]


def test_a_kind_chooses_the_training_a_user_leaves_open_and_the_user_wins(tmp_path, capsys):
    from aekit.models.presets import training_defaults

    deep = training_defaults("deep")
    settled = TrainConfig().settled(deep)
    assert (settled.optimizer, settled.weight_decay, settled.ema) == ("muon", 0.1, 0.99)
    assert settled.resolved(60_000).epochs == 10  # Muon's shorter budget on MNIST's size
    assert TrainConfig().resolved(60_000).epochs == 30  # everyone else's
    assert TrainConfig().settled(training_defaults("sparse")) == TrainConfig().settled()
    mine = TrainConfig(ema=0.5).settled(deep)
    assert (mine.optimizer, mine.weight_decay, mine.ema) == ("muon", 0.1, 0.5)
    # Another optimizer than the kind's leaves the kind's whole recipe out: its weight decay
    # is decoupled under Muon but an L2 penalty under Adam (4.1 on the digits, worse than PCA).
    adam = TrainConfig(optimizer="adam").settled(deep)
    assert (adam.optimizer, adam.weight_decay, adam.ema, adam.sample_budget) == (
        "adam",
        0.0,
        0.0,
        TrainConfig().settled().sample_budget,
    )
    assert TrainConfig(optimizer="muon").settled(deep) == TrainConfig().settled(deep)

    # What ran is what config.json records (and a resume reads back).
    run = aekit.train(
        aekit.RunConfig(
            model={"kind": "deep"}, training=TrainConfig(epochs=2), output={"report": False}
        ),
        out=tmp_path / "deep",
        progress=False,
    )
    stored = json.loads((tmp_path / "deep" / "config.json").read_text())["training"]
    assert (stored["optimizer"], stored["weight_decay"], stored["ema"]) == ("muon", 0.1, 0.99)
    assert run.config.training.optimizer == "muon"
    code = main(["train", "--kind", "deep", "--optimizer", "adam", "--epochs", "2",
                 "--no-report", "--no-progress", "--out", str(tmp_path / "adam")])  # fmt: skip
    said = capsys.readouterr()
    assert code == 0, said.err
    assert "training: adam lr 0.003, schedule cosine, seed 0" in said.out


def test_a_registered_schedule_says_whether_it_warms_up():
    from aekit.training.optim import SCHEDULES, Schedule

    @SCHEDULES.register("flat_for_test")
    def flat(optimizer, cfg, steps_per_epoch):
        return Schedule(optimizer)

    try:
        cfg = aekit.TrainConfig(schedule="flat_for_test", warmup_epochs=2)
        assert cfg.ignored() == []  # a schedule that does not say may read warmup_epochs
        assert aekit.TrainConfig(schedule="flat_for_test").resolved(1000).warmup_epochs == 1
        flat.warms_up = False
        assert cfg.ignored() == [
            "warmup_epochs=2 does nothing with schedule=flat_for_test (needs schedule cosine)"
        ]
        assert aekit.TrainConfig(schedule="flat_for_test").resolved(1000).warmup_epochs == 0
    finally:
        SCHEDULES._entries.pop("flat_for_test")


def test_a_warm_up_longer_than_the_run_is_refused_only_where_it_would_run():
    with pytest.raises(aekit.ConfigError, match=r"warmup_epochs must be in \[0, epochs\)"):
        aekit.TrainConfig(epochs=2, warmup_epochs=2)
    quiet = aekit.TrainConfig(epochs=2, warmup_epochs=2, schedule="constant")  # unused: said
    assert quiet.ignored() == [
        "warmup_epochs=2 does nothing with schedule=constant (needs schedule cosine)"
    ]
    with pytest.raises(aekit.ConfigError, match="warmup_epochs"):
        aekit.TrainConfig(warmup_epochs=-1, schedule="constant")


def test_resuming_a_finished_run_says_so(tmp_path):
    run = tmp_path / "run"
    cfg = aekit.RunConfig(training=aekit.TrainConfig(epochs=2), output={"report": False})
    aekit.train(cfg, out=run, progress=False)
    from aekit.runs.api import resume_status

    assert resume_status(run).startswith(f"{run} has trained all its 2 epochs")
    assert resume_status(run, epochs=3) == f"resuming {run} at epoch 3, step 0 of 3 epochs"


def test_a_data_dir_given_to_resume_that_it_leaves_unused_is_said(tmp_path):
    run = tmp_path / "run"
    cfg = aekit.RunConfig(training=aekit.TrainConfig(epochs=1), output={"report": False})
    aekit.train(cfg, out=run, progress=False)
    with pytest.warns(UserWarning, match="data_dir=mnist-here does nothing with source=digits"):
        aekit.resume(run, data_dir="mnist-here", epochs=2, progress=False)


def test_subclassed_configs_take_their_own_arguments():
    @dataclasses.dataclass
    class Tagged(aekit.TrainConfig):
        tag: dataclasses.InitVar[str] = "x"

        def __post_init__(self, tag):
            super().__post_init__()

    class Keywords(aekit.TrainConfig):
        def __init__(self, extra=1, **settings):
            super().__init__(**settings)

    assert Tagged(tag="y", epochs=2).epochs == 2
    assert Keywords(extra=2, epochs=3).epochs == 3
    with pytest.raises(aekit.ConfigError, match=r"Tagged: unknown setting.*'epoch'"):
        Tagged(epoch=2)
