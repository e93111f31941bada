"""The one-page HTML report of a run and the page comparing runs: self-contained, every
figure embedded, and every image loads in a real headless browser (Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import matplotlib.image
import pytest

import aekit
from aekit.cli import main
from aekit.runs.records import describe_samples
from aekit.runs.report import optimizer_summary, processes, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sparse_run):
    """A folder of two runs: the session's sparse run (by the command) and a denoising run
    (by aekit.train)."""
    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(sparse_run, root / "sparse")
    aekit.train(
        {"model": {"kind": "denoising"}, "training": {"epochs": 3}},
        out=root / "denoising",
        progress=False,
    )
    return root


def _images(page: str) -> list[str]:
    return re.findall(r"<img [^>]*src='([^']*)'", page)


def test_train_writes_a_self_contained_report_with_every_figure(runs):
    page = (runs / "sparse" / "report.html").read_text()
    figures = sorted(p.name for p in (runs / "sparse" / "figures").iterdir())
    assert figures == sorted(
        [
            "reconstructions.png",
            "curves.png",
            "codes.png",
            "filters.png",
            "interpolation.png",
            "activation_frequencies.png",
        ]
    )
    sources = _images(page)
    assert len(sources) == len(figures)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page  # nothing from the network
    # the page states the run's own numbers
    squared_error = json.loads((runs / "sparse" / "metrics.json").read_text())["squared_error"]
    assert f"{squared_error:.4g}" in page


def test_report_command_and_comparison_page(runs, tmp_path, capsys):
    assert main(["report", str(runs / "denoising"), "-o", str(tmp_path / "one.html")]) == 0
    assert "corrupted" in (tmp_path / "one.html").read_text()
    assert main(["report", str(runs), "-o", str(tmp_path / "both.html")]) == 0
    page = (tmp_path / "both.html").read_text()
    assert "2 runs compared" in page and "model.kind" in page
    assert len(_images(page)) == 4  # errors, curves, two reconstruction grids
    assert main(["report", str(runs / "sparse"), str(runs / "denoising")]) == 2
    assert "needs -o" in capsys.readouterr().err


def test_the_header_says_how_the_run_trained(runs):
    """The optimizer with its rates, the weight average, the steps and the processes: what
    config.json records (the issue's header showed a learning rate and nothing else)."""
    page = (runs / "sparse" / "report.html").read_text()
    config = json.loads((runs / "sparse" / "config.json").read_text())
    steps, epochs = config["result"]["steps"], config["result"]["epochs_trained"]
    assert "<td>optimizer</td><td>adam lr 0.003, schedule cosine, seed 0</td>" in page
    assert "<td>processes</td><td>1</td>" in page
    assert f"<td>optimizer steps</td><td>{steps} ({steps / epochs:.4g} an epoch" in page
    samples = config["result"]["samples"]  # the digits: 1437 training rows, 360 test
    held = round(1437 * config["training"]["val_fraction"])
    assert samples == {"train": 1437 - held, "validation": held, "test": 360}
    assert f"<td>samples</td><td>{1437 - held} training, {held} validation, 360 test</td>" in page
    muon = {
        "training": {**config["training"], "optimizer": "muon", "muon_lr": 0.02, "ema": 0.99},
        "result": {"machine": {"newton_schulz": "Newton-Schulz in float32"}},
    }
    said = optimizer_summary(muon)
    assert "muon (muon_lr 0.02 hidden matrices, AdamW lr 0.003 rest" in said
    assert "ema 0.99 (weights averaged)" in said and "Newton-Schulz in float32" in said
    assert processes({"world_size": 4}) == 4 and processes({}) == 1


def test_a_folder_without_sample_counts_still_reports_and_says_so(runs, tmp_path):
    """Folders written before aekit recorded the samples load, and say they are not
    recorded; counts that are no counts are said to be unreadable, never shown."""
    folder = tmp_path / "old"
    shutil.copytree(runs / "sparse", folder)
    config = json.loads((folder / "config.json").read_text())
    del config["result"]["samples"]
    (folder / "config.json").write_text(json.dumps(config))
    page = write_report(folder).read_text()
    assert "<td>samples</td><td>not recorded in the run folder</td>" in page
    assert describe_samples({}) == "not recorded in the run folder"
    for hostile in ("many", [1, 2, 3], {"train": 5}, {"train": True, "validation": 1, "test": 0}):
        said = describe_samples({"result": {"samples": hostile}})
        assert said.startswith("not readable"), hostile
    ok = {"train": 9, "validation": 0, "test": 0}
    assert describe_samples({"result": {"samples": ok}}) == "9 training, 0 validation, 0 test"


def test_the_comparison_ranks_runs_on_the_measure_every_run_records(runs, tmp_path):
    out = tmp_path / "both.html"
    assert main(["report", str(runs), "-o", str(out)]) == 0
    page = out.read_text()
    best = min(
        json.loads((runs / k / "metrics.json").read_text())["squared_error"]
        for k in ("sparse", "denoising")
    )
    assert "<h2>Which run is best</h2>" in page and "held-out data (test split" in page
    assert "<h2>Training curves</h2>" in page and "never share an axis" in page
    assert "loss per sample" not in page  # the old axis that mixed losses
    rows = re.findall(r"<tr><td>(judged on|processes|optimizer)</td>", page)
    assert rows == ["judged on", "processes", "optimizer"]
    assert f"{best:.4g}" in page


def test_a_hostile_run_folder_name_is_drawn_and_written_verbatim(runs, tmp_path):
    """A run folder named m$x_$y made aekit report A B -o fail inside matplotlib."""
    names = ["m$x_$y", "m$\\frac{1}{2}$ <b>"]
    for name, kind in zip(names, ("sparse", "denoising"), strict=True):
        shutil.copytree(runs / kind, tmp_path / name)
    out = tmp_path / "c.html"
    argv = ["report", *(str(tmp_path / n) for n in names), "-o", str(out)]
    assert main(argv) == 0
    page = out.read_text()
    assert "<th>m$x_$y</th>" in page and "<th>m$\\frac{1}{2}$ &lt;b&gt;</th>" in page
    assert "<b>" not in page


def test_no_report_when_asked(tmp_path):
    run = aekit.train(
        {"training": {"epochs": 1}, "output": {"report": False}}, out=tmp_path / "r", progress=False
    )
    assert not (run.path / "report.html").exists() and not (run.path / "figures").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_every_image_loads_in_headless_chromium(runs, tmp_path):
    page = (runs / "sparse" / "report.html").read_text()
    probe = (
        "<script>window.addEventListener('load', () => { const ok = [...document.images]"
        ".every(i => i.complete && i.naturalWidth > 0); document.body.setAttribute("
        "'data-images', ok ? 'all-loaded:' + document.images.length : 'broken'); });</script>"
    )
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    url = (tmp_path / "probe.html").as_uri()
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    assert 'data-images="all-loaded:6"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,3000", url],
        capture_output=True,
        timeout=120,
    )
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200) and pixels[..., :3].std() > 0.05


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_comparisons_reconstructions_are_drawn_full_width(runs, tmp_path):
    """At a desktop width (1440 px), each run's reconstructions take a row of their own,
    about 1,000 px wide: the issue's thumbnails were 330 px, their labels unreadable."""
    assert main(["report", str(runs), "-o", str(tmp_path / "c.html")]) == 0
    probe = (
        "<script>window.addEventListener('load', () => { document.body.setAttribute("
        "'data-widths', [...document.querySelectorAll('.runs img')].map(i => i.width)"
        ".join(' ')); });</script>"
    )
    page = (tmp_path / "c.html").read_text().replace("</body>", probe + "</body>")
    (tmp_path / "probe.html").write_text(page)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1440,3000"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", (tmp_path / "probe.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    widths = [int(w) for w in re.search(r'data-widths="([^"]*)"', dom).group(1).split()]
    assert len(widths) == 2 and min(widths) >= 900, widths


def test_tensorboard_logs_every_epoch_and_the_figures(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = {"training": {"epochs": 3}, "output": {"tensorboard": True}}
    run = aekit.train(cfg, out=tmp_path / "r", progress=False)
    events = EventAccumulator(str(run.path / "tensorboard")).Reload()
    tags = events.Tags()
    assert {"reconstruction/train", "reconstruction/validation", "lr"} <= set(tags["scalars"])
    losses = [e.value for e in events.Scalars("reconstruction/train")]
    expected = [row["train_reconstruction"] for row in run.fit.history]
    assert losses == pytest.approx(expected, rel=1e-6)
    assert "figures/reconstructions" in tags["images"]


def test_captions_fit_the_runs_kind_and_corruption():
    """An autoencoder's reconstructions caption speaks of a corrupted middle row only where
    its model is trained on corrupted inputs (which its figure then draws); a VAE's never."""
    from aekit.runs.captions import caption as _caption

    plain = _caption("reconstructions.png", vae=False)
    corrupted = _caption("reconstructions.png", vae=False, corrupted=True)
    vae = _caption("reconstructions.png", vae=True, corrupted=True)
    assert plain is not None and "corrupted" not in plain and "middle" not in plain
    assert corrupted is not None and "corrupted inputs the model sees (middle)" in corrupted
    assert vae is not None and "corrupted" not in vae and "decoder's mean" in vae
    assert "farthest apart" in (_caption("interpolation.png", vae=False) or "")
    assert _caption("curves.png", vae=False) == _caption("curves.png", vae=True, corrupted=True)
