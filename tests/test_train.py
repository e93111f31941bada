"""The training loop: reproducible, validates, stops early, streams, schedules, resumes,
and stops clearly (or rolls back) on a non-finite loss."""

from __future__ import annotations

import copy
import csv
import dataclasses
import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import aekit


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_training_lowers_the_loss_and_records_history(X):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8)
    result = aekit.fit(model, X, epochs=10, batch_size=64, progress=False)
    h = result.history
    assert [row["epoch"] for row in h] == list(range(1, 11))
    assert h[-1]["train_loss"] < h[0]["train_loss"] * 0.7
    assert h[-1]["val_loss"] < h[0]["val_loss"]
    assert {"train_reconstruction", "val_reconstruction", "lr", "seconds"} <= set(h[-1])
    assert result.steps == 10 * int(np.ceil(len(X) * 0.9 / 64))


def test_same_seed_same_weights_different_seed_different_weights(X):
    def run(seed):
        torch.manual_seed(seed)
        model = aekit.AutoEncoder.build("denoising", input_dim=64, code_dim=8)
        aekit.fit(model, X, epochs=2, seed=seed, progress=False)
        return weights(model)

    assert same_weights(run(1), run(1))
    assert not same_weights(run(1), run(2))


def test_explicit_validation_data_and_no_validation(X, digits):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    result = aekit.fit(model, X, val=digits.test.numpy(), epochs=1, batch_size=64, progress=False)
    assert result.steps == int(np.ceil(len(X) / 64))  # all training data used
    assert "val_loss" in result.final
    result = aekit.fit(model, X, epochs=1, val_fraction=0, progress=False)
    assert "val_loss" not in result.final


def test_early_stopping_stops_and_restores_the_best_weights(X):
    # A learning rate this high makes the validation loss stall quickly.
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8)
    result = aekit.fit(model, X, epochs=200, lr=0.05, patience=3, progress=False)
    assert result.stopped_early
    assert len(result.history) < 200
    assert len(result.history) - result.best_epoch == 3
    best_val = min(row["val_loss"] for row in result.history)
    assert result.history[result.best_epoch - 1]["val_loss"] == best_val
    # the model holds the best epoch's weights: its validation loss is the best one
    from aekit.data.batches import validation_split
    from aekit.training.history import evaluate_loss

    _, val = validation_split(len(X), aekit.TrainConfig().resolved(len(X)).val_fraction, 0)
    assert evaluate_loss(model, torch.as_tensor(X)[val])["loss"] == pytest.approx(
        best_val, rel=1e-5
    )


