"""Stage supervised@<arch>: thermal-only RTMPose trained on T-FAKE thermal crops with GT labels (Table I baseline)."""

import argparse
from dataclasses import asdict
from pathlib import Path

from thermbench import mlcmkd
from thermbench.io import load_params, run_stage
from thermbench.models.rtmpose import ARCHS, build_rtmpose
from thermbench.train import fit_supervised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/tfake"))
    args = parser.parse_args()
    params = load_params()
    device = mlcmkd.setup(params)
    size = mlcmkd.input_size(params)
    model = build_rtmpose(args.arch, input_size=(size, size))
    cfg = mlcmkd.fit_config(params)
    history = fit_supervised(model.to(device), mlcmkd.load_tfake(params, args.prepared), cfg)
    if mlcmkd.is_main_process():
        config = {"kind": "supervised", "arch": args.arch, "modality": "thermal", "input_size": size,
                  "fit": asdict(cfg)}
        mlcmkd.save_run(f"supervised-{args.arch}", model.cpu(), config, history)


if __name__ == "__main__":
    run_stage(main)
