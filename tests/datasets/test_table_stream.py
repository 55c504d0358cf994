"""A CSV written a few rows at a time is the file write_table writes at once."""

import pytest

from thermbench.datasets.common import TableStream, write_table

ROWS = [{"id": "a", "x": 1.0, "s": "[1, 2]"}, {"id": "b", "x": 2.25, "s": "q"}, {"id": "c", "x": 0.1234, "s": ""},
        {"id": "d", "x": 3.0, "s": "z"}, {"id": "e", "x": 4.5, "s": "w"}]


def test_streamed_rows_make_write_tables_file(tmp_path):
    write_table(ROWS, tmp_path / "whole.csv", ["id"])
    stream = TableStream(tmp_path / "streamed.csv", ["id"], chunk_rows=2)
    for row in ROWS:
        stream.add(row)
    stream.flush()
    text = (tmp_path / "streamed.csv").read_text()
    assert text == (tmp_path / "whole.csv").read_text()
    assert text.splitlines()[:2] == ["id,x,s", "a,1.000,\"[1, 2]\""]


def test_rows_out_of_order_are_refused(tmp_path):
    stream = TableStream(tmp_path / "t.csv", ["id"])
    stream.add(ROWS[1])
    with pytest.raises(ValueError, match="out of"):
        stream.add(ROWS[0])
