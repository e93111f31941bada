"""Pictures of what a model learned (matplotlib, usable from Python).

Every function draws one figure and returns it as a matplotlib ``Figure``; with ``path``
it is also written as a PNG (atomically). :func:`run_figures` draws every figure that fits
a model's kind, as ``aekit train`` does into a run's ``figures/`` folder.

What the figures promise: every curve names its loss and its units; a log scale gets
labelled ticks near both ends of the curve; colours of weights are on one scale centred
at 0 with a colour bar; every string a user gives (a run folder's name, a column's name)
is drawn as the text it is, never read as LaTeX math.

The modules, by what they draw:

    style            what every figure shares: plain text, layout, saving, loss labels,
                     the readable log scale, a row as an image
    reconstructions  what a model gives back: reconstructions, per-feature errors,
                     interpolation, anomaly scores
    filters          the first layer's units as images
    codes            the code: code space, unit activity, the encoder's Jacobian
    curves           loss curves per epoch, and the pretraining's
    vae              a VAE's: the ELBO's terms, samples from the prior, the KL per unit
    comparison       figures comparing runs (the comparison report)
    run              run_figures: which figures a run's folder gets

Where a new figure goes: in the module of what it shows (a new module where it fits
none), decorated with :func:`~aekit.evaluation.plots.style.plain_text`, drawn with
:func:`~aekit.evaluation.plots.style.pyplot` and returned through
:func:`~aekit.evaluation.plots.style.save`; exported here; and, where a run should draw
it, called from :func:`run_figures` with its file name given a caption in
:data:`aekit.runs.captions.CAPTIONS` (which also sets its place in the report).
"""

from __future__ import annotations

from .codes import activation_frequencies, code_space, encoder_jacobian_spectrum, jacobian_spectrum
from .comparison import compare_curves, compare_errors
from .curves import PcaLevel, loss_curves, lowest_validation, pretraining_curves, zoom_start
from .filters import (
    UNUSED_SHARE,
    barely_varying,
    filters,
    first_layer_weights,
    pixel_variance,
    unused_pixels,
)
from .reconstructions import (
    distant_pair,
    feature_errors_plot,
    interpolation,
    reconstruction_grid,
    score_histogram,
)
from .run import run_figures
from .style import (
    LOSS_NAMES,
    PLAIN_TEXT,
    as_image,
    log_ticks,
    loss_label,
    readable_scale,
    save,
    summed_over,
)
from .vae import elbo_curves, kl_per_unit_plot, prior_samples

__all__ = [
    "LOSS_NAMES",
    "PLAIN_TEXT",
    "UNUSED_SHARE",
    "PcaLevel",
    "activation_frequencies",
    "as_image",
    "barely_varying",
    "code_space",
    "compare_curves",
    "compare_errors",
    "distant_pair",
    "elbo_curves",
    "encoder_jacobian_spectrum",
    "feature_errors_plot",
    "filters",
    "first_layer_weights",
    "interpolation",
    "jacobian_spectrum",
    "kl_per_unit_plot",
    "log_ticks",
    "loss_curves",
    "loss_label",
    "lowest_validation",
    "pixel_variance",
    "pretraining_curves",
    "prior_samples",
    "readable_scale",
    "reconstruction_grid",
    "run_figures",
    "save",
    "score_histogram",
    "summed_over",
    "unused_pixels",
    "zoom_start",
]
