"""What each figure of a run shows, in words: the captions of the report's figures, by
file name, in the order a reader wants them (:data:`CAPTIONS`), and those that differ for
a VAE's run or a model trained on corrupted inputs."""

from __future__ import annotations

# Figures in the order a reader wants them, with what each shows.
CAPTIONS = {
    "reconstructions.png": "Held-out samples (top) and their reconstructions (bottom).",
    "feature_errors.png": "Mean squared reconstruction error of each feature on the held-out data.",
    "curves.png": "Training and validation loss per epoch, one panel per loss term, each "
    "naming its loss and units; the dotted line marks the epoch of the lowest validation loss. "
    "The dash-dotted black line is PCA's held-out squared error with as many components as the "
    "code, drawn where the panel is a squared error per sample in the same units (never on a "
    "cross-entropy); where the run fell back to PCA, the figure's title says its final model "
    "is that PCA, and the curves are those of the layers it set aside. "
    "Where the first epochs would flatten the rest, a second panel (below or beside) repeats "
    "the curves from the end of the first tenth of training on a linear scale: a validation curve that rises "
    "while the training curve falls is overfitting.",
    "elbo_curves.png": "A VAE's training: the ELBO's terms per epoch in nats per sample, "
    "training solid and validation dashed: the negative ELBO, the reconstruction's negative "
    "log-likelihood -log p(x | z) and the KL divergence of the posterior q(z | x) from the "
    "prior (the ELBO is minus their sum); where the objective weighs the KL otherwise (beta, "
    "a KL warm-up, free bits), the objective as minimised too. The dotted line marks the "
    "epoch of the lowest validation loss.",
    "prior_samples.png": "Samples from the model: codes drawn from the prior N(0, I) (seeded: "
    "the same run draws the same grid), each shown as the decoder's mean.",
    "kl_per_unit.png": "How much each code unit carries: its KL divergence from the prior on "
    "the held-out data, in nats (a log scale), one bar a unit, largest first. Units under the "
    "dashed threshold are inactive (they carry almost nothing): red bars with red numbers. "
    "Some such units are normal for a VAE, which leaves at the prior the units the data does "
    "not need; all of them inactive is posterior collapse.",
    "filters.png": "What the first-layer units respond to: each unit's input weights, titled "
    "by the unit's number, the largest weights first, all on one colour scale centred at 0 (the "
    "colour bar), so a faint unit has small weights. Grey: pixels the training data barely "
    "uses, where a weight hardly matters.",
    "codes.png": "The held-out samples' codes in two dimensions, coloured by label where known.",
    "interpolation.png": "Decodings along the straight line between the codes of two held-out "
    "samples (of the first 200, the two whose codes lie farthest apart); the ends are the two "
    "samples' reconstructions.",
    "activation_frequencies.png": "How often each code unit is active, one bar a unit, most "
    "active first. Dead units, whose value is the same on every held-out sample (they tell the "
    "decoder nothing), are the red crosses, numbered in the title (and in red on the axis, up "
    "to 64 units). A grey circle is a unit never active that still varies with the input: "
    "alive. Under a KL penalty, the diamonds are each unit's mean activation, which the "
    "penalty pulls to rho (the dashed line): a unit can meet rho without ever being active.",
    "jacobian_spectrum.png": "Singular values of the encoder's Jacobian: a contractive "
    "encoder keeps few directions.",
    "pretraining.png": "Greedy pretraining: each layer's reconstruction error per epoch.",
    "scores.png": "Anomaly scores and the outlier threshold.",
}


# A VAE's captions where its figures differ from an autoencoder's: its reconstructions never
# show a corrupted row, and its codes are posterior means, decoded to the decoder's mean.
VAE_CAPTIONS = {
    "reconstructions.png": "Held-out samples (top) and their reconstructions (bottom): the "
    "decoder's mean at each sample's posterior mean.",
    "codes.png": "The held-out samples' codes, their posterior means, in two dimensions, "
    "coloured by label where known.",
    "interpolation.png": "Decodings along the straight line between the posterior means of two "
    "held-out samples (of the first 200, the two whose means lie farthest apart), each decoded "
    "to the decoder's mean; the ends are the two samples' reconstructions.",
}
# A model trained on corrupted inputs: its reconstructions figure has a middle row.
CORRUPTED_CAPTIONS = {
    "reconstructions.png": "Held-out samples (top), the corrupted inputs the model sees "
    "(middle) and their reconstructions of the clean samples (bottom).",
}


def caption(name: str, vae: bool, corrupted: bool = False) -> str | None:
    """The caption of figure ``name`` in a VAE's report (``vae``) or an autoencoder's, of
    a model trained on corrupted inputs (``corrupted``: an autoencoder's reconstructions
    then show them; a VAE's never do) or not."""
    own = VAE_CAPTIONS if vae else CORRUPTED_CAPTIONS if corrupted else {}
    return own.get(name, CAPTIONS.get(name))
