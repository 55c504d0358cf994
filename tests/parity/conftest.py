"""Parity with the official code: `make parity` runs these tests in .venv-parity, where the official packages are
importable; in the project's environment every module skips. The comparisons a run made go into metrics/parity.json
(each row replacing the one of the same name, dated), which docs/parity.md renders."""

import datetime
import subprocess
from pathlib import Path

import torch

from parity.common import OFFICIAL, RESULTS
from thermbench.core.io import read_json, write_json

if OFFICIAL:
    from parity.shim import install

    install()

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "metrics" / "parity.json"


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.section("parity with the official code")
        for row in RESULTS:
            verdict = "identical" if row["identical"] else "not identical"
            terminalreporter.write_line(f"{row['compared']:<36} {row['reference']:<34} max |diff| "
                                        f"{row['max_abs_diff']:<8.3g} {verdict}")


def pytest_sessionfinish(session):
    if not RESULTS:
        return
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    made = {"date": datetime.date.today().isoformat(), "commit": commit, "torch": torch.__version__}
    rows = {row["compared"]: row for row in (read_json(PARITY)["results"] if PARITY.is_file() else [])}
    rows.update({row["compared"]: {**row, **made} for row in RESULTS})
    results = sorted(rows.values(), key=lambda r: r["compared"])
    write_json(PARITY, {"data": "random weights and inputs, no dataset", "results": results}, 12)  # 1e-6 px shows
