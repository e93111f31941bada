"""The schema of a run: :class:`RunConfig`, all the settings of a run (the one schema
behind :func:`aekit.train`, config files, run folders' ``config.json`` and the
``aekit train`` flags), with its own sections :class:`PretrainConfig` and
:class:`OutputConfig`; the model, training and data sections are the configs of their
layers (:class:`~aekit.ModelConfig` settings, :class:`~aekit.TrainConfig`,
:class:`~aekit.DataConfig`)."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any, Literal

from ..core.config import _Config, flag, require, within
from ..core.errors import ConfigError
from ..core.io import read_json
from ..core.schema import check_known, coerce, from_dict, to_dict
from ..data.config import NAMED_SOURCES, DataConfig
from ..evaluation.likelihood import IWAE_K, K_REPORTED
from ..models.corruption import Corruption
from ..models.kinds import check_settings, get_kind, model_fields
from ..models.penalties import Penalty
from ..models.vae import VAE
from ..training.config import MAX_EPOCHS, TrainConfig


def iwae_k_refused(kind: str, setting: str = "iwae_k", fix: str = "kind='vae'") -> ConfigError:
    """The error for the samples of a VAE's importance-weighted bound (``setting``: as the
    caller names it, "iwae_k" or "--iwae-k") given for a model of ``kind`` that is not a
    VAE, which has no such bound: never ignored in silence, as a setting that does
    nothing would be. ``fix``: how the caller would ask for a VAE."""
    return ConfigError(
        f"{setting} is the samples of a VAE's importance-weighted bound, and the {kind} "
        f"kind is an autoencoder, judged by its reconstruction error: leave it out (or "
        f"train a VAE: {fix})"
    )


# What the samples of the importance-weighted bound may be, in every door's message.
IWAE_K_NOTE = f"1 is the ELBO, {K_REPORTED} the figure papers report"


def iwae_k_checked(value: Any, setting: str = "iwae_k") -> int:
    """``value`` as the samples per example of a VAE's importance-weighted bound: a whole
    number, 1 or more (``setting``: as the caller names it), else :class:`ConfigError`
    naming it, checked before any data is read or any run folder made."""
    k = coerce(value, int, setting)
    if k < 1:
        raise ConfigError(f"{setting} must be a whole number >= 1 ({IWAE_K_NOTE}), got {k}")
    return k


def is_vae_kind(kind: str) -> bool:
    """Whether models of kind ``kind`` are VAEs (judged by their likelihood)."""
    return issubclass(get_kind(kind).model_class, VAE)


def _rearranges(given: Any, images: tuple[int, ...]) -> bool:
    """Whether ``given`` is another shape of as many values as ``images`` (a shape of
    another size is refused elsewhere, with the sizes)."""
    try:
        shape = tuple(int(n) for n in given)
    except (TypeError, ValueError):
        return False
    return shape != tuple(images) and math.prod(shape) == math.prod(images)


@dataclasses.dataclass
class PretrainConfig(_Config):
    """Greedy layer-wise pretraining (MLP), then fine-tuning with the training settings.

    Parameters
    ----------
    method : pretrain a stack of shallow autoencoders, one per layer, first (greedy).
    epochs : training epochs per layer.
    corruption : input corruption of every layer, NAME[:key=value,...] (stacked denoising).
    penalties : code penalty of every layer, NAME[:key=value,...] (repeatable).
    lr : learning rate of the layers (default: the training lr).
    batch_size : batch size of the layers (default: the training batch size).
    """

    method: Literal["greedy"] = dataclasses.field(default="greedy", metadata=flag("--pretrain"))
    epochs: int = 5
    corruption: Corruption | None = None
    penalties: list[Penalty] = dataclasses.field(
        default_factory=list, metadata=flag("--pretrain-penalty", append=True)
    )
    lr: float | None = dataclasses.field(default=None, metadata=within(0, low_open=True))
    batch_size: int | None = None

    def validate(self) -> None:
        require(
            1 <= self.epochs <= MAX_EPOCHS,
            f"pretraining epochs must be in [1, {MAX_EPOCHS:,}], got {self.epochs}",
        )
        require(
            self.batch_size is None or self.batch_size >= 1,
            f"pretraining batch_size must be >= 1, got {self.batch_size}",
        )


@dataclasses.dataclass
class OutputConfig(_Config):
    """Where a run goes and what it shows while it trains.

    Parameters
    ----------
    out : the run folder to create (default: runs/KIND-DATE-TIME, made unique).
    progress : show a progress bar (default: where stderr is a terminal or a notebook, so
        that logs get none of its carriage returns; --progress draws it anyway).
    report : write the run's figures (RUN/figures) and its one-page HTML report
        (RUN/report.html) at the end.
    tensorboard : also log every epoch's losses and the figures for TensorBoard into
        RUN/tensorboard (needs the tensorboard package).
    iwae_k : samples per example of the importance-weighted bound a VAE (--kind vae) is
        judged by at the end, in nats (default 100; 5000: the figure papers report, 50
        times slower). Refused for an autoencoder, even at 100: a setting that does
        nothing is never taken in silence.
    """

    out: str | None = None
    progress: bool | None = None
    report: bool = True
    tensorboard: bool = False
    iwae_k: int | None = dataclasses.field(default=None, metadata=within(1, note=IWAE_K_NOTE))

    @property
    def iwae_samples(self) -> int:
        """The samples of the bound a VAE is judged by: ``iwae_k``, or the default."""
        return IWAE_K if self.iwae_k is None else self.iwae_k


# Top-level keys of a run folder's config.json besides the RunConfig sections.
# Written by aekit beside the settings: "columns" names the columns a run trained on,
# where its data named them (a CSV's header line, a DataFrame).
RUN_METADATA = ("format", "aekit_version", "family", "result", "world_size", "columns")


@dataclasses.dataclass
class RunConfig(_Config):
    """All the settings of a run: the one schema behind :func:`aekit.train`, config files,
    run folders' ``config.json`` and the ``aekit train`` flags.

    ``model`` holds model settings (fields of the config of the kind's family:
    :class:`ModelConfig`, or :class:`~aekit.VAEConfig` for the vae kind; ``kind`` among them);
    what it does not set comes from the kind's preset and the data (input size, image
    shape, the code-size rule). :meth:`model_config` resolves them.

    Examples
    --------
    >>> cfg = RunConfig.from_dict({"model": {"kind": "sparse", "code_dim": 16},
    ...                            "training": {"epochs": 5}})
    >>> cfg.model_config(input_dim=64).arch, cfg.training.epochs
    ('64-16', 5)
    >>> RunConfig(model={"hidden": "wide"})
    Traceback (most recent call last):
    ...
    aekit.core.errors.ConfigError: model.hidden: expected a list, got str 'wide'
    """

    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    pretrain: PretrainConfig | None = None
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)

    def validate(self) -> None:
        hints = model_fields()  # the settings of every kind's family
        check_known(self.model, hints, "model")
        self.model = {k: coerce(v, hints[k], f"model.{k}") for k, v in self.model.items()}
        check_settings(self.kind, self.model)  # the kind known, and these its own
        # Given at all, even at its default, for another kind: refused (None: not given).
        if self.output.iwae_k is not None and not is_vae_kind(self.kind):
            raise iwae_k_refused(self.kind, "output.iwae_k")

    @property
    def kind(self) -> str:
        return self.model.get("kind", "undercomplete")

    def model_config(
        self,
        input_dim: int,
        image_shape: tuple[int, int, int] | None = None,
        unit_range: bool = True,
        binary: bool = True,
    ) -> Any:
        """The config of the model these settings describe for data of ``input_dim``
        features: a :class:`ModelConfig`, or the config of the kind's family (a
        :class:`~aekit.VAEConfig` for the vae kind).

        ``unit_range``: whether the data lies in [0, 1] (see :func:`model_config`);
        ``binary``: whether it is nearly binary, as pen strokes are (a VAE's decoder)."""
        settings = dict(self.model)
        given = settings.pop("input_dim", input_dim)
        if given != input_dim:
            raise ConfigError(
                f"the model's input_dim is {given} but the data has {input_dim} features"
            )
        if image_shape is not None and "image_shape" not in settings:
            settings["image_shape"] = image_shape
        elif image_shape is not None and _rearranges(settings["image_shape"], image_shape):
            given = tuple(settings["image_shape"])
            warnings.warn(
                f"model.image_shape {given} differs from the data's images, "
                f"{tuple(image_shape)}: the model sees each image rearranged",
                UserWarning,
                stacklevel=3,
            )
        kind = settings.pop("kind", "undercomplete")
        make = get_kind(kind).make_config
        return make(kind, unit_range=unit_range, binary=binary, input_dim=input_dim, **settings)

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> RunConfig:
        """From a config file's or a run folder's JSON; a run folder's metadata keys
        (format, aekit_version, family, result) are accepted and ignored."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in RUN_METADATA}
            # Config files of aekit 0.1.0 put the kind and the run folder at the top.
            if isinstance(data.get("kind"), str) and isinstance(data.get("model", {}), dict):
                data["model"] = {"kind": data.pop("kind"), **data.get("model", {})}
            if isinstance(data.get("out"), str) and isinstance(data.get("output", {}), dict):
                data["output"] = {"out": data.pop("out"), **data.get("output", {})}
        return from_dict(cls, data, "" if where is None else where)

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """Read a JSON config file. Paths it names (data files, the MNIST folder, the
        output folder) are relative to the file's folder and must stay inside it: a config
        file may come from someone else, and must not make aekit read or write elsewhere."""
        path = Path(path)
        raw = read_json(path, what="config file", error=ConfigError)
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        for section in ("data", "output"):
            if section in raw and not isinstance(raw[section], dict):
                raise ConfigError(f"config file {path}: '{section}' must be an object")
        raw = _legacy(dict(raw))
        raw["data"] = _inside(raw.get("data", {}), ("source", "data_dir", "test"), path, "data")
        raw["output"] = _inside(raw.get("output", {}), ("out",), path, "output")
        try:
            return cls.from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: to_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if self.pretrain is None:
            out.pop("pretrain")
        return out


def _legacy(raw: dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw.get("out"), str) and isinstance(raw.get("output", {}), dict):
        raw["output"] = {"out": raw.pop("out"), **raw.get("output", {})}
    return raw


def _inside(section: dict[str, Any], keys: tuple[str, ...], origin: Path, where: str) -> Any:
    out = dict(section)
    base = origin.parent.resolve()
    for key in keys:
        value = out.get(key)
        if not isinstance(value, str) or (key == "source" and value in NAMED_SOURCES):
            continue
        path = Path(value)
        if path.is_absolute() or not (base / path).resolve().is_relative_to(base):
            raise ConfigError(
                f"{where}.{key} {value!r} in {origin} points outside the folder of that file; "
                "paths in config files must stay inside it (give it on the command line instead)"
            )
        out[key] = str(base / path)
    return out
