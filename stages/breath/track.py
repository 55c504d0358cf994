"""Stage breath_track@<source>, breath_track_student@<level>-<seed>: one landmark source's nostril track in every
sequence (JSON), for the sources whose only params are `breath.track`.

Sources: oracle (ground truth), mediapipe, dlib_hog, dlib_mmod (dlib-68 with a HOG or MMOD face detector), student (an
RTMPose 68-point model directory given with --model; --training-metrics says whether it converged, and --out
<source>/seed<s>.json names its seed). The zero-shot models with weights (dwpose, sapiens2, tfan) run in
track_zeroshot.py, the blog's TinyHead in track_tinyhead.py. A source that cannot run here writes its one-line reason
instead.
"""

from pathlib import Path

from thermbench.breath.sources import TrackConfig
from thermbench.breath.tracks import track_source, training_converged
from thermbench.core import stage

SOURCES = ("oracle", "mediapipe", "dlib_hog", "dlib_mmod", "student")


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--model", type=Path, help="student only: e.g. data/models/ktl/dikd/ktl-dikd-seed0")
    parser.add_argument("--training-metrics", type=Path,
                        help="student only: its training metrics, e.g. metrics/mlcmkd/ktl/dikd/ktl-dikd-seed0.json")
    parser.add_argument("--out", type=Path, required=True,
                        help="data/breath/tracks/<name>.json or <source>/seed<s>.json")
    parser.add_argument("--timing", type=Path, required=True, help="as --out under metrics/timing/breath")
    args = parser.parse_args()
    converged = training_converged(args.training_metrics) if args.training_metrics else None
    track_source(args.source, args.videos, args.out, stage.config(args, "breath.track", TrackConfig), args.model, None,
                 args.timing, converged=converged)


if __name__ == "__main__":
    stage.run(main)
