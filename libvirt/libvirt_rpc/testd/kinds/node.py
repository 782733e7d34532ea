"""Node procedures: what the host the hypervisor runs on looks like (the
values of libvirt's test driver): its CPUs, memory, NUMA cells,
capabilities, sysinfo and the CPU models it knows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorNumber as E
from ...server import Call
from ..base import ProceduresBase, c_string, check_flags, driver_error, error_without_error
from ..registry import ObjectKind, register
from ..xml.host import CELLS, capabilities_xml, sysinfo_xml

#: Free memory per NUMA cell (KiB): half the first cell, half the second.
FREE_MEMORY = (1048576, 2097152)
NODE_CPU_STATS = (
    ("user", 9797400000),
    ("kernel", 34678723400000),
    ("idle", 87264900000),
    ("iowait", 763600000),
)

CPU_MAP = Path("/usr/share/libvirt/cpu_map")
# libvirt's CPU drivers by architecture; only x86 and ppc64 list models.
_CPU_DRIVERS = {
    "i686": "x86", "x86_64": "x86", "ppc64": "ppc64", "ppc64le": "ppc64",
    "s390": None, "s390x": None, "armv6l": None, "armv7l": None, "armv7b": None, "aarch64": None,
}  # fmt: skip
# The other architectures libvirt knows (virArch), which no CPU driver takes.
_OTHER_ARCHES = (
    "alpha", "cris", "lm32", "m68k", "microblaze", "microblazeel", "mips", "mipsel", "mips64",
    "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle", "ppcemb", "riscv32", "riscv64",
    "sh4", "sh4eb", "sparc", "sparc64", "unicore32", "xtensa", "xtensaeb",
)  # fmt: skip


def cpu_models(arch: str) -> list[str]:
    """virCPUGetModels: the model names libvirt's CPU map lists for
    ``arch``, in its order."""
    if arch not in _CPU_DRIVERS:
        if arch in _OTHER_ARCHES:
            raise driver_error(E.VIR_ERR_NO_SUPPORT, f"'{arch}' architecture is not supported by CPU driver")
        raise driver_error(E.VIR_ERR_INVALID_ARG, f"cannot find architecture {arch}")
    family = _CPU_DRIVERS[arch]
    if family is None:
        return []
    try:
        index = ET.parse(CPU_MAP / "index.xml").getroot()
        models = []
        for include in index.findall(f"arch[@name='{family}']/include"):
            root = ET.parse(CPU_MAP / include.get("filename", "")).getroot()
            models += [m.get("name", "") for m in root.iter("model") if m.get("name")]
    except (OSError, ET.ParseError) as error:
        raise driver_error(E.VIR_ERR_INTERNAL_ERROR, f"cannot read libvirt's CPU map: {error}") from None
    return models


class NodeProcedures(ProceduresBase):
    async def node_get_info(self, call: Call) -> rp.RemoteNodeGetInfoRet:
        self._open(call)
        return rp.RemoteNodeGetInfoRet(c_string("i686", 32), 3145728, 16, 1400, 2, 2, 2, 2)

    async def node_get_security_model(self, call: Call) -> rp.RemoteNodeGetSecurityModelRet:
        self._open(call)
        return rp.RemoteNodeGetSecurityModelRet(c_string("testSecurity"), c_string(""))

    async def node_get_cpu_stats(
        self, call: Call, args: rp.RemoteNodeGetCpuStatsArgs
    ) -> rp.RemoteNodeGetCpuStatsRet:
        self._open(call)
        check_flags(args.flags, 0, "testNodeGetCPUStats")
        if args.nparams == 0:
            return rp.RemoteNodeGetCpuStatsRet([], len(NODE_CPU_STATS))
        stats = [rp.RemoteNodeGetCpuStats(field, value) for field, value in NODE_CPU_STATS]
        return rp.RemoteNodeGetCpuStatsRet(stats[: args.nparams], 0)

    async def node_get_cpu_map(
        self, call: Call, args: rp.RemoteNodeGetCpuMapArgs
    ) -> rp.RemoteNodeGetCpuMapRet:
        """CPUs 0, 2 and 4 of 8 online."""
        self._open(call)
        check_flags(args.flags, 0, "testNodeGetCPUMap")
        return rp.RemoteNodeGetCpuMapRet(b"\x15" if args.need_map else b"", 3 if args.need_online else 0, 8)

    async def node_get_cells_free_memory(
        self, call: Call, args: rp.RemoteNodeGetCellsFreeMemoryArgs
    ) -> rp.RemoteNodeGetCellsFreeMemoryRet:
        """What the test driver reports here is each cell's whole memory."""
        self._open(call)
        if args.startCell >= len(CELLS):
            raise driver_error(E.VIR_ERR_INVALID_ARG, "Range exceeds available cells")
        cells = [memory for memory, _ in CELLS][args.startCell :][: args.maxcells]
        return rp.RemoteNodeGetCellsFreeMemoryRet(cells)

    async def node_get_free_memory(self, call: Call) -> rp.RemoteNodeGetFreeMemoryRet:
        self._open(call)
        return rp.RemoteNodeGetFreeMemoryRet(sum(FREE_MEMORY))

    async def node_get_free_pages(
        self, call: Call, args: rp.RemoteNodeGetFreePagesArgs
    ) -> rp.RemoteNodeGetFreePagesRet:
        """The test driver fills in counts but reports none of them (it
        returns 0), which libvirtd takes for a failure."""
        self._open(call)
        check_flags(args.flags, 0, "testNodeGetFreePages")
        raise error_without_error()

    async def connect_get_capabilities(self, call: Call) -> rp.RemoteConnectGetCapabilitiesRet:
        self._open(call)
        return rp.RemoteConnectGetCapabilitiesRet(capabilities_xml())

    async def connect_get_sysinfo(
        self, call: Call, args: rp.RemoteConnectGetSysinfoArgs
    ) -> rp.RemoteConnectGetSysinfoRet:
        self._open(call)
        check_flags(args.flags, 0, "testConnectGetSysinfo")
        return rp.RemoteConnectGetSysinfoRet(sysinfo_xml())

    async def connect_get_cpu_model_names(
        self, call: Call, args: rp.RemoteConnectGetCpuModelNamesArgs
    ) -> rp.RemoteConnectGetCpuModelNamesRet:
        self._open(call)
        check_flags(args.flags, 0, "testConnectGetCPUModelNames")
        models = cpu_models(args.arch)
        return rp.RemoteConnectGetCpuModelNamesRet(models if args.need_results else [], len(models))


register(ObjectKind("node", NodeProcedures))
