"""Stage ktl@<variant>: Knowledge Transfer Level, frozen RGB teacher -> thermal student on paired T-FAKE.

The variant names a flag set in params `train.ktl.variants` (fd/ld/fi/ri): Tables III and IV.
"""

import argparse
from dataclasses import asdict
from pathlib import Path

from thermbench.core.stage import load_params
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import runs as mlcmkd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/tfake"))
    args = parser.parse_args()
    params = load_params()
    device = mlcmkd.setup(params)
    student, teacher, distill, cfg, history = mlcmkd.train_ktl(params, args.variant, args.prepared, device)
    if mlcmkd.is_main_process():
        config = {"kind": "ktl", "variant": args.variant, "arch": student.cfg.arch, "teacher": "teacher",
                  "teacher_arch": teacher.cfg.arch, "modality": "thermal", "input_size": mlcmkd.input_size(params),
                  "distill": asdict(distill), "fit": asdict(cfg)}
        mlcmkd.save_run(f"ktl-{args.variant}", student.cpu(), config, history)


if __name__ == "__main__":
    run_stage(main)
