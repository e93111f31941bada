"""Defaults off the beaten path: a compressing kind never ends worse than PCA on data too
small for its layers (it falls back to PCA and says so), a run that would train for hours
on a slow machine is cut to minutes, and small data holds out enough to choose with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.models.config import model_config
from aekit.models.pca import pca_baseline, principal_subspace
from aekit.training.config import TrainConfig


@pytest.fixture(scope="module")
def few(tmp_path_factory):
    """60 training digits and 300 test digits: too few for a deep autoencoder to beat PCA."""
    data = aekit.load_digits()
    folder = tmp_path_factory.mktemp("few")
    np.save(folder / "train.npy", data.train.numpy()[:60])
    np.save(folder / "test.npy", data.test.numpy()[:300])
    return folder


def _train(folder, out, *flags):
    argv = ["train", "--data", str(folder / "train.npy"), "--test", str(folder / "test.npy")]
    return main([*argv, "--no-report", "--no-progress", "--out", str(out), *flags])


def test_a_deep_model_on_sixty_samples_becomes_pca_and_says_so(few, tmp_path, capsys):
    assert _train(few, tmp_path / "deep", "--kind", "deep", "--epochs", "40") == 0
    out = capsys.readouterr().out
    assert "kept PCA's solution: on the validation data its error" in out
    assert "this model 1" not in out or "(the same)" in out
    assert main(["info", str(tmp_path / "deep")]) == 0
    said = capsys.readouterr().out
    assert f"train.npy; tested on {few / 'test.npy'}" in said, said
    metrics = aekit.evaluate(tmp_path / "deep", few / "test.npy")
    # The saved model is PCA: its codes are the projection on PCA's directions.
    model = aekit.load(tmp_path / "deep")
    assert model.is_pca
    train, test = np.load(few / "train.npy"), np.load(few / "test.npy")
    mean, components = principal_subspace(train, model.config.code_dim)
    expected = (test - mean) @ components
    assert np.allclose(np.abs(model.encode(test)), np.abs(expected), atol=1e-4)
    recon = model.reconstruct(test)
    error = float(((recon - test) ** 2).sum(1).mean())
    pca = pca_baseline(train, test, model.config.code_dim)
    assert error == pytest.approx(pca, rel=1e-5)
    assert metrics["squared_error"] == pytest.approx(pca, rel=1e-5)


def test_without_the_fallback_the_trained_model_is_kept(few, tmp_path, capsys):
    argv = ("--kind", "deep", "--epochs", "40", "--no-pca-fallback")
    assert _train(few, tmp_path / "kept", *argv) == 0
    out = capsys.readouterr().out
    assert "kept PCA's solution" not in out
    assert not aekit.load(tmp_path / "kept").is_pca


@pytest.mark.slow
def test_a_model_that_beats_pca_keeps_its_layers_and_records_both_errors():
    data = aekit.load_digits()
    model = aekit.AutoEncoder.build("undercomplete", input_dim=64)
    result = aekit.fit(model, data.train, progress=False)  # 300 epochs (30 lose to PCA)
    trained, pca, margin = result.pca_comparison
    assert trained < pca - 2 * margin and not result.kept_pca and not model.is_pca
    assert result.best_epoch is not None and result.best_epoch > 0


def test_a_win_within_the_validation_noise_keeps_pca_and_says_why():
    from aekit.training.trainer import why_pca

    assert why_pca((8.59, 5.663, 0.4)).startswith("on the validation data its error (5.663)")
    said = why_pca((5.60, 5.663, 0.04))  # lower by 0.063, standard error 0.04
    assert "(5.6) is below PCA's (5.663) by less than 2 standard errors of the" in said
    assert "and on too few more samples than not" in said


def test_layers_are_kept_where_they_win_clearly_by_the_mean_or_by_the_count():
    import torch

    from aekit.training.fallback import clearly_better

    # ahead by 0.1 +- 0.02 on every sample: clear by both
    noise = torch.randn(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert clearly_better(0.1 + 0.02 * noise)[0]
    # a few huge wins, the rest small losses: the mean's standard error is wide, and most
    # samples are worse -> PCA
    gain = torch.cat([torch.full((3,), 10.0), torch.full((47,), -0.05)]).double()
    assert not clearly_better(gain)[0]
    # small wins on 40 of 50 samples, heavy-tailed losses on the rest, mean above 0 but
    # within two standard errors: the count says clearly better
    gain = torch.cat([torch.full((40,), 1.0), torch.tensor([-30.0, 5, -3, 2, -1, 8, -6, 3, -2, 4])])
    better, error = clearly_better(gain.double())
    assert better and gain.mean() < 2 * error
    # ahead on half the samples by noise: not clear
    assert not clearly_better(torch.tensor([0.01, -0.01] * 40, dtype=torch.float64))[0]


def test_fitting_again_trains_the_layers_and_decides_again(few):
    x = np.load(few / "train.npy")
    model = aekit.AutoEncoder.build("deep", input_dim=64)
    first = aekit.fit(model, x, epochs=20, progress=False)
    assert first.kept_pca and model.is_pca and first.best_epoch == 0
    layers = [p.detach().clone() for p in model.parameters()]
    second = aekit.fit(model, x, epochs=25, progress=False)
    assert second.pca_comparison is not None
    assert any(not torch.equal(a, b) for a, b in zip(layers, model.parameters(), strict=True))


def test_kinds_with_a_wide_code_or_a_code_as_large_as_the_input_have_no_fallback():
    assert model_config("deep", input_dim=64).pca_fallback
    assert model_config("undercomplete", input_dim=64).pca_fallback
    assert not model_config("sparse", input_dim=64).pca_fallback
    assert not model_config("undercomplete", input_dim=4, code_dim=4).pca_fallback
    with pytest.raises(aekit.ConfigError, match="pca_fallback needs a code smaller"):
        model_config("undercomplete", input_dim=4, code_dim=4, pca_fallback=True)
    assert "pca_state" not in aekit.AutoEncoder.build("sparse", input_dim=64).state_dict()


def test_small_data_holds_out_enough_to_choose_with():
    assert TrainConfig().resolved(160).val_fraction == 0.25
    assert TrainConfig().resolved(300).val_fraction == pytest.approx(50 / 300, abs=1e-4)
    assert TrainConfig().resolved(455).val_fraction == pytest.approx(50 / 455, abs=1e-4)
    assert TrainConfig().resolved(1437).val_fraction == 0.1
    assert TrainConfig().resolved(60000).val_fraction == pytest.approx(2000 / 60000, abs=1e-4)


def test_the_deep_kind_is_not_widened_beyond_the_mnist_shape():
    assert model_config("deep", input_dim=784).hidden == [1000, 500, 250]
    assert model_config("deep", input_dim=3072).hidden == [1000, 500, 250]
    assert model_config("deep", input_dim=64).hidden == [82, 41, 20]


def test_a_run_far_over_the_time_budget_is_cut_and_says_so(monkeypatch, tmp_path, capsys):
    import aekit.runs.budget

    # A very slow machine, where a step costs in proportion to its samples.
    monkeypatch.setattr(aekit.runs.budget, "step_seconds", lambda model, cfg, x: 0.5 * len(x) / 32)
    argv = ["train", "--no-report", "--no-progress", "--out", str(tmp_path / "slow")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # 41 steps of 0.5 s an epoch: 300 epochs are 102 minutes, 8 fit 3: never below 10.
    assert "epochs cut from 300 to 10" in out
    assert aekit.load(tmp_path / "slow") is not None
    assert aekit.RunFolder(tmp_path / "slow").read_config()["training"]["epochs"] == 10


def test_a_run_near_the_budget_is_not_cut(monkeypatch, tmp_path, capsys):
    import aekit.runs.budget

    monkeypatch.setattr(aekit.runs.budget, "step_seconds", lambda *args: 0.02)  # 246 s: kept
    argv = ["train", "--epochs", "2", "--no-report", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "given")]) == 0  # epochs given: no probe
    assert "epochs cut" not in capsys.readouterr().out
    assert TrainConfig().resolved(1437, 0.02).epochs == 300


def test_the_estimate_is_printed_before_training_and_beside_the_time_taken(tmp_path, capsys):
    argv = ["train", "--epochs", "3", "--no-report", "--progress", "--out", str(tmp_path / "e")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "estimated training time: about" in captured.err  # said with the progress bar
    assert "(estimated beforehand:" in captured.out


@pytest.fixture(scope="module")
def many_digits(tmp_path_factory):
    """27,000 rows: the digits 15 times over, each copy with its own small noise, enough
    rows for 50 batches of 512 an epoch."""
    x = aekit.load_digits().train.numpy()
    rng = np.random.default_rng(0)
    rows = np.concatenate([np.clip(x + rng.normal(0, 0.02, x.shape), 0, 1) for _ in range(19)])
    path = tmp_path_factory.mktemp("many") / "digits.npy"
    np.save(path, rows.astype(np.float32))
    return path


def test_the_deep_kind_takes_its_larger_batch_where_its_step_is_too_slow(
    monkeypatch, tmp_path, capsys, many_digits
):
    import aekit.runs.budget

    # A CPU where Muon's step costs the same at any batch (its Newton-Schulz iterations
    # dominate, as in float32 without bfloat16 units): 22 epochs of steps of 0.5 s at
    # batch 128 (36 minutes); at 512, 7 epochs cut to the time budget (fewer to train here
    # than the 22 that steps of 0.1 s would leave uncut).
    monkeypatch.setattr(aekit.runs.budget, "step_seconds", lambda model, cfg, x: 0.5)
    out = str(tmp_path / "deep")
    argv = ["train", "--data", str(many_digits), "--kind", "deep", "--no-report", "--out", out]
    assert main(argv) == 0
    captured = capsys.readouterr()
    training = aekit.RunFolder(tmp_path / "deep").read_config()["training"]
    assert (training["batch_size"], training["lr"], training["muon_lr"]) == (512, 5e-3, 0.03)
    assert "batch_size 512" in captured.out and "lr 0.005, muon_lr 0.03" in captured.out
    assert "instead of the deep kind's 128" in captured.out
    # No progress bar (not a terminal): the estimate is said once, before training.
    assert captured.err.count("estimated training time: about") == 1
    assert "steps of 500 ms, timed here" in captured.err
    assert training["epochs"] == 7


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(["--lr", "0.003"], marks=pytest.mark.slow),
        pytest.param(["--muon-lr", "0.02"], marks=pytest.mark.slow),
        ["--optimizer", "adamw"],  # the fastest (no Muon): by default
        pytest.param([], marks=pytest.mark.slow),  # the slowest: 30,000 samples trained
    ],
)
def test_the_larger_batch_leaves_what_the_user_set(
    monkeypatch, tmp_path, capsys, given, many_digits
):
    import aekit.runs.budget

    # 10 epochs of 195 steps: too slow a step (0.2 s, 390 s) for the kind's batch where the
    # user set a rate or optimizer; fast (5 ms) with none given: the batch is kept both ways.
    step = 0.2 if given else 0.005
    monkeypatch.setattr(aekit.runs.budget, "step_seconds", lambda model, cfg, x: step)
    argv = ["train", "--data", str(many_digits), "--kind", "deep", "--no-report", *given]
    assert main([*argv, "--sample-budget", "30000", "--out", str(tmp_path / "deep")]) == 0
    training = aekit.RunFolder(tmp_path / "deep").read_config()["training"]
    assert training["batch_size"] == 128
    assert "instead of the deep kind" not in capsys.readouterr().out


@pytest.mark.slow
def test_small_data_is_cut_to_fewer_epochs_rather_than_trained_at_a_larger_batch(
    monkeypatch, tmp_path
):
    import aekit.runs.budget

    monkeypatch.setattr(aekit.runs.budget, "step_seconds", lambda model, cfg, x: 0.05)  # 615 s
    argv = ["train", "--kind", "deep", "--no-report", "--out", str(tmp_path / "deep")]
    assert main(argv) == 0
    training = aekit.RunFolder(tmp_path / "deep").read_config()["training"]
    assert (training["batch_size"], training["lr"], training["muon_lr"]) == (32, 3e-3, 0.02)
    assert training["epochs"] < 300


def test_this_processs_own_threads_are_not_counted_as_other_load():
    import threading

    from aekit.training.speed import free_cores

    before = free_cores(0.3)
    done = threading.Event()

    def spin():  # a worker of this process still busy (a thread pool spinning down)
        while not done.is_set():
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        during = free_cores(0.3)
    finally:
        done.set()
        worker.join()
    # Counted as other load it would leave one core fewer (1 of 2 on this machine).
    assert during >= 0.8 * before


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """A bare ``aekit train`` on the iris table (150 rows, 38 of them validation), which
    keeps PCA's solution though its layers' validation error is lower: not by enough to
    tell (the rule of aekit.training.fallback)."""
    from sklearn.datasets import load_iris

    folder = tmp_path_factory.mktemp("iris")
    table = load_iris(as_frame=True).frame.drop(columns="target")
    table.to_csv(folder / "iris.csv", index=False)
    run = folder / "run"
    assert (
        main(["train", "--data", str(folder / "iris.csv"), "--no-progress", "--out", str(run)]) == 0
    )
    return run


def _info(run, capsys) -> str:
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    return capsys.readouterr().out


def test_info_and_the_report_say_the_fallbacks_true_reason_with_both_errors(iris_run, capsys):
    import json

    record = json.loads((iris_run / "config.json").read_text())["result"]["pca_comparison"]
    assert record["kept_pca"] is True
    # The case the old wording got wrong: the layers lower, PCA kept for want of margin.
    assert record["trained_error"] < record["pca_error"]
    trained, pca = f"{record['trained_error']:.4g}", f"{record['pca_error']:.4g}"
    info = _info(iris_run, capsys)
    report = (iris_run / "report.html").read_text().replace("&#x27;", "'")
    for said in (info, report):
        assert f"trained model's error ({trained}) is below PCA's ({pca})" in said
        assert "by less than 2 standard errors" in said
        assert "lower than the trained layers'" not in said
        assert "beat the trained layers" not in said
    weights = next(line for line in info.splitlines() if line.startswith("weights "))
    assert "PCA's solution, not an epoch's" in weights
    model = next(line for line in info.splitlines() if line.startswith("model "))
    assert "then replaced by PCA-2" in model  # the layers it names were set aside
    # No bare "weights_from_epoch 0" beside a model that has no epoch's weights.
    assert "weights_from_epoch" not in info


def test_a_run_folder_without_the_record_still_reads_and_says_what_is_true(
    iris_run, tmp_path, capsys
):
    import json
    import shutil

    from aekit.runs.report import write_report

    old = tmp_path / "old"
    shutil.copytree(iris_run, old)
    config = json.loads((old / "config.json").read_text())
    del config["result"]["pca_comparison"]  # as aekit wrote it before it recorded this
    (old / "config.json").write_text(json.dumps(config))
    info = _info(old, capsys)
    report = write_report(old).read_text().replace("&#x27;", "'")
    for said in (info, report):
        assert "did not clearly beat PCA on the validation data" in said
        assert "does not record the two errors" in said
        assert "lower than the trained layers'" not in said


def test_the_recorded_comparison_reads_back_and_names_the_rule_that_applied():
    import math

    from aekit.runs.records import fallback_reason
    from aekit.training.fallback import comparison_record, recorded_comparison

    lower = comparison_record((0.9, 0.7, math.inf), True)
    assert lower["standard_error"] is None  # JSON has no infinity
    assert recorded_comparison(lower) == (0.9, 0.7, math.inf)
    said = fallback_reason({"result": {"pca_comparison": lower}})
    assert "its error (0.7) is below the trained model's (0.9)" in said
    # What aekit does not write is not read as a comparison.
    for bad in ({"trained_error": "0.9", "pca_error": 0.7}, {"pca_error": 0.7}, [0.9, 0.7]):
        assert recorded_comparison(bad) is None


def test_the_fallbacks_advice_fits_its_cause():
    """Layers that overfit (their training rows' error far below the validation rows' at
    their best epoch) are told more data or a smaller model, not more epochs."""
    from aekit.cli.printing import _fallback_advice

    def row(train: float, val: float) -> dict[str, float]:
        return {"train_reconstruction": train, "val_reconstruction": val}

    overfit = _fallback_advice([row(2.0, 2.1), row(0.367, 1.40), row(0.2, 1.6)])
    assert overfit.startswith("the layers overfit: at their best epoch, error 0.367")
    assert "against 1.4 on the validation rows" in overfit and "epochs" not in overfit
    assert "more data or epochs" in _fallback_advice([row(1.0, 1.2), row(0.9, 1.1)])
    assert "more data or epochs" in _fallback_advice([])  # no history: no evidence
