"""The vae kind's decoder on grey photographs: 8x8 patches of scikit-image's camera image
(bundled), the default decoder against the other one, beside PCA at the same code size.

    python benchmarks/vae_grey.py

6,000 patches at seeded random places, scaled to [0, 1]: 5,000 to train, 1,000 to test.
Each run is ``aekit train --kind vae`` with no other setting but ``--decoder``; prints the
decoder chosen, the test squared error per patch and PCA-8's.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from skimage.data import camera

import aekit


def patches(n: int = 6000, size: int = 8, seed: int = 0) -> np.ndarray:
    image = camera().astype(np.float32) / 255
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, image.shape[0] - size, n)
    cols = rng.integers(0, image.shape[1] - size, n)
    return np.stack([image[r : r + size, c : c + size] for r, c in zip(rows, cols, strict=True)])


def main() -> None:
    x = patches()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        train, test = Path(folder, "train.npy"), Path(folder, "test.npy")
        np.save(train, x[:5000])
        np.save(test, x[5000:])
        for decoder in (None, "bernoulli", "gaussian"):
            model = {"kind": "vae"} | ({"decoder": decoder} if decoder else {})
            config = {"model": model, "data": {"source": str(train), "test": str(test)}}
            config["output"] = {"report": False, "progress": False}
            run = aekit.train(config, out=Path(folder, str(decoder)))
            metrics = run.metrics
            rows.append(
                {
                    "asked": decoder or "default",
                    "decoder": run.model.config.decoder,
                    "squared_error": metrics["squared_error"],
                    "pca_squared_error": metrics["pca_squared_error"],
                    "iwae_nll": metrics["iwae_nll"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print("cpu", torch.backends.cpu.get_cpu_capability())


if __name__ == "__main__":
    main()
