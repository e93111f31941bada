"""The scikit-learn estimators: scikit-learn's own estimator checks, Pipeline,
GridSearchCV, clone, pickle, aekit's own save/load, and that they do their jobs on real
data (imputation beats the mean, outliers are found)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import aekit
from aekit.sklearn import (
    AutoEncoderImputer,
    AutoEncoderOutlierDetector,
    AutoEncoderTransformer,
    load,
)

QUICK = {"epochs": 3, "random_state": 0}


@parametrize_with_checks(
    [
        AutoEncoderTransformer(**QUICK),
        AutoEncoderImputer(**QUICK),
        AutoEncoderOutlierDetector(**QUICK),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def _holes(X, rate, seed=0):
    holes = X.copy()
    mask = np.random.default_rng(seed).random(X.shape) < rate
    holes[mask] = np.nan
    return holes, mask


def test_transformer_in_a_pipeline_and_a_grid_search(cancer):
    X, y = cancer
    # 5 epochs: the same searches' results as 30 (PCA's solution is kept either way)
    pipe = make_pipeline(AutoEncoderTransformer(epochs=5, random_state=0), LogisticRegression())
    grid = GridSearchCV(pipe, {"autoencodertransformer__code_dim": [2, 8]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["autoencodertransformer__code_dim"] in (2, 8)
    assert grid.score(X, y) > 0.9  # the codes of 30 mixed-range features still classify
    # and a search on the transformer's own score (higher: lower reconstruction error)
    search = GridSearchCV(
        AutoEncoderTransformer(epochs=5, random_state=0), {"code_dim": [1, 8]}, cv=2
    ).fit(X)
    assert search.best_params_ == {"code_dim": 8}


def test_scaling_is_fitted_saved_and_undone(cancer, tmp_path):
    X, _ = cancer
    ae = AutoEncoderTransformer(epochs=30, random_state=0).fit(X)
    assert ae.model_.config.scaling == "standard"
    np.testing.assert_allclose(ae.model_.input_shift.numpy(), X.mean(0), rtol=1e-5)
    recon = ae.inverse_transform(ae.transform(X))
    # reconstructions in the data's units: area (~650) and smoothness (~0.1) alike
    assert np.abs(recon.mean(0) / X.mean(0) - 1).max() < 0.1
    # the same estimator in aekit's format: same outputs, no pickle
    again = load(ae.save(tmp_path / "ae"))
    np.testing.assert_array_equal(again.transform(X), ae.transform(X))
    assert again.get_params() == ae.get_params()
    # and its folder is a run folder: aekit.encode reads it
    np.testing.assert_allclose(
        aekit.encode(tmp_path / "ae", X.astype(np.float32)), ae.transform(X), rtol=1e-6
    )


@pytest.mark.parametrize(
    "cls", [AutoEncoderTransformer, AutoEncoderImputer, AutoEncoderOutlierDetector]
)
def test_clone_and_pickle(cls, cancer):
    X, _ = cancer
    est = cls(code_dim=4, epochs=5, random_state=0)
    assert clone(est).get_params() == est.get_params()
    fitted = est.fit(X)
    again = pickle.loads(pickle.dumps(fitted))
    method = "score_samples" if cls is AutoEncoderOutlierDetector else "transform"
    np.testing.assert_array_equal(getattr(again, method)(X), getattr(fitted, method)(X))


@pytest.mark.slow
def test_imputer_fills_better_than_the_mean_and_keeps_observed_values(cancer, tmp_path):
    from sklearn.impute import SimpleImputer

    X, _ = cancer
    holes, mask = _holes(X, 0.2)
    imputer = AutoEncoderImputer(random_state=0, add_indicator=True)
    out = imputer.fit_transform(holes)
    filled, indicator = out[:, :30], out[:, 30:]
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~mask], X[~mask])
    np.testing.assert_array_equal(indicator, mask[:, imputer.indicator_.features_])
    std = X.std(0)

    def rmse(f):
        return float(np.sqrt((((f - X) / std)[mask] ** 2).mean()))

    mean_fill = SimpleImputer().fit_transform(holes)
    assert rmse(filled) < 0.7 * rmse(mean_fill)
    again = load(imputer.save(tmp_path / "imp"))
    np.testing.assert_array_equal(again.transform(holes), out)
    names = again.get_feature_names_out()
    assert len(names) == out.shape[1] and names[-1].startswith("missingindicator_")


@pytest.mark.slow
def test_outlier_detector_finds_the_malignant_minority(cancer, tmp_path):
    from sklearn.metrics import roc_auc_score

    X, y = cancer  # y = 1: benign
    benign, malignant = X[y == 1], X[y == 0]
    rng = np.random.default_rng(0)
    few = malignant[rng.choice(len(malignant), 36, replace=False)]  # ~10%
    data = np.vstack([benign, few])
    truth = np.r_[np.ones(len(benign)), -np.ones(len(few))]
    det = AutoEncoderOutlierDetector(random_state=0, contamination=0.1).fit(data)
    # Reconstruction error ranks malignant tumours above benign ones, far from chance
    # (0.5), though not as well as an isolation forest on this table (BENCHMARKS.md).
    assert roc_auc_score(truth == -1, -det.score_samples(data)) > 0.65
    pred = det.predict(data)
    assert set(np.unique(pred)) == {-1, 1} and (pred == -1).mean() == pytest.approx(0.1, abs=0.01)
    errors = det.feature_errors(data)
    np.testing.assert_allclose(-errors.sum(1), det.score_samples(data))
    again = load(det.save(tmp_path / "det"))
    np.testing.assert_array_equal(again.predict(data), pred)
    # the saved folder shows the training scores and the threshold
    assert (tmp_path / "det" / "figures" / "scores.png").stat().st_size > 1000
    assert "alt='scores.png'" in (tmp_path / "det" / "report.html").read_text()


def test_data_frames_keep_their_column_names(cancer):
    import pandas as pd

    data = load_breast_cancer(as_frame=True).data
    imputer = AutoEncoderImputer(epochs=3, random_state=0).fit(data)
    assert list(imputer.get_feature_names_out()) == list(data.columns)
    with pytest.raises(ValueError, match="feature names"):
        imputer.transform(data.rename(columns={"mean radius": "radius"}))
    assert isinstance(data, pd.DataFrame)


def test_bad_settings_are_clear_errors(cancer):
    X, _ = cancer
    with pytest.raises(ValueError, match="contamination must be"):
        AutoEncoderOutlierDetector(contamination=0.9).fit(X)
    # ModelConfig's check of the field ("auto", the estimators' default, leaves it to the
    # data, as a run that does not set it)
    with pytest.raises(ValueError, match=r"model\.scaling: 'log' is not one of"):
        AutoEncoderTransformer(scaling="log").fit(X)
    with pytest.raises(ValueError, match="optimizer"):
        AutoEncoderTransformer(optimizer="lbfgs").fit(X)
    with pytest.raises(ValueError, match=r"p \(the share of samples\) must be in"):
        AutoEncoderImputer(corruption="missing_patterns:p=1.5").fit(X)
    with pytest.raises(ValueError, match=r"contains NaN.*AutoEncoderImputer learns from data"):
        AutoEncoderTransformer(epochs=1).fit(_holes(X, 0.1)[0])


def test_what_a_new_user_tripped_on(cancer, tmp_path):
    import warnings

    X, _ = cancer
    # hidden as the command line writes it
    ae = AutoEncoderTransformer(hidden="16,8", code_dim=4, epochs=1, random_state=0).fit(X)
    assert ae.model_.config.hidden == [16, 8]
    # save never overwrites what is not a saved estimator, and re-saving works
    run = aekit.train({"training": {"epochs": 1}}, out=tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="not a saved estimator"):
        ae.save(run.path)
    ae.save(tmp_path / "est")
    load(tmp_path / "est").save(tmp_path / "est")  # re-saving keeps what it records
    saved = json.loads((tmp_path / "est" / "config.json").read_text())
    assert saved["result"]["epochs_trained"] == 1 and saved["training"]["epochs"] == 1
    with pytest.raises(ValueError, match=r"load its model with aekit\.load"):
        load(run.path)
    # a feature never observed is said, not silently guessed
    holes = X.copy()
    holes[:, 1] = np.nan
    with pytest.warns(UserWarning, match=r"feature\(s\) \[1\] have no observed value"):
        AutoEncoderImputer(epochs=1, random_state=0).fit(holes)
    # pandas' read-only values give no torch warning
    frame = load_breast_cancer(as_frame=True).data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "kept PCA's solution")  # said of one epoch, rightly
        AutoEncoderTransformer(epochs=1, random_state=0).fit(frame).transform(frame)
    with pytest.raises(TypeError, match=r"AutoEncoderTransformer\.__init__\(\) got an unexpected"):
        AutoEncoderTransformer(code_size=4)


# ---- issue 25, class 9: predictable ---------------------------------------------------------


@pytest.mark.parametrize("cls", [AutoEncoderTransformer, AutoEncoderImputer])
def test_the_seed_is_0_by_default_and_numpys_global_state_is_never_touched(cls, cancer, tmp_path):
    X, _ = cancer
    np.random.seed(123)
    before = np.random.get_state()
    a, b = cls(epochs=2).fit(X), cls(epochs=2).fit(X)
    assert a.seed_ == b.seed_ == 0 and cls().get_params()["random_state"] == 0
    np.testing.assert_array_equal(a.transform(X), b.transform(X))  # two fits, one model
    # None: a fresh seed each fit, from the operating system; seed_ repeats the fit
    c, d = cls(epochs=2, random_state=None).fit(X), cls(epochs=2, random_state=None).fit(X)
    assert c.seed_ != d.seed_
    again = cls(epochs=2, random_state=c.seed_).fit(X)
    np.testing.assert_array_equal(again.transform(X), c.transform(X))
    after = np.random.get_state()
    assert all(np.array_equal(x, y) for x, y in zip(before, after, strict=True))
    # a RandomState given is the caller's own: a seed is drawn from it
    e = cls(epochs=1, random_state=np.random.RandomState(0)).fit(X)
    assert e.seed_ == np.random.RandomState(0).randint(0, 2**31 - 1)
    assert load(c.save(tmp_path / "c")).seed_ == c.seed_


def test_the_detector_fits_a_data_frame_without_warning_about_itself():
    import warnings

    frame = load_breast_cancer(as_frame=True).data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X does not have valid feature names" was one
        warnings.filterwarnings("ignore", "kept PCA's solution")  # said of one epoch, rightly
        detector = AutoEncoderOutlierDetector(epochs=1).fit(frame)
        scores = detector.score_samples(frame)
    np.testing.assert_array_equal(-scores > -detector.offset_, detector.predict(frame) == -1)
    with pytest.warns(UserWarning, match="feature names"):  # the user's own mix-up still is
        detector.score_samples(frame.to_numpy())


@pytest.mark.parametrize("cls", [AutoEncoderTransformer, AutoEncoderOutlierDetector])
def test_images_are_accepted_as_aekit_fit_accepts_them(cls, digits):
    flat = digits.train.numpy()[:300]
    for shape in ((8, 8), (1, 8, 8)):
        images = flat.reshape(len(flat), *shape)
        a, b = cls(epochs=1).fit(images), cls(epochs=1).fit(flat)
        assert a.n_features_in_ == 64
        if cls is AutoEncoderTransformer:
            np.testing.assert_array_equal(a.transform(images), b.transform(flat))
            assert a.inverse_transform(a.transform(images)).shape == (300, 64)
        else:
            np.testing.assert_array_equal(a.score_samples(images), b.score_samples(flat))


def test_the_imputer_gives_images_back_as_images_and_fills_a_row_alone(digits):
    images = digits.train.numpy()[:300].reshape(300, 8, 8).copy()
    images[np.random.default_rng(0).random(images.shape) < 0.2] = np.nan
    imputer = AutoEncoderImputer(epochs=2).fit(images)
    filled = imputer.transform(images)
    assert filled.shape == (300, 8, 8) and not np.isnan(filled).any()
    np.testing.assert_array_equal(
        filled.reshape(300, 64), imputer.transform(images.reshape(300, 64))
    )
    # a row with nothing observed: filled alone as within a batch (it was refused alone)
    empty = np.full((1, 64), np.nan)
    alone = imputer.transform(empty)
    within = imputer.transform(np.vstack([images.reshape(300, 64)[:4], empty]))
    np.testing.assert_array_equal(alone[0], within[4])
    assert not np.isnan(alone).any()
    nothing = np.full((10, 64), np.nan)
    with pytest.raises(ValueError, match="no observed values"), pytest.warns(UserWarning):
        AutoEncoderImputer(epochs=1).fit(nothing)  # nothing to learn from: refused


# ---- issue 26: one training path, one parameter table --------------------------------------

ESTIMATOR_CLASSES = [AutoEncoderTransformer, AutoEncoderImputer, AutoEncoderOutlierDetector]
SAVED_AT_395EFF0 = Path(__file__).parent / "data" / "estimators_saved_at_395eff0"


def test_every_training_setting_is_a_parameter_unless_it_is_said_why():
    from aekit.sklearn import MODEL_PARAMS, NOT_TRAIN_PARAMS, TRAIN_PARAMS, VAE_PARAMS

    fields = {f.name for f in dataclasses.fields(aekit.TrainConfig)}
    assert set(TRAIN_PARAMS) | set(NOT_TRAIN_PARAMS) == fields
    assert set(NOT_TRAIN_PARAMS) == {
        "seed",  # random_state
        "checkpoint_seconds",  # no run folder
        "checkpoint_every",
        "checkpoint_every_steps",
    }
    assert {"warmup_epochs", "momentum", "min_delta", "keep", "grad_clip", "sample_budget",
            "precision", "compile", "eval_batch_size", "on_nan", "rollback_lr_factor",
            "max_rollbacks", "device"} <= set(TRAIN_PARAMS)  # fmt: skip
    own = {"kind", "penalty", "scaling", "random_state", "verbose"}
    extra = {
        AutoEncoderTransformer: set(VAE_PARAMS),  # the two that fit kind="vae"
        AutoEncoderImputer: {"add_indicator"},
        AutoEncoderOutlierDetector: {"contamination", *VAE_PARAMS},
    }
    for cls in ESTIMATOR_CLASSES:
        signature = inspect.signature(cls)
        names = list(signature.parameters)
        # explicit parameters, each once; kind by position, the rest by keyword
        assert len(names) == len(set(names)) == len(cls().get_params())
        assert set(names) == set(MODEL_PARAMS) | set(TRAIN_PARAMS) | own | extra[cls]
        assert all(
            p.kind is inspect.Parameter.KEYWORD_ONLY
            for p in list(signature.parameters.values())[1:]
        )
        assert set(cls().get_params()) == set(names)
        # each documented once in the class's numpydoc Parameters section (help())
        doc = inspect.getdoc(cls)
        section = doc.split("Parameters\n----------\n", 1)[1]
        documented = re.findall(r"^(\w+) : ", section, flags=re.M)
        assert documented[: len(names)] == names, documented
        assert doc.count("\nParameters\n") == 1
    # the defaults of before
    assert AutoEncoderTransformer().get_params()["random_state"] == 0
    assert AutoEncoderImputer().kind == "deep" and AutoEncoderImputer().add_indicator is False
    assert AutoEncoderOutlierDetector().contamination == "auto"
    assert {k: v for k, v in AutoEncoderTransformer().get_params().items() if v is not None} == {
        "kind": "undercomplete", "scaling": "auto", "device": "auto", "random_state": 0,
        "verbose": False,
    }  # fmt: skip
    with pytest.raises(TypeError, match="unexpected keyword argument 'code_size'"):
        AutoEncoderOutlierDetector(code_size=4)
    with pytest.raises(TypeError, match="too many positional arguments"):
        AutoEncoderImputer("deep", 4)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES)
def test_new_parameters_clone_and_set(cls):
    est = cls(grad_clip=1.0, warmup_epochs=2, keep="last", on_nan="rollback", max_rollbacks=2)
    again = clone(est)
    assert again.get_params() == est.get_params() and again is not est
    assert again.grad_clip == 1.0 and again.keep == "last"
    assert "grad_clip=1.0" in repr(est)
    again.set_params(momentum=0.5, precision="fp32")
    assert clone(again).get_params()["momentum"] == 0.5
    assert pickle.loads(pickle.dumps(again)).get_params() == again.get_params()


def test_a_newly_exposed_training_setting_reaches_the_trained_config(cancer, tmp_path):
    X, _ = cancer
    settings = {
        "warmup_epochs": 2,
        "grad_clip": 0.5,
        "min_delta": 0.001,
        "keep": "last",
        "eval_batch_size": 64,
        "on_nan": "rollback",
        "max_rollbacks": 2,
        "rollback_lr_factor": 0.25,
        "precision": "fp32",
    }
    ae = AutoEncoderTransformer(epochs=4, **settings).fit(X)
    saved = json.loads((ae.save(tmp_path / "ae") / "config.json").read_text())["training"]
    assert {k: saved[k] for k in settings} == settings
    assert load(tmp_path / "ae").get_params() == ae.get_params()
    # the settings chosen from the data, and the kind's, as aekit.fit chooses them
    assert saved["epochs"] == 4 and saved["batch_size"] == 32 and saved["optimizer"] == "adam"
    deep = AutoEncoderTransformer(kind="deep", epochs=1, sample_budget=1000).fit(X[:100])
    chosen = deep._run_sections["training"]
    assert chosen["optimizer"] == "muon" and chosen["weight_decay"] == 0.1
    assert chosen["sample_budget"] == 1000
    # a bad value is refused with its name before anything trains
    with pytest.raises(ValueError, match="keep"):
        AutoEncoderTransformer(epochs=1, keep="first").fit(X)


def test_a_sample_budget_sets_the_epochs_as_for_aekit_fit(cancer):
    X, _ = cancer
    est = AutoEncoderTransformer(sample_budget=5000, val_fraction=0).fit(X)
    assert est.n_iter_ == 10  # 5,000 / 569 samples: 9, at least 10
    assert est._run_sections["training"]["epochs"] == 10


def test_warnings_point_at_the_users_line(cancer):
    X, _ = cancer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AutoEncoderTransformer(epochs=2, muon_lr=0.05).fit(X)  # adam: muon_lr unused
        AutoEncoderTransformer(epochs=2, momentum=0.5).fit_transform(X)  # not sgd
        AutoEncoderImputer(epochs=1, max_rollbacks=5).fit_transform(X)  # on_nan stop
    said = [w for w in caught if "does nothing" in str(w.message)]
    assert [str(w.message).split(" does")[0] for w in said] == [
        "muon_lr=0.05",
        "momentum=0.5",
        "max_rollbacks=5",
    ]
    assert {w.filename for w in said} == {__file__}
    # PCA kept: said as aekit.fit says it, at the same line
    with pytest.warns(UserWarning, match="kept PCA's solution") as record:
        est = AutoEncoderOutlierDetector(epochs=1).fit(X)
    assert est.model_.is_pca
    assert {w.filename for w in record if "kept PCA" in str(w.message)} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the layers kept: nothing to say
        assert not AutoEncoderTransformer(epochs=1, pca_fallback=False).fit(X).model_.is_pca
    # a feature never observed, through fit_transform too
    holes = X.copy()
    holes[:, 1] = np.nan
    with pytest.warns(UserWarning, match="no observed value") as record:
        AutoEncoderImputer(epochs=1).fit_transform(holes)
    assert {w.filename for w in record if "no observed" in str(w.message)} == {__file__}


@pytest.mark.parametrize("name", ["transformer", "imputer", "detector"])
def test_a_folder_saved_before_the_parameter_table_loads(name, cancer, tmp_path):
    """Saved at 395eff0 (24 parameters; tests/data/.../README.txt): the parameters added
    since are absent from its estimator.json, and load at their defaults."""
    X, _ = cancer
    X = X[:200]
    folder = SAVED_AT_395EFF0 / name
    stored = json.loads((folder / "estimator.json").read_text())["params"]
    assert "grad_clip" not in stored and "warmup_epochs" not in stored
    est = load(folder)
    params = est.get_params()
    assert {k: params[k] for k in stored} == stored
    assert all(params[k] is None for k in set(params) - set(stored))
    expected = np.load(folder / "expected.npy")
    if name == "transformer":
        got = est.transform(X[:5])
    elif name == "imputer":
        holes = np.where(np.random.default_rng(0).random(X.shape) < 0.2, np.nan, X)
        got = est.transform(holes[:5])
    else:
        got = est.decision_function(X[:5])
    np.testing.assert_array_equal(got, expected)
    again = load(est.save(tmp_path / name))  # saved again: now with every parameter
    assert again.get_params() == params
    assert set(json.loads((tmp_path / name / "estimator.json").read_text())["params"]) == set(
        params
    )


def test_the_data_range_and_scaling_auto_build_the_model_aekit_train_builds(tmp_path):
    """One rule, the run layer's (runs.inputs.in_unit_range, RunConfig.model_config): the
    range of the float32 data the model trains on. A value within float32's rounding of 1
    is 1 there, so the estimator now agrees with aekit.train on it (it judged the float64
    array before, and standardised)."""
    rng = np.random.default_rng(0)
    edge = rng.random((60, 6))
    edge[0, 0] = 1 + 1e-12
    for i, X in enumerate((edge, rng.normal(size=(60, 6)))):
        for scaling in ({}, {"scaling": "none"}):
            run = aekit.train(
                {"model": scaling, "training": {"epochs": 1}},
                data=X,
                out=tmp_path / f"run{i}{len(scaling)}",
                progress=False,
            )
            est = AutoEncoderTransformer(epochs=1, **scaling).fit(X)
            assert est.model_.config.to_dict() == run.model.config.to_dict()
    assert est.model_.config.output_activation == "linear"  # real data, unscaled: linear


def test_all_missing_data_is_refused_by_the_data_check():
    """Where every entry is missing, the run layer's rule (no value is no evidence against
    [0, 1]) is kept over the estimators' old one (standardise): either way the data check
    refuses the data, before anything trains, with its own message."""
    X = np.full((20, 3), np.nan)
    for scaling in ("auto", "none", "standard"):
        with pytest.raises(aekit.DataError, match="no observed values: every entry is NaN"):
            AutoEncoderImputer(epochs=1, scaling=scaling).fit(X)


def test_text_settings_are_read_as_the_command_line_reads_them(cancer):
    X, _ = cancer
    X = X[:100]
    for hidden in ("16,8", "16-8", [16, 8], (16, 8)):
        est = AutoEncoderTransformer(hidden=hidden, code_dim=4, epochs=1, pca_fallback=False)
        assert est.fit(X).model_.config.hidden == [16, 8]
    with pytest.raises(ValueError, match=r"model\.hidden: expected sizes like 32,16, got '16,x'"):
        AutoEncoderTransformer(hidden="16,x", epochs=1).fit(X)
    for none in ("none", "None", " NONE "):
        est = AutoEncoderTransformer("denoising", corruption=none, penalty=none, epochs=1)
        config = est.fit(X).model_.config
        assert config.corruption is None and config.penalties == []


def test_a_saved_estimator_records_its_run_as_a_run_folder_does(tmp_path, monkeypatch):
    """config.json holds the sections a run folder of data given in Python holds, the
    result in full (runs.folder.result_summary); load reads it once and a second save
    writes it again unchanged."""
    data = load_breast_cancer(as_frame=True).data
    est = AutoEncoderTransformer(epochs=2, random_state=0).fit(data)
    saved = json.loads((est.save(tmp_path / "est") / "config.json").read_text())
    model = aekit.AutoEncoder.build(input_dim=30, code_dim=4, scaling="standard")
    aekit.fit(model, data.to_numpy(), epochs=2, run_dir=tmp_path / "run", progress=False)
    run = json.loads((tmp_path / "run" / "config.json").read_text())
    assert [k for k in saved if k != "columns"] == list(run)
    assert set(saved["result"]) == set(run["result"])
    assert saved["result"]["epochs_trained"] == 2 and saved["result"]["final"]
    assert saved["data"] == {"source": "array"} and saved["columns"] == list(data.columns)
    from aekit.core import io

    reads = []
    read = io.read_checked
    monkeypatch.setattr(
        io,
        "read_checked",
        lambda path, *a: reads.append(Path(path).name) or read(path, *a),
    )
    again = load(tmp_path / "est")
    assert reads.count("config.json") == 1
    again.save(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text()) == saved
