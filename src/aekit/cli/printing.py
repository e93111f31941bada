"""What the commands print: numbers, the comparison with PCA, and the account of a
training run (``aekit train``'s lines after training).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..data.streaming import DiskArray
from ..evaluation.likelihood import likelihood_words
from ..evaluation.metrics import said_units
from ..models.presets import default_code_dim
from ..runs.api import Run
from ..runs.report import versus
from ..training.trainer import spoken_duration, why_pca


def fmt(value: Any) -> str:
    """A metric as printed: 4 significant digits; n/a for a missing one."""
    if value is None:
        return "n/a"  # NaN or infinite: JSON null in metrics.json
    if isinstance(value, float):
        return f"{value:.4g}"  # inf, -inf and nan as such
    return str(value)


# ---- the comparison with PCA ---------------------------------------------------------------


def pop_baselines(metrics: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Take PCA's errors out of ``metrics``: at the model's code size
    (``pca_squared_error``, None where not computed), and at other code sizes by size
    (``pcaK_squared_error`` -> {"K": error})."""
    pca = metrics.pop("pca_squared_error", None)
    others = {
        k[3:].split("_")[0]: metrics.pop(k)
        for k in list(metrics)
        if re.fullmatch(r"pca\d+_squared_error", k)
    }
    return pca, others


def baseline_lines(code_dim: int, error: Any, pca: Any, others: dict[str, Any]) -> list[str]:
    """The model's ``error`` against PCA's: ``pca`` at the model's ``code_dim``, ``others``
    at the other kinds' default code size (as :func:`pop_baselines` gives them)."""
    if pca is not None:
        wide = "".join(
            f"; PCA-{k} {fmt(v)} (the other kinds' default code size)" for k, v in others.items()
        )
        return [
            f"baseline: PCA-{code_dim} {fmt(pca)}; this model {fmt(error)} "
            f"({versus(error, pca)}){wide}"
        ]
    # A code as wide as the input: PCA with every component is the identity, so the model
    # is compared with PCA at the other kinds' default code size.
    return [
        f"baseline: PCA-{k} {fmt(v)} (the other kinds' default code size); this model "
        f"{fmt(error)} ({versus(error, v)})"
        for k, v in others.items()
    ]


# ---- after training --------------------------------------------------------------------------

# Metrics that say whether a kind does what it is for, printed in words.
JUDGED = (
    "mean_activation",
    "l0",
    "inactive_units",
    "dead_units",
    "dead_unit_numbers",
    "jacobian_frobenius",
    "psnr_corrupted",
    "psnr_denoised",
    "pca_psnr_denoised",
)


def training_lines(run: Run) -> Iterator[str]:
    """What ``aekit train`` prints once a run has trained: what was trained on what, the
    settings chosen for it, which weights were kept, the metrics and the baselines."""
    yield from _pretrained_lines(run)
    yield from _trained_lines(run)
    yield from _adjusted_lines(run)
    yield from _kept_lines(run)
    yield from _metric_lines(run)


def _pretrained_lines(run: Run) -> Iterator[str]:
    for layer in run.layers or []:
        n_in, n_out = layer.sizes
        yield (
            f"pretrained layer {layer.index} {n_in}-{n_out}: squared error of its input "
            f"{fmt(layer.error_before)} -> {fmt(layer.error_after)} in {layer.fit.seconds:.1f} s"
        )


def _estimated(seconds: float | None) -> str:
    return f" (estimated beforehand: {seconds:.1f} s)" if seconds is not None else ""


def _trained_lines(run: Run) -> Iterator[str]:
    cfg = run.model.config
    assert cfg is not None
    yield (
        f"trained {cfg.kind} {cfg.arch} on {run.data.name} ({len(run.data.train)} samples"
        f"{', streamed from disk' if isinstance(run.data.train, DiskArray) else ''}) "
        f"for {len(run.fit.history)} epochs, {run.fit.steps} steps in {run.fit.seconds:.1f} s"
        f"{_estimated(run.fit.estimated_seconds)} -> {run.path}"
    )
    for note in run.data.notes:
        yield f"data: {note}"
    yield f"model: {cfg.summary()}"
    yield from _decoder_lines(cfg, run.config.model)
    yield f"training: {run.config.training.summary(run.fit.machine)}"


