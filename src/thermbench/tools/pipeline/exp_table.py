"""The experiments of `dvc exp run -S key=value` side by side, within a screen's width: `make exp-show`
(docs/results.md, "Comparing runs").

It reads `dvc exp show --json` (the workspace, the baseline commit and the experiments on top of it) and prints the
params whose value differs between the rows shown, then the headline metrics (metrics/headline/*) that differ: no
dependency hash, no other metrics file, no timing. A column is named by its key path (`head.lr`,
`tinyhead.gt_box.pck10.mean`), with its file's name in front (`nose.json:...`) only where two files hold the same
path. Numbers are rounded as DVC rounds them (5 significant digits, --precision), and a column differs when its cells,
as shown, do. A table is at most --width characters wide (default: $COLUMNS where set, else 200); one that would be
wider breaks its longest names after their dots (not in Markdown), and where that is not enough it is split into the
params and the headline metrics, and each of those into more tables where it is still wider, each table led by the
Experiment column. With no experiment it says so in one line, and how to make one.

Options it does not know go to `dvc exp show`: `-n 2` (experiments of the last two commits), `-A`, `--rev <commit>`,
`--hide-workspace`.

    python -m thermbench.tools.pipeline.exp_table [--md] [--width N] [--precision N] [dvc exp show options]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

from thermbench.core.io import InputError
from thermbench.core.stage import run as run_tool

WIDTH = 200  # characters, where neither --width nor $COLUMNS says otherwise
HEADLINE = "metrics/headline/"  # the DVC metrics the table shows (the README's numbers)
PRECISION = 5  # significant digits, DVC's default
MAX_CELL = 60  # characters of one cell; a longer value is cut, ending in "…"
# DVC's own way to leave out the dependencies' hash columns, as its docs give it: `dvc exp show --only-changed --drop
# <regex>`, matched at the start of each column's name; a dependency's column is its path, in one of these folders
DEPS_DROP = r"^((data|plots|metrics|src|stages|conclusions|submissions)/|.*\.yaml$)"  # (docs/results.md)
HOW = "`dvc exp run -S key=value` runs one with a param changed (docs/results.md, \"Comparing runs\")"


@dataclass
class Row:
    """One row of `dvc exp show`: its label (as DVC draws it), when it was made, and its values by
    (kind, file, key path), kind "params" or "metrics"."""

    label: str
    created: str
    values: dict[tuple[str, str, tuple[str, ...]], Any] = field(default_factory=dict)


@dataclass
class Column:
    kind: str  # "params" or "metrics"
    file: str
    path: tuple[str, ...]
    name: str = ""
    cells: list[str] = field(default_factory=list)


def _flatten(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(data, dict) and data:
        return {k: v for key, value in data.items() for k, v in _flatten(value, (*prefix, str(key))).items()}
    return {prefix: data} if prefix else {}


def _values(data: dict | None) -> dict[tuple[str, str, tuple[str, ...]], Any]:
    """The params and metrics of one revision of `dvc exp show --json` (a file DVC could not read: none of its)."""
    out = {}
    for kind in ("params", "metrics"):
        for file, held in ((data or {}).get(kind) or {}).items():
            for path, value in _flatten((held or {}).get("data") or {}).items():
                out[(kind, file, path)] = value
    return out


def created(timestamp: str | None, today: datetime.date) -> str:
    """When a row was made: the time of day when that is `today`, else the date; "-" when DVC gives none."""
    if not timestamp:
        return "-"
    when = datetime.datetime.fromisoformat(timestamp)
    return when.strftime("%H:%M") if when.date() == today else when.date().isoformat()


def rows_of(shown: list[dict], today: datetime.date) -> tuple[list[Row], int, list[str]]:
    """The rows of `dvc exp show --json`'s output, as DVC's table orders them (each baseline, then its experiments),
    the number of experiments among them, and the labels of the entries that hold no results (queued, running or
    failed), which are not rows."""
    rows, experiments, without = [], 0, []
    for entry in shown:
        data = entry.get("data")
        label = "workspace" if entry["rev"] == "workspace" else entry.get("name") or entry["rev"][:7]
        if data:
            rows.append(Row(label, created(data.get("timestamp"), today), _values(data)))
        else:
            without.append(label)
        done = []
        for exp in entry.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state")
            for rev in exp.get("revs") or []:
                name = rev["rev"][:7] + (f" [{rev['name']}]" if rev.get("name") else "")
                if rev.get("data") and not rev.get("error") and state in (None, "success"):
                    done.append((name, rev["data"]))
                else:
                    without.append(f"{name} ({state or 'failed'})")
        for i, (name, data) in enumerate(done):
            rows.append(Row(f"{'└──' if i == len(done) - 1 else '├──'} {name}", created(data.get("timestamp"), today),
                            _values(data)))
        experiments += len(done)
    return rows, experiments, without


def cell(value: Any, precision: int = PRECISION) -> str:
    """One value as the table shows it: a float to `precision` significant digits, a missing one "-"."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.{precision}g}"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(", ", ": "))
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _named(columns: list[Column]) -> None:
    """Name each column by its key path, with its file's name in front where another file of its kind holds the
    same path (the whole file path where two such files share a name)."""
    files: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for c in columns:
        files.setdefault((c.kind, c.path), set()).add(c.file)
    for c in columns:
        key = ".".join(c.path)
        if len(files[(c.kind, c.path)]) == 1:
            c.name = key
            continue
        base = c.file.rsplit("/", 1)[-1]
        same_base = [f for f in files[(c.kind, c.path)] if f.rsplit("/", 1)[-1] == base]
        c.name = f"{c.file if len(same_base) > 1 else base}:{key}"


