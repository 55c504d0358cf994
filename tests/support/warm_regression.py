"""`python -m thermbench.tools.gates.regression` with the smoke DAG's stages forked from one warm interpreter
(thermbench.tools.pipeline.warm_stages, as `make repro` runs them), as `make test` and `make regression` run it: a fork
changes no number (the gate's baseline comes from fresh processes), it only saves each stage its imports."""

import sys

from thermbench.core.stage import run
from thermbench.tools.gates.regression import main
from thermbench.tools.pipeline.warm_stages import warm_stages

if __name__ == "__main__":
    run(lambda: main(sys.argv[1:], warm=warm_stages))
