"""evaluation: what a trained model is worth: the metrics (reconstruction error, code
sparsity, contraction, denoising, the linear probe, per-feature errors) and every
figure.

May import models, data and core; never training (its sibling), runs, cli or sklearn.
"""
