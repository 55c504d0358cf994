"""Stage breath_track_submissions: the `breath_tracks` predictions files declared in submissions.yaml, checked
against the benchmark's videos, and the ONNX models declared there, tracked over them, written as track files
(breath/submission.py: the format) for breath_rates."""

from pathlib import Path

from thermbench.breath.sources import TrackConfig
from thermbench.breath.submission import write_tracks as write_submitted_tracks
from thermbench.core import stage
from thermbench.core.submissions import read


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--videos", type=Path, required=True, help="data/raw/breath")
    parser.add_argument("--out", type=Path, required=True, help="data/breath/submitted (a <name>.json per file)")
    args = parser.parse_args()
    write_submitted_tracks(read(args.submissions, "breath_tracks"), args.videos, args.out,
                           stage.config(args, "breath.track", TrackConfig))


if __name__ == "__main__":
    stage.run(main)
