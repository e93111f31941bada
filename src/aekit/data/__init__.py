"""data: getting samples in, and feeding them to the trainer. May import core; never
models, training, evaluation, runs, cli or sklearn.

Where each thing is (and where a new one goes):

- ``config.py``: :class:`DataConfig`, the data settings (a new setting is a field here).
- ``validation.py``: data given in Python (arrays, tensors, lists, DataFrames) checked and
  made float32 ``(samples, features)``; the checks of a range of values.
- ``shapes.py``: the one rule for images stored channels last, and (C, H, W) shapes.
- ``columns.py``: a table's column names, matched between training and later data.
- ``formats/``: one module a file format (``npy``, ``csv``, ``idx``, ``images``); a new
  format is a module there.
- ``files.py``: :func:`read_table` / :func:`load_array`, a file or folder read whole,
  dispatched to its format by what it is or its suffix.
- ``streaming.py``: :class:`DiskArray`, data larger than memory read a block at a time
  (.npy files, folders of .npy shards, uncompressed IDX files).
- ``dataset.py``: :class:`Dataset`, what every source gives.
- ``builtin.py``: the named data sets (digits, MNIST); a new one is a loader there.
- ``sources.py``: :func:`load_source`, a run's data by its name or path, with its test
  data, whole or streamed.
- ``batches.py``: the batch iterators the trainer consumes (in memory, on disk, from an
  iterable), the validation split, the device.
- ``fingerprints.py``: the hash of training data a resumed run checks.
"""