def test_patience_without_validation_is_an_error(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    with pytest.raises(aekit.ConfigError, match="needs validation data"):
        aekit.fit(model, X, patience=2, val_fraction=0, progress=False)


def test_dataloader_streaming_path(X):
    loader = DataLoader(TensorDataset(torch.as_tensor(X)), batch_size=100, shuffle=True)
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    before = aekit.evaluate(model, X)["squared_error"]
    result = aekit.fit(model, loader, epochs=5, progress=False)
    assert result.steps == 5 * len(loader)
    assert aekit.evaluate(model, X)["squared_error"] < before


def test_cosine_schedule_decays_to_zero_and_warms_up(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    result = aekit.fit(
        model, X, epochs=4, lr=0.01, schedule="cosine", warmup_epochs=1, progress=False
    )
    lrs = [row["lr"] for row in result.history]
    assert lrs[0] == pytest.approx(0.01, rel=1e-6)  # end of warm-up
    assert lrs[-1] == pytest.approx(0.0, abs=1e-9)
    assert lrs[1] > lrs[2] > lrs[3]


def test_plateau_schedule_lowers_the_rate(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    result = aekit.fit(model, X, epochs=40, lr=0.2, schedule="plateau", patience=6, progress=False)
    assert min(row["lr"] for row in result.history) < 0.2


def test_data_outside_unit_interval_with_sigmoid_output_is_an_error(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    with pytest.raises(aekit.DataError, match=r"outside \[0, 1\].*sigmoid"):
        aekit.fit(model, X * 16, epochs=1, progress=False)
    linear = aekit.AutoEncoder.build(input_dim=64, code_dim=8, output_activation="linear")
    aekit.fit(linear, X * 16, epochs=1, progress=False)  # fine without a sigmoid


@pytest.mark.parametrize(
    "data, message",
    [
        (np.zeros((0, 64), np.float32), "empty"),
        (np.full((10, 64), np.nan, np.float32), "NaN"),
        (np.zeros((10, 5), np.float32), "5 features"),
        ("not data", "2-D|numeric"),
    ],
)
def test_bad_training_data(data, message):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    with pytest.raises(aekit.DataError, match=message):
        aekit.fit(model, data, epochs=1, progress=False)


CALLS = {"n": 0}


if "nan_at_call" not in aekit.PENALTIES:

    @aekit.PENALTIES.register("nan_at_call")
    @dataclasses.dataclass(frozen=True)
    class NanAtCall(aekit.Penalty):
        """A fault injector: NaN from call ``first`` to call ``last`` (counted globally)."""

        first: int = 10
        last: int = 10**9

        def __call__(self, code, inputs, encoder):
            CALLS["n"] += 1
            bad = self.first <= CALLS["n"] <= self.last
            return code.sum() * 0.0 + (float("nan") if bad else 0.0)


def test_non_finite_loss_stops_with_step_and_term(X, tmp_path):
    CALLS["n"] = 0
    model = aekit.AutoEncoder.build(
        input_dim=64, code_dim=8, penalties=[aekit.Penalty.parse("nan_at_call:first=50")]
    )
    with pytest.raises(aekit.TrainingError) as info:
        aekit.fit(
            model,
            X,
            epochs=10,
            progress=False,
            run_dir=tmp_path / "run",
            val_fraction=0,
            batch_size=64,
            checkpoint_every=1,
        )
    message = str(info.value)
    # 23 steps per epoch: call 50 is epoch 3, step 4; the message names the term
    assert "loss became nan at epoch 3, step 4 (global step 50)" in message
    assert "nan_at_call = nan" in message and "last good checkpoint is kept" in message
    state = aekit.RunFolder(tmp_path / "run").load_checkpoint()
    assert state["epoch"] == 2 and state["global_step"] == 46
    assert all(torch.isfinite(p).all() for p in state["model"].values())


def test_non_finite_loss_rollback_retries_with_a_lower_learning_rate(X):
    CALLS["n"] = 0
    model = aekit.AutoEncoder.build(
        input_dim=64, code_dim=8, penalties=[aekit.Penalty.parse("nan_at_call:first=30,last=30")]
    )
    result = aekit.fit(
        model,
        X,
        epochs=3,
        lr=0.01,
        batch_size=64,
        on_nan="rollback",
        val_fraction=0,
        schedule="constant",
        progress=False,
    )
    assert [row["lr"] for row in result.history] == [0.01, 0.005, 0.005]
    assert result.steps == 3 * 23 and np.isfinite(result.final["train_loss"])
    # a loss that stays non-finite gives up after max_rollbacks
    CALLS["n"] = 0
    model = aekit.AutoEncoder.build(
        input_dim=64, code_dim=8, penalties=[aekit.Penalty.parse("nan_at_call:first=5")]
    )
    with pytest.raises(aekit.TrainingError, match="loss became nan"):
        aekit.fit(model, X, epochs=3, on_nan="rollback", max_rollbacks=2, progress=False)


def test_a_real_divergence_is_caught_and_rolled_back(X):
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8, hidden=[], output_activation="linear")
    with pytest.raises(
        aekit.TrainingError, match=r"loss became inf at epoch 1.*reconstruction = inf"
    ):
        aekit.fit(model, X * 10, lr=1e-3, optimizer="sgd", epochs=5, batch_size=64, progress=False)
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8, hidden=[], output_activation="linear")
    result = aekit.fit(
        model,
        X * 10,
        lr=1e-3,
        schedule="constant",
        optimizer="sgd",
        epochs=3,
        on_nan="rollback",
        rollback_lr_factor=0.01,
        progress=False,
    )
    assert result.final["lr"] == pytest.approx(1e-5)
    assert np.isfinite(result.final["train_loss"])


def test_run_folder_metrics_csv_and_in_process_resume(X, tmp_path):
    run = tmp_path / "run"
    torch.manual_seed(0)
    full = aekit.AutoEncoder.build("denoising", input_dim=64, code_dim=8)
    # A constant rate: extending a cosine schedule changes its length, so only a constant
    # one continues exactly as an uninterrupted run.
    aekit.fit(full, X, epochs=4, schedule="constant", progress=False)

    torch.manual_seed(0)
    model = aekit.AutoEncoder.build("denoising", input_dim=64, code_dim=8)
    aekit.fit(model, X, epochs=2, schedule="constant", progress=False, run_dir=run)
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(float(r["epoch"])) for r in rows] == [1, 2]
    resumed = aekit.resume(run, data=X, epochs=4, progress=False)
    assert same_weights(weights(resumed.model), weights(full))
    assert len(list(csv.DictReader((run / "metrics.csv").open()))) == 4
    loaded = aekit.load(run, device=resumed.model.device)
    np.testing.assert_array_equal(loaded.encode(X), full.encode(X))


def test_flat_parameter_buffer_trains_exactly_like_separate_tensors(X, monkeypatch):
    """Small models train through one flat parameter buffer; the result must be the one of
    separate parameter tensors."""
    import aekit.training.optim as train_module

    def run():
        torch.manual_seed(0)
        model = aekit.AutoEncoder.build("sparse", input_dim=64, hidden=[32], code_dim=8, tied=True)
        aekit.fit(model, X, epochs=3, progress=False)
        return weights(model)

    flat = run()
    monkeypatch.setattr(train_module, "FLAT_PARAMETERS_UP_TO", 0)
    separate = run()
    for k in flat:
        torch.testing.assert_close(flat[k], separate[k], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_compile_option_trains_like_eager(X):
    """compile=True (torch.compile on the CPU) gives the eager run's losses."""
    histories = []
    for compile_ in (False, True):
        torch.manual_seed(0)
        model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8)
        histories.append(aekit.fit(model, X, epochs=2, progress=False, compile=compile_).history)
    for eager, compiled in zip(*histories, strict=True):
        assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-4)


