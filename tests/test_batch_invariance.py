"""A sample's code, reconstruction, filled values and score do not depend on which other
samples share its batch, nor on their order or number (issue 25, class 5): bit for bit,
through the model, the Python API, streamed inference, the command line and the
scikit-learn estimators, and under another CPU kernel (AVX2, as on the AMD EPYC where
scikit-learn's sample-order check failed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.data import streaming
from aekit.evaluation.metrics import feature_errors

from .conftest import ROOT

X = aekit.load_digits().train.numpy()


def _trained(**settings) -> aekit.AutoEncoder:
    kind = settings.pop("kind", "undercomplete")
    model = aekit.AutoEncoder.build(kind, input_dim=64, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fallback to PCA is one more model to check
        aekit.fit(model, X, epochs=2, progress=False)
    return model.eval()


MODELS = {
    "deep": {"kind": "deep"},
    "standardised": {"hidden": [37], "scaling": "standard", "pca_fallback": False},
    "top-k": {"kind": "topk"},
    "conv": {"architecture": "conv", "image_shape": (1, 8, 8), "pca_fallback": False},
    "tied, sigmoid code": {"hidden": [24], "tied": True, "code_activation": "sigmoid"},
}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    return _trained(**MODELS[request.param])


def _outputs(model, x):
    errors = feature_errors(model, x)
    return {
        "codes": model.encode(x),
        "reconstructions": model.reconstruct(x),
        "feature errors": errors,
        "scores": errors.sum(1),
    }


def _subsets(n, seed=0):
    """Row selections of many sizes and orders: permutations, subsets, single rows."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(n), np.arange(n)[::-1]]
    picks += [rng.permutation(n)[:k] for k in (1, 2, 3, 7, 64, 500, n - 1)]
    picks += [np.array([i]) for i in rng.integers(0, n, 8)]
    return picks


def test_every_output_of_a_row_is_the_same_whatever_its_batch(model):
    full = _outputs(model, X)
    for rows in _subsets(len(X)):
        for name, values in _outputs(model, X[rows]).items():
            assert np.array_equal(values, full[name][rows]), (name, len(rows))
    codes = full["codes"]
    decoded = model.decode(codes)
    for rows in _subsets(len(X), seed=1):
        assert np.array_equal(model.decode(codes[rows]), decoded[rows]), len(rows)


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_a_vae_gives_each_row_the_same_outputs_whatever_its_batch(decoder):
    model = aekit.VAE.from_config(
        aekit.VAEConfig(input_dim=64, code_dim=4, hidden=[32], decoder=decoder), seed=0
    )
    aekit.fit(model, X, epochs=2, progress=False)
    full = {"codes": model.encode(X), "reconstructions": model.reconstruct(X)}
    decoded = model.decode(full["codes"])
    for rows in _subsets(len(X)):
        assert np.array_equal(model.encode(X[rows]), full["codes"][rows]), len(rows)
        assert np.array_equal(model.reconstruct(X[rows]), full["reconstructions"][rows])
        assert np.array_equal(model.decode(full["codes"][rows]), decoded[rows]), len(rows)
    # Images in, images out, as the autoencoder's.
    images = X[:5].reshape(5, 8, 8)
    assert np.array_equal(model.reconstruct(images), full["reconstructions"][:5].reshape(5, 8, 8))
    # The prior's samples are the decoder's mean of their codes, one by one as in a batch.
    drawn = model.sample(9, generator=3).numpy()
    codes = torch.randn(9, 4, generator=torch.Generator().manual_seed(3)).numpy()
    assert np.array_equal(drawn, model.decode(codes))
    assert np.array_equal(drawn[4:5], model.decode(codes[4:5]))


def test_the_block_size_of_inference_changes_nothing(model):
    import torch

    x = torch.as_tensor(X)
    whole = model._infer("_reconstruct", x)
    # The smallest blocks on the first 301 rows only (43 and 101 blocks, an uneven last
    # one): a call a block, each as slow as a large one on a busy CPU.
    for block, rows in ((7, 301), (64, len(X)), (1000, len(X))):
        assert np.array_equal(model._infer("_reconstruct", x[:rows], block), whole[:rows]), block
    errors = feature_errors(model, X)
    for block, rows in ((3, 301), (100, len(X))):
        assert np.array_equal(feature_errors(model, X[:rows], batch_size=block), errors[:rows])


