"""Node procedures: what the host the hypervisor runs on looks like (the
values of libvirt's test driver)."""

from __future__ import annotations

from libvirt_rpc import remote_protocol as rp

from ..server import Call
from .base import ProceduresBase, c_string


class NodeProcedures(ProceduresBase):
    async def node_get_info(self, call: Call) -> rp.RemoteNodeGetInfoRet:
        self._open(call)
        return rp.RemoteNodeGetInfoRet(c_string("i686", 32), 3145728, 16, 1400, 2, 2, 2, 2)

    async def node_get_security_model(self, call: Call) -> rp.RemoteNodeGetSecurityModelRet:
        self._open(call)
        return rp.RemoteNodeGetSecurityModelRet(c_string("testSecurity"), c_string(""))
