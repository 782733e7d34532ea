"""``python -m xdrgen``: the same as the ``xdrgen`` command."""

import sys

from .cli import main

sys.exit(main())