def changed(rows: list[Row], headline: str = HEADLINE, precision: int = PRECISION) -> list[Column]:
    """The columns whose cells differ between `rows`: every params file's, then the metrics of the files under
    `headline`, each in the order DVC lists them."""
    order = list(dict.fromkeys(k for r in rows for k in r.values))
    keys = ([k for k in order if k[0] == "params"] +
            [k for k in order if k[0] == "metrics" and k[1].startswith(headline)])
    columns = []
    for kind, file, path in keys:
        cells = [cell(r.values.get((kind, file, path)), precision) for r in rows]
        if len(set(cells)) > 1:
            columns.append(Column(kind, file, path, cells=cells))
    _named(columns)
    return columns


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def wrap(name: str, width: int) -> list[str]:
    """`name` over lines of at most `width` characters, broken after its dots (a part longer than `width` stays
    whole)."""
    parts = [p + "." for p in name.split(".")]
    parts[-1] = parts[-1][:-1]
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return lines


def heading(column: Column) -> list[str]:
    """A column's name broken after its dots to the width of its cells (or of its longest part)."""
    parts = column.name.split(".")
    longest = max(len(p) + (i < len(parts) - 1) for i, p in enumerate(parts))
    return wrap(column.name, max([longest, *map(len, column.cells)]))


def table_width(widths: list[int], md: bool) -> int:
    """The characters of a table's widest line whose columns are `widths` wide: "| a | b |" in Markdown, columns two
    spaces apart otherwise."""
    return sum(widths) + (3 * len(widths) + 1 if md else 2 * (len(widths) - 1))


