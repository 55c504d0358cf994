"""thermbench: a reproducible benchmark for facial landmark detection in thermal images.

Importing the package does one thing besides defining `__version__`: an interrupt (Ctrl-C) that nothing catches ends
a thermbench program in one line instead of a traceback. It is set here because a stage script imports thermbench
first and then spends seconds importing torch and the models, before `stage.run` could catch anything; the process
still ends by SIGINT, so DVC and the shell see an interrupt. Any other exception keeps the hook that was there.
"""

import sys

__version__ = "0.1.0"


def _one_line_interrupt(kind, value, tb, previous=sys.excepthook):
    if issubclass(kind, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
    else:
        previous(kind, value, tb)


sys.excepthook = _one_line_interrupt
