"""The breath stages' calls: the videos (rendered or the user's recordings), track a landmark source over every
sequence (or take a user's tracks file: `write_submitted_tracks`), score the breath rates, report.

The one module `stages/breath/*.py` import.
"""

from thermbench.breath.options import OptionsConfig
from thermbench.breath.options import choose as choose_options
from thermbench.breath.ranking import ConclusionConfig
from thermbench.breath.rates import RateConfig, evaluate, write_outputs
from thermbench.breath.report import report
from thermbench.breath.sources import SOURCES, TinyHeadInputs, TrackConfig
from thermbench.breath.submission import write_tracks as write_submitted_tracks
from thermbench.breath.tracks import track_source, track_tinyhead_seeds, training_converged
from thermbench.datasets.raw import make_videos
from thermbench.datasets.synth.video import VideoConfig
from thermbench.models.tinyhead import BackboneConfig, seed_heads

__all__ = ["SOURCES", "BackboneConfig", "ConclusionConfig", "OptionsConfig", "RateConfig", "TinyHeadInputs",
           "TrackConfig", "VideoConfig", "choose_options", "evaluate", "make_videos", "report", "seed_heads",
           "track_source", "track_tinyhead_seeds", "training_converged", "write_outputs", "write_submitted_tracks"]