def table(header: list[list[str]], body: list[list[str]], md: bool) -> list[str]:
    """The lines of one table whose columns are headed by `header` (each a list of lines, bottom-aligned; one line
    each in Markdown): padded Markdown (GFM), or plain text with a rule under the header, numbers right-aligned."""
    widths = [max([*map(len, h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    if md:
        def row(cells: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return [row([" ".join(h) for h in header]), rule, *map(row, body)]
    right = [i > 0 and all(_numeric(r[i]) or r[i] == "-" for r in body) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()
    depth = max(map(len, header))
    heads = [[""] * (depth - len(h)) + h for h in header]
    return [*(line([h[i] for h in heads]) for i in range(depth)), "  ".join("-" * w for w in widths),
            *map(line, body)]


def fit(group: list[Column], lead: list[int], width: int, md: bool) -> list[list[str]] | None:
    """The heading lines of `group`'s columns in a table led by columns `lead` wide that is at most `width` wide: each
    name on one line, or in plain text as few names as need be broken after their dots (those that gain most first);
    None where it does not fit."""
    heads = [[c.name] for c in group]

    def wide(h: list[str], c: Column) -> int:
        return max([*map(len, h), *map(len, c.cells)])

    gains = sorted(range(len(group)), key=lambda i: wide(heading(group[i]), group[i]) - wide([group[i].name], group[i]))
    for i in [None] + ([] if md else gains):
        if i is not None:
            heads[i] = heading(group[i])
        if table_width(lead + [wide(h, c) for h, c in zip(heads, group)], md) <= width:
            return heads
    return None


def split(columns: list[Column], lead: list[int], width: int, md: bool) -> list[tuple[list[Column], list[list[str]]]]:
    """`columns` as tables of at most `width` characters, each led by the columns `lead` wide, with their heading
    lines (see `fit`): all in one table where that fits, else the params and the metrics apart, each packed in order
    into as few tables as fit (a column wider than `width` on its own gets a table of its own)."""
    if not columns:
        return []
    heads = fit(columns, lead, width, md)
    if heads is not None:
        return [(columns, heads)]
    tables = []
    for kind in ("params", "metrics"):
        current: list[Column] = []
        for c in (c for c in columns if c.kind == kind):
            if current and fit([*current, c], lead, width, md) is None:
                tables.append(current)
                current = []
            current.append(c)
        if current:
            tables.append(current)
    return [(group, fit(group, lead, width, md) or [heading(c) if not md else [c.name] for c in group])
            for group in tables]


def _files(columns: list[Column], headline: str) -> str:
    files = list(dict.fromkeys(c.file for c in columns))
    if all(f.startswith(headline) for f in files):
        return f"{headline}: " + ", ".join(f[len(headline):] for f in files)
    return ", ".join(files)


def render(shown: list[dict], width: int = WIDTH, md: bool = False, precision: int = PRECISION,
           headline: str = HEADLINE, today: datetime.date | None = None) -> str:
    """What `make exp-show` prints for `dvc exp show --json`'s output `shown` (see the module docstring)."""
    rows, experiments, without = rows_of(shown, today or datetime.date.today())
    baselines = [e.get("name") or e["rev"][:7] for e in shown if e["rev"] != "workspace"]
    if experiments == 0 and len(baselines) <= 1:
        on = f" on top of {baselines[0]}" if baselines else ""
        return f"No experiments{on}: {HOW}.\n"
    columns = changed(rows, headline, precision)
    lines = []
    if not columns:
        lines.append(f"No param and no headline metric ({headline}) differs between the {len(rows)} rows shown.")
    tables = split(columns, [max([len("Experiment"), *(len(r.label) for r in rows)]),
                               max([len("Created"), *(len(r.created) for r in rows)])], width, md)
    params = [c for c in columns if c.kind == "params"]
    metrics = [c for c in columns if c.kind == "metrics"]
    for i, (group, heads) in enumerate(tables):
        kinds = {c.kind for c in group}
        if len(kinds) == 2:
            caption = (f"The params that differ ({_files(params, headline)}), then the headline metrics that differ "
                       f"({_files(metrics, headline)}):")
        elif kinds == {"params"}:
            caption = f"The params that differ ({_files(group, headline)}):"
        else:
            caption = f"The headline metrics that differ ({_files(group, headline)}):"
        if i:
            lines.append("")
        lines += textwrap.wrap(caption, width) or [caption]
        header = [["Experiment"], ["Created"], *heads]
        body = [[r.label, r.created, *(c.cells[j] for c in group)] for j, r in enumerate(rows)]
        lines += table(header, body, md)
    if columns and not metrics:
        lines += ["", f"No headline metric ({headline}) differs between these rows."]
    if columns and not params:
        lines += ["", "No param differs between these rows."]
    if without:
        lines += ["", f"Not shown, without results: {', '.join(without)}."]
    return "\n".join(lines) + "\n"


def _width(value: str | None) -> int | None:
    try:
        return int(value) if value and int(value) > 0 else None
    except ValueError:
        return None


def exp_show_json(dvc: list[str], options: list[str]) -> list[dict]:
    """`dvc exp show --json` with `options`, parsed."""
    done = subprocess.run([*dvc, "exp", "show", "--json", *options], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"`dvc exp show --json {' '.join(options)}` failed: {last}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as err:
        raise InputError(f"`dvc exp show --json` printed no JSON ({err.msg})") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--md", action="store_true", help="Markdown (GFM) tables")
    parser.add_argument("--width", type=int, default=_width(os.environ.get("COLUMNS")) or WIDTH,
                        help=f"the widest a table may be, in characters (default: $COLUMNS, else {WIDTH})")
    parser.add_argument("--precision", type=int, default=PRECISION, help="significant digits of a float")
    parser.add_argument("--headline", default=HEADLINE, help="the metrics files shown: those under this folder")
    parser.add_argument("--dvc", default=shlex.join([sys.executable, "-m", "dvc"]),
                        help="the command that runs DVC (default: this Python's dvc)")
    parser.add_argument("--from-json", metavar="FILE",
                        help="read `dvc exp show --json`'s output from FILE instead of running it ('-': stdin)")
    args, options = parser.parse_known_args(argv)
    if args.from_json:
        try:
            shown = json.loads(sys.stdin.read() if args.from_json == "-" else open(args.from_json).read())
        except json.JSONDecodeError as err:
            raise InputError(f"{args.from_json}: not valid JSON ({err.msg})") from None
    else:
        shown = exp_show_json(shlex.split(args.dvc), options)
    sys.stdout.write(render(shown, args.width, args.md, args.precision, args.headline))


if __name__ == "__main__":
    run_tool(main)
