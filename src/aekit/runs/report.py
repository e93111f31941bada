"""One self-contained HTML page per run (and one comparing runs): the configuration, the
data, the timings, the final metrics and every figure, images embedded so the page needs
no network and no other file."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import CheckpointError, ConfigError
from ..core.io import MAX_FIGURE_BYTES, atomic_write, read_checked
from ..evaluation.likelihood import likelihood_words
from ..evaluation.metrics import said_units
from ..models.families import model_config_of
from ..models.vae import VAE
from ..training.config import TrainConfig
from .captions import CAPTIONS, caption
from .records import describe_samples, fallback_reason, read_history, read_metrics
from .saved import describe_data, read_run_config

FIGURES = "figures"
REPORT = "report.html"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td:first-child { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f6f6f6; padding: 0.8em; font-size: 0.8em; overflow-x: auto; }
.runs figure { margin: 1.2em 0; } .runs figcaption { font-size: 1em; color: #222; font-weight: 600; }
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _image(path: Path, caption: str | None = None, alt: str | None = None) -> str:
    raw = read_checked(path, "figure", CheckpointError, MAX_FIGURE_BYTES)
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise CheckpointError(
            f"figure {path} is not a PNG image; remove it, or draw the figures again "
            "(aekit train --resume RUN writes them)"
        )
    data = base64.b64encode(raw).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f"<figure><img alt='{html.escape(alt or path.name)}' "
        f"src='data:image/png;base64,{data}'>{cap}</figure>"
    )


def _figures(run: Path) -> list[Path]:
    """The run's figures in reading order (figures/, or the top-level PNGs of older runs)."""
    folder = run / FIGURES
    found = sorted(folder.glob("*.png")) if folder.is_dir() else sorted(run.glob("*.png"))
    order = list(CAPTIONS)
    return sorted(found, key=lambda p: order.index(p.name) if p.name in order else len(order))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"  # NaN or infinite: JSON null in metrics.json
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def versus(error: Any, pca: Any) -> str:
    """How a model's error compares with PCA's, in words: "23% lower", "4% higher", "the
    same"; never a percentage of an error of 0 or of a metric that is not a number."""
    if not _finite(error) or not _finite(pca):
        which = "this model's" if not _finite(error) else "PCA's"
        return f"not comparable: {which} error is not a finite number"
    if pca <= 0:
        if error <= 0:
            return "the same: both reconstruct this data exactly"
        return "higher: PCA's error is 0, it reconstructs this data exactly"
    change = (error - pca) / pca * 100
    if abs(change) < 1e-4:
        return "the same"
    word = "lower" if change < 0 else "higher"
    shown = f"{abs(change):.0f}" if abs(change) >= 1 else f"{abs(change):.2g}"
    return f"{shown}% {word}"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header) if header else ""
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{_fmt(c)}</td>"
            if isinstance(c, int | float)
            else f"<td>{_fmt(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{f'<tr>{head}</tr>' if head else ''}{body}</table>"


def _run_info(run: Path) -> dict[str, Any]:
    config = read_run_config(run)  # every section checked: what aekit writes, or refused
    family, model = model_config_of(config, run)
    metrics = read_metrics(run)
    history = read_history(run)
    result = config.get("result") or {}
    epochs = int(history[-1]["epoch"]) if history else result.get("epochs_trained", 0)
    seconds = history[-1].get("seconds") if history else result.get("seconds")
    return {
        "path": run,
        "config": config,
        "metrics": metrics,
        "history": history,
        "kind": model.kind,
        "arch": model.arch,
        "code_dim": model.code_dim,
        "seconds": seconds,
        "epochs": epochs,
        "model": model,
        "vae": issubclass(family, VAE),
    }


def optimizer_summary(config: dict[str, Any]) -> str:
    """The optimizer, its rates, weight decay, weight average and schedule as config.json
    records them, in one line (:meth:`TrainConfig.summary`)."""
    training = config.get("training")
    if not isinstance(training, dict):
        return "not recorded"
    machine = (config.get("result") or {}).get("machine")
    return TrainConfig.from_dict(training).summary(machine if isinstance(machine, dict) else None)


