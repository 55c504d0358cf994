"""One leaderboard per task, built-in and submitted models side by side, from metrics/ only (stage
report_leaderboard -> plots/leaderboard.md, metrics/leaderboard.json):

    thermeval_nose         full-frame PCK@10px over every GT nose (higher first), its 95% Wilson interval
    landmarks68 T-FAKE     NME-IO over the test crops (lower first); a trained model: the mean over its seeds and the
                           95% t interval of that mean, a one-run model (zero-shot, submission): no interval
    landmarks68 CHARLOTTE  NME-diag over all test crops (Full), as T-FAKE
    breath                 breath-rate MAE (ridge) per scene (lower first) over the windows where the source has a
                           rate, its 95% bootstrap interval over sequences, and that coverage; ranked as the breath
                           statements rank (a rate in breath.conclusions.min_sequences sequences or more, each pair
                           compared on the windows both have a rate in); a source in fewer sequences is listed
                           without a value (metrics/conclusions/breath.json)

Each row carries its data label (synthetic or real) and whether it is a submission. A model whose weights are absent
is listed with its reason and no numbers.

A rank says only what the conclusions say (metrics/conclusions.json): a ranked row gets the range of places the
resolved pairs leave it, from 1 + the rows resolved better than it to the count of ranked rows - the rows resolved
worse (resolved pairs chained: a < b and b < c resolve a < c). A pair no resolved statement orders, because it is not
resolved or because no statement compares it, leaves both rows free on either side of each other: a shared range
such as 1-3. A single number is a place every other ranked row is resolved against. `BOARD_STATEMENTS` names the
statements each board reads: those comparing its metric on its rows; on thermeval_nose and landmarks68 every pair of
its ranked rows (stage board_pairs, `tools.reports.board_pairs`), whose not-resolved pairs each board lists with what
they could have seen.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy import stats

from thermbench.core.conclusions import pairs_of
from thermbench.core.io import read_json, write_json, write_text
from thermbench.core.stats import ALPHA, t_interval
from thermbench.core.submissions import label

PCK_RADIUS_PX = 10.0  # the nose board's radius
PCK_AT = f"{PCK_RADIUS_PX:g}px"  # its key in the zero-shot metrics
# board -> the id prefix of the statements that compare its metric on its models (metrics/conclusions.json); a board
# not named has no such statement, so none of its pairs is resolved
BOARD_STATEMENTS = {**{board: f"boards.{board}." for board in ("thermeval_nose", "landmarks68_tfake",
                                                              "landmarks68_charlotte")},
                    **{f"breath_{scene}": f"breath.paired.{scene}." for scene in ("near", "near_sway", "far")}}
SEED = re.compile(r"-seed\d+$")


def by_model(runs: list[dict]) -> dict[str, list[dict]]:
    """Runs grouped by model name without its seed (`-seed<k>`): a trained model's seeds make one board row."""
    groups: dict[str, list[dict]] = {}
    for m in runs:
        groups.setdefault(SEED.sub("", m["model"]), []).append(m)
    return groups


def wilson(successes: int, n: int, confidence: float = 1 - ALPHA) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    ci = stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _row(model: str, value, low, high, n, data: str, submission: bool, note: str = "",
         ranked: bool | None = None) -> dict:
    """One board row; `ranked` (default: whether it has a value) says whether it takes a rank."""
    return {"model": model, "value": value, "low": low, "high": high, "n": n, "data": data, "submission": submission,
            "note": note, "ranked": value is not None if ranked is None else ranked}


def nose_rows(zeroshot: dict[str, dict], submitted: dict) -> list[dict]:
    """Full-frame PCK@10px with its Wilson interval over the GT noses, for the built-in `zeroshot` metrics
    ({name: metrics/zeroshot/<name>.json}) and the submissions (metrics/zeroshot_submissions.json)."""
    rows = []
    for name, m, submission in [*((n, m, False) for n, m in zeroshot.items()),
                                *((m["label"], m, True) for m in submitted.get("submissions", {}).values())]:
        if m.get("status") != "ok":
            rows.append(_row(name, None, None, None, None, m["data"], submission, m.get("status", "")))
            continue
        full = m["full_frame"]
        hits = int(round(full["pck"][PCK_AT] * full["n_gt"]))
        rows.append(_row(name, full["pck"][PCK_AT], *wilson(hits, full["n_gt"]), full["n_gt"], m["data"], submission))
    return _ranked(rows, higher=True)


