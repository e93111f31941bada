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
    assert len(_images(page)) == 3  # overlaid curves + two reconstruction grids
    assert main(["report", str(runs / "sparse"), str(runs / "denoising")]) == 2
    assert "needs -o" in capsys.readouterr().err


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