def _decoder_lines(cfg: Any, given: dict[str, Any]) -> Iterator[str]:
    """Why a VAE has the decoder it has, where the data chose it (not the user)."""
    if getattr(cfg, "decoder", None) is None or "decoder" in given:
        return
    if cfg.decoder == "bernoulli":
        why = "the data is nearly binary, as pen strokes are (half its values within 0.1 of 0 or 1)"
        other = "--decoder gaussian for grey values"
    elif cfg.scaling == "none":
        why = "the data in [0, 1] is grey, not nearly binary (a photograph's values)"
        other = "--decoder bernoulli for pen strokes"
    else:
        why = "the data lies outside [0, 1]; the inputs standardised"
        other = "--decoder-variance, --decoder-sigma to fix its variance"
    variance = ""
    if cfg.decoder == "gaussian":
        learned = cfg.decoder_variance == "learned"
        variance = (
            ", its variance learned per feature" if learned else f", sigma {cfg.decoder_sigma:g}"
        )
    yield f"chosen from the data: a {cfg.decoder} decoder{variance}: {why} ({other})"


def _adjusted_lines(run: Run) -> Iterator[str]:
    """The settings chosen for the data or the machine, and how to set them."""
    if run.chosen:
        settings = ", ".join(f"{k} {v}" for k, v in run.chosen.items())
        flags = ", ".join("--" + k.replace("_", "-") for k in run.chosen)
        yield f"chosen from the data size: {settings} ({flags} to set them)"
    if run.larger_batch is not None:
        batch, before, after = run.larger_batch
        training = run.config.training
        assert run.model.config is not None
        yield (
            f"batch {training.batch_size} (lr {training.lr:g}, muon_lr {training.muon_lr:g}) "
            f"instead of the {run.model.config.kind} kind's {batch}: a step is timed as slow "
            f"here, and at batch {batch} training would take about {spoken_duration(before)} "
            f"against {spoken_duration(after)}"
        )
    if run.uncut_epochs is not None:
        yield (
            f"epochs cut from {run.uncut_epochs} to {run.epochs}: a step takes "
            f"{run.fit.seconds / max(run.fit.steps, 1) * 1e3:.3g} ms on this machine, and "
            f"{run.uncut_epochs} epochs would have trained for over 6 minutes (the cut aims "
            "at about 3; --epochs sets them)"
        )


def _kept_lines(run: Run) -> Iterator[str]:
    """Which weights the model kept: PCA's, the best epoch's, or the averaged ones."""
    averaged = "averaged " if run.config.training.ema else ""
    if run.fit.kept_pca and run.fit.pca_comparison is not None:
        yield (
            f"kept PCA's solution: {why_pca(run.fit.pca_comparison)}, so here the layers "
            "did not generalise better than PCA; the model now encodes and decodes as PCA "
            f"({_fallback_advice(run.fit.history)}; --no-pca-fallback keeps the trained "
            "layers)"
        )
    elif run.fit.best_epoch is not None and run.config.training.keep == "best":
        yield f"kept the {averaged}weights of epoch {run.fit.best_epoch} (lowest validation loss)"
    elif averaged:
        yield "kept the averaged weights of the last epoch (the raw ones are in the checkpoint)"


def _fallback_advice(history: list[dict[str, float]]) -> str:
    """What may beat PCA where the layers did not: where at their best epoch they fit
    their training rows far better than the validation rows, they overfit (more epochs
    would not help); else they may have needed longer."""
    rows = [r for r in history if "val_reconstruction" in r and "train_reconstruction" in r]
    if rows:
        best = min(rows, key=lambda r: r["val_reconstruction"])
        train, val = best["train_reconstruction"], best["val_reconstruction"]
        if train < val / 1.5:
            return (
                f"the layers overfit: at their best epoch, error {train:.4g} on the rows they "
                f"trained on against {val:.4g} on the validation rows; more data, or a "
                "smaller model (--hidden, --code-dim), may do better"
            )
    return "more data or epochs, or another kind, may do better"


