"""thermbench: a reproducible benchmark for facial landmark detection in thermal images.

Importing the package does two things besides defining `__version__`, both for the process it starts, and both here
because a stage script imports thermbench first, before numpy, torch and the models:

- OpenBLAS (numpy's and scipy's matrix products) runs its Haswell kernels on every x86-64 CPU with AVX2 and FMA
  (`OPENBLAS_CORETYPE`, unless the environment sets it). OpenBLAS picks its kernels by CPU model, and they round
  differently: the synthetic world's rasteriser multiplies vertices by rotation matrices, and an Intel Xeon whose
  model OpenBLAS does not know (it falls back to its SSE3 kernels) rendered other pixels than an AMD EPYC (Zen
  kernels, the Haswell ones) from the same code and seed. Pinned, the data and every numpy computation on it come
  out the same bytes on both. It takes effect only where OpenBLAS is not loaded yet (numpy not imported).
  https://github.com/OpenMathLib/OpenBLAS#support-for-multiple-targets-in-a-single-library
- an interrupt (Ctrl-C) that nothing catches ends a thermbench program in one line instead of a traceback, since the
  imports take seconds before `stage.run` could catch anything; the process still ends by SIGINT, so DVC and the
  shell see an interrupt. Any other exception keeps the hook that was there.
"""

import os
import platform
import sys

__version__ = "0.1.0"

OPENBLAS_CORETYPE = "Haswell"  # AVX2 + FMA kernels: every x86-64 CPU this project's families cover runs them


def openblas_coretype(machine: str, cpuinfo: str, environ: dict) -> str | None:
    """The OpenBLAS kernels to pin for a CPU (`platform.machine()`, /proc/cpuinfo's text) and an environment, or None
    to leave OpenBLAS's own choice: another architecture, a CPU without AVX2 or FMA, or a choice the environment
    already made."""
    if "OPENBLAS_CORETYPE" in environ or machine.lower() not in ("x86_64", "amd64"):
        return None
    return OPENBLAS_CORETYPE if {"avx2", "fma"} <= cpuinfo_flags(cpuinfo) else None


def read_cpuinfo(path: str | os.PathLike = "/proc/cpuinfo") -> str:
    """/proc/cpuinfo's text, "" where there is none (not Linux). The one reader of it, of its
    flags (`cpuinfo_flags`) and of its model name (`cpuinfo_model`) is here, where the pin above needs them before
    numpy loads."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpuinfo_flags(cpuinfo: str) -> set[str]:
    """The flags of the first processor in /proc/cpuinfo's text (none without a flags line)."""
    return set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))


def cpuinfo_model(cpuinfo: str) -> str:
    """The first processor's marketing name in /proc/cpuinfo's text, or what `platform` knows without one."""
    name = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    return name or platform.processor() or platform.machine()


def _one_line_interrupt(kind, value, tb, previous=sys.excepthook):
    if issubclass(kind, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
    else:
        previous(kind, value, tb)


_coretype = openblas_coretype(platform.machine(), read_cpuinfo(), os.environ)
if _coretype:
    os.environ["OPENBLAS_CORETYPE"] = _coretype
sys.excepthook = _one_line_interrupt