def landmark_rows(runs: list[dict], submitted: dict, dataset: str) -> list[dict]:
    """NME on `dataset` (tfake: NME-IO; charlotte: NME-diag, Full) of every Table I model: trained runs grouped by
    model name without its seed (mean and 95% t interval over seeds), zero-shot rows and submissions as one run."""
    groups = by_model(runs)
    rows = []
    entries = [*((name, ms, False) for name, ms in groups.items()),
               *((m["label"], [m], True) for m in submitted.get("submissions", {}).values())]
    for name, ms, submission in entries:
        if "status" in ms[0]:  # its weights are absent: listed with the reason
            rows.append(_row(name, None, None, None, None, ms[0]["data"][dataset], submission, ms[0]["status"]))
            continue
        cells = [m[dataset] if dataset == "tfake" else m[dataset]["full"] for m in ms]
        mean, low, high = t_interval(np.array([c["nme"] for c in cells]))
        note = f"{len(ms)} seeds" if len(ms) > 1 else "one run"
        rows.append(_row(name, mean, low, high, cells[0]["n"], ms[0]["data"][dataset], submission, note))
    return _ranked(rows, higher=False)


def breath_rows(scores: dict, data: str, unavailable: dict[str, str]) -> dict[str, list[dict]]:
    """{scene: rows} of every breath source (`scores` of metrics/conclusions/breath.json, `ranking.scores`): its ridge
    MAE over the windows where it has a rate, with its bootstrap interval over sequences, and its coverage in the note.
    Ranked: the sources the statements rank, those with a rate in `breath.conclusions.min_sequences` sequences or more
    (their pairs are compared on the windows both have a rate in); so a source whose coverage moves by a window on
    another CPU stays ranked, as it stays in the statements. One with a rate in too few sequences is listed without a
    value (a submission's source is its label, core.submissions.label); `unavailable` ({source: why},
    metrics/breath/rates.json) listed without numbers."""
    out = {}
    for scene, sources in sorted(scores.items()):
        rows = []
        for name, s in sources.items():
            cover = f"rate in {s['windows']}/{s['of_windows']} windows, {s['sequences']}/{s['of_sequences']} sequences"
            value, low, high = (s["mean"], s["low"], s["high"]) if s["ranked"] else (None, None, None)
            note = cover if s["ranked"] else f"not ranked, {cover}"
            rows.append(_row(name, value, low, high, s["sequences"], data, name.endswith(label("")), note,
                             s["ranked"]))
        out[scene] = _ranked(rows + [_row(name, None, None, None, None, data, name.endswith(label("")), why)
                                     for name, why in unavailable.items()], higher=False)
    return out


def _ranked(rows: list[dict], higher: bool) -> list[dict]:
    """The ranked rows best first, then the unranked ones with a value, then those without, each by model name."""
    def by_value(group):
        return sorted(group, key=lambda r: (-r["value"] if higher else r["value"], r["model"]))
    return (by_value(r for r in rows if r["ranked"]) + by_value(r for r in rows if not r["ranked"] and
                                                                r["value"] is not None)
            + sorted((r for r in rows if r["value"] is None), key=lambda r: r["model"]))