def _metric_lines(run: Run) -> Iterator[str]:
    cfg = run.model.config
    assert cfg is not None
    metrics = dict(run.metrics)
    pca, others = pop_baselines(metrics)
    probe = metrics.pop("probe_accuracy", None)
    judged = {k: metrics.pop(k) for k in JUDGED if k in metrics}
    # Lists of unit numbers are said in words (the code: line), not as numbers here.
    yield f"{run.split}: " + "  ".join(
        f"{k} {fmt(v)}" for k, v in metrics.items() if not isinstance(v, list)
    )
    yield from likelihood_words(cfg, metrics, run.split)
    yield from baseline_lines(cfg.code_dim, metrics["squared_error"], pca, others)
    yield from judged_lines(cfg, judged, probe)


def judged_lines(cfg: Any, judged: dict[str, Any], probe: float | None) -> list[str]:
    lines = []
    if "mean_activation" in judged:
        rho = next((p.rho for p in cfg.penalties if hasattr(p, "rho")), None)
        target = f" (target rho {rho:g})" if rho is not None else ""
        active = "fire (h > 0.5)" if cfg.code_activation == "sigmoid" else "are non-zero"
        never = f"; {judged['inactive_units']} never do" if "inactive_units" in judged else ""
        lines.append(
            f"sparsity: mean activation {fmt(judged['mean_activation'])}{target}; per "
            f"sample {fmt(judged['l0'])} of {cfg.code_dim} units {active}{never}"
        )
    if "dead_units" in judged:
        lines.append(dead_line(judged, cfg.code_dim))
    if "jacobian_frobenius" in judged:
        lines.append(
            f"contraction: mean ||J_f(x)||_F {fmt(judged['jacobian_frobenius'])} "
            "(lower: the code changes less around the data)"
        )
    if cfg.corruption is not None:
        lines.append(trained_for(cfg))
    if "psnr_denoised" in judged:
        lines.append(
            f"denoising: PSNR of the corrupted input {fmt(judged['psnr_corrupted'])} dB -> "
            f"of its reconstruction {fmt(judged['psnr_denoised'])} dB"
            + (
                f" (PCA-{cfg.code_dim if cfg.code_dim < cfg.input_dim else default_code_dim(cfg.input_dim)}"
                f" of the same input: {fmt(judged['pca_psnr_denoised'])} dB)"
                if "pca_psnr_denoised" in judged
                else ""
            )
        )
    if probe is not None:
        lines.append(f"linear probe: logistic regression on the codes, accuracy {probe:.3f}")
    return lines


def dead_line(metrics: dict[str, Any], code_dim: int) -> str:
    """The dead code units by number, from metrics (``dead_unit_numbers``; their count
    alone from a run that recorded no numbers): "dead units (...): 3, 17, 42 of 156"."""
    numbers = metrics.get("dead_unit_numbers")
    said = (
        said_units(numbers, code_dim)
        if isinstance(numbers, list)
        else f"{metrics.get('dead_units')} of {code_dim}"
    )
    more = "; metrics.json lists them all" if " more of " in said else ""
    return f"dead units (the same value on every held-out sample): {said}{more}"


def trained_for(cfg: Any) -> str:
    """The noise a model with a corruption learned to remove, and how to train for another:
    a model trained on masking noise does not remove Gaussian noise (it can make it worse)."""
    corruption = cfg.corruption
    said = f"{corruption.in_words()}{' (in the scaled units)' if cfg.scaling != 'none' else ''}"
    if corruption.name == "missing_patterns":
        return f"denoising: trained to fill {said}"
    if corruption.name == "gaussian":
        other = (
            "to remove noise of another size or kind, train for it: --corruption "
            "gaussian:sigma=S (S its standard deviation) or masking:nu=0.25"
        )
    else:
        other = (
            "to remove other noise, train for it: --corruption gaussian:sigma=0.1 (for "
            "Gaussian noise of standard deviation 0.1)"
        )
    return f"denoising: trained to undo {said}; {other}"