def _dead_units(metrics: dict[str, Any], code_dim: int) -> str:
    """The dead code units by number (metrics.json's ``dead_unit_numbers``; their count
    alone where a run recorded no numbers), and what dead means."""
    numbers = metrics.get("dead_unit_numbers")
    said = (
        said_units(numbers, code_dim, limit=400)
        if isinstance(numbers, list)
        else f"{_fmt(metrics['dead_units'])} of {code_dim}"
    )
    never = metrics.get("inactive_units")
    inactive = (
        f" {_fmt(never)} units are never active; those of them that vary are not dead."
        if never is not None
        else ""
    )
    return (
        "<p>Dead code units (numbered from 0, as the columns of aekit encode's output), "
        f"whose value is the same on every held-out sample: {html.escape(said)}.{inactive}</p>"
    )


def _weights(metrics: dict[str, Any], config: dict[str, Any]) -> str:
    if metrics.get("fell_back_to_pca"):
        return f"PCA's solution, not an epoch's (the model fell back to PCA): {fallback_reason(config)}"
    epoch = metrics.get("weights_from_epoch", "?")
    result = config.get("result") or {}
    why = " (lowest validation loss)" if result.get("kept") == "best" else ""
    ema = (config.get("training") or {}).get("ema")
    averaged = f"averaged over the last steps (ema {ema:g}) " if _finite(ema) and ema else ""
    return f"{averaged}from epoch {epoch}{why}"


def _steps(info: dict[str, Any]) -> str:
    result = info["config"].get("result") or {}
    steps, epochs = result.get("steps"), result.get("epochs_trained")
    batch = (info["config"].get("training") or {}).get("batch_size", "?")
    if not _finite(steps):
        return "not recorded"
    if _finite(epochs) and epochs > 0:
        return f"{steps} ({steps / epochs:.4g} an epoch, batches of {batch} a process)"
    return f"{steps}"


def processes(config: dict[str, Any]) -> int | str:
    """How many processes trained the run (config.json's world_size; one where it records
    none, as a run on one process does; said as unreadable where it is not a count)."""
    size = config.get("world_size", 1)
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return size
    return f"not readable ({size!r:.40})"


def _facts(run: Path, info: dict[str, Any]) -> list[tuple[str, Any]]:
    """The header of a run's report: where it is, what it trained on and how."""
    config, metrics = info["config"], info["metrics"]
    training = config.get("training") or {}
    return [
        ("run folder", str(run.resolve())),
        ("data", describe_data(config)),
        ("samples", describe_samples(config)),
        ("judged on", metrics.get("split", "?")),
        ("epochs trained", info["epochs"]),
        ("weights", _weights(metrics, config)),
        ("training time (s)", info["seconds"] if info["seconds"] is not None else "?"),
        ("processes", processes(config)),
        ("optimizer steps", _steps(info)),
        ("batch size", training.get("batch_size", "?")),
        ("optimizer", optimizer_summary(config)),
        ("aekit version", config.get("aekit_version", "?")),
    ]


def _likelihood(info: dict[str, Any]) -> list[str]:
    """A VAE's likelihood and the use of its code in words, as ``aekit train`` printed them
    (none for an autoencoder): collapsed units, and posterior collapse, said where the
    reader sees them."""
    metrics = info["metrics"]
    lines = likelihood_words(info["model"], metrics, str(metrics.get("split", "held-out")))
    if not lines:
        return []
    active, units = metrics.get("active_units"), info["model"].code_dim
    collapsed = isinstance(active, int) and active < units
    note = lines[1]
    if collapsed:  # said in bold: it changes what the codes and the samples mean
        figure = (info["path"] / FIGURES / "kl_per_unit.png").is_file()
        which = " (the figure of the KL per unit numbers them, in red)" if figure else ""
        note = f"<strong>{html.escape(note)}</strong>{which}"
    else:
        note = html.escape(note)
    return [
        "<h2>Likelihood and the code</h2>",
        f"<p>{html.escape(lines[0])}</p>",
        f"<p class='code-note'>{note}</p>",
    ]


