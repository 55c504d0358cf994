"""Stage qa: realism QA of the synthetic world -> metrics/synth_qa.json and plots/synth_examples.{png,svg}."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.qa import QAConfig
from thermbench.datasets.qa import measure as measure_qa


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--raw-tfake", required=True, type=Path)
    parser.add_argument("--raw-thermeval", required=True, type=Path)
    parser.add_argument("--raw-charlotte", required=True, type=Path)
    parser.add_argument("--metrics", required=True, type=Path)
    parser.add_argument("--figure", required=True, type=Path, help="output stem (.png and .svg are written)")
    parser.add_argument("--calibration", required=True, type=Path, help="conclusions/synth_calibration.json")
    args = parser.parse_args()
    measure_qa(args.raw_tfake, args.raw_thermeval, args.raw_charlotte, args.metrics, args.figure,
               stage.config(args, "qa", QAConfig),
               stage.sources(args, ("thermeval", "tfake", "charlotte")), args.calibration,
               stage.value(args, "synth.thermeval"))


if __name__ == "__main__":
    stage.run(main)
