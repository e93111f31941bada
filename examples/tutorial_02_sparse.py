"""
A sparse autoencoder: a wide code that is mostly off
====================================================

A code wider than the input could copy it. The ``sparse`` kind stops that with a penalty:
beta times the KL divergence between a target rate rho (0.05) and each unit's mean
activation (Ng's sparse autoencoder). Each digit is then described by the few units that
fire for it.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import aekit

data = aekit.load_digits()
model = aekit.AutoEncoder.build("sparse", input_dim=64, seed=0)  # 64-25, sigmoid code
aekit.fit(model, data.train, epochs=150, progress=False)
codes = model.encode(data.test.numpy())  # (360, 25) activations in (0, 1)
print(f"test squared error per image: {aekit.evaluate(model, data.test)['squared_error']:.3f}")
print(f"mean activation: {codes.mean():.3f} (target rho = 0.05)")

# %%
# Each unit's rate (its mean activation over the test digits) and how often it is
# clearly on (above 0.5). A unit that is never on is inactive, yet alive where its value
# still follows the input; a dead unit is one whose value is the same on every digit: it
# carries no information (aekit.evaluate counts both: inactive_units, dead_units).
rate = codes.mean(0)
on = (codes > 0.5).mean(0)
order = np.argsort(-rate)
fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(np.arange(25), rate[order], label="mean activation")
ax.bar(np.arange(25), on[order], alpha=0.5, label="share of digits with activation > 0.5")
ax.axhline(0.05, color="k", lw=0.8, ls="--", label="target rate 0.05")
ax.set_xlabel("code unit (sorted by mean activation)")
ax.set_ylabel("share of test digits")
ax.legend()
fig.tight_layout()
print(f"{int((on == 0).sum())} of 25 units are never above 0.5 on the test digits")

# %%
# What each unit looks for: its encoder weights as an 8x8 image, on one colour scale
# centred on zero (red: the pixel raises the unit, blue: lowers it).
weights = next(m for m in model.encoder.modules() if hasattr(m, "weight")).weight.detach()
weights = weights.numpy().reshape(-1, 8, 8)
limit = np.abs(weights).max()
fig, axes = plt.subplots(3, 9, figsize=(9, 3.3))
for ax, unit in zip(axes.flat, range(27), strict=True):
    ax.axis("off")
    if unit < len(weights):
        image = ax.imshow(weights[order[unit]], cmap="RdBu_r", vmin=-limit, vmax=limit)
fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
plt.show()
