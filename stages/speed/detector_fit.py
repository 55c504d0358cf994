"""Stage detector_fit: RTMDet fitted on the ThermEval frames' person boxes, so that the speed stage compares a
detector's boxes, not points, across runtimes and precisions offline (thermbench.speed.detector_fit). Writes the
checkpoint as mmdet lays one out and its numbers (the fit's last losses, its top box on the test split)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.speed.detector_fit import DetectorFitConfig, fit_detector, save_mmdet_checkpoint


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval (frames.csv)")
    parser.add_argument("--raw", required=True, type=Path, help="data/raw/thermeval (the frames)")
    parser.add_argument("--out", required=True, type=Path, help="data/models/detector/rtmdet-nano.pth")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/speed/detector_fit.json")
    args = parser.parse_args()
    model, numbers = fit_detector(stage.config(args, "detector_fit", DetectorFitConfig), args.prepared,
                                  args.raw, stage.value(args, "seed"))
    save_mmdet_checkpoint(model, args.out)
    write_json(args.metrics, {"data": stage.value(args, "data.source.thermeval"), **numbers})


if __name__ == "__main__":
    stage.run(main)
