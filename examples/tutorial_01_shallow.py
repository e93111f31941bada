"""
A shallow autoencoder beside PCA
================================

The smallest autoencoder: one hidden code layer smaller than the input (the
``undercomplete`` kind). With a linear code and squared error it would span PCA's
subspace; with a nonlinearity it can do better than PCA at the same code size. Here both
learn an 8-number code of scikit-learn's 8x8 digits.
"""

# %%
# Train on the digits' training split and measure the test error per image, beside PCA
# with as many components as the code has numbers.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

import aekit

data = aekit.load_digits()
model = aekit.AutoEncoder.build("undercomplete", input_dim=64, seed=0)
result = aekit.fit(model, data.train, epochs=100, progress=False)
error = aekit.evaluate(model, data.test)["squared_error"]

pca = PCA(n_components=8).fit(data.train.numpy())
test = data.test.numpy()
pca_error = float(((pca.inverse_transform(pca.transform(test)) - test) ** 2).sum(1).mean())
print(
    f"autoencoder {model.config.arch}: {error:.3f}   PCA-8: {pca_error:.3f}  (squared error per image)"
)

# %%
# The reconstructions: the first row is the test images, the second the autoencoder's,
# the third PCA's.
recon = model.reconstruct(test[:10])
pca_recon = pca.inverse_transform(pca.transform(test[:10]))
fig, axes = plt.subplots(3, 10, figsize=(10, 3.2))
for row, (name, images) in enumerate(
    [("test", test[:10]), ("autoencoder", recon), ("PCA-8", pca_recon)]
):
    for col in range(10):
        ax = axes[row, col]
        ax.imshow(np.clip(images[col], 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
fig.tight_layout()
plt.show()
