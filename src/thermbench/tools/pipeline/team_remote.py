"""The team route over a DVC remote, checked on a finished run of the DAG: the project, as a git repository, pushes
its outputs to a remote (a folder here; S3 or SSH in a team); a fresh clone pulls them; there `dvc status` must be
clean and `dvc repro` must run no stage, so a laptop reads the results without re-running anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

from thermbench.core.io import InputError

UP_TO_DATE = "Data and pipelines are up to date."


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    run = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise InputError(f"team remote: `{' '.join(cmd)}` in {cwd} failed ({run.returncode}): "
                         f"{(run.stderr or run.stdout).strip()[-2000:]}")
    return run.stdout


def round_trip(project: Path, scratch: Path, python: str, env: dict[str, str]) -> str:
    """Commit `project` (a finished DVC run that is not yet a git repository) to git, push its outputs to
    `<scratch>/remote`, clone it to `<scratch>/clone`, pull, and check the clone; one line on success."""
    dvc = [python, "-m", "dvc"]
    git = ["git", "-c", "user.name=thermbench", "-c", "user.email=thermbench@localhost"]
    _run(["git", "init", "-q"], project, env)
    _run([*dvc, "config", "core.no_scm", "false"], project, env)
    _run([*dvc, "remote", "add", "--default", "team", str(scratch / "remote")], project, env)
    _run([*git, "add", "--all"], project, env)
    _run([*git, "commit", "-q", "-m", "a finished run"], project, env)
    _run([*dvc, "push", "-q"], project, env)
    clone = scratch / "clone"
    _run(["git", "clone", "-q", str(project), str(clone)], scratch, env)
    clone_env = {**env, "PYTHONPATH": str(clone / "src")}
    _run([*dvc, "pull", "-q"], clone, clone_env)
    status = _run([*dvc, "status"], clone, clone_env).strip()
    if status != UP_TO_DATE:
        raise InputError(f"team remote: after `dvc pull` a fresh clone is not up to date:\n{status}")
    ran = [line for line in _run([*dvc, "repro"], clone, clone_env).splitlines() if line.startswith("Running stage")]
    if ran:
        raise InputError("team remote: `dvc repro` in a pulled clone re-ran " + "; ".join(ran))
    files = sum(1 for p in (scratch / "remote").rglob("*") if p.is_file())
    return f"team remote: pushed {files} files; a fresh clone pulled them, `dvc status` clean, `dvc repro` ran no stage"


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "the smoke regression runs it on its finished DAG (make regression)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
