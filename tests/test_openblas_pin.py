"""OpenBLAS's kernels pinned by importing thermbench (its package doc says why): which CPUs and environments get the
pin, that a process importing thermbench first loads the pinned kernels, and that the synthetic world it renders is
the bytes OpenBLAS's Zen kernels (an AMD EPYC's) render."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import thermbench

ROOT = Path(__file__).resolve().parents[1]
CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx {extra}\nbogomips\t: 4000\n\nprocessor\t: 1\nflags\t\t: fpu\n"


@pytest.mark.parametrize(("machine", "extra", "environ", "expected"), [
    ("x86_64", "avx2 fma", {}, "Haswell"),
    ("AMD64", "fma avx2 avx512f", {}, "Haswell"),  # Windows' name of the architecture; more flags than needed
    ("x86_64", "avx2", {}, None),  # no FMA: the Haswell kernels would not run
    ("x86_64", "fma", {}, None),
    ("aarch64", "avx2 fma", {}, None),  # OpenBLAS's x86 names mean nothing there
    ("x86_64", "avx2 fma", {"OPENBLAS_CORETYPE": "SkylakeX"}, None),  # the user's choice stands
])
def test_which_cpus_and_environments_get_the_pin(machine, extra, environ, expected):
    assert thermbench.openblas_coretype(machine, CPUINFO.format(extra=extra), environ) == expected


def test_no_cpuinfo_no_pin():
    assert thermbench.openblas_coretype("x86_64", "", {}) is None


pinned_here = pytest.mark.skipif(
    thermbench.openblas_coretype(platform.machine(), thermbench.read_cpuinfo(), {}) is None,
    reason="not an x86-64 CPU with AVX2 and FMA: nothing is pinned")


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    return {**env, **extra}


@pinned_here
def test_a_process_importing_thermbench_first_loads_the_haswell_kernels():
    done = _python("import thermbench, numpy", _env(OPENBLAS_VERBOSE="2"))
    assert "Core: Haswell" in done.stdout + done.stderr


WRITE_TFAKE = """
import sys
from pathlib import Path
import thermbench
import yaml
from thermbench.datasets.synth import tfake
profile = yaml.safe_load(Path("profiles/default.yaml").read_text())
tfake.write(Path(sys.argv[1]), {**profile["synth"]["tfake"], "num_images": 10}, profile["seed"], workers=1)
"""


@pinned_here
def test_the_synthetic_world_is_the_one_the_zen_kernels_render(tmp_path):
    """On an Intel Xeon whose model OpenBLAS 0.3.23 does not know (its SSE3 fallback), image 9 of the default T-FAKE
    world came out other pixels without the pin."""
    for name, env in (("pinned", _env()), ("zen", _env(OPENBLAS_CORETYPE="Zen"))):
        subprocess.run([sys.executable, "-c", WRITE_TFAKE, str(tmp_path / name)], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    files = sorted(p.relative_to(tmp_path / "zen") for p in (tmp_path / "zen").rglob("*") if p.is_file())
    assert len(files) == 10 * 3 + 1  # RGB, thermal and landmarks per image; the meta table
    differ = [str(f) for f in files if (tmp_path / "pinned" / f).read_bytes() != (tmp_path / "zen" / f).read_bytes()]
    assert not differ, f"other bytes than the Zen kernels': {differ}"
