"""
Reading a run's report
======================

Every run folder holds ``report.html``: one self-contained page (open it in a browser)
with what was trained, on what, how training went and what the model learned. The same
figures are PNG files under ``figures/``. This tutorial trains a small run and shows them
with what to read in each.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import aekit

folder = Path(tempfile.mkdtemp()) / "digits-run"
config = aekit.RunConfig(
    model={"kind": "undercomplete"},
    training=aekit.TrainConfig(epochs=100),
    data=aekit.DataConfig(source="digits"),
    output=aekit.OutputConfig(progress=False),
)
run = aekit.train(config, out=folder)
print(f"test squared error {run.metrics['squared_error']:.3f}")
print(sorted(p.name for p in folder.iterdir()))

# %%
# Each figure of the report, as the run drew it. The learning curves show whether
# training converged (the curve flattens) or overfits (the held-out curve turns up while
# the training curve keeps falling); the reconstructions what is kept and what is lost;
# the filters what each code unit responds to; the activations which units are dead.
for png in sorted((folder / "figures").glob("*.png")):
    image = plt.imread(png)
    height, width = image.shape[:2]
    fig = plt.figure(figsize=(width / 100, height / 100))
    fig.figimage(image)
    fig.suptitle(png.name, y=1.0, va="bottom", fontsize=9)
plt.show()
