"""``python -m libvirt_rpc.trace``: watch and change libvirt's RPC traffic.

:mod:`xdrgen.trace` with this package's tables and libvirt's framing
preset::

    python -m libvirt_rpc.trace proxy --listen unix:/tmp/proxy.sock \\
        --upstream unix:/run/libvirt/libvirt-sock
    virsh -c 'qemu+unix:///system?socket=/tmp/proxy.sock' domname 1

    python -m libvirt_rpc.trace read capture.pcapng
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from xdrgen.trace.cli import main as _main

PACKAGE = "libvirt_rpc"
FRAMING = "libvirt"


def main(argv: Sequence[str] | None = None) -> int:
    return _main(argv, package=PACKAGE, framing=FRAMING, prog="python -m libvirt_rpc.trace")


if __name__ == "__main__":
    sys.exit(main())