def test_bf16_autocast_trains_to_about_the_float32_error(X):
    """precision="bf16" runs the forward pass in bfloat16 (here on the CPU): the model
    learns as in float32, to within bfloat16's rounding, and its weights stay float32."""
    errors = {}
    for precision in ("fp32", "bf16"):
        model = aekit.AutoEncoder.build(
            input_dim=64, hidden=[32], code_dim=8, seed=0, pca_fallback=False
        )
        aekit.fit(model, X, epochs=5, progress=False, precision=precision, seed=0)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        errors[precision] = aekit.evaluate(model, X)["squared_error"]
    assert errors["bf16"] == pytest.approx(errors["fp32"], rel=0.1)
    assert errors["bf16"] != errors["fp32"]  # it did run in another precision


def test_muon_steps_the_hidden_matrices_and_adam_the_rest(X):
    """optimizer="muon": Muon on the hidden layers' weight matrices (not the input and
    output layers, not biases), Adam on the rest; the scheduled rate reaches both."""
    from aekit.training.optim import MuonWithAdam, build_optimizer

    model = aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, seed=0)
    optimizer = build_optimizer(model, aekit.TrainConfig(optimizer="muon", muon_lr=0.05))
    assert isinstance(optimizer, MuonWithAdam)
    matrices = [p for p in model.parameters() if p.ndim == 2]
    muon = {id(p) for p in optimizer.muon.param_groups[0]["params"]}
    assert muon == {id(p) for p in matrices[1:-1]}
    assert len(muon) == len(matrices) - 2 > 0
    adam = {id(p) for p in optimizer.adam.param_groups[0]["params"]}
    assert adam == {id(p) for p in model.parameters()} - muon
    assert [g["lr"] for g in optimizer.param_groups] == [3e-3, 0.05]  # Adam's group first
    aekit.fit(model, X, epochs=6, optimizer="muon", progress=False, seed=0)
    assert aekit.evaluate(model, X)["squared_error"] < 2.0  # PCA-8 on the digits: 1.58


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"optimizer": "muon"}, id="muon", marks=pytest.mark.slow),
        pytest.param({"ema": 0.9}, id="ema", marks=pytest.mark.slow),
        pytest.param({"optimizer": "muon", "weight_decay": 0.1, "ema": 0.9}, id="muon-wd-ema"),
    ],
)
def test_a_run_stopped_mid_schedule_resumes_exactly(X, tmp_path, settings):
    """A run stopped mid-schedule (cosine) and resumed from its checkpoint ends bitwise
    equal to one uninterrupted run: Muon's and AdamW's states and the moving average are
    all saved, and a loaded Muon optimizer still takes the schedule's rates."""
    kwargs = dict(schedule="cosine", progress=False, seed=0, **settings)
    full = aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, seed=0)
    uninterrupted = aekit.fit(full, X, epochs=4, **kwargs)
    model = aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, seed=0)
    stop_after_two = [lambda trainer, row: trainer.epoch == 2]
    aekit.fit(model, X, epochs=4, run_dir=tmp_path / "run", callbacks=stop_after_two, **kwargs)
    resumed = aekit.resume(tmp_path / "run", data=X, epochs=4, progress=False)
    assert same_weights(weights(resumed.model), weights(full))
    assert [r["val_loss"] for r in resumed.fit.history] == [
        r["val_loss"] for r in uninterrupted.history
    ]


