"""The team route: a finished run pushed to a remote folder and pulled into a fresh clone needs no re-run."""

import subprocess
import sys
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools.gates.regression import stage_env
from thermbench.tools.pipeline.team_remote import round_trip

# The stage writes out/a.txt (cached, pushed) and its metrics folder m/ (in git), holding n.json or nothing.
DVC_YAML = """stages:
  make:
    cmd: >-
      python -c "from pathlib import Path as P; [P(d).mkdir() for d in ('out', 'm')];
      P('out/a.txt').write_text('7'){more}"
    outs: [out]
    metrics:
      - m: {{cache: false}}
"""


def _finished_run(root: Path, metric_file: bool) -> dict[str, str]:
    project = root / "project"
    env = stage_env(project)
    project.mkdir()
    more = "; P('m/n.json').write_text('7')" if metric_file else ""
    (project / "dvc.yaml").write_text(DVC_YAML.format(more=more))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=project, env=env, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, env=env, check=True)
    return env


def test_a_pushed_run_pulls_into_a_clone_that_needs_nothing(tmp_path):
    env = _finished_run(tmp_path, metric_file=True)
    line = round_trip(tmp_path / "project", tmp_path, sys.executable, env)
    assert "pushed 2 files" in line and "ran no stage" in line  # out/a.txt and the manifest of out/
    assert (tmp_path / "clone" / "out" / "a.txt").read_text() == "7"
    assert (tmp_path / "clone" / "m" / "n.json").is_file()


def test_an_empty_folder_kept_in_git_is_lost_in_the_clone(tmp_path):
    env = _finished_run(tmp_path, metric_file=False)
    with pytest.raises(InputError, match="not up to date"):
        round_trip(tmp_path / "project", tmp_path, sys.executable, env)

