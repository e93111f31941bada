"""The ``aekit`` command end to end on digits, and one-line errors for bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.cli import main

from .conftest import run_cli


@pytest.fixture(scope="module")
def trained_run(sparse_run):
    """A run trained by the command (`aekit train --kind sparse --arch 64-32-16 --epochs 5`,
    in this process: conftest's sparse_run; the real process is
    test_a_real_process_reports_bad_data_in_one_line's and the slow tests')."""
    return sparse_run


def test_train_writes_a_complete_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
        "metrics.json",
        "report.html",
        "figures",
    } <= names
    figures = trained_run / "figures"
    assert (figures / "reconstructions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (figures / "curves.png").exists()
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"]["kind"] == "sparse" and config["training"]["epochs"] == 5
    assert config["data"]["source"] == "digits" and config["result"]["epochs_trained"] == 5
    assert len((trained_run / "metrics.csv").read_text().splitlines()) == 6


@pytest.mark.slow
def test_evaluate_encode_reconstruct_info(trained_run, tmp_path):
    proc = run_cli("evaluate", str(trained_run), "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["squared_error"] > 0 and "mean_activation" in metrics
    model = aekit.load(trained_run)
    assert metrics["squared_error"] == pytest.approx(
        aekit.evaluate(model, aekit.load_digits().test)["squared_error"]
    )

    assert (
        run_cli("encode", str(trained_run), "digits", "-o", str(tmp_path / "codes.npy")).returncode
        == 0
    )
    codes = np.load(tmp_path / "codes.npy")
    assert codes.shape == (360, 16)
    np.testing.assert_allclose(codes, model.encode(aekit.load_digits().test.numpy()), rtol=1e-6)

    proc = run_cli(
        "reconstruct", str(trained_run), "digits", "-o", str(tmp_path / "grid.png"), "-n", "6"
    )
    assert proc.returncode == 0 and (tmp_path / "grid.png").stat().st_size > 1000

    proc = run_cli("info", str(trained_run))
    assert proc.returncode == 0
    assert "kind         sparse" in proc.stdout and "kl_sparsity:rho=0.05,beta=3.0" in proc.stdout


def test_help_for_every_command():
    for command in ("train", "evaluate", "encode", "reconstruct", "info"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0


@pytest.mark.parametrize("kind", sorted(aekit.KINDS))
def test_every_kind_trains_from_the_cli(kind, tmp_path, capsys):
    # The report where a kind draws a figure of its own that no other run test draws
    # (contractive: the Jacobian spectrum; sparse_l1, topk: activation frequencies by their
    # own rules); the others' figures are those of conftest's sparse_run and test_report's
    # denoising run, or the plain set every run draws.
    report = [] if kind in ("contractive", "sparse_l1", "topk") else ["--no-report"]
    argv = ["train", "--kind", kind, "--epochs", "2", "--out", str(tmp_path / kind)]
    code = main([*argv, "--no-progress", *report])
    assert code == 0, capsys.readouterr().err
    assert aekit.load(tmp_path / kind).config.kind == kind
    assert (tmp_path / kind / "report.html").exists() == (not report)


def test_parts_and_training_options_from_flags(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(
        [
            "train",
            "--kind",
            "denoising",
            "--corruption",
            "gaussian:sigma=0.2",
            "--penalty",
            "l1:lam=0.001",
            "--arch",
            "64-48-24",
            "--activation",
            "tanh",
            "--tied",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--lr",
            "0.01",
            "--schedule",
            "cosine",
            "--seed",
            "7",
            "--out",
            str(out),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 0, capsys.readouterr().err
    cfg = aekit.load(out).config
    assert cfg.corruption == aekit.GaussianNoise(0.2) and cfg.penalties == [aekit.L1Sparsity(0.001)]
    assert cfg.hidden == [48] and cfg.code_dim == 24 and cfg.tied and cfg.activation == "tanh"
    training = json.loads((out / "config.json").read_text())["training"]
    assert (training["batch_size"], training["lr"], training["schedule"], training["seed"]) == (
        32,
        0.01,
        "cosine",
        7,
    )


def test_config_file_and_flag_override(tmp_path, capsys):
    config = {
        "kind": "contractive",
        "model": {"code_dim": 12, "penalties": [{"name": "contractive", "lam": 0.05}]},
        "training": {"epochs": 3, "lr": 0.005},
        "data": {"source": "digits"},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    out = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "--config",
                str(tmp_path / "cfg.json"),
                "--epochs",
                "2",
                "--out",
                str(out),
                "--no-progress",
                "--no-report",
            ]
        )
        == 0
    )
    saved = json.loads((out / "config.json").read_text())
    assert saved["training"]["epochs"] == 2 and saved["training"]["lr"] == 0.005
    assert saved["model"]["code_dim"] == 12 and saved["model"]["penalties"][0]["lam"] == 0.05
    # a finished run's config.json retrains the same model
    out2 = tmp_path / "r2"
    assert (
        main(["train", "--config", str(out / "config.json"), "--out", str(out2), "--no-progress"])
        == 0
    )
    assert aekit.load(out2).config == aekit.load(out).config


def test_resume_from_the_cli(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["--no-progress", "--no-report"]
    assert main(["train", "--epochs", "2", "--out", str(out), *argv]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "4", *argv]) == 0
    assert len((out / "metrics.csv").read_text().splitlines()) == 5
    assert f"resuming {out} at epoch 3, step 0 of 4 epochs" in capsys.readouterr().err


def test_resume_without_the_report_leaves_the_figures_as_they_were(tmp_path):
    out = tmp_path / "r"
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    report = (out / "report.html").stat().st_mtime_ns
    args = ["train", "--resume", str(out), "--epochs", "2", "--no-progress", "--no-report"]
    assert main(args) == 0
    assert (out / "report.html").stat().st_mtime_ns == report
    assert len((out / "metrics.csv").read_text().splitlines()) == 3


def test_resume_on_other_data_is_refused_before_it_says_it_resumes(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress", "--no-report"]) == 0
    capsys.readouterr()
    for other in ("mnist", str(tmp_path / "x.npy")):
        assert main(["train", "--resume", str(out), "--data", other]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"aekit: error: {out} was trained on 'digits', not {other!r}: a run resumes on "
            "the data it was trained on\n"
        )
        with pytest.raises(aekit.ConfigError, match=r"not .*: a run resumes on"):
            aekit.resume(out, data=Path(other), progress=False)  # a path as a string
        assert capsys.readouterr().err == ""


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "nan.npy", np.full((10, 64), np.nan, np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 64), np.float32))
    np.save(tmp_path / "big.npy", np.full((10, 64), 5.0, np.float32))
    np.save(tmp_path / "ten.npy", np.zeros((10, 10), np.float32))
    (tmp_path / "text.csv").write_text("1,2\nx,y\n")
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "keys.json").write_text('{"trainig": {}}')
    (tmp_path / "types.json").write_text('{"training": {"epochs": "ten"}}')
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "file").write_text("x")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("{")
    return tmp_path


def test_a_real_process_reports_bad_data_in_one_line(files):
    proc = run_cli(
        "train", "--data", str(files / "nan.npy"), "--out", str(files / "x"), "--no-progress"
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"aekit: error: {files / 'nan.npy'} contains 640 NaN value(s) (first in sample 0); "
        "remove or impute them, or train a model of incomplete data (missing=True; "
        "aekit train --missing)"
    ]
    assert not (files / "x").exists()


RECIPES = sorted(p.name for p in (Path(__file__).parents[1] / "configs").glob("mnist_*.json"))


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_mnist_recipe_configs_read_as_they_say(recipe):
    """Every shipped MNIST recipe reads as the settings of a run whose model on MNIST's 784
    inputs is the recipes' 784-1000-500-250-30 and whose training keeps every setting the
    file names (the runs themselves, on MNIST: test_the_mnist_recipe_configs_run, slow)."""
    from .conftest import ROOT

    shipped = json.loads((ROOT / "configs" / recipe).read_text())
    cfg = aekit.RunConfig.from_dict(shipped)
    model = cfg.model_config(input_dim=784)
    assert (model.input_dim, model.hidden, model.code_dim, model.activation, model.loss) == (
        784,
        [1000, 500, 250],
        30,
        "elu",
        "bce",
    )
    training = cfg.training.to_dict()
    assert {k: training[k] for k in shipped["training"]} == shipped["training"]
    assert cfg.data.source == "mnist"


@pytest.mark.slow  # end to end on MNIST; the recipes' settings by default: the test above
@pytest.mark.parametrize("recipe", RECIPES)
def test_the_mnist_recipe_configs_run(recipe, mnist_dir, tmp_path, capsys):
    """The shipped MNIST recipes (configs/, the benchmarks' recipes) on 512 MNIST images,
    two epochs."""
    from .conftest import ROOT

    out = tmp_path / "mnist"
    code = main(
        [
            "train",
            "--config",
            str(ROOT / "configs" / recipe),
            "--data-dir",
            str(mnist_dir),
            "--limit",
            "512",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    cfg = aekit.load(out).config
    assert (cfg.input_dim, cfg.hidden, cfg.code_dim, cfg.activation, cfg.loss) == (
        784,
        [1000, 500, 250],
        30,
        "elu",
        "bce",
    )
    saved = json.loads((out / "config.json").read_text())["training"]
    shipped = json.loads((ROOT / "configs" / recipe).read_text())["training"]
    assert {k: saved[k] for k in shipped if k != "epochs"} == {
        k: v for k, v in shipped.items() if k != "epochs"
    }


def test_info_survives_a_metrics_file_of_the_wrong_type(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "metrics.json").write_text("[1, 2, 3]")
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "evaluation   (metrics.json unreadable: " in out and "must hold a JSON object" in out


def test_evaluate_never_uses_or_creates_a_folder_a_run_folder_names(
    trained_run, tmp_path, capsys, monkeypatch
):
    import json
    import shutil

    monkeypatch.setenv("AEKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AEKIT_DATA", raising=False)  # no MNIST anywhere it looks
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = json.loads((run / "config.json").read_text())
    config["data"] = {"source": "mnist", "data_dir": str(tmp_path / "planted")}
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(run)]) == 2  # no MNIST here: an error, and nothing made
    assert not (tmp_path / "planted").exists()
    assert "MNIST files not found" in capsys.readouterr().err


def test_evaluate_prints_the_pca_baseline_beside_the_model(trained_run, capsys):
    assert main(["evaluate", str(trained_run)]) == 0
    out = capsys.readouterr().out
    assert "baseline: PCA-16" in out and "this model" in out
    metrics = aekit.evaluate(trained_run)  # as the command: the baseline by default
    assert metrics["pca_squared_error"] == pytest.approx(0.743, abs=0.001)  # PCA-16, digits
    assert "pca_squared_error" not in aekit.evaluate(trained_run, baseline=False)


def test_the_summary_and_info_name_the_optimizer_decay_average_and_precision(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("AEKIT_BF16", "off")  # the Newton-Schulz dtype it names
    out = tmp_path / "run"
    args = ["train", "--kind", "deep", "--epochs", "2", "--optimizer", "muon"]
    args += ["--weight-decay", "0.1", "--ema", "0.99", "--val-fraction", "0"]
    assert main([*args, "--out", str(out), "--no-progress", "--no-report"]) == 0
    said = capsys.readouterr().out
    line = (
        "muon (muon_lr 0.02 hidden matrices, AdamW lr 0.003 rest; Newton-Schulz in float32: "
        "AEKIT_BF16=off), weight decay 0.1, ema 0.99"
    )
    assert f"training: {line}" in said
    assert "kept the averaged weights of the last epoch" in said
    assert main(["info", str(out)]) == 0
    assert line in capsys.readouterr().out


def test_a_table_with_named_columns_gives_tables_with_named_columns(tmp_path):
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).data
    wine.to_csv(tmp_path / "wine.csv", index=False)
    out = tmp_path / "r"
    argv = ["--epochs", "1", "--out", str(out), "--no-progress", "--no-report"]
    assert main(["train", "--data", str(tmp_path / "wine.csv"), *argv]) == 0
    assert (
        main(["reconstruct", str(out), str(tmp_path / "wine.csv"), "-o", str(tmp_path / "r.csv")])
        == 0
    )
    assert (
        main(["encode", str(out), str(tmp_path / "wine.csv"), "-o", str(tmp_path / "c.csv")]) == 0
    )
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0] == ",".join(wine.columns) and len(lines) == len(wine) + 1
    assert aekit.load_array(tmp_path / "r.csv").shape == wine.shape
    codes = (tmp_path / "c.csv").read_text().splitlines()
    assert codes[0].startswith("code_0,code_1") and len(codes) == len(wine) + 1
    # a picture of a table draws the standardised features, each on one scale
    assert (
        main(["reconstruct", str(out), str(tmp_path / "wine.csv"), "-o", str(tmp_path / "g.png")])
        == 0
    )
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    # a table without names stays without
    np.savetxt(tmp_path / "plain.csv", wine.to_numpy()[:5], delimiter=",")
    assert (
        main(["reconstruct", str(out), str(tmp_path / "plain.csv"), "-o", str(tmp_path / "p.csv")])
        == 0
    )
    assert aekit.load_array(tmp_path / "p.csv").shape == (5, 13)
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 5


def test_help_says_which_defaults_the_kind_and_the_data_choose(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "activation of the hidden layers (default: the kind's, else relu)" in text
    assert "(default: none for data in [0, 1], else standard)" in text
    assert "(default: sigmoid for data in [0, 1], else linear, unless the kind chooses)" in text
    assert '--kernel-size KERNEL_SIZE odd convolution kernel size ("conv") (default: 3)' in text


def test_info_says_n_a_for_a_metric_json_cannot_hold(tmp_path, capsys):
    np.savetxt(tmp_path / "flat.csv", np.full((60, 4), 0.5), delimiter=",")
    out = tmp_path / "r"
    argv = ["--epochs", "1", "--out", str(out), "--no-progress", "--no-report"]
    assert main(["train", "--data", str(tmp_path / "flat.csv"), *argv]) == 0
    assert json.loads((out / "metrics.json").read_text())["explained_variance"] is None
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "explained_variance n/a" in " ".join(capsys.readouterr().out.split())


def test_the_resume_command_names_the_data_again(tmp_path):
    from aekit.cli.train import resume_command

    out = tmp_path / "r"
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress", "--no-report"]) == 0
    assert resume_command(str(out)) == f"aekit train --resume {out}"
    config = json.loads((out / "config.json").read_text())
    for data, flags in [
        ({"source": "mnist", "data_dir": "/my data/mnist"}, " --data-dir '/my data/mnist'"),
        ({"source": "/my data/x.npy"}, " --data '/my data/x.npy'"),
    ]:
        (out / "config.json").write_text(json.dumps({**config, "data": data}))
        assert resume_command(str(out)) == f"aekit train --resume {out}{flags}"


def test_evaluate_fits_the_baseline_on_what_the_run_trained_on(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["--limit", "300", "--epochs", "1", "--out", str(out), "--no-progress", "--no-report"]
    assert main(["train", *argv]) == 0
    trained = json.loads((out / "metrics.json").read_text())["pca_squared_error"]
    assert aekit.evaluate(out)["pca_squared_error"] == pytest.approx(trained, rel=1e-9)
    assert aekit.evaluate(out)["pca_squared_error"] != pytest.approx(1.577, abs=0.01)  # all 1,347


def test_info_on_a_finished_run_without_its_weights_says_how_to_get_them(
    trained_run, tmp_path, capsys
):
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    (copy / "model.safetensors").unlink()
    assert main(["info", str(copy)]) == 0
    assert (
        f"weights      missing: no model.safetensors; aekit train --resume {copy} writes them "
        "again from the checkpoint" in capsys.readouterr().out
    )
    # A reader that goes away (aekit info RUN | head) gets no complaint on stderr.
    piped = subprocess.Popen(
        [sys.executable, "-m", "aekit", "info", str(copy)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    piped.stdout.close()
    err = piped.stderr.read()
    piped.wait(timeout=60)
    assert err == b"" and piped.returncode == 1


def test_no_progress_bar_where_no_one_watches_unless_asked(tmp_path, capsys, monkeypatch):
    """Output to a file or a pipe (stderr is no terminal, as under capsys) gets no bar and
    none of its carriage returns, from the command and from Python; --progress and
    progress=True draw it anyway; a terminal gets it by default (issue 25, class 9)."""
    import io

    from aekit.training.trainer import shows_progress

    argv = ["train", "--epochs", "2", "--no-report"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "\r" not in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b"), "--progress"]) == 0
    assert "\r" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "a"), "--epochs", "3"]) == 0
    assert "\r" not in capsys.readouterr().err
    data = aekit.load_digits().train
    model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    aekit.fit(model, data, epochs=1)
    aekit.train({"training": {"epochs": 1}, "output": {"report": False}}, out=tmp_path / "c")
    assert "\r" not in capsys.readouterr().err
    aekit.fit(model, data, epochs=1, progress=True)
    assert "\r" in capsys.readouterr().err

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert shows_progress() and shows_progress(True) and not shows_progress(False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not shows_progress() and shows_progress(True)
