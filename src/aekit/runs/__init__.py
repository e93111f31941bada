"""runs: a run from settings to a folder on disk. Each module owns one concept:

- ``config``: :class:`RunConfig`, all the settings of a run, and its own sections
  (pretraining, output).
- ``folder``: the run folder (its files, checkpoints, lock), and ``train_in_folder``, the
  one place where training into a folder starts or resumes.
- ``saved``: what a folder saved, read back (its config.json checked, :func:`aekit.load`).
- ``inputs``: the data of a run: a config's or a caller's data set, loaded and checked;
  the data a resume must be given again; what a folder records of its data.
- ``budget``: the training settings the data and this machine choose (the time budget,
  from one timed step; the kind's larger batch).
- ``run``: :func:`aekit.train` and :func:`aekit.resume`: settings finalised and refused
  before a folder is written; then the run carried out in its folder (``execute``:
  scaling, pretraining, training, judging), for both.
- ``result``: what a run comes to: the :class:`Run`, its held-out data, metrics against
  PCA (metrics.json), figures and report.
- ``fitting``: :func:`aekit.fit` and ``fit_model`` (also the estimators'): a model built
  in Python, trained.
- ``use``: a model or run folder used on data: evaluate, encode, reconstruct, score,
  impute, and the data they take (``load_model_and_data``).
- ``pretrain``: greedy layer-wise pretraining; ``report``: the HTML report; ``records``:
  what a run folder recorded, read back (metrics.json, metrics.csv, the sample counts).
- ``api``: the functions behind every command, imported from these in one place.

May import training, evaluation, models, data and core; never cli or sklearn.
"""
