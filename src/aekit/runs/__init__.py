"""runs: a run from settings to a folder on disk: :class:`RunConfig` and its sections
(pretraining, output), the run folder (files, checkpoints, resuming), reading back what a
folder saved (``runs.saved``: its config.json checked, :func:`aekit.load`), the Python
functions behind every command (``runs.api``: train, resume, fit, evaluate, encode,
reconstruct, score, impute), greedy pretraining and the HTML report.

May import training, evaluation, models, data and core; never cli or sklearn.
"""
