"""Stage ktl@<variant>: Knowledge Transfer Level, frozen RGB teacher -> thermal student on paired T-FAKE.

The variant names a flag set in params `train.ktl.variants` (fd/ld/fi/ri): Tables III and IV.
"""

import argparse
from dataclasses import asdict
from pathlib import Path

from thermbench import mlcmkd
from thermbench.io import InputError, load_params, run_stage, section
from thermbench.losses import DistillConfig, DistillTask
from thermbench.models.rtmpose import build_rtmpose
from thermbench.train import fit_ktl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/tfake"))
    args = parser.parse_args()
    params = load_params()
    ktl = section(params, "train.ktl")
    if args.variant not in ktl["variants"]:
        raise InputError(f"params.yaml: train.ktl.variants has no '{args.variant}' ({', '.join(ktl['variants'])})")
    device = mlcmkd.setup(params)
    size = mlcmkd.input_size(params)
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student = build_rtmpose(section(params, "rtmpose.ktl_arch"), input_size=(size, size)).to(device)
    teacher = mlcmkd.load_run("teacher").to(device)
    distill = DistillConfig(**ktl["variants"][args.variant], dikd_mode=ktl["dikd_mode"], **ktl["weights"])
    task = DistillTask(student, teacher, distill).to(device)
    cfg = mlcmkd.fit_config(params)
    history = fit_ktl(student, teacher, task, mlcmkd.load_tfake(params, args.prepared, paired=True), cfg)
    if mlcmkd.is_main_process():
        config = {"kind": "ktl", "variant": args.variant, "arch": student.cfg.arch, "teacher": "teacher",
                  "teacher_arch": teacher.cfg.arch, "modality": "thermal", "input_size": size,
                  "distill": asdict(distill), "fit": asdict(cfg)}
        mlcmkd.save_run(f"ktl-{args.variant}", student.cpu(), config, history)


if __name__ == "__main__":
    run_stage(main)
