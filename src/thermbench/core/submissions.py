"""A user's own model entered as a predictions file or as an ONNX model with its card: the entries of
`submissions.yaml` (docs/own-model.md). Each area scores the tasks it owns, under exactly the
protocol of its built-in rows; an ONNX model (`model: <card.yaml>`, models/onnx_model.py) is run by every area on
its own inputs, as its built-in models are:

    thermeval_nose   zeroshot   the ThermEval nose protocols (full frame, GT Person box)
    landmarks68      zeroshot   Table I: T-FAKE and CHARLOTTE test crops, 68 iBUG points
    breath_tracks    breath     nostril tracks over the breath videos, a source of the breath ranking

`submissions.yaml` sits beside params.yaml, not in it, so that switching profiles (which rewrites params.yaml) never
drops a user's entries; the files themselves go under `submissions/`, which the scoring stages depend on.

The same file lists the built-in models under `builtin`, by area (AREAS): dvc.yaml makes one stage per listed name
(`vars`), and the areas read their lists here, so that a built-in model is a list entry plus its adapter. A submission
may not take a built-in model's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from thermbench.core.io import InputError

TASKS = ("thermeval_nose", "landmarks68", "breath_tracks")
AREAS = {  # builtin.<area>: the stages that list's models get
    "zeroshot": "zeroshot@<name>: the ThermEval nose bake-off, its rows in this order",
    "table1": "zeroshot_table1@<name>: Table I's zero-shot rows",
    "breath": "breath_track@<name>: nostril tracks of the sources whose settings are breath.track",
    "breath_zeroshot": "breath_track_zeroshot@<name>: nostril tracks of the zero-shot models (zeroshot.<name>)",
}
FIELDS = {"task", "path", "model", "notes", "empty"}
FOLDER = "submissions"  # beside submissions.yaml: every entry's file lies in it (the scoring stages depend on it)
COCO_TASK = "landmarks68"  # the one task that also reads a COCO keypoint results file (.json)
JSON_ELSEWHERE = (f"a .json file where this task reads a CSV (COCO keypoint results are read for task {COCO_TASK} "
                  "only; the formats: submissions/README.md)")
EMPTY_TASK = "thermeval_nose"  # the one task where a file with no rows is a result (a model that found no nose)
EVERY = {"landmarks68": "every scored T-FAKE and CHARLOTTE test crop",  # the other tasks: each of these needs a row
         "breath_tracks": "every frame of every subject of every breath video"}
ECHO = 40  # characters of one value from a user's file that an error line shows
LINE = 400  # the most characters of an error line's rule, whatever the file holds
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Submission:
    name: str
    task: str
    path: Path  # the predictions file, or the model card of an ONNX model
    notes: str  # licence, where the model comes from: in its metrics, and under the zero-shot table and Table I
    onnx: bool = False  # `path` is a model card: the area runs the model

    @property
    def label(self) -> str:
        return label(self.name)


def label(name: str) -> str:
    """How every table and figure names a submission's row."""
    return f"{name} (submission)"


def _load(path: Path) -> dict:
    if not Path(path).is_file():
        raise InputError(f"{path}: not found (it holds `submissions: {{}}` when no model is entered)")
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise InputError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("submissions", {}), (dict, type(None))):
        raise InputError(f"{path}: expected a mapping `submissions: {{name: {{task, path, notes}}}}`")
    return data


def builtin(path: Path) -> dict[str, list[str]]:
    """{area: the built-in models' names, in their listed order} from the file `path` (submissions.yaml)."""
    listed = _load(path).get("builtin")
    if not isinstance(listed, dict) or sorted(listed) != sorted(AREAS):
        raise InputError(f"{path}: expected `builtin:` with a list of model names for each of {', '.join(AREAS)}")
    for area, names in listed.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and NAME.fullmatch(n) for n in names):
            raise InputError(f"{path}: builtin.{area}: expected a list of model names")
    return {area: list(listed[area]) for area in AREAS}


