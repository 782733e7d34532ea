"""``python -m xdrgen``: the compiler's command line (needs the ``[compiler]`` extra)."""

import sys

from .compiler.cli import main

if __name__ == "__main__":
    sys.exit(main())
