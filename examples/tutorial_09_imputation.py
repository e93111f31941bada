"""
Imputing missing values
=======================

``AutoEncoderImputer`` trains a denoising autoencoder on incomplete data, with the data's
own patterns of missing entries as the corruption, and fills each hole from what the row
still has. Here a fifth of a table's values are removed at random, then filled three ways.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.impute import KNNImputer, SimpleImputer

from aekit.sklearn import AutoEncoderImputer

X, _ = load_breast_cancer(return_X_y=True)  # 569 rows, 30 features in mixed units
holes = np.where(np.random.default_rng(0).random(X.shape) < 0.2, np.nan, X)
missing = np.isnan(holes)


def rmse(filled):
    """Error of the filled values, in standard deviations of each feature."""
    return float(np.sqrt((((filled - X) / X.std(0))[missing] ** 2).mean()))


results = {
    "column means": rmse(SimpleImputer().fit_transform(holes)),
    "5 nearest neighbours": rmse(KNNImputer().fit_transform(holes)),
    "autoencoder": rmse(AutoEncoderImputer(random_state=0).fit_transform(holes)),
}
for name, value in results.items():
    print(f"{name:22s} {value:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.barh(list(results), list(results.values()), color=["C7", "C0", "C1"])
ax.invert_yaxis()
ax.set_xlabel("error of the filled values (RMSE, feature standard deviations)")
fig.tight_layout()
plt.show()
