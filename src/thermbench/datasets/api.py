"""The dataset stages' calls (stages/datasets/*.py), one door over the readers, the synthetic world and its QA:

- raw@<dataset>: `make_raw` (synthesised or downloaded); prepare@<dataset>: `prepare`; stats: `prepared_summary`;
- qa: `measure_qa` with `QAConfig` (realism of the synthetic world);
- the teacher's RGB pretraining sets: raw_rgb `fetch`, prepare_rgb `prepare_rgb`, rgbsets `union`, and the synthetic
  stand-in rgbpretrain `write_rgbpretrain` with `RGBPretrainConfig`.
"""

from thermbench.datasets import DATASETS
from thermbench.datasets.fetch import fetch
from thermbench.datasets.prepare import prepare
from thermbench.datasets.qa import QAConfig
from thermbench.datasets.qa import measure as measure_qa
from thermbench.datasets.raw import make_raw
from thermbench.datasets.rgbsets import RGB_SETS, union
from thermbench.datasets.rgbsets import prepare as prepare_rgb
from thermbench.datasets.stats import prepared_summary
from thermbench.datasets.synth.rgbpretrain import RGBPretrainConfig
from thermbench.datasets.synth.rgbpretrain import write as write_rgbpretrain

__all__ = ["DATASETS", "RGB_SETS", "QAConfig", "RGBPretrainConfig", "fetch", "make_raw", "measure_qa", "prepare",
           "prepare_rgb", "prepared_summary", "union", "write_rgbpretrain"]
