"""Every entry of submissions.yaml read and checked before DVC runs a stage: `make check-submissions`, which `make
repro` runs first.

    python -m thermbench.tools.submissions.check_submissions [--submissions submissions.yaml] [--prepared data/prepared]

DVC deletes a stage's outputs before it runs the stage, so a bad file found by a scoring stage would cost the results
of the good ones. Checked here, it stops the run first: one line naming the file and what is wrong, exit 2, nothing
written. Each task is checked by its own area (zeroshot/submission.py, zeroshot/table1/submission.py,
breath/submission.py), as the DAG's validation stages check it, one per task (validate_thermeval_nose,
validate_landmarks68, validate_breath_tracks), so that each scoring stage rests on its own task's data only.

It says, one line per entry, what it checked: an entry is checked against the items the profile scores (ids,
frames, points inside the image) only where the prepared data are on disk; before the first `make repro` (a fresh
clone) only its format is, and the line says so: the DAG's validation stage of its task checks the rest before any
scoring stage runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermbench.breath.submission import validate as validate_tracks
from thermbench.core import stage
from thermbench.zeroshot.bakeoff import config
from thermbench.zeroshot.submission import validate as validate_nose
from thermbench.zeroshot.table1.submission import validate as validate_landmarks


def check(registry: Path, prepared: Path, raw: Path, videos: Path, zeroshot: dict) -> dict[str, dict]:
    """{task: what its validation checked} for every task of `registry` (submissions.yaml): `prepared`:
    data/prepared; `raw`: data/raw/thermeval; `videos`: data/raw/breath; `zeroshot`: the params section (which frames
    and crops the profile scores)."""
    return {"thermeval_nose": validate_nose(registry, prepared / "thermeval", raw, config(zeroshot)),
            "landmarks68": validate_landmarks(registry, prepared / "tfake", prepared / "charlotte"),
            "breath_tracks": validate_tracks(registry, videos)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=Path, default=Path("submissions.yaml"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw/thermeval"))
    parser.add_argument("--videos", type=Path, default=Path("data/raw/breath"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    checked = check(args.submissions, args.prepared, args.raw, args.videos,
                    stage.section(stage.load_params(args.params), "zeroshot"))
    said = {name: f"{name} ({'onnx model' if entry['kind'] == 'onnx' else task}): {entry['checked']}"
            for task, entries in checked.items() for name, entry in entries.items()}  # an ONNX model: every task
    for line in said.values() or ["no submissions entered"]:
        print(f"{args.submissions}: {line}", file=sys.stderr)


if __name__ == "__main__":
    stage.run(main)
