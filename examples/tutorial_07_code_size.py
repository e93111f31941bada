"""
Choosing the code size
======================

A PCA user picks k by the reconstruction error against the number of components. Do the
same for an autoencoder: train one per code size and draw its held-out error beside
PCA's curve. Where the two curves meet, the layers add nothing that PCA's flat subspace
does not already capture. With a short training (60 epochs each) the curve also shows
where the layers need more: at the extremes (2 numbers, 32 numbers) PCA is still ahead,
and there ``pca_fallback`` (on by default) would have kept PCA's solution.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

import aekit

data = aekit.load_digits()
train, test = data.train, data.test.numpy()
sizes = [2, 4, 8, 16, 32]
autoencoder, pca = [], []
for k in sizes:
    # pca_fallback=False keeps the trained layers even where PCA would win, so the curve
    # shows what the layers do.
    model = aekit.AutoEncoder.build(
        "undercomplete", input_dim=64, code_dim=k, pca_fallback=False, seed=0
    )
    aekit.fit(model, train, epochs=60, progress=False)
    autoencoder.append(aekit.evaluate(model, test)["squared_error"])
    fitted = PCA(n_components=k).fit(train.numpy())
    pca.append(
        float(((fitted.inverse_transform(fitted.transform(test)) - test) ** 2).sum(1).mean())
    )
    print(f"code {k:2d}: autoencoder {autoencoder[-1]:.3f}  PCA {pca[-1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(sizes, pca, "o-", color="C7", label="PCA")
ax.plot(sizes, autoencoder, "o-", color="C1", label="undercomplete autoencoder")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_xlabel("code size (numbers kept per image)")
ax.set_ylabel("test squared error per image")
ax.set_ylim(bottom=0)
ax.legend()
fig.tight_layout()
plt.show()