def resolved_pairs(statements: list[dict], prefix: str | None) -> set[tuple[str, str]]:
    """(lower, higher) pairs of the resolved statements whose id starts with `prefix` (metrics/conclusions.json's
    statements), and of the resolved table comparisons that name a pair of this board (`numbers.board`, with the two
    rows as `numbers.groups`, A - B its `mean`: a claim of the paper tested in its own table's family), chained: a < b
    and b < c give a < c."""
    pairs = set()
    for s in statements:
        if prefix is None or not s["resolved"]:
            continue
        if s["id"].startswith(prefix):
            pairs |= pairs_of(s["verdict"]) or set()
        elif str(s.get("numbers", {}).get("board", "")).startswith(prefix):
            a, b = s["numbers"]["groups"]
            pairs.add((a, b) if s["numbers"]["mean"] < 0 else (b, a))
    while True:
        chained = {(a, d) for a, b in pairs for c, d in pairs if b == c} - pairs
        if not chained:
            return pairs
        pairs |= chained


def open_pairs(statements: list[dict], prefix: str | None) -> list[dict]:
    """The pairs of a board's statements (ids under `prefix`) that are not resolved, with what each could have seen:
    {pair, difference, mde, variance, why}; none for a board without pair statements of its own."""
    return [{"pair": s["claim"].rsplit(" (", 1)[0], "difference": s["numbers"].get("mean"),
             "mde": s["numbers"].get("mde"),
             "variance": s["numbers"].get("variance"), "why": s["why"]}
            for s in statements if prefix is not None and prefix.startswith("boards.") and s["id"].startswith(prefix)
            and not s["resolved"]]


def rank_ranges(rows: list[dict], pairs: set[tuple[str, str]], higher: bool) -> list[dict]:
    """Each ranked row with its `rank` [best, worst]: 1 + the ranked rows resolved better than it, the ranked rows
    less those resolved worse; unranked rows: None. `pairs`: (lower, higher) resolved pairs."""
    names = [r["model"] for r in rows if r["ranked"]]
    better = {(b, a) if higher else (a, b) for a, b in pairs if a in names and b in names}
    return [{**r, "rank": [1 + sum((o, r["model"]) in better for o in names),
                           len(names) - sum((r["model"], o) in better for o in names)] if r["ranked"] else None}
            for r in rows]


def rank_text(rank: list[int] | None) -> str:
    if rank is None:
        return "—"
    return str(rank[0]) if rank[0] == rank[1] else f"{rank[0]}–{rank[1]}"


