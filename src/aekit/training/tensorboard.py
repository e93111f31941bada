"""Optional TensorBoard logging: every epoch's losses and learning rate as scalars, and a
run's figures as images (needs the ``tensorboard`` package: ``pip install
"aekit[tensorboard]"``; aekit does not depend on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import ConfigError


def require_tensorboard() -> None:
    """Refuse, before anything is written, a run that asks for TensorBoard without it."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            "TensorBoard logging needs the tensorboard package: pip install tensorboard"
        )


class TensorBoardLogger:
    """A training callback that writes TensorBoard event files into ``log_dir``.

    Examples
    --------
    >>> import aekit, tempfile
    >>> logger = TensorBoardLogger(tempfile.mkdtemp())
    >>> model = aekit.AutoEncoder.build(input_dim=64, code_dim=8)
    >>> _ = aekit.fit(model, aekit.load_digits().train, epochs=2, callbacks=[logger], progress=False)
    >>> logger.close()
    """

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "TensorBoard logging needs the tensorboard package: pip install tensorboard"
            ) from None
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir))

    def __call__(self, trainer: Any, row: dict[str, float]) -> None:
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key not in ("epoch", "seconds"):
                # train_loss -> loss/train: one chart per term, training and validation together
                split, _, term = key.partition("_")
                names = {"train": "train", "val": "validation"}
                tag = f"{term}/{names[split]}" if term and split in names else key
                self.writer.add_scalar(tag, value, epoch)
        self.writer.flush()

    def add_figures(self, folder: str | Path, step: int = 0) -> None:
        """Every PNG in ``folder`` as an image (the run's figures)."""
        import io

        import matplotlib.image

        from ..core.errors import CheckpointError
        from ..core.io import MAX_FIGURE_BYTES, read_checked

        for png in sorted(Path(folder).glob("*.png")):
            raw = read_checked(png, "figure", CheckpointError, MAX_FIGURE_BYTES)  # no pipe
            pixels = matplotlib.image.imread(io.BytesIO(raw), format="png")[..., :3]
            self.writer.add_image(f"figures/{png.stem}", pixels, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
