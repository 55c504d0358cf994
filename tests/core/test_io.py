import json
import os

import numpy as np
import pytest

from thermbench.core.io import InputError, atomic_dir, dumps_json, read_csv, read_json
from thermbench.core.stage import run as run_stage
from thermbench.core.stage import section


def test_dumps_json_is_sorted_rounded_and_finite():
    text = dumps_json({"b": 1 / 3, "a": [np.float32(2.5), np.int64(7)], "c": float("nan")}, ndigits=4)
    assert text == '{\n  "a": [\n    2.5,\n    7\n  ],\n  "b": 0.3333,\n  "c": null\n}\n'
    assert json.loads(text)["b"] == 0.3333


def test_section_names_the_missing_key():
    with pytest.raises(InputError, match="missing key 'train.lr'"):
        section({"train": {"epochs": 3}}, "train.lr")
    assert section({"train": {"lr": 0.1}}, "train.lr") == 0.1


@pytest.mark.parametrize("content, message", [
    (b"", "empty (not even a header row)"), (b"a,b\n1,\xff\n", "not a CSV"), (b'a,b\n"1,2\n', "not a CSV"),
    (b"a\n1\n", "missing column(s) b"),
])
def test_read_csv_names_the_file_and_what_is_wrong(tmp_path, content, message):
    (tmp_path / "t.csv").write_bytes(content)
    with pytest.raises(InputError) as err:
        read_csv(tmp_path / "t.csv", ("a", "b"))
    assert str(err.value).startswith(f"{tmp_path / 't.csv'}: {message}") and "\n" not in str(err.value)


def test_read_csv_reads_columns_as_told(tmp_path):
    (tmp_path / "t.csv").write_text("id,x\n007,1.5\n")
    table = read_csv(tmp_path / "t.csv", ("id",), dtype={"id": str})
    assert table["id"].tolist() == ["007"] and table["x"].tolist() == [1.5]


@pytest.mark.parametrize("content, message", [(b"{", "not valid JSON (Expecting"),
                                              (b"\xff{}", "not valid JSON (not UTF-8")])
def test_read_json_names_the_file_and_what_is_wrong(tmp_path, content, message):
    (tmp_path / "m.json").write_bytes(content)
    with pytest.raises(InputError, match=f"m.json: {message.replace('(', '[(]')}"):
        read_json(tmp_path / "m.json")


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "prepared"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "half.csv").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_previous_output(tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["prepared"]


def test_run_stage_turns_input_error_into_one_line(capsys):
    def main():
        raise InputError("data/raw/x.json: missing key 'images'")

    with pytest.raises(SystemExit) as exit_info:
        run_stage(main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: data/raw/x.json: missing key 'images'\n"


def test_run_stage_turns_a_file_system_error_into_one_line(tmp_path, capsys):
    def main():
        (tmp_path / "missing" / "metrics.json").write_text("{}")  # parent folder absent: FileNotFoundError

    with pytest.raises(SystemExit) as exit_info:
        run_stage(main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: No such file or directory: {tmp_path / 'missing' / 'metrics.json'}\n"


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    from thermbench.core.io import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
