"""Stage breath_track@<source>: one landmark source's nostril track in every sequence (JSON).

Sources: oracle (ground truth), mediapipe, dwpose, sapiens2, tfan (their `zeroshot.<name>` weights), dlib_hog, dlib_mmod
(dlib-68 with a HOG or MMOD face detector), student (an RTMPose 68-point model directory given with --model;
--training-metrics says whether it converged, and --out <source>/seed<s>.json names its seed), tinyhead (the blog's
head, every seed `tinyhead.pipeline.seed_heads` finds in --heads, into --out <folder>/seed<s>.json; also --features,
--teacher; its crops cut as `prepare.thermeval` cut its training crops). A source that cannot run here writes its
one-line reason instead.
"""

from pathlib import Path

from thermbench.breath.evaluate import (
    TinyHeadInputs,
    TrackConfig,
    track_source,
    track_tinyhead_seeds,
    training_converged,
)
from thermbench.core import stage

SOURCES = ("oracle", "mediapipe", "dwpose", "sapiens2", "tfan", "dlib_hog", "dlib_mmod", "student", "tinyhead")


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--model", type=Path, help="student only: e.g. data/models/ktl/dikd/ktl-dikd-seed0")
    parser.add_argument("--training-metrics", type=Path,
                        help="student only: its training metrics, e.g. metrics/mlcmkd/ktl/dikd/ktl-dikd-seed0.json")
    parser.add_argument("--heads", type=Path, help="tinyhead only: data/heads/thermeval")
    parser.add_argument("--features", type=Path, help="tinyhead only: data/features/head (its backbone.json)")
    parser.add_argument("--teacher", type=Path, help="tinyhead only: data/models/teacher (the fallback backbone)")
    parser.add_argument("--out", type=Path, required=True,
                        help="e.g. data/breath/tracks/<name>.json, <source>/seed<s>.json, tinyhead: a folder")
    parser.add_argument("--timing", type=Path, required=True, help="as --out under metrics/timing/breath")
    args = parser.parse_args()
    cfg = stage.config(args, "breath.track", TrackConfig)
    if args.source == "tinyhead":
        from thermbench.tinyhead.finetune import BackboneConfig  # imports torch: ~1 s the other sources skip
        from thermbench.tinyhead.pipeline import seed_heads

        backbone, sapiens2 = stage.config(args, "head.backbone", BackboneConfig), stage.value(args, "zeroshot.sapiens2")
        thermeval = stage.value(args, "prepare.thermeval")
        inputs = {seed: TinyHeadInputs(head, args.features, args.teacher, backbone, sapiens2, thermeval)
                  for seed, head in seed_heads(args.heads).items()}
        track_tinyhead_seeds(inputs, args.videos, args.out, args.timing, cfg)
        return
    zeroshot = {"dwpose": lambda: stage.value(args, "zeroshot.dwpose"),
                "sapiens2": lambda: stage.value(args, "zeroshot.sapiens2"),
                "tfan": lambda: stage.value(args, "zeroshot.tfan")}.get(args.source, lambda: None)()
    converged = training_converged(args.training_metrics) if args.training_metrics else None
    track_source(args.source, args.videos, args.out, cfg, args.model, zeroshot, args.timing, converged=converged)


if __name__ == "__main__":
    stage.run(main)