def read(path: Path, task: str) -> list[Submission]:
    """The submissions of `task` declared in the file `path` (submissions.yaml), whose files lie in the `submissions/`
    folder beside it."""
    found = entries(_load(path).get("submissions"), task, str(path), Path(path).parent / FOLDER)
    taken = {name for names in builtin(path).values() for name in names}
    for entry in found:
        if entry.name in taken:
            raise InputError(f"{path}: submissions.{entry.name}: the name of a built-in model")
    return found


def onnx_models(path: Path) -> list[Submission]:
    """The ONNX models declared in the file `path` (submissions.yaml), sorted by name."""
    return [entry for entry in read(path, "") if entry.onnx]


def entries(mapping: dict | None, task: str, where: str = "submissions.yaml",
            folder: Path = Path(FOLDER)) -> list[Submission]:
    """The submissions of `task` from the `submissions` mapping ({name: {task, path, notes}} or {name: {model,
    notes}}), sorted by name; every ONNX model is a submission of every task. A malformed entry (unknown task or key,
    no path, a file that does not exist or lies outside `folder`, the submissions/ folder the scoring stages depend
    on) is one InputError naming it."""
    out = []
    for name, entry in sorted((mapping or {}).items()):
        at = f"{where}: submissions.{name}"
        if not NAME.fullmatch(str(name)):
            raise InputError(f"{at}: a name of letters, digits, '_', '-' and '.' only (it names files and rows)")
        if not isinstance(entry, dict):
            raise InputError(f"{at}: expected a mapping with task and path")
        unknown = sorted(set(entry) - FIELDS)
        if unknown:
            raise InputError(f"{at}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})")
        notes = str(entry.get("notes") or "")
        if "model" in entry:
            if {"task", "path"} & set(entry):
                raise InputError(f"{at}: either model (an ONNX model's card) or task and path (a predictions file)")
            card = Path(str(entry["model"]))
            if not card.is_file():
                raise InputError(f"{at}: model card {card} not found")
            _inside(card, folder, at)
            out.append(Submission(str(name), task, card, notes, onnx=True))
            continue
        if entry.get("task") is None:
            raise InputError(f"{at}: no `task` (one of {', '.join(TASKS)}; or `model`, an ONNX model's card)")
        if entry["task"] not in TASKS:
            raise InputError(f"{at}: task {shown(entry['task'])} is not one of {', '.join(TASKS)}")
        if not entry.get("path"):
            raise InputError(f"{at}: no path")
        path = Path(entry["path"])
        if not path.is_file():
            raise InputError(f"{at}: {path} not found")
        _inside(path, folder, at)
        if path.suffix.lower() == ".json" and entry["task"] != COCO_TASK:
            raise fail(path, None, JSON_ELSEWHERE)
        empty = entry.get("empty", False)
        if not isinstance(empty, bool):
            raise InputError(f"{at}: empty: {empty!r} is not true or false")
        if empty and entry["task"] != EMPTY_TASK:
            raise InputError(f"{at}: `empty: true` is for task {EMPTY_TASK} only: {EVERY[entry['task']]} needs a "
                             "row, so a file without rows is never scored")
        count = row_count(path)
        if not count and entry["task"] == COCO_TASK and path.suffix.lower() == ".json":
            raise fail(path, None, f"a COCO results file with no result: {EVERY[COCO_TASK]} needs one (the format: "
                                   "submissions/README.md)")
        if not count and entry["task"] != EMPTY_TASK:
            raise fail(path, None, f"no rows: {EVERY[entry['task']]} needs one (the format: submissions/README.md)")
        if not count and not empty:
            raise InputError(f"{at}: {path} holds no predictions; if the model found nothing on purpose, say so with "
                             "`empty: true` in this entry")
        if count and empty:
            raise InputError(f"{at}: `empty: true`, but {path} holds {count} prediction(s)")
        if entry["task"] == task:
            out.append(Submission(str(name), entry["task"], path, notes))
    return out


