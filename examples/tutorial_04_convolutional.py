"""
A convolutional autoencoder for images
======================================

For images, convolutions share one small filter across positions. Any kind takes
``architecture="conv"`` with the image's shape: the encoder is strided convolutions, then
dense layers to the code; the decoder mirrors it with transposed convolutions.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import aekit

data = aekit.load_digits()
model = aekit.AutoEncoder.build(
    "undercomplete",
    input_dim=64,
    code_dim=8,
    architecture="conv",
    image_shape=(1, 8, 8),  # channels, height, width
    conv_channels=[16, 32],
    hidden=[64],
    seed=0,
)
print(model.encoder)
aekit.fit(model, data.train, epochs=60, progress=False)
print(f"test squared error per image: {aekit.evaluate(model, data.test)['squared_error']:.3f}")

# %%
# Test digits (top) and their reconstructions from 8 numbers each (bottom).
test = data.test.numpy()[:12]
recon = model.reconstruct(test)
fig, axes = plt.subplots(2, 12, figsize=(12, 2.3))
for col in range(12):
    for row, images in enumerate([test, recon]):
        axes[row, col].imshow(np.clip(images[col].reshape(8, 8), 0, 1), cmap="gray_r")
        axes[row, col].axis("off")
fig.tight_layout()
plt.show()
