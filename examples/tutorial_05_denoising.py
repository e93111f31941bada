"""
A denoising autoencoder
=======================

Instead of a narrow code, the ``denoising`` kind corrupts each input (here: 25% of the
pixels set to 0, masking noise) and trains the model to give back the clean input
(Vincent et al.). It learns what digits look like, so it can fill in what the noise took.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import aekit

data = aekit.load_digits()
model = aekit.AutoEncoder.build("denoising", input_dim=64, seed=0)
print(model.config.corruption)
aekit.fit(model, data.train, epochs=100, progress=False)

# %%
# Corrupt test digits the same way, then compare the corrupted and the reconstructed
# digits with the clean ones: peak signal-to-noise ratio, higher is closer.
test = data.test.numpy()
generator = torch.Generator().manual_seed(1)
keep = torch.rand(test.shape, generator=generator).numpy() >= 0.25
noisy = test * keep
denoised = model.reconstruct(noisy)


def psnr(images):
    return 10 * np.log10(1.0 / ((images - test) ** 2).mean())


print(f"PSNR of the masked digits: {psnr(noisy):.1f} dB -> reconstructed: {psnr(denoised):.1f} dB")

fig, axes = plt.subplots(3, 10, figsize=(10, 3.2))
for row, (name, images) in enumerate([("clean", test), ("masked", noisy), ("denoised", denoised)]):
    for col in range(10):
        axes[row, col].imshow(np.clip(images[col].reshape(8, 8), 0, 1), cmap="gray_r")
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
fig.tight_layout()
plt.show()
