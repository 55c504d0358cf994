"""Stage report_zeroshot: metrics/zeroshot/*.json -> markdown table, PCK curves, detection bars, qualitative grid.
"""

import argparse
from pathlib import Path

import pandas as pd

from thermbench.core.io import read_json, write_text
from thermbench.core.plots import save_figure
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.datasets.common import read_image
from thermbench.zeroshot import report

MODELS = ("dwpose", "sapiens2", "mediapipe")  # the blog's part-1 order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, default=Path("metrics/zeroshot"))
    parser.add_argument("--predictions", type=Path, default=Path("data/predictions/zeroshot"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw/thermeval"))
    parser.add_argument("--out", type=Path, default=Path("plots"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    cfg = section(load_params(args.params), "zeroshot")
    thresholds = cfg["pck_thresholds_px"]

    results = {m: read_json(args.metrics / f"{m}.json") for m in MODELS}
    source = results[MODELS[0]]["data"]
    write_text(args.out / "zeroshot_table.md", report.table(results, thresholds, cfg["match_cap_px"]))
    fig, rows = report.pck_curves(results, thresholds)
    save_figure(fig, args.out / "zeroshot_pck")
    write_text(args.out / "zeroshot_pck.csv", pd.DataFrame(rows, columns=["protocol", "model", "threshold_px", "pck"])
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    save_figure(report.detection_bars(results), args.out / "zeroshot_detection")

    ok = [m for m in MODELS if results[m]["status"] == "ok"]
    records = {m: read_json(args.predictions / f"{m}.json")["full_frame"][: cfg["qualitative_n"]] for m in ok}
    # every model saw the same test frames in frames.csv order
    frames = [read_image(args.raw / r["image_file"]) for r in records[ok[0]]] if ok else []
    save_figure(report.qualitative_grid(frames, records, cfg["qualitative_upscale"], source),
                args.out / "zeroshot_qualitative")


if __name__ == "__main__":
    run_stage(main)
