"""Table I's zero-shot rows (stage zeroshot_table1@<model>): each built-in model's adapter (submissions.yaml lists
which run: builtin.table1), all given the same settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thermbench.core.io import InputError
from thermbench.zeroshot.table1 import dlib, tfan


@dataclass(frozen=True)
class Table1Inputs:
    tfake: Path  # data/prepared/tfake
    charlotte: Path  # data/prepared/charlotte
    metrics: Path  # metrics/mlcmkd/zeroshot-<model>.json
    items: Path  # plots/curves/table1/<model>_items.csv
    scales: tuple[float, float]  # prepare.tfake.box_scale, prepare.charlotte.box_scale
    data: dict[str, str]  # data.source of T-FAKE and CHARLOTTE
    dlib: dlib.Table1Config  # params zeroshot_table1
    tfan: dict  # params zeroshot.tfan
    threads: int  # params zeroshot.threads
    device: str  # params zeroshot.device


ROWS = {
    "dlib68": lambda s: dlib.evaluate(s.tfake, s.charlotte, s.metrics, s.dlib, s.scales, s.data, s.items),
    "tfan": lambda s: tfan.evaluate(s.tfake, s.charlotte, s.metrics, s.tfan, s.scales, s.threads, s.device, s.data,
                                   s.items),
}


def write_row(model: str, inputs: Table1Inputs) -> None:
    """The Table I row of the built-in `model`, written to `inputs.metrics`."""
    if model not in ROWS:
        raise InputError(f"zeroshot_table1: no Table I adapter for model '{model}' (adapters: {', '.join(ROWS)})")
    ROWS[model](inputs)
