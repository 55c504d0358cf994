"""Each tool's `--help` prints its whole description (the module docstring), not its first line cut mid-sentence,
and a library module run as a command says what runs it in one line; `scale --sizes abc` is one line, not a
traceback."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools.measure.scale import parse_sizes

ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = ROOT / "src/thermbench/tools"
CONCERNS = sorted(m.name for m in pkgutil.iter_modules([str(TOOLS_DIR)]) if m.ispkg)  # pipeline, gates, publish, ...
# every module of every thermbench.tools subpackage (a library one too: its --help says what runs it), and the
# commands elsewhere; not library_help, what the library modules' main calls
TOOLS = sorted(f"thermbench.tools.{c}.{m.name}" for c in CONCERNS for m in pkgutil.iter_modules([str(TOOLS_DIR / c)])
               if not m.ispkg) + ["thermbench.speed.gpu_check", "thermbench.mlcmkd.step_audit"]


def test_tools_holds_its_concerns_and_library_help_only():
    assert {m.name for m in pkgutil.iter_modules([str(TOOLS_DIR)]) if not m.ispkg} == {"library_help"}
    assert CONCERNS == ["gates", "measure", "pipeline", "publish", "reports", "submissions"]
    assert all(any(t.startswith(f"thermbench.tools.{c}.") for t in TOOLS) for c in CONCERNS)


@pytest.mark.parametrize("name", TOOLS)
def test_help_prints_the_whole_description(name, capsys, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    last = " ".join(module.__doc__.split())[-60:]  # the description's end, however argparse wraps it
    assert last in shown


def test_scale_sizes_that_are_not_numbers_are_one_line():
    assert parse_sizes("4000,1000") == (1000, 4000)
    for bad, message in (("abc", "expected whole numbers of pairs"), ("5", "at least two sizes"),
                         ("0,5", "at least two sizes, each of at least 1 pair")):
        with pytest.raises(InputError, match=message):
            parse_sizes(bad)
    done = subprocess.run([sys.executable, "-m", "thermbench.tools.measure.scale", "--sizes", "abc"], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert done.returncode == 2
    assert done.stderr == ("error: scale: --sizes 'abc': expected whole numbers of pairs, comma-separated "
                           "(e.g. 1000,4000,16000)\n")


def test_a_library_module_run_as_a_command_names_what_runs_it():
    done = subprocess.run([sys.executable, "-m", "thermbench.tools.publish.post"], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("error: not a command of its own: make publish runs it "
                           "(python -m thermbench.tools.publish.publish) (--help says what it does)\n")


def test_library_help_run_with_help_prints_its_own_description():
    done = subprocess.run([sys.executable, "-m", "thermbench.tools.library_help", "--help"], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert done.returncode == 0 and done.stderr == ""
    assert "`--help` of a tools module that is a library" in done.stdout
