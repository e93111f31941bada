"""Folders of image files as data: real PNG and JPEG files written with Pillow from data
that ships with scikit-learn (the digits as 8x8 grey PNGs, crops of its two sample
photographs as RGB JPEGs), read in name order, trained on and scored by the real command
with each file named in the output; what a folder may not hold is refused by name."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aekit
from aekit.cli import main

N_TRAIN, N_TEST = 60, 12


def _digit_pixels(i: int) -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().images[i] * 255 / 16).round().astype(np.uint8)


def write_digits(folder: Path, indices: range, prefix: str = "d") -> list[str]:
    """The digits ``indices`` as 8x8 grey PNGs; their names, in order."""
    from sklearn.datasets import load_digits

    folder.mkdir(parents=True, exist_ok=True)
    images = load_digits().images
    names = []
    for i in indices:
        name = f"{prefix}{i:03d}.png"
        Image.fromarray((images[i] * 255 / 16).round().astype(np.uint8)).save(folder / name)
        names.append(name)
    return names


def photo_crops(n: int, side: int = 16) -> list[np.ndarray]:
    """``n`` RGB crops of scikit-learn's two sample photographs (china.jpg, flower.jpg)."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    return [photos[k % 2][40 * k : 40 * k + side, 50 * k : 50 * k + side] for k in range(n)]


def write_photos(folder: Path, n: int, side: int = 16) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    crops = photo_crops(n, side)
    for k, crop in enumerate(crops):
        Image.fromarray(crop).save(folder / f"photo{k:02d}.jpg", quality=95)
    return crops


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The aekit command in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def digits_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    train = write_digits(root / "train", range(N_TRAIN))
    test = write_digits(root / "test", range(N_TRAIN, N_TRAIN + N_TEST), prefix="t")
    return root, train, test


@pytest.fixture(scope="module")
def trained(digits_folders):
    """A run trained by the command (in this process) on a folder of PNGs, the folders
    named relative to the working directory."""
    root, _, _ = digits_folders
    said = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(said):
        mp.chdir(root)
        code = main(
            [
                "train",
                "--data",
                "train/",
                "--test",
                "test",
                "--epochs",
                "2",
                "--no-pca-fallback",  # 2 epochs lose to PCA, whose reconstructions leave [0, 1]
                "--no-report",
                "--no-progress",
                "--out",
                "run",
            ]
        )
    assert code == 0
    assert "trained undercomplete 64-32-8 on train (60 samples)" in said.getvalue()
    return root / "run"


# ---- reading -------------------------------------------------------------------------------


def test_grey_pngs_are_read_in_name_order_as_one_channel(tmp_path):
    names = write_digits(tmp_path, range(12))
    (tmp_path / names[3]).rename(tmp_path / "a_first.png")  # names decide the order
    images = aekit.load_images(tmp_path)
    assert images.files[0] == "a_first.png" and images.files[1:] == sorted(images.files[1:])
    assert images.array.shape == (12, 1, 8, 8) and images.array.dtype == np.float32
    assert images.shape == (1, 8, 8) and images.notes == []
    np.testing.assert_array_equal(images.array[0, 0], _digit_pixels(3) / np.float32(255))
    np.testing.assert_array_equal(images.array[1, 0], _digit_pixels(0) / np.float32(255))
    # load_array reads the same folder as an array
    np.testing.assert_array_equal(aekit.load_array(tmp_path), images.array)


def test_colour_jpegs_stay_colour(tmp_path):
    crops = write_photos(tmp_path, 6)
    images = aekit.load_images(tmp_path)
    assert images.array.shape == (6, 3, 16, 16) and images.describe() == "6 RGB images of 16x16"
    assert images.array.min() >= 0 and images.array.max() <= 1
    # JPEG is lossy: close to the crops, channel for channel
    expected = np.stack(crops).transpose(0, 3, 1, 2) / 255
    assert np.abs(images.array - expected).mean() < 0.03


