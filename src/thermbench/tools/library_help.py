"""`--help` of a tools module that is a library, not a command: it prints the module's description and the command
that runs it; run without `--help` it says so in one line (exit 2)."""

from __future__ import annotations

import argparse

from thermbench.core.io import InputError


def main(doc: str, runs: str, argv: list[str] | None = None) -> None:
    """Parse `argv` (only `--help` is known): print `doc` and `runs` (the command that runs the module), or refuse."""
    parser = argparse.ArgumentParser(description=doc, epilog=f"Not a command of its own: {runs}.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    raise InputError(f"not a command of its own: {runs} (--help says what it does)")


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(lambda: main(__doc__, "the tools modules that are libraries call it from their own `--help`"))
