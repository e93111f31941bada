"""training: the loop that fits a model: the :class:`Trainer` and its state,
:class:`TrainConfig`, optimizers and schedules by name, torchrun's process group, the
bfloat16 probe, and the TensorBoard callback.

May import models, data and core; never evaluation (its sibling), runs, cli or sklearn.
"""