def _inside(path: Path, folder: Path, at: str) -> None:
    """Refuse a file outside the submissions folder: the scoring stages depend on that folder alone, so DVC would
    never see a later edit of a file elsewhere, and its scores would go stale unseen."""
    if not Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder)):
        raise InputError(f"{at}: {path} lies outside {folder}/; move it there (the scoring stages depend on that "
                         "folder only, so a change to a file elsewhere would never re-score it)")


def _cut(text: str) -> str:
    return text if len(text) <= ECHO else text[:ECHO - 1] + "…"


def shown(value) -> str:
    """A value from a user's file as an error line echoes it: its repr, cut to ECHO characters."""
    return _cut(repr(value))


def names(values, count: int = 5) -> str:
    """The first `count` of `values` (column names) as an error line lists them, each cut to ECHO characters."""
    values = list(values)
    return ", ".join(_cut(str(v)) for v in values[:count]) + (f" and {len(values) - count} more"
                                                              if len(values) > count else "")


def fail(path: Path, row: int | None, rule: str) -> InputError:
    """The one line a malformed predictions file gets: the file, the row (its line number) and the rule (cut to LINE
    characters, so a file that is not what it should be, a JSON file read as a CSV say, never floods the terminal)."""
    rule = " ".join(rule.split())
    rule = rule if len(rule) <= LINE else rule[:LINE - 1] + "…"
    return InputError(f"{path}: {'' if row is None else f'row {row}: '}{rule}")


def read_rows(path: Path, text_columns: tuple[str, ...], columns: tuple[str, ...] = (),
              optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """A predictions file's rows, `text_columns` read as text, with `row`: each row's line number (the header is line
    1); a file that is not a CSV, or (where `columns` are given) a column that is not one of `columns` and `optional`
    or one of `columns` missing, is one InputError naming it. A `.json` file is refused before it is read: only
    task landmarks68 reads one (COCO keypoint results)."""
    if Path(path).suffix.lower() == ".json":
        raise fail(path, None, JSON_ELSEWHERE)
    try:
        table = pd.read_csv(path, dtype={c: str for c in text_columns})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise fail(path, None, f"not a CSV ({str(err).splitlines()[0]})") from None
    if columns:
        unknown = [c for c in table.columns if c not in columns + optional]
        missing = [c for c in columns if c not in table.columns]
        if unknown or missing:
            said = [f"unknown column(s) {names(unknown)}"] if unknown else []
            said += [f"missing column(s) {', '.join(missing)}"] if missing else []
            extra = "".join(f"[, {c}]" for c in optional)
            raise fail(path, None, f"{'; '.join(said)} (expected {', '.join(columns)}{extra})")
    return table.copy().assign(row=np.arange(len(table)) + 2)  # copy: a wide file's frame is fragmented


def row_count(path: Path) -> int:
    """How many results a predictions file holds: a CSV's rows under its header, a JSON list's items; a file with
    nothing in it is one InputError."""
    if Path(path).suffix.lower() == ".json":
        try:
            data = json.loads(Path(path).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise fail(path, None, f"not JSON ({err})") from None
        return len(data) if isinstance(data, list) else 1  # not a list: the reader names what is wrong
    try:
        return len(pd.read_csv(path, usecols=[0]))
    except pd.errors.EmptyDataError:
        raise fail(path, None, "an empty file (not even a header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise fail(path, None, f"not a CSV ({str(err).splitlines()[0]})") from None


def validated(entries: list[Submission], checked: dict[str, str]) -> dict[str, dict]:
    """{name: {kind, path, sha256, checked}}: what a task's validation checked of each of its `entries`, `checked`
    saying how (the validation stage's output, which its scoring stages depend on)."""
    return {e.name: {"kind": "onnx" if e.onnx else e.task, "path": str(e.path),
                     "sha256": hashlib.sha256(e.path.read_bytes()).hexdigest(), "checked": checked[e.name]}
            for e in sorted(entries, key=lambda e: e.name)}
