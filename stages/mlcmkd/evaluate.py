"""Stage evaluate_nme@<model>: NME-IO on the T-FAKE thermal test split, NME-diag on the CHARLOTTE subsets.

Writes metrics/mlcmkd/<model>.json (with params/GFLOPs at the paper's 256x256 and the training summary) and
data/predictions/mlcmkd/<model>.npy (T-FAKE test predictions, crop px, samples.csv order) for the qualitative grid.
The RGB teacher is scored on thermal input (zero-shot: the modality gap) and, for reference, on its own RGB input.
"""

import argparse
import io
import json
from pathlib import Path

import numpy as np
import torch

from thermbench.core.io import atomic_write_bytes, write_json
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import evaluate as nme_eval
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.mlcmkd.speed import count_gflops
from thermbench.mlcmkd.train import load_split
from thermbench.models.rtmpose import build_rtmpose, count_parameters

PAPER_INPUT = 256


def complexity(arch: str) -> dict:
    """Params and forward GFLOPs (FlopCounterMode, 2 per multiply-add) of RTMPose-`arch` at 256x256, built on meta."""
    with torch.device("meta"):
        model = build_rtmpose(arch, input_size=(PAPER_INPUT, PAPER_INPUT))
    return {"params_m": count_parameters(model) / 1e6,
            "gflops": count_gflops(model, (1, 3, PAPER_INPUT, PAPER_INPUT)), "at_input": PAPER_INPUT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--tfake", type=Path, default=Path("data/prepared/tfake"))
    parser.add_argument("--charlotte", type=Path, default=Path("data/prepared/charlotte"))
    args = parser.parse_args()
    params = load_params()
    device = mlcmkd.setup(params)
    batch = int(section(params, "train.fit.batch_size"))
    model = mlcmkd.load_run(args.model).to(device)
    config = json.loads((mlcmkd.MODELS / args.model / "config.json").read_text())
    size = model.cfg.input_size[0]

    scores, pred = nme_eval.evaluate_model(model, args.tfake, args.charlotte, batch)
    result = {"model": args.model, "kind": config["kind"], "variant": config.get("variant"), "arch": config["arch"],
              "teacher": config.get("teacher"), "teacher_arch": config.get("teacher_arch"), "input_size": size,
              "epochs": config["fit"]["epochs"], "training": config["history"],
              "complexity": complexity(config["arch"]), **scores}
    if config["modality"] == "rgb":
        rgb_pred, rgb_gt = nme_eval.crop_px(
            model, load_split(args.tfake, "test", size, modality="rgb", all_labelled=True), batch)
        result["tfake_rgb"] = nme_eval.evaluate_tfake(rgb_pred, rgb_gt)

    write_json(mlcmkd.METRICS / f"{args.model}.json", result)
    buf = io.BytesIO()
    np.save(buf, pred.astype(np.float32))
    atomic_write_bytes(mlcmkd.PREDICTIONS / f"{args.model}.npy", buf.getvalue())


if __name__ == "__main__":
    run_stage(main)