def test_a_model_of_missing_values_fills_a_row_as_in_any_batch():
    model = _trained(kind="deep", missing=True)
    holes = X.copy()
    holes[np.random.default_rng(0).random(X.shape) < 0.3] = np.nan
    holes[5] = np.nan  # a row with nothing observed
    full = aekit.impute(model, holes)
    for rows in _subsets(len(X)):
        assert np.array_equal(aekit.impute(model, holes[rows]), full[rows]), len(rows)
    assert np.array_equal(aekit.impute(model, holes[5:6]), full[5:6])  # alone


def test_streamed_inference_gives_the_rows_of_inference_in_memory(tmp_path, monkeypatch):
    model = _trained(kind="deep")
    run = tmp_path / "run"
    model.save(run)
    np.save(tmp_path / "x.npy", X)
    in_memory = {f: f(run, X) for f in (aekit.encode, aekit.reconstruct, aekit.score)}
    monkeypatch.setattr(streaming.DiskArray, "block_rows", lambda self, block_bytes=0: 97)
    for f, expected in in_memory.items():
        streamed = f(run, tmp_path / "x.npy", stream=True)
        assert np.array_equal(np.asarray(streamed), expected), f.__name__


def test_the_commands_write_the_same_rows_whatever_comes_with_them(tmp_path, capsys):
    model = _trained(kind="deep")
    run = tmp_path / "run"
    model.save(run)
    rows = np.random.default_rng(0).permutation(len(X))[:33]
    np.save(tmp_path / "all.npy", X)
    np.save(tmp_path / "some.npy", X[rows])
    np.save(tmp_path / "one.npy", X[rows[:1]])
    for command in ("encode", "reconstruct"):
        out = {}
        for name in ("all", "some", "one"):
            target = tmp_path / f"{command}-{name}.npy"
            assert main([command, str(run), str(tmp_path / f"{name}.npy"), "-o", str(target)]) == 0
            out[name] = np.load(target)
        assert np.array_equal(out["some"], out["all"][rows]), command
        assert np.array_equal(out["one"], out["all"][rows[:1]]), command
    scores = {}
    for name in ("all", "some"):
        target = tmp_path / f"scores-{name}.csv"
        assert main(["score", str(run), str(tmp_path / f"{name}.npy"), "-o", str(target)]) == 0
        scores[name] = target.read_text().splitlines()[1:]
    assert [scores["all"][i] for i in rows] == scores["some"]
    capsys.readouterr()


def test_the_estimators_score_a_sample_alike_in_any_order():
    from sklearn.utils.estimator_checks import (
        check_methods_sample_order_invariance,
        check_methods_subset_invariance,
    )

    from aekit.sklearn import ESTIMATORS

    for name, cls in ESTIMATORS.items():
        estimator = cls(epochs=3)
        check_methods_sample_order_invariance(name, estimator)
        check_methods_subset_invariance(name, estimator)
    detector = ESTIMATORS["AutoEncoderOutlierDetector"](epochs=3).fit(X)
    scores = detector.score_samples(X)
    for rows in _subsets(len(X)):
        assert np.array_equal(detector.score_samples(X[rows]), scores[rows])
        assert np.array_equal(detector.predict(X[rows]), detector.predict(X)[rows])


AVX2 = textwrap.dedent(
    """
    import numpy as np, aekit, warnings
    from aekit.evaluation.metrics import feature_errors
    from aekit.sklearn import ESTIMATORS
    from sklearn.utils.estimator_checks import check_methods_sample_order_invariance
    warnings.simplefilter("ignore")
    X = aekit.load_digits().train.numpy()
    model = aekit.AutoEncoder.build("deep", input_dim=64)
    aekit.fit(model, X, epochs=2, progress=False)
    rows = np.random.default_rng(0).permutation(len(X))
    for f in (model.encode, model.reconstruct, lambda x: feature_errors(model, x).sum(1)):
        full = f(X)
        assert np.array_equal(f(X[rows]), full[rows])
        assert all(np.array_equal(f(X[i : i + 1]), full[i : i + 1]) for i in rows[:20])
    for name, cls in ESTIMATORS.items():
        check_methods_sample_order_invariance(name, cls(epochs=3))
    print("invariant")
    """
)


@pytest.mark.slow  # the tests above check the same in this process, on its default kernels
@pytest.mark.parametrize("isa", ["avx2", "default"])
def test_invariant_under_another_cpu_kernel(isa):
    """ATen's AVX2 kernels and oneDNN's and MKL's AVX2 code paths, as on a CPU without
    AVX-512 (the AMD EPYC of the report), in a process of their own."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    if isa == "avx2":
        env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
        env.update(MKL_ENABLE_INSTRUCTIONS="AVX2")
    done = subprocess.run(
        [sys.executable, "-c", AVX2], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and "invariant" in done.stdout, done.stderr[-3000:]
