"""How far a change of CPU vendor moves the statements' clearances, measured from two runs of the same commit's default
DAG, one per CPU, and the vendor margin taken from it:

    python -m thermbench.tools.gates.vendor_shift THERE/metrics/conclusions.json --there-cpu "..." --here-cpu "..." \
        --how "..." [--here metrics/conclusions.json] [--out conclusions/vendor_shift.json]

A statement's `clearance` says, for each part of its verdict read against an interval (a pair "A < B", a level
against its target), how far that interval lies from its line in the interval's own half-widths, as the run that made
it found it (`verdict_here`). Every part with a clearance in both files is one measured shift: |there - here|. The
file written keeps each pair's two clearances (so it stands on its own, without the other machine's files), the
shifts' median, `VENDOR_QUANTILE` quantile and largest, the margin that quantile gives (rounded up to 0.01
half-widths: `thermbench.core.conclusions.VENDOR_MARGIN` must equal it, a test checks) and how many of the shifts it
covers, and which published verdicts the two runs share.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from thermbench.core.conclusions import VENDOR_QUANTILE
from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.stage import run

OUT = Path("conclusions/vendor_shift.json")


def _statements(path: Path) -> dict[str, dict]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("statements"), list):
        raise InputError(f"{path}: expected metrics/conclusions.json's `statements`")
    return {s["id"]: s for s in data["statements"]}


def shifts(here: dict[str, dict], there: dict[str, dict]) -> list[dict]:
    """One row per part with a clearance in both runs' statements (id -> record), sorted by statement and part."""
    rows = []
    for i in sorted(set(here) & set(there)):
        mine, theirs = here[i].get("clearance", {}), there[i].get("clearance", {})
        rows += [{"statement": i, "part": part, "here": mine[part], "there": theirs[part],
                  "shift": round(abs(theirs[part] - mine[part]), 4)} for part in sorted(set(mine) & set(theirs))]
    return rows


def margin_from(measured: list[float], quantile: float = VENDOR_QUANTILE) -> float:
    """The `quantile` quantile of the measured shifts (numpy's linear interpolation), rounded up to 0.01."""
    if not measured:
        raise InputError("no part has a clearance in both runs: nothing measured")
    return math.ceil(round(float(np.quantile(measured, quantile)) * 100, 6)) / 100


def measurement(here: dict[str, dict], there: dict[str, dict], how: str, here_cpu: str, there_cpu: str) -> dict:
    rows = shifts(here, there)
    measured = [r["shift"] for r in rows]
    margin = margin_from(measured)
    differ = sorted(i for i in set(here) & set(there) if here[i]["verdict"] != there[i]["verdict"])
    return {"how": how, "here": {"cpu": here_cpu}, "there": {"cpu": there_cpu}, "pairs": rows,
            "shift": {"n": len(rows), "median": round(float(np.median(measured)), 4),
                      "quantile": VENDOR_QUANTILE,
                      "at_quantile": round(float(np.quantile(measured, VENDOR_QUANTILE)), 4),
                      "max": max(measured)},
            "margin": margin, "covered": sum(s <= margin for s in measured),
            "verdicts": {"statements": len(set(here) & set(there)), "differ": differ}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("there", type=Path, help="the other CPU's metrics/conclusions.json")
    parser.add_argument("--here", type=Path, default=Path("metrics/conclusions.json"))
    parser.add_argument("--here-cpu", required=True, help="this repository's CPU, e.g. 'AMD EPYC (AVX2), 2 cores'")
    parser.add_argument("--there-cpu", required=True, help="the other CPU, in the same words")
    parser.add_argument("--how", required=True, help="how the two runs were made (commit, profile, command)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = measurement(_statements(args.here), _statements(args.there), args.how, args.here_cpu, args.there_cpu)
    write_json(args.out, result, 4)
    print(f"{args.out}: {result['shift']['n']} shifts, median {result['shift']['median']}, "
          f"{VENDOR_QUANTILE:g} quantile {result['shift']['at_quantile']}, largest {result['shift']['max']}; margin "
          f"{result['margin']} covers {result['covered']} of them", file=sys.stderr)


if __name__ == "__main__":
    run(main)
