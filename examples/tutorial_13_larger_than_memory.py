"""
Data larger than memory
=======================

A ``.npy`` file, a folder of ``.npy`` shards or an uncompressed IDX file can be read from
disk a block at a time instead of loaded (``stream=True``, ``--stream``; automatic above
1 GiB and for shard folders). Each epoch shuffles blocks, then rows within a buffer, while
threads read ahead. Here the digits are written as four shards, a stand-in for files that
would not fit, and trained on from disk.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np

import aekit

root = Path(tempfile.mkdtemp())
shards = root / "shards"
shards.mkdir()
train = aekit.load_digits().train.numpy()
for i, part in enumerate(np.array_split(train, 4)):
    np.save(shards / f"part-{i}.npy", part)
print(sorted(p.name for p in shards.iterdir()))

config = aekit.RunConfig(
    training=aekit.TrainConfig(epochs=40),
    data=aekit.DataConfig(source=str(shards), stream=True),
    output=aekit.OutputConfig(progress=False, report=False),
)
streamed = aekit.train(config, out=root / "streamed")
print(f"streamed from disk: squared error {streamed.metrics['squared_error']:.3f}")

# %%
# The commands that use a run stream the same way, and write their results to ``.npy``
# block by block: a memory map comes back.
codes = aekit.encode(str(root / "streamed"), str(shards), out=root / "codes.npy")
print(type(codes).__name__, codes.shape)
