"""models: what an autoencoder is: its parts (networks, penalties, corruptions, losses),
the kinds (presets of parts), :class:`ModelConfig`, the :class:`AutoEncoder` itself (its
batch-independent float64 inference in ``inference.py``), the VAE (``vae.py``), the input
checks and scaling every family inherits (``inputs.py``), PCA (the baseline and the
fallback), and the registry of model families with the saving of a model's weights and
config.json.

May import core and data; never training, evaluation, runs, cli or sklearn.
"""
