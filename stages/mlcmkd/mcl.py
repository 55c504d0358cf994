"""Stage mcl@<variant>: Model Compression Level, frozen KTL thermal model `ktl-<variant>` -> smaller thermal student.

Thermal only, L_kp + gamma (L_fm + L_lg) (eq. 9); weights in params `train.mcl.weights`.
"""

import argparse
from dataclasses import asdict
from pathlib import Path

from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.train import fit_mcl
from thermbench.models.rtmpose import build_rtmpose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True, help="the KTL variant whose model is compressed")
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/tfake"))
    args = parser.parse_args()
    params = load_params()
    device = mlcmkd.setup(params)
    size = mlcmkd.input_size(params)
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student = build_rtmpose(section(params, "rtmpose.mcl_arch"), input_size=(size, size)).to(device)
    teacher = mlcmkd.load_run(f"ktl-{args.variant}").to(device)
    distill = DistillConfig(fd=True, ld=True, fi=False, ri=False, **section(params, "train.mcl.weights"))
    task = DistillTask(student, teacher, distill).to(device)
    cfg = mlcmkd.fit_config(params)
    history = fit_mcl(student, teacher, task, mlcmkd.load_tfake(params, args.prepared), cfg)
    if mlcmkd.is_main_process():
        config = {"kind": "mcl", "variant": args.variant, "arch": student.cfg.arch, "teacher": f"ktl-{args.variant}",
                  "teacher_arch": teacher.cfg.arch, "modality": "thermal", "input_size": size,
                  "distill": asdict(distill), "fit": asdict(cfg)}
        mlcmkd.save_run(f"mcl-{args.variant}", student.cpu(), config, history)


if __name__ == "__main__":
    run_stage(main)
