"""The ``vaelint`` command: start the spare worker, then read the command line.

Kept apart from vaelint/cli.py so that the fork (vaelint/runtime/spare.py) happens before
typer and rich are imported: the spare begins ``import torch`` about 0.05 s into
the process, and the parent's own start-up runs beside it.
"""

import sys


def main() -> None:
    from vaelint.runtime import spare

    spare.start(sys.argv[1:])
    from vaelint.cli import main as command_line

    command_line()
