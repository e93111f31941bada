"""training: the loop that fits a model: the :class:`Trainer` (``trainer.py``: the step and
the epoch) and its state (``state.py``), the data fed to it (``feeding.py``), the rows it
reports (``history.py``), the weights it keeps (``weights.py``), the PCA fallback
(``fallback.py``), its threads and timing (``speed.py``); :class:`TrainConfig`, optimizers
and schedules by name, torchrun's process group, the bfloat16 probe, and the TensorBoard
callback.

May import models, data and core; never evaluation (its sibling), runs, cli or sklearn.
"""
