"""Stage qa: realism QA of the synthetic world -> metrics/synth_qa.json and plots/synth_examples.{png,svg}."""

import argparse
from pathlib import Path

from thermbench.core.io import write_json
from thermbench.core.plots import save_figure
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.datasets import qa, qa_plots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-tfake", required=True, type=Path)
    parser.add_argument("--raw-thermeval", required=True, type=Path)
    parser.add_argument("--raw-charlotte", required=True, type=Path)
    parser.add_argument("--metrics", required=True, type=Path)
    parser.add_argument("--figure", required=True, type=Path, help="output stem (.png and .svg are written)")
    args = parser.parse_args()
    params = load_params()
    cfg = section(params, "qa")
    if section(params, "data.source") != "synthetic":
        reason = "data.source is real: this stage measures the synthetic world, so there is nothing to measure"
        print(f"qa: {reason}")
        write_json(args.metrics, {"status": reason})
        save_figure(qa_plots.not_applicable_figure(reason), args.figure)
        return
    metrics, _ = qa.run(args.raw_tfake, cfg)
    metrics["datasets"] = {
        "thermeval": qa.thermeval_summary(args.raw_thermeval),
        "charlotte": qa.charlotte_summary(args.raw_charlotte),
    }
    write_json(args.metrics, metrics)
    fig = qa_plots.examples_figure(args.raw_tfake, args.raw_thermeval, args.raw_charlotte, cfg["examples"])
    save_figure(fig, args.figure)
    print(f"rgb detection {metrics['rgb_detection_rate']:.3f}, NME-IO median {metrics['nme_io_median']:.4f}, "
          f"thermal order {metrics['thermal_order_rate']:.3f}, "
          f"thermal detection {metrics['thermal_detection_rate']:.3f}")


if __name__ == "__main__":
    run_stage(main)