def test_a_loaded_muon_optimizer_steps_at_the_rates_it_is_given(X):
    """After load_state_dict (a resume, a NaN rollback), a rate set on the optimizer's
    groups is the rate each inner optimizer steps with."""
    from aekit.training.optim import build_optimizer

    model = aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, seed=0)
    optimizer = build_optimizer(model, aekit.TrainConfig(optimizer="muon"))
    optimizer.load_state_dict(optimizer.state_dict())
    for group in optimizer.param_groups:
        group["lr"] *= 0.5
    inner = optimizer.adam.param_groups + optimizer.muon.param_groups
    assert [g["lr"] for g in inner] == [1.5e-3, 0.01]


def test_muon_takes_the_hidden_dense_layers_of_tied_and_conv_models():
    """The input and output layers stay with Adam: with tied weights they are one matrix
    (the encoder's first), and the encoder's code layer is hidden; in a conv model the
    convolutions are the outer layers, and every dense matrix between them is hidden."""
    from aekit.training.optim import hidden_matrices

    def muon_names(model):
        names = {id(p): n for n, p in model.named_parameters()}
        params = [p for p in model.parameters() if p.requires_grad]
        return [names[id(p)] for p in hidden_matrices(model, params)]

    tied = aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, tied=True, seed=0)
    dense = [n for n, p in tied.named_parameters() if p.ndim == 2]
    assert dense[0].startswith("encoder.") and muon_names(tied) == dense[1:]
    conv = aekit.AutoEncoder.build(
        input_dim=64, architecture="conv", image_shape=[1, 8, 8], code_dim=8, seed=0
    )
    dense = [n for n, p in conv.named_parameters() if p.ndim == 2]
    assert dense and muon_names(conv) == dense


def test_muon_without_torch_muon_is_a_clear_config_error(X, monkeypatch):
    """torch before 2.9 has no torch.optim.Muon: asking for it names the problem."""
    monkeypatch.delattr(torch.optim, "Muon")
    model = aekit.AutoEncoder.build("deep", input_dim=64, code_dim=8, seed=0)
    with pytest.raises(aekit.ConfigError, match=r"torch\.optim\.Muon \(torch >= 2\.9"):
        aekit.fit(model, X, epochs=1, optimizer="muon", progress=False)


