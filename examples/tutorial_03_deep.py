"""
A deep autoencoder beside a shallow one and PCA
===============================================

Hinton and Salakhutdinov's deep autoencoder (784-1000-500-250-30 on MNIST) is the
``deep`` kind: the same shape scaled to the input (64-82-41-20-8 on the 8x8 digits),
trained end to end with Muon. At the same code size a deep encoder and decoder bend
where PCA's single plane cannot.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

import aekit

data = aekit.load_digits()
train, test = data.train, data.test.numpy()
errors = {}
for kind, epochs in [("undercomplete", 100), ("deep", 100)]:
    model = aekit.AutoEncoder.build(kind, input_dim=64, seed=0)
    aekit.fit(model, train, epochs=epochs, progress=False)
    sizes = [model.config.input_dim, *model.config.hidden, model.config.code_dim]
    name = f"{kind} " + "-".join(map(str, sizes))
    errors[name] = aekit.evaluate(model, test)["squared_error"]
pca = PCA(n_components=8).fit(train.numpy())
errors["PCA-8"] = float(((pca.inverse_transform(pca.transform(test)) - test) ** 2).sum(1).mean())
for name, error in errors.items():
    print(f"{name:32s} {error:.3f}")

# %%
# Test squared error per image at a code of 8 numbers (lower is better).
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(errors), list(errors.values()), color=["C0", "C1", "C7"])
ax.invert_yaxis()
ax.set_xlabel("test squared error per image (8x8 digits)")
for y, value in enumerate(errors.values()):
    ax.text(value, y, f" {value:.3f}", va="center")
ax.set_xlim(0, max(errors.values()) * 1.2)
fig.tight_layout()
plt.show()
