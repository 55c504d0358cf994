"""Stage report_head: head metrics + zero-shot crop-protocol metrics -> the blog's part-2 table, text and figures."""

import argparse
from pathlib import Path

import pandas as pd

from thermbench.core.io import InputError, atomic_dir, read_json, write_text
from thermbench.core.plots import data_label, save_figure
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.tinyhead import report as R
from thermbench.tinyhead.finetune import load_samples, read_crops

N_EXAMPLES = 6  # the blog's predictions figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/head/thermeval.json")
    parser.add_argument("--timing", required=True, type=Path, help="metrics/timing/head.json")
    parser.add_argument("--train-timing", required=True, type=Path, help="metrics/timing/head_train.json")
    parser.add_argument("--zeroshot", required=True, type=Path, help="metrics/zeroshot (its *.json files)")
    parser.add_argument("--zeroshot-timing", required=True, type=Path, help="metrics/timing/zeroshot")
    parser.add_argument("--curve", required=True, type=Path, help="plots/curves/head.csv")
    parser.add_argument("--labels", required=True, type=Path, help="plots/curves/head_labels.csv")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/head/test.csv")
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval (crops for the figure)")
    parser.add_argument("--out", required=True, type=Path, help="e.g. plots/head")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    source, thresholds = section(params, "data.source"), section(params, "head.pck_thresholds")
    head = read_json(args.metrics)
    zeroshot, missing_note = R.zeroshot_columns(args.zeroshot, args.zeroshot_timing)
    for path in (args.curve, args.labels, args.predictions):
        if not path.is_file():
            raise InputError(f"{path}: not found (run head_train / head_eval)")
    history, curve = pd.read_csv(args.curve), pd.read_csv(args.labels)
    table = pd.read_csv(args.predictions).head(N_EXAMPLES)
    crop_paths = load_samples(args.prepared).set_index("sample_id").loc[table["sample_id"], "crop_path"]
    crops = list(read_crops(args.prepared, crop_paths).numpy())

    backbone = head["backbone"]
    lines = [f"# TinyHead on a frozen {backbone['name']} backbone, ThermEval crop protocol ({data_label(source)})",
             ""]
    if "note" in backbone:
        lines += [backbone["note"] + ".", ""]
    lines += [R.backbone_text(backbone, head["trainable_params"]), ""]
    lines += [R.comparison_table(head, read_json(args.timing), read_json(args.train_timing), zeroshot, thresholds),
              *([missing_note, ""] if missing_note else []),
              "Frame px: crop errors scaled back per axis by the padded Person box (box_w, box_h) / crop size.", "",
              "## Training curve", "", R.convergence_text(history), "", "![training](training.png)", "",
              "## How little supervision do we need?", "", R.learning_curve_table(curve), "",
              "![labels](labels.png)", "", "## Predictions", "", "![predictions](predictions.png)", ""]
    with atomic_dir(args.out) as tmp:
        write_text(tmp / "report.md", "\n".join(lines))
        save_figure(R.training_figure(history, source), tmp / "training")
        save_figure(R.label_curve_figure(curve, source), tmp / "labels")
        save_figure(R.predictions_figure(crops, table, source), tmp / "predictions")
    print(f"report -> {args.out / 'report.md'}")


if __name__ == "__main__":
    run_stage(main)
