"""data: getting samples in: validation of arrays, the built-in sources (digits, MNIST)
and files (.npy, .npz, .csv, IDX, folders of images), data larger than memory read a
block at a time (``DiskArray``, ``DiskBatches``), the batch iterators the trainer
consumes, and :class:`DataConfig`.

May import core; never models, training, evaluation, runs, cli or sklearn.
"""
