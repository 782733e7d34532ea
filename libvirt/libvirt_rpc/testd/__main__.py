"""``python -m libvirt_rpc.testd``: see :mod:`libvirt_rpc.testd.cli`."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
