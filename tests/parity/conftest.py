"""Parity with the official code: `make parity` runs these tests in .venv-parity, where the official packages are
importable; in the project's environment every module skips."""

from parity.common import OFFICIAL, RESULTS

if OFFICIAL:
    from parity.shim import install

    install()


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.section("parity with the official code")
        for model, reference, diff, identical in RESULTS:
            verdict = "identical" if identical else "not identical"
            terminalreporter.write_line(f"{model:<36} {reference:<34} max |diff| {diff:<8.3g} {verdict}")
