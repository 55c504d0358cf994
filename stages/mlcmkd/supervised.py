"""Stage supervised@<arch>: thermal-only RTMPose trained on T-FAKE thermal crops with GT labels (Table I baseline)."""

import argparse
from dataclasses import asdict
from pathlib import Path

from thermbench.core.stage import load_params
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.models.rtmpose import ARCHS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/tfake"))
    args = parser.parse_args()
    params = load_params()
    device = mlcmkd.setup(params)
    model, cfg, history = mlcmkd.train_supervised(params, args.arch, args.prepared, device)
    if mlcmkd.is_main_process():
        config = {"kind": "supervised", "arch": args.arch, "modality": "thermal",
                  "input_size": mlcmkd.input_size(params),
                  "fit": asdict(cfg)}
        mlcmkd.save_run(f"supervised-{args.arch}", model.cpu(), config, history)


if __name__ == "__main__":
    run_stage(main)
