"""Each tool's `--help` prints its whole description (the module docstring), not its first line cut mid-sentence;
`scale --sizes abc` is one line, not a traceback."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools.scale import parse_sizes

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ["thermbench.tools.check_submissions", "thermbench.tools.submission", "thermbench.tools.publish",
         "thermbench.tools.readme", "thermbench.tools.profiles", "thermbench.tools.regression",
         "thermbench.tools.calibrate_synth", "thermbench.tools.head_crop_geometry", "thermbench.tools.stage_deps",
         "thermbench.tools.scale", "thermbench.tools.repair_lock", "thermbench.speed.gpu_check",
         "thermbench.tools.conclusions", "thermbench.mlcmkd.step_audit"]


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
    done = subprocess.run([sys.executable, "-m", "thermbench.tools.scale", "--sizes", "abc"], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert done.returncode == 2
    assert done.stderr == ("error: scale: --sizes 'abc': expected whole numbers of pairs, comma-separated "
                           "(e.g. 1000,4000,16000)\n")
