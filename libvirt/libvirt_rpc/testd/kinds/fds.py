"""Procedures that pass file descriptors without creating a domain:
associating descriptors with a domain and opening its graphics console.

libvirtd's test driver implements neither; these follow the public API's
documentation and the QEMU driver, which does (qemuDomainFDAssociate,
qemuDomainOpenGraphics, qemuDomainOpenGraphicsFD): descriptors associated
with a domain are held under their group name until the connection that
associated them closes, and a graphics socket is served by a VNC server's
greeting (:mod:`..graphics`).  (The domains' ``*_with_files`` creations are
in :mod:`.domains`.)
"""

from __future__ import annotations

import os
import socket
import stat
import xml.etree.ElementTree as ET

from libvirt_rpc import remote_protocol as rp
from xdrgen.runtime.virnet.descriptors import close_fds

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call, WithFds, rpc_error
from ..base import ProceduresBase, check_flags, driver_error, invalid_argument, not_running
from ..graphics import Displays
from ..registry import ObjectKind, register

# virDomainFDAssociateFlags: SECLABEL_RESTORE, SECLABEL_WRITABLE
_ASSOCIATE_FLAGS = 1 | 2
VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH = 1
FROM_DOMAIN = ErrorDomain.VIR_FROM_DOMAIN  # the public API's checks
_SERVED = ("vnc", "spice")  # what QEMU can hand a socket to


class FdProcedures(ProceduresBase):
    async def domain_fd_associate(self, call: Call, args: rp.RemoteDomainFdAssociateArgs) -> None:
        if not call.fds:  # virDomainFDAssociate's own check
            raise invalid_argument(
                "nfds in virDomainFDAssociate must not be zero", "virDomainFDAssociate", FROM_DOMAIN, "nfds"
            )
        conn = self._writable(call, "virDomainFDAssociate")
        check_flags(args.flags, _ASSOCIATE_FLAGS, "testDomainFDAssociate")
        d = self._domain(call, args.dom)
        replaced = conn.fd_groups.pop((d.uuid, args.name), [])
        close_fds(replaced)  # a group of the same name goes
        conn.fd_groups[(d.uuid, args.name)] = call.take_fds()

    def _graphics(self, call: Call, handle: rp.RemoteNonnullDomain, idx: int, flags: int, api: str) -> str:
        """The name of the running domain whose VNC or SPICE display number
        ``idx`` a socket may be attached to (the QEMU driver's checks)."""
        self._writable(call, api)
        check_flags(flags, VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH, f"test{api[3:]}")
        d = self._domain(call, handle)
        if not d.active:
            raise not_running()
        graphics: list[ET.Element] = [device for device in d.definition.devices if device.tag == "graphics"]
        if idx >= len(graphics):
            raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"No graphics backend with index {idx}")
        kind = graphics[idx].get("type", "")
        if kind not in _SERVED:
            raise driver_error(
                E.VIR_ERR_CONFIG_UNSUPPORTED, f"Can only open VNC or SPICE graphics backends, not {kind}"
            )
        return d.name

    async def domain_open_graphics(self, call: Call, args: rp.RemoteDomainOpenGraphicsArgs) -> None:
        if not call.fds:  # remoteDispatchDomainOpenGraphics's virNetMessageDupFD
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, "No FD available at slot 0")
        if not stat.S_ISSOCK(os.fstat(call.fds[0]).st_mode):  # virDomainOpenGraphics's check
            raise invalid_argument(f"fd {call.fds[0]} must be a socket", "virDomainOpenGraphics", FROM_DOMAIN, "fd")
        name = self._graphics(call, args.dom, args.idx, args.flags, "virDomainOpenGraphics")
        self.hv[FDS].open(socket.socket(fileno=call.fds.pop(0)), name)  # (the others: closed)

    async def domain_open_graphics_fd(
        self, call: Call, args: rp.RemoteDomainOpenGraphicsFdArgs
    ) -> WithFds[None]:
        name = self._graphics(call, args.dom, args.idx, args.flags, "virDomainOpenGraphicsFD")
        theirs, ours = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.hv[FDS].open(ours, name)
        return WithFds(None, [theirs.detach()])


#: Its state: the VNC servers of the graphics sockets handed out.
FDS = register(ObjectKind("fds", FdProcedures, Displays))
