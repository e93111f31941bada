"""
Training on several processes
=============================

``torchrun`` starts one process per device (or per CPU group); aekit then trains with
PyTorch's DistributedDataParallel, and every setting means what it means in one process:
the batch size is the global batch, each process takes its share of every batch, and the
processes take the steps one process would. Here two CPU processes train the same run as
one, and end at nearly the same error.
"""

# %%
import subprocess
import sys
import tempfile
from pathlib import Path

import aekit

root = Path(tempfile.mkdtemp())
common = ["train", "--epochs", "60", "--no-progress", "--no-report"]
one = subprocess.run(
    [sys.executable, "-m", "aekit", *common, "--out", str(root / "one")],
    capture_output=True,
    text=True,
    check=True,
)
two = subprocess.run(
    [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "aekit",
        *common,
        "--out",
        str(root / "two"),
    ],
    capture_output=True,
    text=True,
    check=True,
)
print(two.stdout[-600:])

# %%
# Both folders are ordinary run folders; ``config.json`` records how many processes
# trained.
for name in ["one", "two"]:
    metrics = aekit.evaluate(str(root / name))
    print(f"{name} process(es): test squared error {metrics['squared_error']:.3f}")