def test_ema_is_the_ramped_moving_average_of_the_weights_after_each_step(X):
    """The finished model holds the average: after step k (from 0) the average moves toward
    the new weights by 1 - min(ema, (1 + k) / (10 + k)), starting from the first step's."""
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4, seed=0)
    cfg = aekit.TrainConfig(epochs=2, batch_size=256, val_fraction=0, ema=0.9)
    trainer = aekit.Trainer(model, cfg, progress=False)
    after_steps = []
    trainer.optimizer.register_step_post_hook(
        lambda *_: after_steps.append([p.detach().clone() for p in model.parameters()])
    )
    trainer.fit(X)
    average = after_steps[0]
    for k, step in enumerate(after_steps[1:], start=1):
        decay = min(0.9, (1 + k) / (10 + k))
        average = [a + (1 - decay) * (w - a) for a, w in zip(average, step, strict=True)]
    assert len(after_steps) == 12
    for kept, expected, last in zip(model.parameters(), average, after_steps[-1], strict=True):
        torch.testing.assert_close(kept.detach(), expected, rtol=1e-5, atol=1e-6)
        assert not torch.equal(kept.detach(), last)  # not simply the last step's weights


@pytest.mark.parametrize("keep", ["last", "best"])
def test_ema_weights_are_the_ones_validated_and_kept(X, digits, keep):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8, pca_fallback=False)
    val = digits.test.numpy()
    result = aekit.fit(model, X, val=val, epochs=6, ema=0.95, keep=keep, progress=False)
    reported = {"last": result.history[-1], "best": result.history[result.best_epoch - 1]}
    assert aekit.training.history.evaluate_loss(model, torch.as_tensor(val))[
        "loss"
    ] == pytest.approx(reported[keep]["val_loss"], rel=1e-5)


def test_ema_smooths_a_noisy_run_to_a_lower_validation_loss(X, digits):
    """A high constant rate keeps the last weights noisy; their average is better."""
    val = digits.test.numpy()

    def final_val_loss(ema):
        model = aekit.AutoEncoder.build(input_dim=64, hidden=[32], code_dim=8, seed=0)
        kwargs = dict(epochs=10, lr=0.02, schedule="constant", keep="last", progress=False)
        return aekit.fit(model, X, val=val, ema=ema, **kwargs).history[-1]["val_loss"]

    plain, averaged = final_val_loss(None), final_val_loss(0.99)
    print(f"\nval loss: last weights {plain:.3f}, averaged {averaged:.3f}")
    assert averaged < 0.95 * plain


@pytest.mark.parametrize("ema", [1, 1.5, -0.5])
def test_an_ema_decay_outside_0_1_is_a_config_error(ema):
    with pytest.raises(aekit.ConfigError, match="ema must be in"):
        aekit.TrainConfig(ema=ema)


def test_ema_sets_the_average_aside_cleanly_for_callbacks_checkpoints_and_a_second_fit(X):
    """While an epoch is judged the model holds the average, but the trainer's state (what
    a checkpoint saves) holds the training weights; after fit the model holds the average
    and a second fit continues from the training weights, as one longer fit does."""
    cfg = aekit.TrainConfig(epochs=2, batch_size=256, val_fraction=0, ema=0.9, schedule="constant")

    def build():
        return aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4, seed=0)

    model = build()
    trainer = aekit.Trainer(model, cfg, progress=False)
    last_step = {}
    trainer.optimizer.register_step_post_hook(lambda *_: last_step.update(w=weights(model)))
    seen = []

    def callback(trainer, row):
        seen.append((weights(trainer.model), trainer.state_dict()["model"], dict(last_step["w"])))

    trainer.callbacks.append(callback)
    trainer.fit(X)
    for held, saved, raw in seen:
        assert same_weights(saved, raw)  # the checkpoint gets the training weights
        assert not same_weights(held, raw)  # the callback sees the average
    trainer.config = trainer.config.replace(epochs=4)
    trainer.fit(X)
    once = build()
    aekit.Trainer(once, cfg.replace(epochs=4), progress=False).fit(X)
    assert same_weights(weights(model), weights(once))


