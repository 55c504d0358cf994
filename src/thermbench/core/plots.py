"""Figure helpers: one look for every figure, and byte-stable PNG/SVG output so DVC caches hold."""

from __future__ import annotations

import functools
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


def drawn_texts(fig: "plt.Figure") -> list["matplotlib.text.Text"]:
    """Every Text artist that drawing `fig` draws with a non-blank string: titles, suptitle, axis and tick labels,
    legend texts, annotations, colorbar labels. Found by drawing the figure once while recording each Text.draw call,
    so hidden axes, ticks outside the view and unclipped annotations count exactly as matplotlib draws them."""
    from matplotlib.text import Text

    drawn: list[Text] = []
    original = Text.draw

    @functools.wraps(original)
    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    Text.draw = record
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return list(dict.fromkeys(drawn))  # a text drawn twice (a second pass of the layout engine) counts once


def overlapping_texts(fig: "plt.Figure", tolerance_px: float = 1.0) -> list[tuple[str, str]]:
    """What a reader cannot read: pairs of drawn texts (`drawn_texts`) whose window boxes overlap by more than
    `tolerance_px` in both x and y, as (text, text); and texts over an Axes they do not belong to (a y label on the
    neighbouring image, a figure legend on a panel), as (text, "axes <i> (<its title's first line>)"). Zero-area
    boxes are left out, and so are pairs of rotated tick labels of one axis (their axis-aligned boxes overlap where
    the glyphs do not) and empty axes turned off (the unused slots of a grid)."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    tick_axis = {}
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for label in axis.get_ticklabels(which="both"):
                tick_axis[id(label)] = id(axis)
    boxes = [(text, box) for text in texts
             for box in [text.get_window_extent(renderer)] if box.width > 0 and box.height > 0]

    def overlap(a, b) -> bool:
        return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance_px
                and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance_px)

    pairs = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            axis = tick_axis.get(id(a))
            if axis is not None and axis == tick_axis.get(id(b)) and (a.get_rotation() % 90 or b.get_rotation() % 90):
                continue
            if overlap(box_a, box_b):
                pairs.append((a.get_text(), b.get_text()))
    panels = [(i, ax) for i, ax in enumerate(fig.axes) if ax.get_visible() and (
        ax.axison or ax.images or ax.lines or ax.collections or ax.patches or ax.texts)]
    for i, ax in panels:
        box_ax = ax.get_window_extent(renderer)
        title = ax.get_title().split("\n")[0]
        for text, box in boxes:
            if text.axes is not ax and overlap(box, box_ax):
                pairs.append((text.get_text(), f"axes {i}" + (f" ({title})" if title else "")))
    return pairs
