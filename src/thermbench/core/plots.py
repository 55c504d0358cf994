"""Figure helpers: one look for every figure, and byte-stable PNG/SVG output so DVC caches hold."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from thermbench.core.io import atomic_write_bytes  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "thermbench", "figure.dpi": 100, "savefig.dpi": 120, "font.size": 9})


DATASET_NAMES = {"thermeval": "ThermEval-D", "tfake": "T-FAKE", "charlotte": "CHARLOTTE", "breath": "breath videos"}


def data_label(source: str | dict[str, str]) -> str:
    """The tag every figure and table carries, so synthetic numbers are never mistaken for real ones. `source` is
    one dataset's source, or {dataset: source} (params `data.source`) of the datasets behind a result: where they
    differ, each is named."""
    if isinstance(source, dict):
        kinds = set(source.values())
        if len(kinds) > 1:
            return ", ".join(f"{'SYNTHETIC' if s == 'synthetic' else 'real'} {DATASET_NAMES[d]}"
                             for d, s in sorted(source.items()))
        source = kinds.pop()
    return "SYNTHETIC data" if source == "synthetic" else "real data"


def save_figure(fig: "plt.Figure", stem: str | Path) -> list[Path]:
    """Write `<stem>.png` and `<stem>.svg` with no timestamps or version metadata; close the figure."""
    stem = Path(stem)
    written = []
    for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, metadata=metadata, bbox_inches="tight")
        path = stem.with_suffix(f".{ext}")
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    plt.close(fig)
    return written
