"""Stage report_mlcmkd: plots/mlcmkd_tables.md (Tables I, III, IV, V from metrics/mlcmkd, seed repeats from
metrics/mlcmkd_repeats.json) and the figures plots/mlcmkd_{ced,curves,gradnorm,qualitative}.{png,svg}."""

import argparse
import io
from pathlib import Path

import numpy as np

from thermbench.core.io import InputError, read_csv, read_json, write_text
from thermbench.core.plots import data_label, save_figure
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.datasets.common import read_image
from thermbench.mlcmkd import report as report_mlcmkd
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.mlcmkd.train import load_split

QUALITATIVE_ROWS = 4


def _read(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfake", type=Path, default=Path("data/prepared/tfake"))
    parser.add_argument("--repeats", type=Path, default=Path("metrics/mlcmkd_repeats.json"))
    parser.add_argument("--out", type=Path, default=Path("plots"))
    args = parser.parse_args()
    params = load_params()
    label = data_label(section(params, "data.source"))
    names = report_mlcmkd.run_names(True, section(params, "rtmpose.supervised_archs"),
                                    list(section(params, "train.ktl.variants")), section(params, "train.mcl.variants"))
    metrics = {n: read_json(mlcmkd.METRICS / f"{n}.json") for n in names}

    write_text(args.out / "mlcmkd_tables.md",
               report_mlcmkd.markdown(metrics, label, section(params, "train.ktl.dikd_mode"),
                                      read_json(args.repeats)))
    save_figure(report_mlcmkd.plot_ced(metrics, label), args.out / "mlcmkd_ced")
    curves = {n: read_csv(mlcmkd.CURVES / f"{n}.csv") for n in names}
    save_figure(report_mlcmkd.plot_curves(curves, label), args.out / "mlcmkd_curves")
    grad = {run: read_csv(mlcmkd.CURVES / f"{run}_gradnorm.csv")
            for _, run in report_mlcmkd.TABLE_V if run in metrics}
    save_figure(report_mlcmkd.plot_grad_norms(grad, label), args.out / "mlcmkd_gradnorm")

    # Qualitative grid: supervised student of the KTL size vs conventional KD (FD+LD) vs DIKD.
    size = metrics["ktl-dikd"]["input_size"]
    test = load_split(args.tfake, "test", size, all_labelled=True, max_samples=QUALITATIVE_ROWS)
    arch = metrics["ktl-dikd"]["arch"]
    columns = {run: title for run, title in ((f"supervised-{arch}", f"supervised RTMPose-{arch}"),
                                             ("ktl-fdld", "conventional KD (FD+LD)"), ("ktl-dikd", "DIKD"))
               if run in metrics}
    preds = {title: np.load(io.BytesIO(_read(mlcmkd.PREDICTIONS / f"{run}.npy").read_bytes()))[:QUALITATIVE_ROWS]
             for run, title in columns.items()}
    images = [read_image(args.tfake / p) for p in test.meta["crop_path"]]
    gt = test.kpts * test.scale[:, None, :]
    save_figure(report_mlcmkd.plot_qualitative(images, gt, preds, label), args.out / "mlcmkd_qualitative")


if __name__ == "__main__":
    run_stage(main)
