"""Every pair of ranked rows on the leaderboards of the per-item tasks, tested on the same items (stage board_pairs ->
metrics/conclusions/boards.json, plots/board_pairs.md):

    thermeval_nose         full-frame PCK@10px: whether each GT nose was found within 10 px (plots/curves/zeroshot)
    landmarks68_tfake      NME-IO per T-FAKE test image (plots/curves/mlcmkd, plots/curves/table1; a submission's:
                           data/predictions/table1_submissions)
    landmarks68_charlotte  NME-diag per CHARLOTTE test image (Full), as T-FAKE

Each board is one Holm family of statements (`core.pairs`), ids `boards.<board>.<A>_vs_<B>`, named as the leaderboard
names its rows, so its ranks follow from them (`leaderboard.BOARD_STATEMENTS`). A trained model's seeds are its runs;
a run that did not converge, or failed to train, blocks every pair it enters. A row without per-item scores (its
items file missing) enters its pairs unresolved, saying so, and outside the Holm family.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.conclusions import as_records
from thermbench.core.io import read_json, write_json, write_text
from thermbench.core.items import items_path, read_items
from thermbench.core.pairs import Entry, compare_board
from thermbench.tools.reports.leaderboard import PCK_RADIUS_PX, by_model

BOARDS = {"thermeval_nose": "full-frame PCK@10px over the GT noses",
          "landmarks68_tfake": "T-FAKE test NME-IO",
          "landmarks68_charlotte": "CHARLOTTE test NME-diag, Full"}


def hit(values: np.ndarray) -> np.ndarray:
    """1 where a GT nose was found within the PCK radius, else 0 (NaN: no prediction matched it)."""
    return np.where(np.isfinite(values) & (np.nan_to_num(values, nan=np.inf) <= PCK_RADIUS_PX), 1.0, 0.0)


def _missing(name: str) -> Entry:
    return Entry({None: pd.Series(dtype=np.float64)}, False, [f"no per-item scores of {name}"])


def landmark_entries(runs: list[dict], submitted: dict, items_dirs: list[Path], submitted_items: Path,
                     dataset: str) -> dict[str, Entry]:
    """The landmarks68 board's rows with a value: trained runs grouped by model name without its seed (leaderboard's
    grouping), zero-shot rows and submissions as one run; each run's items file found under `items_dirs`, a
    submission's under `submitted_items`."""
    files = {p.name.removesuffix("_items.csv"): p for d in items_dirs for p in sorted(d.rglob("*_items.csv"))}
    groups = by_model([m for m in runs if "status" not in m])
    entries = {}
    for name, ms in groups.items():
        stem = {m["model"]: m["model"].removeprefix("zeroshot-") for m in ms}
        if any(stem[m["model"]] not in files for m in ms):
            entries[name] = _missing(name)
            continue
        trained = ms[0].get("training") is not None
        failed = sorted(m["model"] for m in ms if trained and not m["training"]["convergence"]["converged"])
        scores = {(m.get("seed") if len(ms) > 1 else None): read_items(files[stem[m["model"]]], dataset) for m in ms}
        entries[name] = Entry(scores, trained, [f"not converged: {', '.join(failed)}"] if failed else [])
    for m in submitted.get("submissions", {}).values():
        if "status" not in m:
            path = items_path(submitted_items, m["label"])
            entries[m["label"]] = (Entry({None: read_items(path, dataset)}, False) if path.is_file()
                                   else _missing(m["label"]))
    return entries


def nose_entries(zeroshot: dict[str, dict], submitted: dict, items_dir: Path) -> dict[str, Entry]:
    """The thermeval_nose board's rows with a value: each model whose status is ok, run once, its errors per GT nose."""
    rows = {**zeroshot, **{m["label"]: m for m in submitted.get("submissions", {}).values()}}
    entries = {}
    for name, m in rows.items():
        if m.get("status") != "ok":
            continue
        path = items_path(items_dir, name)
        entries[name] = (Entry({None: read_items(path, "thermeval")}, False) if path.is_file() else _missing(name))
    return entries


def pair_table(records: list[dict]) -> str:
    """One markdown row per pair: the difference A - B, its interval at its Holm level, the p values, the verdict, and
    what a not-resolved pair could have seen."""
    lines = ["| pair | unit | A − B | interval (Holm level) | p | p Holm | verdict | minimum detectable effect | "
             "variance: seeds / items / seed × item |", "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        n = r["numbers"]
        span = "—" if n["low"] is None else f"[{n['low']:+.4f}, {n['high']:+.4f}] ({100 * n['level']:.2f}%)"
        v = n.get("variance") or {}
        split = " / ".join("—" if v.get(k) is None else f"{v[k]:.2e}" for k in ("seed", "item", "residual"))
        mde = "—" if n.get("mde") is None else f"{n['mde']:.4f}"
        runs = f"{n.get('n_retrainings', n['n_seeds'])} {n['unit']}"
        lines.append(f"| {r['claim'].rsplit(' (', 1)[0]} | {runs} × {n['n_items']} items | "
                     f"{n['mean']:+.4f} | {span} | {n['p']:.3g} | {n['p_holm']:.3g} | {r['verdict']} | {mde} | "
                     f"{split} |")
    return "\n".join(lines)


def write(metrics: Path, builtin_zeroshot: list[str], curves: Path, submitted_items: Path, check: dict,
          out_json: Path, out_md: Path) -> list[dict]:
    """Stage board_pairs: the statements of every board (final under `check`, the kernel check's verdicts on the
    boards) -> `out_json`, and their table -> `out_md`; `submitted_items`: the landmarks68 submissions' items."""
    zeroshot = {n: read_json(metrics / "zeroshot" / f"{n}.json") for n in builtin_zeroshot}
    runs = [m for p in sorted((metrics / "mlcmkd").rglob("*.json")) for m in [read_json(p)]
            if "nme" in m.get("tfake", {}) or "status" in m]
    table1 = read_json(metrics / "table1_submissions.json")
    boards = {"thermeval_nose": nose_entries(zeroshot, read_json(metrics / "zeroshot_submissions.json"),
                                             curves / "zeroshot")}
    for dataset in ("tfake", "charlotte"):
        boards[f"landmarks68_{dataset}"] = landmark_entries(runs, table1, [curves / "mlcmkd", curves / "table1"],
                                                            submitted_items, dataset)
    statements, parts = [], ["# Every pair on the leaderboards\n",
                             "Each board's pairs form one Holm family; a trained model's seeds are its runs, two "
                             "untrained models run once are compared over the test items, and a model trained once "
                             "over its re-trainings under the kernel settings (`thermbench.core.pairs`). A "
                             "not-resolved pair gives the smallest difference it could have detected at its level "
                             "and 80% power, and where the variance of the difference sits.\n"]
    for board, what in BOARDS.items():
        binary = board == "thermeval_nose"
        found = compare_board(f"boards.{board}.", what, boards[board], hit if binary else (lambda v: v), binary,
                              replicates=getattr(check, "replicates_of", None),
                              kernel_runs=getattr(check, "kernel_runs_of", None))
        statements += found
        records = as_records(found, check)
        parts.append(f"## {board}: {what}\n\n" + (pair_table(records) if records else "No two rows to compare.")
                     + "\n")
    data = {"thermeval": zeroshot[builtin_zeroshot[0]]["data"], **table1["data"]}
    records = as_records(statements, check)
    write_json(out_json, {"data": data, "statements": records})
    write_text(out_md, "\n".join(parts))
    return records


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "the DVC stage board_pairs runs it (make repro)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