def write_report(run: str | Path, out: str | Path | None = None) -> Path:
    """Write the one-page HTML report of run folder ``run`` (default: ``RUN/report.html``)."""
    run = Path(run)
    info = _run_info(run)
    config, metrics = info["config"], info["metrics"]
    parts = [f"<h1>aekit run: {html.escape(info['kind'])} {html.escape(info['arch'])}</h1>"]
    facts = _facts(run, info)
    if isinstance(metrics.get("evaluation_error"), str):
        facts.append(("evaluation", f"failed: {metrics['evaluation_error']}"))
    # Words and numbers alike, left-aligned: a long optimizer line leaves no gap to read across.
    parts.append(_table([(k, v if isinstance(v, str) else _fmt(v)) for k, v in facts]))
    rows = [
        (k, v)
        for k, v in metrics.items()
        if (v is None or isinstance(v, int | float))
        and not isinstance(v, bool)
        and k != "weights_from_epoch"
    ]
    if rows:
        parts.append("<h2>Metrics</h2>" + _table(rows, ["metric", "value"]))
        if "pca_squared_error" in metrics and "squared_error" in metrics:
            pca, err = metrics["pca_squared_error"], metrics["squared_error"]
            parts.append(
                f"<p>Squared error per sample {_fmt(err)} against {_fmt(pca)} for PCA with as "
                f"many components as the code ({html.escape(versus(err, pca))}).</p>"
            )
    if "dead_units" in metrics:
        parts.append(_dead_units(metrics, info["code_dim"]))
    for key, value in metrics.items():
        if key.startswith("pca") and key.endswith("_squared_error") and key != "pca_squared_error":
            k = key[3:].split("_")[0]
            parts.append(
                f"<p>This kind has a wide code; PCA with {html.escape(k)} components (the "
                f"other kinds' code size) gives {_fmt(value)}.</p>"
            )
    parts.extend(_likelihood(info))
    figures = _figures(run)
    if figures:
        parts.append("<h2>Figures</h2>")
        corrupted = getattr(info["model"], "corruption", None) is not None
        parts.extend(_image(p, caption(p.name, info["vae"], corrupted)) for p in figures)
    parts.append(
        "<h2>Configuration</h2><pre>" + html.escape(json.dumps(config, indent=2)) + "</pre>"
    )
    out = Path(out) if out is not None else run / REPORT
    text = _page(f"aekit run {run.name}", "\n".join(parts))
    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return out


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        out.update(_flat(v, key) if isinstance(v, dict) else {key: v})
    return out


