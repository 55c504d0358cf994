"""Stage repeats: seed repeats of chosen MLCM-KD runs (params train.repeats), scored as evaluate_nme scores them.

Writes metrics/mlcmkd_repeats.json: per run and seed the T-FAKE NME-IO and CHARLOTTE Full NME-diag (the base seed's
numbers read from metrics/mlcmkd/<run>.json), and per run the mean and sd over all seeds. With no repeat seeds it
writes only a status line. Models are not kept (data/models is the speed stage's input).
    dvc exp run -S 'train.repeats.seeds=[1,2]'      # run them
"""

import argparse
import sys
import time
from pathlib import Path

from thermbench.core.io import read_json, write_json
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import evaluate as nme_eval
from thermbench.mlcmkd import repeats
from thermbench.mlcmkd import runs as mlcmkd

NOT_RUN = "not run (train.repeats.seeds is empty); run them with `dvc exp run -S 'train.repeats.seeds=[1,2]'`"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfake", type=Path, default=Path("data/prepared/tfake"))
    parser.add_argument("--charlotte", type=Path, default=Path("data/prepared/charlotte"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("metrics/mlcmkd_repeats.json"))
    args = parser.parse_args()
    params = load_params(args.params)
    names, seeds = repeats.run_names(params), repeats.repeat_seeds(params)
    if not seeds:
        write_json(args.out, {"status": NOT_RUN, "seeds": []})
        print(NOT_RUN)
        return
    device = mlcmkd.setup(params)
    base, batch = int(section(params, "seed")), int(section(params, "train.fit.batch_size"))
    runs = {n: {base: repeats.run_numbers(read_json(mlcmkd.METRICS / f"{n}.json"))} for n in names}
    for seed in seeds:
        for name in names:
            start = time.perf_counter()
            model = repeats.train_run(params, name, seed, args.tfake, device)
            runs[name][seed] = repeats.run_numbers(nme_eval.evaluate_model(model, args.tfake, args.charlotte, batch)[0])
            scores = ", ".join(f"{k} {v:.4f}" for k, v in runs[name][seed].items())
            print(f"{name} seed {seed}: {scores} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    write_json(args.out, {"status": "ran", "base_seed": base, "seeds": seeds, "runs": runs,
                          "summary": repeats.aggregate(runs)})
    print(f"{args.out}: {len(names)} runs x {len(seeds)} repeat seeds")


if __name__ == "__main__":
    run_stage(main)
