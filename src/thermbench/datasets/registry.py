"""The thermal datasets of the benchmark, one entry each: its adapter (the `prepare` parser, the prepared contract's
`COLUMNS`, the download `LAYOUT`) and its synthetic twin (`write`, and the keys it reads from synth.<dataset>,
`REQUIRED`).

A new dataset is its adapter and twin modules, an entry here and its params sections (profiles/); `python -m
thermbench.tools.pipeline.stage_deps --write` then lists it in dvc.yaml's raw, prepare and stats stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from thermbench.datasets import charlotte, cocowholebody, face300w, tfake, thermeval
from thermbench.datasets.synth import charlotte as synth_charlotte
from thermbench.datasets.synth import tfake as synth_tfake
from thermbench.datasets.synth import thermeval as synth_thermeval


@dataclass(frozen=True)
class Dataset:
    adapter: ModuleType
    synth: ModuleType


DATASETS = {"thermeval": Dataset(thermeval, synth_thermeval), "tfake": Dataset(tfake, synth_tfake),
            "charlotte": Dataset(charlotte, synth_charlotte)}
RGB_ADAPTERS = {"cocowholebody": cocowholebody, "300w": face300w}  # the teacher's RGB sets (datasets/rgbsets.py)
ADAPTERS = {**{name: dataset.adapter for name, dataset in DATASETS.items()}, **RGB_ADAPTERS}  # thermal and RGB


def layout(name: str) -> tuple[str, ...] | None:
    """The download layout of a thermal dataset or an RGB set; None for a name with no download route."""
    adapter = ADAPTERS.get(name)
    return None if adapter is None else adapter.LAYOUT