def write_comparison(runs: Sequence[str | Path], out: str | Path) -> Path:
    """One HTML page comparing run folders: the settings that differ and the metrics in
    one table, the loss curves overlaid, the reconstructions side by side."""
    paths = _expand(runs)
    if len(paths) < 2:
        raise ConfigError("a comparison needs at least two run folders")
    infos = [_run_info(p) for p in paths]
    names = [p.name for p in paths]
    settings = [
        _flat(
            {k: v for k, v in i["config"].items() if k in ("model", "training", "data", "pretrain")}
        )
        for i in infos
    ]
    keys = sorted({k for s in settings for k in s})
    differ = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1]
    metric_keys = [
        k
        for k in (
            "squared_error",
            "pca_squared_error",
            "explained_variance",
            "psnr",
            "probe_accuracy",
            "mean_activation",
            "dead_units",
            "jacobian_frobenius",
        )
        if any(k in i["metrics"] for i in infos)
    ]
    rows = [[k, *[json.dumps(s.get(k)) if k in s else "" for s in settings]] for k in differ]
    rows += [["judged on", *[i["metrics"].get("split", "") for i in infos]]]
    rows += [[k, *[i["metrics"].get(k, "") for i in infos]] for k in metric_keys]
    rows += [
        ["epochs trained", *[i["epochs"] for i in infos]],
        ["training time (s)", *[i["seconds"] if i["seconds"] is not None else "" for i in infos]],
        ["processes", *[processes(i["config"]) for i in infos]],
        ["optimizer", *[optimizer_summary(i["config"]) for i in infos]],
    ]
    parts = [f"<h1>aekit: {len(paths)} runs compared</h1>", _table(rows, ["", *names])]
    parts.extend(_comparison_figures(infos, names))
    parts.append("<h2>Reconstructions</h2><div class='runs'>")
    for path, name in zip(paths, names, strict=True):
        recon = next(
            (p for p in _figures(path) if p.name in ("reconstructions.png", "feature_errors.png")),
            None,
        )
        if recon is not None:
            parts.append(
                f"<h3>{html.escape(name)}</h3>" + _image(recon, alt=f"{name} {recon.name}")
            )
    parts.append("</div>")
    out = Path(out)
    text = _page("aekit comparison", "\n".join(parts))
    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return out


def _expand(runs: Sequence[str | Path]) -> list[Path]:
    """Run folders, a folder of run folders expanded into them."""
    out: list[Path] = []
    for r in runs:
        r = Path(r)
        if os.path.lexists(r / "config.json"):
            out.append(r)  # read, and refused if damaged, as a run folder
        elif r.is_dir():
            inner = sorted(p for p in r.iterdir() if os.path.lexists(p / "config.json"))
            if not inner:
                raise CheckpointError(f"{r} is neither a run folder nor a folder of run folders")
            out.extend(inner)
        else:
            raise CheckpointError(f"run folder not found: {r}")
    return out


def _comparison_figures(infos: list[dict[str, Any]], names: list[str]) -> list[str]:
    """The comparison's figures, embedded: every run's held-out squared error (the measure
    each records, whatever loss it trained on), then the loss curves, one panel per loss."""
    import tempfile

    from ..evaluation.plots import compare_curves, compare_errors, summed_over

    parts = []
    shapes = {
        json.dumps([i["config"]["model"].get(k) for k in ("input_dim", "image_shape")])
        for i in infos
    }
    over = None
    if len(shapes) == 1:
        dim, shape = json.loads(shapes.pop())
        over = summed_over(dim, shape) if isinstance(dim, int) else None
    splits = sorted({str(i["metrics"].get("split", "?")) for i in infos})
    with tempfile.TemporaryDirectory() as tmp:
        errors = Path(tmp) / "errors.png"
        compare_errors(
            names,
            [i["metrics"].get("squared_error") for i in infos],
            [i["metrics"].get("pca_squared_error") for i in infos],
            errors,
            measure="held-out squared error per sample" + (f" (sum over {over})" if over else ""),
        )
        caption = (
            "Each run's squared reconstruction error per sample on its held-out data "
            f"({', '.join(splits)} split; metrics.json), whatever loss it trained on: lower "
            "is better. The black tick: PCA with as many components as the run's code."
        )
        if len(splits) > 1:
            caption += " The runs were judged on different splits: compare with care."
        parts.append("<h2>Which run is best</h2>" + _image(errors, caption, alt="held-out errors"))
        if any(i["history"] for i in infos):
            curves = Path(tmp) / "curves.png"
            compare_curves(
                [
                    (n, i["history"], i["config"]["model"].get("loss"))
                    for i, n in zip(infos, names, strict=True)
                ],
                curves,
                over,
            )
            parts.append(
                "<h2>Training curves</h2>"
                + _image(
                    curves,
                    "Each run's reconstruction loss per epoch (validation solid, training "
                    "dotted), one panel per loss: a cross-entropy and a squared error are in "
                    "different units and never share an axis. A dot marks each run's lowest "
                    "validation loss.",
                    alt="loss curves",
                )
            )
    return parts
