"""``python -m xdrgen.trace``: the tracing proxy and the capture reader."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
