"""``aekit score --contamination C`` and ``AutoEncoderOutlierDetector(contamination=C)``
set the same threshold on the same errors: the CLI uses the detector's rule
(``aekit.sklearn.threshold``, on scores that are minus the errors)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from aekit.cli import main
from aekit.cli.apply import contamination_threshold
from aekit.sklearn import ESTIMATOR_FILE, AutoEncoderOutlierDetector


@pytest.fixture(scope="module")
def table():
    return load_breast_cancer().data.astype(np.float32)  # 569 rows: quantiles between rows


@pytest.mark.filterwarnings("ignore:kept PCA's solution")  # 5 epochs; any model will do
@pytest.mark.parametrize("share", [0.1, 0.37])
def test_score_contamination_flags_what_the_detector_flags(tmp_path, table, capsys, share):
    det = AutoEncoderOutlierDetector(epochs=5, contamination=share, random_state=0).fit(table)
    errors = -det.score_samples(table)
    assert contamination_threshold(errors, share) == -det.offset_  # exactly, not nearly

    det.save(tmp_path / "det")
    (tmp_path / "det" / ESTIMATOR_FILE).unlink()  # a plain run folder: no saved threshold
    np.save(tmp_path / "t.npy", table)
    argv = ["score", str(tmp_path / "det"), str(tmp_path / "t.npy"), "-o", str(tmp_path / "s.csv")]
    assert main(argv) == 0
    assert "outlier" not in (tmp_path / "s.csv").read_text().splitlines()[0]
    capsys.readouterr()

    assert main([*argv, "--contamination", str(share)]) == 0
    out = capsys.readouterr().out
    rows = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(rows[:, 0], errors, rtol=1e-6)  # the same errors
    np.testing.assert_array_equal(rows[:, 1] == 1, det.predict(table) == -1)
    assert f"; {int(rows[:, 1].sum())} above {-det.offset_:.4g} (outliers)" in out


# ---- kind="vae": scores are ELBOs, contamination="auto" is a share ---------------------------


def _grey_patches(rows: int, seed: int) -> np.ndarray:
    """8x8 patches of smooth grey ramps (values in [0, 1]): under a Bernoulli decoder their
    negative ELBO piles up below their entropy (64 log 2 nats at mid-grey), as the patches
    of a photograph do; the box-plot fence of such scores lies beyond every sample."""
    rng = np.random.default_rng(seed)
    level, slope = rng.random((rows, 1)), rng.uniform(-0.3, 0.3, (rows, 1))
    ramp = np.tile(np.linspace(-0.5, 0.5, 8), 8)[None]
    return np.clip(level + slope * ramp, 0, 1).astype(np.float32)


def _flagged(det: AutoEncoderOutlierDetector, X: np.ndarray) -> float:
    return float((det.predict(X) == -1).mean())


def test_a_vae_detector_flags_about_its_auto_share_and_noise(tmp_path, capsys):
    from sklearn.datasets import load_digits

    from aekit.sklearn.outliers import AUTO_LIKELIHOOD_SHARE

    digits = load_digits().data.astype(np.float32) / 16
    train, held_out = digits[:1200], digits[1200:]  # 597 held-out inliers
    noise = np.random.default_rng(0).random((50, 64)).astype(np.float32)
    det = AutoEncoderOutlierDetector(kind="vae", epochs=20, random_state=0).fit(train)
    assert _flagged(det, train) == pytest.approx(AUTO_LIKELIHOOD_SHARE, abs=1 / len(train))
    assert 0 < _flagged(det, held_out) < 0.05  # about the share, on unseen inliers too
    assert _flagged(det, noise) == 1.0

    # Grey values under a Bernoulli decoder (asked for: grey data's default is Gaussian):
    # the fence (Q3 + 1.5 IQR of the negative ELBO) flagged none of them.
    grey = AutoEncoderOutlierDetector(kind="vae", decoder="bernoulli", epochs=10, random_state=0)
    grey.fit(_grey_patches(4000, seed=0))
    errors = -grey.score_samples(_grey_patches(4000, seed=0))
    q1, q3 = np.percentile(errors, [25, 75])
    assert (errors > q3 + 1.5 * (q3 - q1)).sum() == 0  # what the old rule flagged
    assert 0.003 < _flagged(grey, _grey_patches(4000, seed=1)) < 0.03

    # aekit score on the saved detector flags what the detector flags, at its threshold.
    det.save(tmp_path / "det")
    np.save(tmp_path / "d.npy", held_out)
    argv = ["score", str(tmp_path / "det"), str(tmp_path / "d.npy"), "-o", str(tmp_path / "s.csv")]
    assert main(argv) == 0
    rows = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(rows[:, 1] == 1, det.predict(held_out) == -1)
    assert f"above {-det.offset_:.4g} (outliers)" in capsys.readouterr().out