def test_16_bit_pngs_scale_by_65535_and_palettes_are_said(tmp_path):
    deep = tmp_path / "deep"
    deep.mkdir()
    values = (_digit_pixels(5).astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(values).save(deep / "a.png")
    assert Image.open(deep / "a.png").mode.startswith("I;16")
    np.testing.assert_allclose(aekit.load_images(deep).array[0, 0], values / 65535, rtol=1e-6)

    gifs = tmp_path / "gifs"
    gifs.mkdir()
    crop = photo_crops(1)[0]
    Image.fromarray(crop).convert("P", palette=Image.Palette.ADAPTIVE).save(gifs / "a.gif")
    Image.fromarray(crop).save(gifs / "b.png")
    images = aekit.load_images(gifs)
    assert images.shape == (3, 16, 16)
    assert images.notes == ["read 1 of 2 palette images as the colours of their palette (RGB)"]


def test_mixed_sizes_are_refused_by_file_and_image_size_resizes(tmp_path, capsys):
    folder = tmp_path / "mixed"
    write_digits(folder, range(10))
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(folder / "d004b.png")
    code, _, err = cli(capsys, "train", "--data", str(folder), "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1
    assert f"{folder}/d004b.png is 12x10 (height x width)" in err
    assert "d000.png, the first image" in err and "--image-size 8,8" in err
    assert not (tmp_path / "r").exists()

    code, out, err = cli(
        capsys,
        "train",
        "--data",
        str(folder),
        "--image-size",
        "8,8",
        "--epochs",
        "1",
        "--no-report",
        "--no-progress",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 0, err
    assert (
        f"data: {folder}: resized 1 of 11 images to 8x8 (Lanczos filter; the aspect ratio "
        "is not kept)" in out
    )
    images = aekit.load_images(folder, image_size=(8, 8))
    assert images.array.shape == (11, 1, 8, 8) and images.array.min() >= 0
    assert images.array[5].max() == 0  # the blank image stays blank
    big = aekit.load_images(folder, image_size=(16, 12))
    assert big.array.shape == (11, 1, 16, 12) and big.notes[0].startswith("resized all 11")


def test_grey_and_colour_are_not_mixed_unless_asked(tmp_path, capsys):
    folder = tmp_path / "both"
    write_photos(folder, 3)
    Image.fromarray(_digit_pixels(0)).resize((16, 16)).save(folder / "photo01b.png")
    code, _, err = cli(capsys, "train", "--data", str(folder), "--out", str(tmp_path / "r"))
    assert code == 2
    assert f"{folder}/photo01b.png is a grey image but photo00.jpg" in err
    assert "is an RGB image" in err and "--image-mode" in err

    rgb = aekit.load_images(folder, image_mode="rgb")
    assert rgb.shape == (3, 16, 16) and rgb.notes == ["converted 1 of 4 images to rgb"]
    grey_row = rgb.array[rgb.files.index("photo01b.png")]
    np.testing.assert_array_equal(grey_row[0], grey_row[2])
    grey = aekit.load_images(folder, image_mode="grey")
    assert grey.shape == (1, 16, 16) and grey.notes == ["converted 3 of 4 images to grey"]


def test_what_is_not_an_image_is_refused_by_name_and_hidden_files_skipped(tmp_path, capsys):
    folder = tmp_path / "photos"
    write_digits(folder, range(4))
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "Thumbs.db").write_bytes(b"\0")
    assert aekit.load_images(folder).files == [f"d{i:03d}.png" for i in range(4)]

    (folder / "README.txt").write_text("my photos\n")
    code, _, err = cli(capsys, "train", "--data", str(folder), "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1
    assert "holds files that are not images (README.txt) beside 4 image(s)" in err
    (folder / "README.txt").unlink()

    (folder / "more").mkdir()
    with pytest.raises(aekit.DataError, match=r"holds subfolders \(more\)"):
        aekit.load_images(folder)
    (folder / "more").rmdir()

    np.save(folder / "x.npy", np.zeros((2, 64), np.float32))
    with pytest.raises(aekit.DataError, match=r"both image files .* and \.npy shards \(x\.npy\)"):
        aekit.load_array(folder)
    with pytest.raises(aekit.DataError, match="one or the other"):
        aekit.train(aekit.RunConfig(data=aekit.DataConfig(source=str(folder))))

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing\n")
    with pytest.raises(aekit.DataError, match=r"holds no \.npy shards or image files"):
        aekit.load_array(empty)


@pytest.mark.parametrize(
    "damage", [b"not an image at all", "truncated"], ids=["garbage", "truncated"]
)
def test_a_damaged_image_is_refused_by_name(tmp_path, capsys, damage):
    folder = tmp_path / "photos"
    write_digits(folder, range(3))
    if damage == "truncated":
        whole = (folder / "d001.png").read_bytes()
        (folder / "d001.png").write_bytes(whole[: len(whole) // 2])
    else:
        (folder / "d001.png").write_bytes(damage)
    code, _, err = cli(capsys, "train", "--data", str(folder), "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1
    assert f"cannot read the image {folder}/d001.png" in err


# ---- a run on a folder ---------------------------------------------------------------------


def test_score_names_each_file_in_order(trained, digits_folders, capsys, tmp_path):
    root, _, test_names = digits_folders
    out = tmp_path / "scores.csv"
    code, stdout, err = cli(
        capsys, "score", str(trained), str(root / "test"), "-o", str(out), "--contamination", "0.25"
    )
    assert code == 0, err
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["file", "error", "outlier"]
    assert [r[0] for r in rows[1:]] == test_names
    errors = np.array([float(r[1]) for r in rows[1:]])
    np.testing.assert_allclose(errors, aekit.score(trained, root / "test").sum(1), rtol=1e-5)
    assert sum(int(float(r[2])) for r in rows[1:]) == 3
    worst = test_names[int(np.argmax(errors))]
    assert f"highest errors: {worst} " in stdout


def test_encode_and_reconstruct_keep_the_names(trained, digits_folders, capsys, tmp_path):
    root, _, test_names = digits_folders
    folder = root / "test"
    codes = aekit.encode(trained, folder)
    model = aekit.load(trained)
    np.testing.assert_allclose(
        codes, model.encode(aekit.load_images(folder).array), rtol=1e-6, atol=1e-7
    )

    code, stdout, _ = cli(
        capsys, "encode", str(trained), str(folder), "-o", str(tmp_path / "c.csv")
    )
    assert code == 0 and "column 'file'" in stdout
    rows = list(csv.reader((tmp_path / "c.csv").open()))
    assert rows[0] == ["file", *(f"code_{i}" for i in range(8))]
    assert [r[0] for r in rows[1:]] == test_names
    np.testing.assert_allclose(np.array(rows[1:])[:, 1:].astype(float), codes, rtol=1e-5)

    code, stdout, _ = cli(
        capsys, "encode", str(trained), str(folder), "-o", str(tmp_path / "c.npy")
    )
    assert code == 0 and f"to {tmp_path / 'c.files.txt'}" in stdout
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), codes)
    assert (tmp_path / "c.files.txt").read_text().splitlines() == test_names

    code, stdout, _ = cli(
        capsys, "reconstruct", str(trained), str(folder), "-o", str(tmp_path / "r")
    )
    assert code == 0 and "8-bit PNGs" in stdout
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == test_names
    picture = np.asarray(Image.open(tmp_path / "r" / test_names[0]))
    recon = aekit.reconstruct(trained, folder)
    assert recon.shape == (N_TEST, 1, 8, 8)
    np.testing.assert_allclose(picture / 255, recon[0, 0], atol=0.5 / 255 + 1e-6)
    # a folder that holds files is never written into
    code, _, err = cli(capsys, "reconstruct", str(trained), str(folder), "-o", str(folder))
    assert code == 2 and "not an empty folder" in err


def test_the_run_records_its_folder_and_refuses_what_does_not_fit(trained, tmp_path, capsys):
    config = json.loads((trained / "config.json").read_text())
    assert config["data"]["source"] == "train/" and config["data"]["image_size"] is None
    assert config["model"]["image_shape"] == [1, 8, 8]

    photos = tmp_path / "photos"
    write_photos(photos, 3)
    with pytest.raises(aekit.DataError, match=r"3 RGB images of 16x16 \(3x16x16\) but the model"):
        aekit.score(trained, photos)
    code, _, err = cli(capsys, "impute", str(trained), str(photos), "-o", str(tmp_path / "x.npy"))
    assert code == 2 and "no missing values to fill" in err
    code, _, err = cli(
        capsys, "encode", str(trained), str(photos), "-o", str(tmp_path / "c.npy"), "--stream"
    )
    assert code == 2 and "is a folder of images, which is read into memory" in err


def test_image_settings_round_trip_through_config_json_and_resume(tmp_path):
    folder = tmp_path / "photos"
    crops = write_photos(folder, 8, side=16)
    Image.fromarray(crops[0][:12, :10]).save(folder / "photo99.jpg")  # another size
    data = aekit.DataConfig(source=str(folder), image_size=(12, 12), image_mode="grey")
    assert aekit.DataConfig.from_dict(json.loads(json.dumps(data.to_dict()))) == data
    with pytest.raises(aekit.ConfigError, match="image_size"):
        aekit.DataConfig(image_size=(0, 12))
    with pytest.raises(aekit.ConfigError, match="image_mode"):
        aekit.DataConfig(image_mode="cmyk")

    training = aekit.TrainConfig(epochs=1, batch_size=4)
    cfg = aekit.RunConfig(data=data, training=training, output=aekit.OutputConfig(report=False))
    run = aekit.train(cfg, out=tmp_path / "run", progress=False)
    assert run.model.config.image_shape == (1, 12, 12)
    assert run.data.files[-1] == "photo99.jpg" and len(run.data.notes) == 2
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert stored["image_size"] == [12, 12] and stored["image_mode"] == "grey"

    resumed = aekit.resume(tmp_path / "run", data=str(folder), epochs=2, progress=False)
    assert resumed.epochs == 2 and resumed.config.data.image_size == (12, 12)
    # scoring the folder reads it as the run did: resized and grey
    assert aekit.score(tmp_path / "run", folder).shape == (9, 144)


def test_image_settings_without_a_folder_are_said_to_do_nothing(tmp_path):
    data = aekit.DataConfig(source="digits", image_size=(8, 8))
    assert data.ignored(streamed=False) == [
        "image_size=8,8 does nothing with source=digits (it applies to folders of images)"
    ]
    assert aekit.DataConfig(image_mode="rgb").ignored(streamed=False, given=True) == [
        "image_mode=rgb does nothing with data given in Python"
    ]
