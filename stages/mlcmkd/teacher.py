"""Stage teacher: RGB RTMPose trained on the RGB half of paired T-FAKE (optionally from official mmpose weights)."""

import argparse
from dataclasses import asdict
from pathlib import Path

from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.mlcmkd.train import fit_supervised
from thermbench.models.rtmpose import build_rtmpose, load_mmpose_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/tfake"))
    args = parser.parse_args()
    params = load_params()
    device = mlcmkd.setup(params)
    arch, init = section(params, "rtmpose.teacher_arch"), section(params, "rtmpose.teacher_init")
    size = mlcmkd.input_size(params)
    model = build_rtmpose(arch, input_size=(size, size))
    if init:
        load_mmpose_checkpoint(model, init)
    cfg = mlcmkd.fit_config(params, epochs=section(params, "train.teacher_epochs"))
    history = fit_supervised(model.to(device), mlcmkd.load_tfake(params, args.prepared, modality="rgb"), cfg)
    if mlcmkd.is_main_process():
        config = {"kind": "teacher", "arch": arch, "modality": "rgb", "input_size": size, "init": init or None,
                  "fit": asdict(cfg)}
        mlcmkd.save_run("teacher", model.cpu(), config, history)


if __name__ == "__main__":
    run_stage(main)
