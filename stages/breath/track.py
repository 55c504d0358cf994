"""Stage breath_track@<source>: one landmark source's nostril track in every sequence (JSON).

Sources: oracle (ground truth), mediapipe, dwpose, sapiens2 (their `zeroshot.<name>` weights), student (an RTMPose
68-point model directory given with --model), tinyhead (the blog's head: --heads, --features, --teacher). A source
that cannot run here writes its one-line reason instead.
"""

from pathlib import Path

from thermbench.breath.evaluate import TinyHeadInputs, TrackConfig, track_source
from thermbench.core import stage

SOURCES = ("oracle", "mediapipe", "dwpose", "sapiens2", "student", "tinyhead")


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--model", type=Path, help="student only: e.g. data/models/ktl/ktl-dikd-seed0")
    parser.add_argument("--heads", type=Path, help="tinyhead only: data/heads/thermeval")
    parser.add_argument("--features", type=Path, help="tinyhead only: data/features/head (its backbone.json)")
    parser.add_argument("--teacher", type=Path, help="tinyhead only: data/models/teacher (the fallback backbone)")
    parser.add_argument("--out", type=Path, required=True, help="e.g. data/breath/tracks/<name>.json")
    parser.add_argument("--timing", type=Path, required=True, help="e.g. metrics/timing/breath/<name>.json")
    args = parser.parse_args()
    cfg = stage.config(args, "breath.track", TrackConfig)
    zeroshot = {"dwpose": lambda: stage.value(args, "zeroshot.dwpose"),
                "sapiens2": lambda: stage.value(args, "zeroshot.sapiens2")}.get(args.source, lambda: None)()
    tinyhead = None
    if args.source == "tinyhead":
        from thermbench.tinyhead.finetune import BackboneConfig  # imports torch: ~1 s the other sources skip

        tinyhead = TinyHeadInputs(args.heads, args.features, args.teacher,
                                  stage.config(args, "head.backbone", BackboneConfig),
                                  stage.value(args, "zeroshot.sapiens2"))
    track_source(args.source, args.videos, args.out, cfg, args.model, zeroshot, args.timing, tinyhead)


if __name__ == "__main__":
    stage.run(main)
