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