def test_resuming_an_ema_run_without_ema_drops_the_average(X):
    """Resumed with ema off, the checkpoint's average plays no part: the run ends as one
    resumed from the same checkpoint with no average in it."""
    first = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4, seed=0)
    trainer = aekit.Trainer(
        first, aekit.TrainConfig(epochs=1, val_fraction=0, ema=0.9), progress=False
    )
    trainer.fit(X)
    state = trainer.state_dict()
    assert state["ema_weights"] is not None

    def resume(checkpoint):
        model = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4, seed=1)
        t = aekit.Trainer(model, aekit.TrainConfig(epochs=3, val_fraction=0), progress=False)
        t.load_state_dict(copy.deepcopy(checkpoint))  # the optimizer adopts its tensors
        t.fit(X)
        return weights(model)

    assert same_weights(resume(state), resume({**state, "ema_weights": None}))


def test_a_checkpoint_average_of_another_shape_is_refused(X):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4, seed=0)
    trainer = aekit.Trainer(model, aekit.TrainConfig(epochs=1, ema=0.9), progress=False)
    trainer.fit(X)
    state = trainer.state_dict()
    for bad in (
        state["ema_weights"][:-1],
        "not a list",
        [w.reshape(-1, 1) for w in state["ema_weights"]],
    ):
        other = aekit.Trainer(model, aekit.TrainConfig(epochs=2, ema=0.9), progress=False)
        with pytest.raises(aekit.CheckpointError, match="moving average"):
            other.load_state_dict({**state, "ema_weights": bad})


def test_fit_fits_a_models_input_scaling_on_its_first_data_only():
    x = np.random.default_rng(0).random((200, 5)).astype(np.float32) * 100 + 50
    model = aekit.AutoEncoder.build(
        input_dim=5, code_dim=2, scaling="standard", output_activation="linear", seed=0
    )
    aekit.fit(model, x, epochs=1, progress=False)
    assert torch.allclose(model.input_shift, torch.from_numpy(x.mean(0)), rtol=1e-5)
    shift = model.input_shift.clone()
    aekit.fit(model, x[:50] * 2, epochs=1, progress=False)  # continues: the same units
    assert torch.equal(model.input_shift, shift)

    # minmax scaling puts any data in a sigmoid's range (a sigmoid chosen: scaling alone
    # gives a linear output): judged in the model's units.
    model = aekit.AutoEncoder.build(
        input_dim=5, code_dim=2, scaling="minmax", output_activation="sigmoid", seed=0
    )
    aekit.fit(model, x, epochs=1, progress=False)
    assert model.input_scale.min() > 90  # fitted (range 100), and the error in its units:
    assert aekit.evaluate(model, x)["squared_error"] < 1.0  # raw units would be ~4,000
    beyond = x.copy()
    beyond[0] = x.max(0) * 1.5  # held-out data beyond the training range is scored as is
    assert np.isfinite(aekit.evaluate(model, beyond)["squared_error"])
    with pytest.raises(aekit.DataError, match=r"\(scaled, standard\) has values in"):
        sigmoid = aekit.AutoEncoder.build(
            input_dim=5, code_dim=2, scaling="standard", output_activation="sigmoid"
        )
        aekit.fit(sigmoid, x, epochs=1, progress=False)
    loader = torch.utils.data.DataLoader(torch.from_numpy(x), batch_size=32)
    fresh = aekit.AutoEncoder.build(input_dim=5, code_dim=2, scaling="minmax")
    with pytest.raises(aekit.ConfigError, match=r"call model\.fit_scaling"):
        aekit.fit(fresh, loader, epochs=1, progress=False)


def test_a_fit_result_prints_as_one_line():
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8, seed=0)
    result = aekit.fit(model, aekit.load_digits().train[:200], epochs=3, progress=False)
    text = repr(result)
    assert "\n" not in text and text.count("train_loss=") == 1  # the last row only
    assert text.startswith("FitResult(epochs=3, steps=")


@pytest.mark.slow
def test_small_dense_models_train_on_one_cpu_thread_and_give_the_setting_back(X, monkeypatch):
    before = torch.get_num_threads()
    if before < 2:
        pytest.skip("one CPU thread already")
    monkeypatch.setattr(
        aekit.training.speed, "free_cores", lambda: float(before)
    )  # an idle machine
    seen = []

    def threads(trainer, row):
        seen.append(torch.get_num_threads())

    small = aekit.AutoEncoder.build(input_dim=64, hidden=[16], code_dim=4)
    aekit.fit(small, X, epochs=1, batch_size=32, callbacks=[threads], progress=False)
    large = aekit.AutoEncoder.build(input_dim=64, hidden=[512, 512], code_dim=8)
    aekit.fit(large, X, epochs=1, batch_size=256, callbacks=[threads], progress=False)
    conv = aekit.AutoEncoder.build(
        input_dim=64, architecture="conv", image_shape=(1, 8, 8), code_dim=4
    )
    aekit.fit(conv, X, epochs=1, batch_size=32, callbacks=[threads], progress=False)
    assert seen == [1, before, before]
    assert torch.get_num_threads() == before


