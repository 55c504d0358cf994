"""params.yaml against the typed configs the stages read it into: one check of every section before any stage runs.

Each section a stage reads through `stage.config` is built here with the same dataclass (tests/test_params_schema.py
holds the two together), the two sections read through a function that fills derived values (`train`,
`zeroshot`) with that function, and each `prepare.<dataset>` with its dataset adapter's `PrepareConfig` (as the
prepare stages build it). A value no stage could use is refused in one line naming its key, so `dvc repro` and
`dvc exp run -S` stop at the first stage (`check_params`), before DVC removes any other stage's outputs.
"""

from __future__ import annotations

from typing import Any, Callable

from thermbench.breath.options import OptionsConfig
from thermbench.breath.ranking import ConclusionConfig
from thermbench.breath.rates import RateConfig
from thermbench.breath.sources import TrackConfig
from thermbench.core.io import InputError
from thermbench.core.stage import build, section
from thermbench.datasets.qa import QAConfig
from thermbench.datasets.registry import ADAPTERS
from thermbench.datasets.synth.rgbpretrain import RGBPretrainConfig
from thermbench.datasets.synth.video import VideoConfig
from thermbench.mlcmkd.settings import RTMPoseParams, train_params
from thermbench.speed.detector_fit import DetectorFitConfig
from thermbench.speed.speed_table import SpeedConfig
from thermbench.tinyhead.training import HeadConfig
from thermbench.zeroshot.bakeoff import config as zeroshot_config
from thermbench.zeroshot.protocols.blog_part1 import Part1Config
from thermbench.zeroshot.protocols.blog_part3 import Part3Config
from thermbench.zeroshot.table1.dlib import Table1Config

# section -> the dataclass a stage builds it into with `stage.config`
CONFIGS: dict[str, type] = {
    "rtmpose": RTMPoseParams,
    "head": HeadConfig,
    "speed": SpeedConfig,
    "detector_fit": DetectorFitConfig,
    "qa": QAConfig,
    "synth.rgbpretrain": RGBPretrainConfig,
    "synth.video": VideoConfig,
    "breath.track": TrackConfig,
    "breath.rates": RateConfig,
    "breath.options": OptionsConfig,
    "breath.conclusions": ConclusionConfig,
    "zeroshot_table1": Table1Config,
    "zeroshot_blog.part1": Part1Config,
    "zeroshot_blog.part3": Part3Config,
}
# prepare.<dataset> -> the dataset adapter's config, which datasets.prepare and datasets.rgbsets build the same way
PREPARE: dict[str, type] = {f"prepare.{name}": adapter.PrepareConfig for name, adapter in ADAPTERS.items()}
# section -> the function a stage reads it with
READERS: dict[str, Callable[[Any], Any]] = {"train": train_params, "zeroshot": zeroshot_config}
SOURCES = ("synthetic", "real")  # data.source.<dataset>


def check(params: dict) -> None:
    """Raise InputError, naming the key and the value, for the first value of `params` no stage could use."""
    if not isinstance(params, dict):
        raise InputError("params.yaml: must be a mapping of sections")
    seed = section(params, "seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"params.yaml: 'seed' must be a whole number of at least 0, not {seed!r}")
    sources = section(params, "data.source")
    if not isinstance(sources, dict):
        raise InputError("params.yaml: 'data.source' must be a mapping")
    for name, source in sources.items():
        if source not in SOURCES:
            raise InputError(f"params.yaml: 'data.source.{name}' must be 'synthetic' or 'real', not {source!r}")
    for dotted, cls in {**CONFIGS, **PREPARE}.items():
        build(cls, section(params, dotted), dotted)
    for dotted, read in READERS.items():
        read(section(params, dotted))
