"""
Anomaly detection
=================

An autoencoder trained on normal data reconstructs normal samples well and unusual ones
badly, so the reconstruction error is an anomaly score. Here the normal data is the
digits 0-7; the anomalies are the 8s and 9s it never saw.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from aekit.sklearn import AutoEncoderOutlierDetector

X, y = load_digits(return_X_y=True)
X = X / 16.0
normal = y < 8
X_train, X_normal_test = train_test_split(X[normal], test_size=0.25, random_state=0)
X_new = X[~normal]

detector = AutoEncoderOutlierDetector(kind="undercomplete", epochs=100, random_state=0)
detector.fit(X_train)

test = np.concatenate([X_normal_test, X_new])
is_anomaly = np.r_[np.zeros(len(X_normal_test)), np.ones(len(X_new))]
scores = -detector.score_samples(test)  # the reconstruction error: higher is more unusual
print(
    f"ROC AUC of the error as a score for the unseen digits: {roc_auc_score(is_anomaly, scores):.3f}"
)
flagged = detector.predict(test) == -1
print(
    f"flagged: {flagged[is_anomaly == 1].mean():.0%} of the 8s and 9s, "
    f"{flagged[is_anomaly == 0].mean():.0%} of the held-out 0-7s"
)

# %%
# The scores of the two groups and the detector's threshold (contamination="auto": the
# box-plot fence of the training errors).
fig, ax = plt.subplots(figsize=(6, 3.2))
bins = np.linspace(0, np.percentile(scores, 99.5), 40)
ax.hist(scores[is_anomaly == 0], bins, alpha=0.6, label="held-out digits 0-7")
ax.hist(scores[is_anomaly == 1], bins, alpha=0.6, label="digits 8 and 9 (never seen)")
ax.axvline(-detector.offset_, color="k", ls="--", label="threshold")
ax.set_xlabel("reconstruction error (standardised units)")
ax.set_ylabel("samples")
ax.legend()
fig.tight_layout()
plt.show()