@pytest.fixture
def threads_seen():
    """The thread count each ``fit`` trained with (a callback's list), and the caller's
    count given back afterwards, four threads meanwhile (more than this machine may
    have: the rule caps them, whatever the cores)."""
    caller = torch.get_num_threads()
    torch.set_num_threads(4)
    seen: list[int] = []
    try:
        yield seen, lambda trainer, row: seen.append(torch.get_num_threads())
        assert torch.get_num_threads() == 4  # each fit gave the setting back
    finally:
        torch.set_num_threads(caller)


def _fit_on_threads(callback, hidden, batch, X):
    model = aekit.AutoEncoder.build(input_dim=64, hidden=hidden, code_dim=8)
    aekit.fit(model, X[:512], epochs=1, batch_size=batch, callbacks=[callback], progress=False)


def test_threads_never_outnumber_the_free_cores(X, monkeypatch, threads_seen):
    seen, callback = threads_seen
    large = ([512, 512], 256)  # about 1 GFLOP a step: room for every thread
    for free, expected in [(4.0, 4), (2.8, 3), (2.7, 2), (0.3, 1), (0.0, 1), (None, 4)]:
        monkeypatch.setattr(aekit.training.speed, "free_cores", lambda free=free: free)
        _fit_on_threads(callback, *large, X)
        assert seen[-1] == expected, free
        assert torch.get_num_threads() == 4


def test_threads_follow_the_model_size_and_tiny_models_measure_nothing(
    X, monkeypatch, threads_seen
):
    seen, callback = threads_seen

    def unmeasured():
        raise AssertionError("a model that trains on one thread needs no measurement")

    monkeypatch.setattr(aekit.training.speed, "free_cores", unmeasured)
    _fit_on_threads(callback, [16], 32, X)  # 64-16-8 at batch 32: 0.4 MFLOP a step
    assert seen == [1]
    monkeypatch.setattr(aekit.training.speed, "free_cores", lambda: 4.0)
    # 64-128-8 at batch 64, 7.2 MFLOP a step: one thread per ONE_THREAD_FLOPS, 2 of the 4
    model = aekit.AutoEncoder.build(input_dim=64, hidden=[128], code_dim=8)
    flops = 6 * sum(p.numel() for p in model.parameters()) * 64
    _fit_on_threads(callback, [128], 64, X)
    assert seen[-1] == min(4, -(-flops // aekit.training.speed.ONE_THREAD_FLOPS)) < 4


def test_free_cores_reads_idle_time_else_the_load_average(monkeypatch):
    trainer = aekit.training.speed
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    ticks = iter([(100, 400), (130, 440)])  # 30 of 40 ticks idle over the wait, on 2 cores
    monkeypatch.setattr(trainer, "_cpu_ticks", lambda cpus: next(ticks))
    assert trainer.free_cores(0.0) == pytest.approx(1.5)

    def unreadable(cpus):
        raise OSError("no /proc/stat here")

    monkeypatch.setattr(trainer, "_cpu_ticks", unreadable)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.75, 1.0, 1.0), raising=False)
    assert trainer.free_cores(0.0) == pytest.approx(0.25)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 1.0, 1.0), raising=False)
    assert trainer.free_cores(0.0) == 0.0

    def no_load_average():
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", no_load_average, raising=False)
    assert trainer.free_cores(0.0) is None


def test_free_cores_on_this_machine_is_a_share_of_its_cores():
    free = aekit.training.speed.free_cores(0.05)
    assert free is None or 0.0 <= free <= len(os.sched_getaffinity(0))