def _cell(v, digits: int) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def table(rows: list[dict], metric: str, digits: int) -> str:
    lines = [f"| rank | model | {metric} | 95% interval | n | data | submission | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        interval = "—" if r["low"] is None else f"[{_cell(r['low'], digits)}, {_cell(r['high'], digits)}]"
        lines.append(f"| {rank_text(r['rank'])} | {r['model']} | {_cell(r['value'], digits)} | "
                     f"{interval} | {r['n'] if r['n'] is not None else '—'} | {r['data']} | "
                     f"{'yes' if r['submission'] else 'no'} | {r['note'].split(':')[0].split(' (')[0]} |")
    return "\n".join(lines)


def build(zeroshot: dict[str, dict], zeroshot_submitted: dict, runs: list[dict], table1_submitted: dict,
          breath_scores: dict, breath_data: str, breath_unavailable: dict[str, str], statements: list[dict]) -> dict:
    """The leaderboards as data: {task: {metric, higher_is_better, rows}} (breath: one board per scene), each row
    with the rank range the resolved `statements` (metrics/conclusions.json) give it."""
    boards = {"thermeval_nose": {"metric": f"full-frame PCK@{PCK_AT}", "higher_is_better": True,
                                 "rows": nose_rows(zeroshot, zeroshot_submitted)}}
    for dataset, metric in (("tfake", "NME-IO"), ("charlotte", "NME-diag (Full)")):
        boards[f"landmarks68_{dataset}"] = {"metric": metric, "higher_is_better": False,
                                            "rows": landmark_rows(runs, table1_submitted, dataset)}
    for scene, rows in breath_rows(breath_scores, breath_data, breath_unavailable).items():
        boards[f"breath_{scene}"] = {"metric": "breath-rate MAE, ridge (breaths/min)", "higher_is_better": False,
                                     "rows": rows}
    for key, board in boards.items():
        pairs = resolved_pairs(statements, BOARD_STATEMENTS.get(key))
        board["rows"] = rank_ranges(board["rows"], pairs, board["higher_is_better"])
        board["open_pairs"] = open_pairs(statements, BOARD_STATEMENTS.get(key))
    return boards


def open_text(board: dict) -> str:
    """The board's not-resolved pairs, each with its difference and the smallest difference it could have detected
    (plots/board_pairs.md has their tests and variance splits)."""
    if not board.get("open_pairs"):
        return ""
    cells = "; ".join(f"{p['pair']}: {_cell(p['difference'], 4)}, could have seen {_cell(p['mde'], 4)}"
                      for p in board["open_pairs"])
    return (f"\nNot resolved ({len(board['open_pairs'])} pairs; A − B, then the minimum detectable effect at 80% "
            f"power; tests and variance splits in `plots/board_pairs.md`): {cells}.\n")


TITLES = {"thermeval_nose": "ThermEval nose (thermeval_nose)",
          "landmarks68_tfake": "68 landmarks on T-FAKE (landmarks68)",
          "landmarks68_charlotte": "68 landmarks on CHARLOTTE (landmarks68)"}


def markdown(boards: dict) -> str:
    parts = ["# Leaderboard per task\n", "Every built-in and submitted model, ranked on each task's main metric; the "
             "interval is a 95% one (PCK: Wilson over the GT noses; NME: t over a trained model's seeds, none for one "
             "run; breath: bootstrap over sequences, the MAE over the windows where the source has a rate, its "
             "coverage in the note; the sources the breath statements rank are ranked, each pair compared on the "
             "windows both have a rate in). `data`: synthetic or real.\n", "**How to read the rank.** A rank says what "
             "`plots/conclusions.md` says, not the order of the values: a single number only where every pair of this "
             "row with another ranked row is resolved there; a range such as 1–3 where some pair is not resolved (or "
             "no statement compares it): the row could sit anywhere in that range. Rows are listed by value within "
             "the ranked ones.\n"]
    breath = False
    for key, board in boards.items():
        better = "higher" if board["higher_is_better"] else "lower"
        rows = table(board["rows"], board["metric"].split(",")[0], 4)
        if key in TITLES:
            parts.append(f"## {TITLES[key]}\n\n{board['metric']}, {better} is better.\n\n{rows}\n{open_text(board)}")
            continue
        if not breath:  # the scenes' boards under one heading
            parts.append(f"## Breath rate (breath_tracks)\n\n{board['metric']} per scene, {better} is better.\n")
            breath = True
        parts.append(f"**{key.removeprefix('breath_')} scene**\n\n{rows}\n")
    return "\n".join(parts)


def write(metrics: Path, builtin_zeroshot: list[str], out_md: Path, out_json: Path) -> dict:
    """Stage report_leaderboard: the boards from `metrics` (metrics/) -> `out_md`, `out_json`."""
    zeroshot = {name: read_json(metrics / "zeroshot" / f"{name}.json") for name in builtin_zeroshot}
    runs = [m for path in sorted((metrics / "mlcmkd").rglob("*.json"))
            for m in [read_json(path)] if "nme" in m.get("tfake", {}) or "status" in m]
    rates = read_json(metrics / "breath" / "rates.json")
    breath = read_json(metrics / "conclusions" / "breath.json")["scores"]
    boards = build(zeroshot, read_json(metrics / "zeroshot_submissions.json"), runs,
                   read_json(metrics / "table1_submissions.json"), breath,
                   rates["data"], rates.get("unavailable", {}), read_json(metrics / "conclusions.json")["statements"])
    landmarks = read_json(metrics / "table1_submissions.json")["data"]
    data = {"thermeval": zeroshot[builtin_zeroshot[0]]["data"], **landmarks, "breath": rates["data"]}
    write_json(out_json, {"data": data, "boards": boards})
    write_text(out_md, markdown(boards))
    return boards


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "the DVC stage report_leaderboard runs it (make repro)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
