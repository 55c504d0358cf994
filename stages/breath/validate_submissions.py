"""Stage validate_breath_tracks: the `breath_tracks` entries of submissions.yaml (predictions files, ONNX model
cards) checked against the breath videos before breath_track_submissions tracks them (breath/submission.validate) ->
data/submissions/breath_tracks.json. Its output persists (dvc.yaml), so a bad entry stops the run here and changes
nothing."""

from pathlib import Path

from thermbench.breath.submission import validate
from thermbench.core import stage
from thermbench.core.io import write_json


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--videos", type=Path, required=True, help="data/raw/breath")
    parser.add_argument("--out", type=Path, required=True, help="data/submissions/breath_tracks.json")
    args = parser.parse_args()
    write_json(args.out, {"submissions": validate(args.submissions, args.videos)})


if __name__ == "__main__":
    stage.run(main)
