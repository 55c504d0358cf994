"""core.progress: tqdm's bar on a terminal; off a terminal, whole lines and only for loops that run long."""

import io

from thermbench.core import progress as progress_module
from thermbench.core.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_loop_in_a_log_writes_nothing():
    log = io.StringIO()
    assert list(progress(range(5), desc="short", stream=log)) == [0, 1, 2, 3, 4]
    assert log.getvalue() == ""


def test_long_loop_in_a_log_writes_plain_lines(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)  # every item counts as "long"
    log = io.StringIO()
    assert list(progress(iter("abc"), desc="load", total=3, unit="img", stream=log)) == ["a", "b", "c"]
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        "load: 1/3 img (33%)", "load: 2/3 img (67%)", "load: 3/3 img (100%)", "load: 3/3 img (100%)"]
    assert lines[-1].endswith(" s") and "done in" in lines[-1]


def test_size_counts_bytes(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)
    log = io.StringIO()
    list(progress([b"ab", b"cde"], desc="get", total=5, unit="B", size=len, stream=log))
    assert log.getvalue().splitlines()[1].startswith("get: 5/5 B (100%)")
    log = io.StringIO()
    list(progress([b"ab", b"cde"], desc="get", unit="B", size=len, stream=log))  # len() counts chunks, not bytes
    assert log.getvalue().splitlines()[1].startswith("get: 5 B, ")


def test_unknown_total_prints_the_count(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)
    log = io.StringIO()
    list(progress((i for i in range(2)), desc="gen", stream=log))
    assert log.getvalue().splitlines()[0].startswith("gen: 1 it, ")


def test_terminal_gets_the_tqdm_bar():
    tty = Terminal()
    assert list(progress(range(3), desc="bar", stream=tty)) == [0, 1, 2]
    assert "\r" in tty.getvalue() and "bar: 100%" in tty.getvalue() and "3/3" in tty.getvalue()
