"""Example predictions files, in the formats submissions.yaml takes (README, "Benchmark your own model"):

    python -m thermbench.tools.submission thermeval_nose --from data/predictions/zeroshot/mediapipe.json --out F
    python -m thermbench.tools.submission breath_tracks --from data/breath/tracks/mediapipe.json --out F
    python -m thermbench.tools.submission landmarks68 --truth data/prepared --offset 3 4 --out F

The first two rewrite a built-in model's own predictions (a zero-shot predictions file, a breath track file) as a
submission: entered, it must score exactly as that model's row. The third writes the T-FAKE and CHARLOTTE test
crops' ground truth moved by a known offset (px), whose NME follows by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.io import InputError, read_json, write_text
from thermbench.core.stage import run
from thermbench.datasets.prepared import read_samples
from thermbench.zeroshot.table1.submission import DATASETS, POINTS


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, lineterminator="\n")  # shortest round-trip floats: the same numbers back


def nose_rows(predictions: dict) -> pd.DataFrame:
    """A zero-shot predictions file (zeroshot@<model>'s) as thermeval_nose rows."""
    if predictions.get("status") != "ok":
        raise InputError(f"the predictions file holds no predictions (status: {predictions.get('status')})")
    rows = [("full_frame", r["image_file"], x, y) for r in predictions["full_frame"] for x, y in r["pred"]]
    rows += [("crop", r["sample_id"], *r["pred"]) for r in predictions["crop"] if r["pred"] is not None]
    return pd.DataFrame(rows, columns=["protocol", "id", "x", "y"])


def track_rows(tracks: dict) -> pd.DataFrame:
    """A breath track file (breath_track@<source>'s) as breath_tracks rows (NaN: no face)."""
    if not tracks.get("available"):
        raise InputError(f"the track file holds no tracks ({tracks.get('reason')})")
    parts = [pd.DataFrame({"sequence": seq, "subject": subject, "frame": np.arange(len(points)),
                           "x": np.asarray(points, float).reshape(-1, 2)[:, 0],
                           "y": np.asarray(points, float).reshape(-1, 2)[:, 1]})
             for seq, subjects in sorted(tracks["tracks"].items()) for subject, points in sorted(subjects.items())]
    return pd.concat(parts, ignore_index=True)


def truth_rows(prepared: Path, offset: tuple[float, float]) -> pd.DataFrame:
    """The test crops' 68 ground-truth points (crop px) of T-FAKE and CHARLOTTE, moved by `offset`, as landmarks68
    rows (CHARLOTTE's unlabelled points keep their stored position: they are not scored)."""
    rows = []
    for dataset in DATASETS:
        samples = read_samples(prepared / dataset, ("sample_id", "split", "kpts"))
        for s in samples[samples["split"] == "test"].itertuples():
            points = np.asarray(json.loads(s.kpts), float)[:, :2] + offset
            rows.append({"dataset": dataset, "sample_id": s.sample_id,
                         **{f"{a}{i}": points[i, j] for i in range(POINTS) for j, a in enumerate("xy")}})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("thermeval_nose", "breath_tracks", "landmarks68"))
    parser.add_argument("--from", dest="source", type=Path,
                        help="thermeval_nose: data/predictions/zeroshot/<model>.json; breath_tracks: "
                             "data/breath/tracks/<source>.json")
    parser.add_argument("--truth", type=Path, default=Path("data/prepared"), help="landmarks68: the prepared sets")
    parser.add_argument("--offset", type=float, nargs=2, default=(0.0, 0.0), help="landmarks68: px added (x, y)")
    parser.add_argument("--out", type=Path, required=True, help="e.g. submissions/<name>.csv")
    args = parser.parse_args()
    if args.task == "landmarks68":
        table = truth_rows(args.truth, tuple(args.offset))
    else:
        if args.source is None or not args.source.is_file():
            raise InputError(f"--from {args.source}: not found (run `make repro` first: it writes the built-in "
                             "models' predictions)")
        table = (nose_rows if args.task == "thermeval_nose" else track_rows)(read_json(args.source))
    write_text(args.out, _csv(table))
    print(f"{args.out}: {len(table)} rows ({args.task})")


if __name__ == "__main__":
    run(main)
