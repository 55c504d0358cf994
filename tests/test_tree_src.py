"""A python started in a thermbench tree runs that tree's code: a DVC experiment in a copy of the workspace (`dvc exp
run --queue` runs each one under .dvc/tmp/exps/) imports the copy's src/, whatever the editable install points at."""

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT = "import thermbench, sys; print(thermbench.__file__); print(getattr(thermbench, 'MARK', ''))"


def _tree(root: Path, mark: str) -> Path:
    (root / "src" / "thermbench").mkdir(parents=True)
    (root / "src" / "thermbench" / "__init__.py").write_text(f"MARK = {mark!r}\n")
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


def _imported(cwd: Path) -> list[str]:
    return subprocess.run([sys.executable, "-c", IMPORT], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.split("\n")[:2]


def test_the_venv_holds_the_trees_hook_as_committed():
    installed = Path(sysconfig.get_path("purelib")) / "thermbench_tree.pth"
    assert installed.read_text() == (ROOT / "src" / "thermbench_tree.pth").read_text(), "run `make setup`"


def test_a_copy_of_the_tree_imports_its_own_code(tmp_path):
    copy = _tree(tmp_path / "exps" / "abc", "queued copy")
    assert _imported(copy) == [str(copy / "src" / "thermbench" / "__init__.py"), "queued copy"]
    # the workspace imports its own; a folder that is no thermbench tree falls back to the install
    assert _imported(ROOT)[0] == str(ROOT / "src" / "thermbench" / "__init__.py")
    assert _imported(tmp_path)[0] == str(ROOT / "src" / "thermbench" / "__init__.py")
